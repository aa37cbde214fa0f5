"""The conformance-suite assembly syntax: `ldxdw %r0, [%r1+8]`, `jne %r6, 0, loop`, `lock add [%r10-8], %r1`.

Pseudo 64-bit loads, which this syntax has no words for, are written `lddw %r1, map_fd:3`,
`map_value:3+8`, `map_idx:0`, `map_idx_value:0+8`, `btf_id:N`, `func:+N`."""

from __future__ import annotations

import re

from ..isa.insn import Insn, pcs
from ..isa.opcodes import (
    CALL,
    CALLX,
    EXIT,
    JA,
    JA32,
    LDDW,
    MAY_GOTO,
    SIZE_BYTES,
    SRC_X,
    AluOp,
    AtomicOp,
    Cls,
    JmpOp,
    Mode,
    PseudoSrc,
    Size,
)
from ..isa.ops import (
    Alu,
    Atomic,
    AtomicKind,
    Branch,
    Call,
    CallIndirect,
    Exit,
    Imm,
    Invalid,
    Jump,
    KfuncCall,
    Load,
    LoadBtfRef,
    LoadFuncRef,
    LoadImm64,
    LoadMapRef,
    LocalCall,
    MayGoto,
    Neg,
    PacketLoad,
    Reg,
    Store,
    Swap,
    SwapKind,
    lift,
    to_signed,
)
from .common import (
    LABEL_RE,
    AsmError,
    Assembly,
    parse_imm32,
    parse_imm64,
    parse_int,
    parse_off16,
    signed_offset,
)

ALU_NAMES = {
    "add": AluOp.ADD, "sub": AluOp.SUB, "mul": AluOp.MUL, "div": AluOp.DIV, "or": AluOp.OR,
    "and": AluOp.AND, "lsh": AluOp.LSH, "rsh": AluOp.RSH, "neg": AluOp.NEG, "mod": AluOp.MOD,
    "xor": AluOp.XOR, "mov": AluOp.MOV, "arsh": AluOp.ARSH,
}
SIGNED_ALU = {"sdiv": AluOp.DIV, "smod": AluOp.MOD}
JMP_NAMES = {
    "jeq": JmpOp.JEQ, "jgt": JmpOp.JGT, "jge": JmpOp.JGE, "jset": JmpOp.JSET, "jne": JmpOp.JNE,
    "jsgt": JmpOp.JSGT, "jsge": JmpOp.JSGE, "jlt": JmpOp.JLT, "jle": JmpOp.JLE,
    "jslt": JmpOp.JSLT, "jsle": JmpOp.JSLE,
}
SIZE_SUFFIX = {"b": Size.B, "h": Size.H, "w": Size.W, "dw": Size.DW}
ATOMIC_NAMES = {"add": AtomicOp.ADD, "or": AtomicOp.OR, "and": AtomicOp.AND, "xor": AtomicOp.XOR}
PSEUDO_NAMES = {
    "map_fd": PseudoSrc.MAP_FD, "map_value": PseudoSrc.MAP_VALUE, "btf_id": PseudoSrc.BTF_ID,
    "func": PseudoSrc.FUNC, "map_idx": PseudoSrc.MAP_IDX, "map_idx_value": PseudoSrc.MAP_IDX_VALUE,
}

_REG = re.compile(r"^%r(\d+)$")
_MEM = re.compile(r"^\[\s*(%r\d+)\s*(?:([+-])\s*(\S+?))?\s*\]$")


def _reg(text: str, line: int) -> int:
    m = _REG.match(text.strip())
    if not m or int(m.group(1)) > 10:
        raise AsmError(line, f"Invalid register '{text.strip()}': registers are %r0..%r10")
    return int(m.group(1))


def _mem(text: str, line: int) -> tuple[int, int]:
    m = _MEM.match(text.strip())
    if not m:
        raise AsmError(line, f"Invalid memory operand '{text.strip()}': expected [%rN+offset]")
    reg = _reg(m.group(1), line)
    if m.group(2) is None:
        return reg, 0
    off = parse_off16(m.group(2) + m.group(3), line)
    return reg, off


def _operands(rest: str) -> list[str]:
    rest = rest.strip()
    return [op.strip() for op in rest.split(",")] if rest else []


def _expect(mnemonic: str, ops: list[str], count: int, line: int) -> None:
    if len(ops) != count:
        raise AsmError(line, f"Invalid number of operands for {mnemonic}: expected {count}, got {len(ops)}")


def _target(asm: Assembly, text: str, line: int) -> tuple[int, str | None]:
    """A jump target: a signed offset (+N/-N) or a label."""
    text = text.strip()
    if text[:1] in "+-":
        return parse_int(text, line, "jump offset"), None
    if LABEL_RE.match(text):
        return 0, text
    raise AsmError(line, f"Invalid jump target '{text}': expected +N, -N or a label")


def assemble(text: str) -> list[Insn]:
    asm = Assembly()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        line = asm.take_label(line, number)
        if line:
            _assemble_line(asm, line, number)
    return asm.finish()


def _assemble_line(asm: Assembly, line: str, n: int) -> None:
    parts = line.split(None, 1)
    mnemonic = parts[0].lower()
    rest = parts[1] if len(parts) > 1 else ""
    if mnemonic == "lock":
        _assemble_lock(asm, rest, n)
        return
    ops = _operands(rest)
    if mnemonic == "exit":
        _expect(mnemonic, ops, 0, n)
        # In this syntax the first exit is implicitly labelled `exit`.
        asm.labels.setdefault("exit", asm.slot)
        asm.append(Insn(EXIT))
        return
    if mnemonic in ("ja", "ja32", "may_goto"):
        _expect(mnemonic, ops, 1, n)
        delta, label = _target(asm, ops[0], n)
        if mnemonic == "ja":
            asm.append(Insn(JA, off=_check16(delta, n)), label, n, "off")
        elif mnemonic == "may_goto":
            asm.append(Insn(MAY_GOTO, off=_check16(delta, n)), label, n, "off")
        else:
            asm.append(Insn(JA32, imm=delta), label, n, "imm")
        return
    if mnemonic == "call":
        _assemble_call(asm, ops, rest, n)
        return
    if mnemonic == "lddw":
        _expect(mnemonic, ops, 2, n)
        dst = _reg(ops[0], n)
        asm.append(_lddw(dst, ops[1], n))
        return
    if mnemonic.startswith("ldx"):
        size_name = mnemonic[3:]
        signed = size_name.startswith("s") and size_name[1:] in ("b", "h", "w")
        size = SIZE_SUFFIX.get(size_name[1:] if signed else size_name)
        if size is None:
            raise AsmError(n, f"Invalid mnemonic '{mnemonic}'")
        _expect(mnemonic, ops, 2, n)
        src, off = _mem(ops[1], n)
        mode = Mode.MEMSX if signed else Mode.MEM
        asm.append(Insn(Cls.LDX | mode | size, _reg(ops[0], n), src, off))
        return
    if mnemonic.startswith("stx") and mnemonic[3:] in SIZE_SUFFIX:
        _expect(mnemonic, ops, 2, n)
        dst, off = _mem(ops[0], n)
        asm.append(Insn(Cls.STX | Mode.MEM | SIZE_SUFFIX[mnemonic[3:]], dst, _reg(ops[1], n), off))
        return
    if mnemonic.startswith("st") and mnemonic[2:] in SIZE_SUFFIX:
        _expect(mnemonic, ops, 2, n)
        dst, off = _mem(ops[0], n)
        asm.append(Insn(Cls.ST | Mode.MEM | SIZE_SUFFIX[mnemonic[2:]], dst, 0, off, parse_imm32(ops[1], n)))
        return
    if mnemonic.startswith(("ldabs", "ldind")) and mnemonic[5:] in ("b", "h", "w"):
        size = SIZE_SUFFIX[mnemonic[5:]]
        if mnemonic.startswith("ldabs"):
            _expect(mnemonic, ops, 1, n)
            asm.append(Insn(Cls.LD | Mode.ABS | size, imm=parse_imm32(ops[0], n)))
        else:
            _expect(mnemonic, ops, 2, n)
            asm.append(Insn(Cls.LD | Mode.IND | size, src=_reg(ops[0], n), imm=parse_imm32(ops[1], n)))
        return
    for prefix, op in (("be", 8), ("le", 0)):
        if mnemonic in (f"{prefix}16", f"{prefix}32", f"{prefix}64"):
            _expect(mnemonic, ops, 1, n)
            asm.append(Insn(Cls.ALU | AluOp.END | op, _reg(ops[0], n), imm=int(mnemonic[2:])))
            return
    for prefix in ("bswap", "swap"):
        if mnemonic in (f"{prefix}16", f"{prefix}32", f"{prefix}64"):
            _expect(mnemonic, ops, 1, n)
            asm.append(Insn(Cls.ALU64 | AluOp.END, _reg(ops[0], n), imm=int(mnemonic[len(prefix):])))
            return
    m = re.match(r"^movsx(8|16|32)(32|64)$", mnemonic)
    if m:
        _expect(mnemonic, ops, 2, n)
        width, cls = int(m.group(1)), Cls.ALU64 if m.group(2) == "64" else Cls.ALU
        if width == 32 and cls == Cls.ALU:
            raise AsmError(n, f"Invalid mnemonic '{mnemonic}': 32-bit movsx takes 8 or 16 bits")
        asm.append(Insn(cls | AluOp.MOV | SRC_X, _reg(ops[0], n), _reg(ops[1], n), width))
        return
    base, cls = (mnemonic[:-2], Cls.ALU) if mnemonic.endswith("32") else (mnemonic, Cls.ALU64)
    if base in ALU_NAMES or base in SIGNED_ALU:
        op = ALU_NAMES.get(base, SIGNED_ALU.get(base))
        off = 1 if base in SIGNED_ALU else 0
        if op == AluOp.NEG:
            _expect(mnemonic, ops, 1, n)
            asm.append(Insn(cls | op, _reg(ops[0], n)))
            return
        _expect(mnemonic, ops, 2, n)
        dst = _reg(ops[0], n)
        if ops[1].startswith("%"):
            asm.append(Insn(cls | op | SRC_X, dst, _reg(ops[1], n), off))
        else:
            asm.append(Insn(cls | op, dst, 0, off, parse_imm32(ops[1], n)))
        return
    jcls = Cls.JMP32 if mnemonic.endswith("32") else Cls.JMP
    if base in JMP_NAMES:
        _expect(mnemonic, ops, 3, n)
        dst = _reg(ops[0], n)
        delta, label = _target(asm, ops[2], n)
        delta = _check16(delta, n)
        if ops[1].startswith("%"):
            insn = Insn(jcls | JMP_NAMES[base] | SRC_X, dst, _reg(ops[1], n), delta)
        else:
            insn = Insn(jcls | JMP_NAMES[base], dst, 0, delta, parse_imm32(ops[1], n))
        asm.append(insn, label, n, "off")
        return
    raise AsmError(n, f"Invalid mnemonic '{mnemonic}'")


def _check16(delta: int, n: int) -> int:
    if not -(1 << 15) <= delta < (1 << 15):
        raise AsmError(n, f"Invalid jump offset {delta}: it does not fit in 16 bits")
    return delta


def _assemble_call(asm: Assembly, ops: list[str], rest: str, n: int) -> None:
    words = rest.split()
    if len(words) == 1 and words[0].startswith("%"):
        asm.append(Insn(CALLX, _reg(words[0], n)))
        return
    if len(words) == 2 and words[0] == "local":
        delta, label = _target(asm, words[1], n)
        asm.append(Insn(CALL, src=1, imm=delta), label, n, "imm")
        return
    if len(words) == 2 and words[0] in ("helper", "runtime", "kfunc"):
        src = 0 if words[0] == "helper" else 2
        asm.append(Insn(CALL, src=src, imm=parse_imm32(words[1], n)))
        return
    if len(words) == 1:
        asm.append(Insn(CALL, imm=parse_imm32(words[0], n)))
        return
    raise AsmError(n, "Invalid call: expected 'call N', 'call local LABEL' or 'call %rN'")


def _lddw(dst: int, operand: str, n: int) -> Insn:
    m = re.match(r"^(\w+):\s*([+-]?\w+)(?:\s*\+\s*(\w+))?$", operand)
    if m and m.group(1) in PSEUDO_NAMES:
        src = PSEUDO_NAMES[m.group(1)]
        lo = parse_imm32(m.group(2), n) & 0xFFFFFFFF
        hi = parse_imm32(m.group(3), n) & 0xFFFFFFFF if m.group(3) else 0
        return Insn(LDDW, dst, src, 0, lo | (hi << 32))
    return Insn(LDDW, dst, 0, 0, parse_imm64(operand, n))


def _assemble_lock(asm: Assembly, rest: str, n: int) -> None:
    # lock [fetch] OP[32] [%rD+off], %rS
    head, _, tail = rest.partition("[")
    words = head.split()
    mem, _, src = ("[" + tail).partition("]")
    src = src.strip()
    if not tail or not words or not src.startswith(","):
        raise AsmError(n, "Invalid number of operands for lock: expected 'lock [fetch] OP [%rN+off], %rM'")
    fetch = words[0] == "fetch"
    if fetch:
        words = words[1:]
    if len(words) != 1:
        raise AsmError(n, "Invalid number of operands for lock: expected 'lock [fetch] OP [%rN+off], %rM'")
    name = words[0]
    size = Size.W if name.endswith("32") else Size.DW
    base = name[:-2] if name.endswith("32") else name
    if base == "xchg":
        imm = AtomicOp.XCHG
    elif base == "cmpxchg":
        imm = AtomicOp.CMPXCHG
    elif base in ATOMIC_NAMES:
        imm = ATOMIC_NAMES[base] | (AtomicOp.FETCH if fetch else 0)
    else:
        raise AsmError(n, f"Invalid atomic operation '{name}' for lock")
    dst, off = _mem(mem + "]", n)
    asm.append(Insn(Cls.STX | Mode.ATOMIC | size, dst, _reg(src[1:], n), off, int(imm)))


# ---------------------------------------------------------------------------
# Disassembly
# ---------------------------------------------------------------------------

_ALU_BY_OP = {v: k for k, v in ALU_NAMES.items()}
_JMP_BY_OP = {v: k for k, v in JMP_NAMES.items()}
_SIZE_NAME = {SIZE_BYTES[v]: k for k, v in SIZE_SUFFIX.items()}
_PSEUDO_BY_SRC = {v: k for k, v in PSEUDO_NAMES.items()}


def _m(reg: int, off: int) -> str:
    return f"[%r{reg}{signed_offset(off)}]" if off else f"[%r{reg}]"


def format_insn(insn: Insn, pc: int = 0) -> str:
    """One instruction in conformance syntax (jump targets as +N/-N)."""
    op = lift(insn, pc)

    def rel(target: int) -> str:
        return signed_offset(target - (pc + 1))

    if isinstance(op, Invalid):
        return f"; invalid: {op.reason}"
    if isinstance(op, Swap):
        return f"{'bswap' if op.kind == SwapKind.SWAP else op.kind.value}{op.bits} %r{op.dst}"
    if isinstance(op, Neg):
        return f"neg{'32' if op.width == 32 else ''} %r{op.dst}"
    if isinstance(op, Alu):
        suffix = "32" if op.width == 32 else ""
        if op.extend:
            return f"movsx{op.extend}{op.width} %r{op.dst}, %r{op.src.n}"  # type: ignore[union-attr]
        name = _ALU_BY_OP[op.op]
        if op.signed:
            name = "sdiv" if op.op == AluOp.DIV else "smod"
        operand = f"%r{op.src.n}" if isinstance(op.src, Reg) else str(op.src.value)
        return f"{name}{suffix} %r{op.dst}, {operand}"
    if isinstance(op, Exit):
        return "exit"
    if isinstance(op, Jump):
        return f"ja32 {rel(op.target)}" if op.long else f"ja {rel(op.target)}"
    if isinstance(op, MayGoto):
        return f"may_goto {rel(op.target)}"
    if isinstance(op, CallIndirect):
        return f"call %r{op.reg}"
    if isinstance(op, LocalCall):
        return f"call local {rel(op.target)}"
    if isinstance(op, KfuncCall):
        return f"call kfunc {op.btf_id}"
    if isinstance(op, Call):
        return f"call {op.helper}"
    if isinstance(op, Branch):
        suffix = "32" if op.width == 32 else ""
        operand = f"%r{op.right.n}" if isinstance(op.right, Reg) else str(op.right.value)
        return f"{_JMP_BY_OP[op.cond]}{suffix} %r{op.left}, {operand}, {rel(op.target)}"
    if isinstance(op, LoadImm64):
        return f"lddw %r{op.dst}, {op.value:#x}"
    if isinstance(op, (LoadMapRef, LoadFuncRef, LoadBtfRef)):
        lo, hi = insn.imm & 0xFFFFFFFF, insn.imm >> 32
        text = f"{_PSEUDO_BY_SRC[PseudoSrc(insn.src)]}:{to_signed(lo, 32)}"
        return f"lddw %r{op.dst}, {text}+{hi}" if hi else f"lddw %r{op.dst}, {text}"
    if isinstance(op, PacketLoad):
        size = _SIZE_NAME[op.size]
        return f"ldabs{size} {op.imm}" if op.index is None else f"ldind{size} %r{op.index}, {op.imm}"
    if isinstance(op, Load):
        return f"ldx{'s' if op.signed else ''}{_SIZE_NAME[op.size]} %r{op.dst}, {_m(op.base, op.off)}"
    if isinstance(op, Store):
        if isinstance(op.src, Imm):
            return f"st{_SIZE_NAME[op.size]} {_m(op.base, op.off)}, {op.src.value}"
        return f"stx{_SIZE_NAME[op.size]} {_m(op.base, op.off)}, %r{op.src.n}"
    assert isinstance(op, Atomic)
    suffix = "32" if op.size == 4 else ""
    name = op.kind.value
    if op.fetch and op.kind not in (AtomicKind.XCHG, AtomicKind.CMPXCHG):
        name = "fetch " + name
    return f"lock {name}{suffix} {_m(op.base, op.off)}, %r{op.src}"


def disassemble(insns: list[Insn]) -> str:
    return "\n".join(format_insn(insn, pc) for pc, insn in zip(pcs(insns), insns)) + "\n"
