"""Writing programs in Python: `Prog().mov(R0, 0).exit().build()`.

Each method appends one instruction; jumps and local calls take labels. Methods mirror the
kernel syntax: `add(R1, R2)` is `r1 += r2`, `add32(R1, 5)` is `w1 += 5`."""

from __future__ import annotations

from .asm.common import Assembly
from .isa.insn import Insn
from .isa.opcodes import (
    BYTES_SIZE,
    CALL,
    CALLX,
    EXIT,
    JA,
    LDDW,
    SRC_X,
    AluOp,
    AtomicOp,
    Cls,
    JmpOp,
    Mode,
    PseudoSrc,
)

R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = range(11)

_ALU = {"add": AluOp.ADD, "sub": AluOp.SUB, "mul": AluOp.MUL, "div": AluOp.DIV, "or_": AluOp.OR,
        "and_": AluOp.AND, "lsh": AluOp.LSH, "rsh": AluOp.RSH, "mod": AluOp.MOD, "xor": AluOp.XOR,
        "mov": AluOp.MOV, "arsh": AluOp.ARSH}
_JMP = {"jeq": JmpOp.JEQ, "jne": JmpOp.JNE, "jgt": JmpOp.JGT, "jge": JmpOp.JGE, "jlt": JmpOp.JLT,
        "jle": JmpOp.JLE, "jsgt": JmpOp.JSGT, "jsge": JmpOp.JSGE, "jslt": JmpOp.JSLT,
        "jsle": JmpOp.JSLE, "jset": JmpOp.JSET}
_ATOMIC = {"add": AtomicOp.ADD, "or": AtomicOp.OR, "and": AtomicOp.AND, "xor": AtomicOp.XOR}


class Prog:
    def __init__(self) -> None:
        self._asm = Assembly()

    def insn(self, insn: Insn, label: str | None = None, field: str = "off") -> "Prog":
        self._asm.append(insn, label, 0, field)
        return self

    def label(self, name: str) -> "Prog":
        self._asm.define_label(name, 0)
        return self

    def build(self) -> list[Insn]:
        return self._asm.finish()

    # ALU: op(dst, src_reg_or_imm); 32-bit variants end in 32
    def alu(self, op: int, dst: int, src: int | str, *, wide: bool = True, signed: bool = False) -> "Prog":
        cls = Cls.ALU64 if wide else Cls.ALU
        off = 1 if signed else 0
        if isinstance(src, str):  # "r3" names a register
            return self.insn(Insn(cls | op | SRC_X, dst, int(src[1:]), off))
        return self.insn(Insn(cls | op, dst, 0, off, src))

    def __getattr__(self, name: str):  # add, add32, sdiv, smod32, jeq, jne32, ...
        wide = not name.endswith("32")
        base = name[:-2] if not wide else name
        if base in _ALU or base in ("sdiv", "smod"):
            op = _ALU[base] if base in _ALU else (AluOp.DIV if base == "sdiv" else AluOp.MOD)
            signed = base in ("sdiv", "smod")
            return lambda dst, src: self.alu(op, dst, src, wide=wide, signed=signed)
        if base in _JMP:
            cls = Cls.JMP if wide else Cls.JMP32

            def jump(dst: int, src: int | str, target: str | int) -> "Prog":
                label = target if isinstance(target, str) else None
                off = target if isinstance(target, int) else 0
                if isinstance(src, str):
                    return self.insn(Insn(cls | _JMP[base] | SRC_X, dst, int(src[1:]), off), label)
                return self.insn(Insn(cls | _JMP[base], dst, 0, off, src), label)

            return jump
        raise AttributeError(name)

    def neg(self, dst: int, wide: bool = True) -> "Prog":
        return self.insn(Insn((Cls.ALU64 if wide else Cls.ALU) | AluOp.NEG, dst))

    def movsx(self, dst: int, src: int, bits: int, wide: bool = True) -> "Prog":
        return self.insn(Insn((Cls.ALU64 if wide else Cls.ALU) | AluOp.MOV | SRC_X, dst, src, bits))

    def endian(self, dst: int, bits: int, kind: str) -> "Prog":
        """kind: 'le', 'be' or 'bswap'."""
        opcode = Cls.ALU64 | AluOp.END if kind == "bswap" else Cls.ALU | AluOp.END | (SRC_X if kind == "be" else 0)
        return self.insn(Insn(opcode, dst, imm=bits))

    def lddw(self, dst: int, value: int, src: int = PseudoSrc.IMM64) -> "Prog":
        return self.insn(Insn(LDDW, dst, src, 0, value & ((1 << 64) - 1)))

    def ldx(self, size: int, dst: int, src: int, off: int = 0, signed: bool = False) -> "Prog":
        mode = Mode.MEMSX if signed else Mode.MEM
        return self.insn(Insn(Cls.LDX | mode | BYTES_SIZE[size], dst, src, off))

    def st(self, size: int, dst: int, off: int, imm: int) -> "Prog":
        return self.insn(Insn(Cls.ST | Mode.MEM | BYTES_SIZE[size], dst, 0, off, imm))

    def stx(self, size: int, dst: int, off: int, src: int) -> "Prog":
        return self.insn(Insn(Cls.STX | Mode.MEM | BYTES_SIZE[size], dst, src, off))

    def atomic(self, size: int, op: str, dst: int, off: int, src: int, fetch: bool = False) -> "Prog":
        if op == "xchg":
            imm = AtomicOp.XCHG
        elif op == "cmpxchg":
            imm = AtomicOp.CMPXCHG
        else:
            imm = _ATOMIC[op] | (AtomicOp.FETCH if fetch else 0)
        return self.insn(Insn(Cls.STX | Mode.ATOMIC | BYTES_SIZE[size], dst, src, off, int(imm)))

    def ja(self, target: str | int) -> "Prog":
        if isinstance(target, str):
            return self.insn(Insn(JA), target)
        return self.insn(Insn(JA, off=target))

    def call(self, helper_id: int) -> "Prog":
        return self.insn(Insn(CALL, imm=helper_id))

    def callx(self, reg: int) -> "Prog":
        return self.insn(Insn(CALLX, reg))

    def call_local(self, target: str) -> "Prog":
        return self.insn(Insn(CALL, src=1), target, "imm")

    def exit(self) -> "Prog":
        return self.insn(Insn(EXIT))
