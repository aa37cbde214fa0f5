"""Typed operations: each instruction lifted once from its encoding into what it does.

The encoding (`Insn`: opcode byte, registers, offset, immediate) is decoded here and nowhere
else: the interpreter, the verifier, the textual syntaxes and the profiles read these records,
in the manner of PREVAIL's instruction variant and cilium/ebpf's typed `asm` enums. Jump and
call targets are absolute pcs. `lift(insn, pc)` gives the operation; `Invalid` stands for an
encoding that is not an instruction (see `check_fields`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .insn import Insn, check_fields, to_signed
from .opcodes import (
    CALL,
    CALLX,
    CLASS_MASK,
    EXIT,
    JA,
    JA32,
    LDDW,
    MAY_GOTO,
    MODE_MASK,
    OP_MASK,
    SIZE_BYTES,
    SIZE_MASK,
    SRC_X,
    AluOp,
    AtomicOp,
    CallSrc,
    Cls,
    JmpOp,
    Mode,
    PseudoSrc,
    Size,
)


@dataclass(frozen=True, slots=True)
class Reg:
    n: int

    def __str__(self) -> str:
        return f"r{self.n}"


@dataclass(frozen=True, slots=True)
class Imm:
    value: int  # as encoded: a signed 32-bit immediate (ALU, jumps, stores)

    def __str__(self) -> str:
        return str(self.value)


Operand = Reg | Imm


# -- ALU --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Alu:
    """dst = dst op src (`op` a two-operand AluOp, MOV included) at `width` bits (32 zero-extends)."""

    op: AluOp
    width: int
    dst: int
    src: Operand
    signed: bool = False  # sdiv / smod
    extend: int = 0  # mov with sign extension of the source's low `extend` bits (8, 16, 32)


@dataclass(frozen=True, slots=True)
class Neg:
    width: int
    dst: int


class SwapKind(str, Enum):
    TO_LE = "le"  # a truncation to `bits` on a little-endian machine
    TO_BE = "be"  # a byte swap of the low `bits`
    SWAP = "bswap"  # the unconditional byte swap (ALU64, Linux 6.6)


@dataclass(frozen=True, slots=True)
class Swap:
    kind: SwapKind
    bits: int  # 16, 32 or 64
    dst: int


# -- 64-bit immediates ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadImm64:
    dst: int
    value: int  # unsigned 64-bit


@dataclass(frozen=True, slots=True)
class LoadMapRef:
    """lddw of a map (`offset` None) or of the address `offset` bytes into its value."""

    dst: int
    pseudo: PseudoSrc  # MAP_FD, MAP_IDX (by map), MAP_VALUE, MAP_IDX_VALUE (by value address)
    index: int  # which map of the program
    offset: int | None  # value offset, for MAP_VALUE / MAP_IDX_VALUE

    @property
    def by_value(self) -> bool:
        return self.offset is not None


@dataclass(frozen=True, slots=True)
class LoadFuncRef:
    dst: int
    target: int  # pc of the function


@dataclass(frozen=True, slots=True)
class LoadBtfRef:
    dst: int
    btf_id: int


# -- memory -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Load:
    """dst = *(size *)(base + off), zero- or (signed) sign-extended to 64 bits."""

    size: int
    signed: bool
    dst: int
    base: int
    off: int


@dataclass(frozen=True, slots=True)
class Store:
    """*(size *)(base + off) = src (a register's low bytes, or an immediate)."""

    size: int
    base: int
    off: int
    src: Operand


class AtomicKind(str, Enum):
    ADD = "add"
    OR = "or"
    AND = "and"
    XOR = "xor"
    XCHG = "xchg"
    CMPXCHG = "cmpxchg"


@dataclass(frozen=True, slots=True)
class Atomic:
    """A read-modify-write of `size` bytes at base + off. With `fetch` (always for xchg and
    cmpxchg) the old value is returned: in `src`, or in r0 for cmpxchg (which compares with r0)."""

    kind: AtomicKind
    fetch: bool
    size: int
    base: int
    off: int
    src: int

    @property
    def result_reg(self) -> int | None:
        if self.kind == AtomicKind.CMPXCHG:
            return 0
        return self.src if self.fetch else None


@dataclass(frozen=True, slots=True)
class PacketLoad:
    """The legacy ld_abs / ld_ind: r0 = packet[imm (+ index)], for socket buffers only."""

    size: int
    index: int | None  # ld_ind's register
    imm: int


# -- control ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Jump:
    target: int
    long: bool = False  # gotol: the offset is in imm (32 bits)


@dataclass(frozen=True, slots=True)
class Branch:
    """if (left cond right) at `width` bits goto target."""

    cond: JmpOp
    width: int
    left: int
    right: Operand
    target: int


@dataclass(frozen=True, slots=True)
class MayGoto:
    """Falls through while the frame's budget of iterations lasts, then jumps (Linux 6.9)."""

    target: int


@dataclass(frozen=True, slots=True)
class Call:
    helper: int


@dataclass(frozen=True, slots=True)
class LocalCall:
    target: int


@dataclass(frozen=True, slots=True)
class KfuncCall:
    btf_id: int


@dataclass(frozen=True, slots=True)
class CallIndirect:
    reg: int


@dataclass(frozen=True, slots=True)
class Exit:
    pass


@dataclass(frozen=True, slots=True)
class Invalid:
    """An encoding that is no instruction."""

    reason: str


Op = (Alu | Neg | Swap | LoadImm64 | LoadMapRef | LoadFuncRef | LoadBtfRef | Load | Store | Atomic | PacketLoad
      | Jump | Branch | MayGoto | Call | LocalCall | KfuncCall | CallIndirect | Exit | Invalid)
CALLS = (Call, LocalCall, KfuncCall, CallIndirect)
MEMORY = (Load, Store, Atomic)

_ATOMIC_KINDS = {AtomicOp.ADD: AtomicKind.ADD, AtomicOp.OR: AtomicKind.OR, AtomicOp.AND: AtomicKind.AND,
                 AtomicOp.XOR: AtomicKind.XOR, AtomicOp.XCHG: AtomicKind.XCHG, AtomicOp.CMPXCHG: AtomicKind.CMPXCHG}


def lift(insn: Insn, pc: int) -> Op:
    """What the instruction at `pc` does."""
    problem = check_fields(insn)
    if problem:
        return Invalid(problem)
    opcode = insn.opcode
    cls = opcode & CLASS_MASK
    if cls in (Cls.ALU, Cls.ALU64):
        return _lift_alu(insn, 64 if cls == Cls.ALU64 else 32)
    if cls in (Cls.JMP, Cls.JMP32):
        return _lift_jump(insn, pc, 64 if cls == Cls.JMP else 32)
    size = SIZE_BYTES[Size(opcode & SIZE_MASK)]
    if opcode == LDDW:
        return _lift_lddw(insn, pc)
    if cls == Cls.LD:
        return PacketLoad(size, insn.src if insn.mode == Mode.IND else None, insn.imm)
    if cls == Cls.LDX:
        return Load(size, opcode & MODE_MASK == Mode.MEMSX, insn.dst, insn.src, insn.off)
    if cls == Cls.ST:
        return Store(size, insn.dst, insn.off, Imm(insn.imm))
    if opcode & MODE_MASK == Mode.ATOMIC:
        exchange = insn.imm in (AtomicOp.XCHG, AtomicOp.CMPXCHG)
        kind = _ATOMIC_KINDS[AtomicOp(insn.imm if exchange else insn.imm & ~AtomicOp.FETCH)]
        return Atomic(kind, bool(insn.imm & AtomicOp.FETCH), size, insn.dst, insn.off, insn.src)
    return Store(size, insn.dst, insn.off, Reg(insn.src))


def _lift_alu(insn: Insn, width: int) -> Op:
    op = AluOp(insn.opcode & OP_MASK)
    x = bool(insn.opcode & SRC_X)
    if op == AluOp.NEG:
        return Neg(width, insn.dst)
    if op == AluOp.END:
        kind = SwapKind.SWAP if width == 64 else (SwapKind.TO_BE if x else SwapKind.TO_LE)
        return Swap(kind, insn.imm, insn.dst)
    src: Operand = Reg(insn.src) if x else Imm(insn.imm)
    if op in (AluOp.DIV, AluOp.MOD):
        return Alu(op, width, insn.dst, src, signed=insn.off == 1)
    if op == AluOp.MOV and x and insn.off:
        return Alu(op, width, insn.dst, src, extend=insn.off)
    return Alu(op, width, insn.dst, src)


def _lift_jump(insn: Insn, pc: int, width: int) -> Op:
    opcode = insn.opcode
    if opcode == JA:
        return Jump(pc + 1 + insn.off)
    if opcode == JA32:
        return Jump(pc + 1 + insn.imm, long=True)
    if opcode == EXIT:
        return Exit()
    if opcode == CALLX:
        return CallIndirect(insn.dst)
    if opcode == CALL:
        if insn.src == CallSrc.LOCAL:
            return LocalCall(pc + 1 + insn.imm)
        if insn.src == CallSrc.KFUNC:
            return KfuncCall(insn.imm)
        return Call(insn.imm)
    if opcode == MAY_GOTO:
        return MayGoto(pc + 1 + insn.off)
    right: Operand = Reg(insn.src) if opcode & SRC_X else Imm(insn.imm)
    return Branch(JmpOp(opcode & OP_MASK), width, insn.dst, right, pc + 1 + insn.off)


def _lift_lddw(insn: Insn, pc: int) -> Op:
    lo, hi = insn.imm & 0xFFFFFFFF, insn.imm >> 32
    src = PseudoSrc(insn.src)
    if src == PseudoSrc.IMM64:
        return LoadImm64(insn.dst, insn.imm)
    if src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX):
        return LoadMapRef(insn.dst, src, lo, None)
    if src in (PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE):
        return LoadMapRef(insn.dst, src, lo, hi)
    if src == PseudoSrc.FUNC:
        return LoadFuncRef(insn.dst, pc + 1 + to_signed(lo, 32))
    return LoadBtfRef(insn.dst, lo)


__all__ = [
    "CALLS", "MEMORY", "Alu", "Atomic", "AtomicKind", "Branch", "Call", "CallIndirect", "Exit", "Imm", "Invalid",
    "Jump", "KfuncCall", "Load", "LoadBtfRef", "LoadFuncRef", "LoadImm64", "LoadMapRef", "LocalCall", "MayGoto",
    "Neg", "Op", "Operand", "PacketLoad", "Reg", "Store", "Swap", "SwapKind", "lift", "to_signed",
]
