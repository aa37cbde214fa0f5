"""The `Insn` record and the exact byte layout of RFC 9669 instructions."""

from __future__ import annotations

import struct
from dataclasses import dataclass

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
    Cls,
    JmpOp,
    Mode,
    PseudoSrc,
    Size,
)

_SLOT = struct.Struct("<BBhi")
SLOT_BYTES = 8
# plain ints for the tests every pass over a program makes (enum members compare slowly)
_ALU_CLASSES = (int(Cls.ALU), int(Cls.ALU64))
_JMP_CLASSES = (int(Cls.JMP), int(Cls.JMP32))
_NOT_CONDITIONAL = (int(JmpOp.JA), int(JmpOp.CALL), int(JmpOp.EXIT))
_LDDW, _EXIT, _CALL, _CALLX, _JA, _JA32 = int(LDDW), int(EXIT), int(CALL), int(CALLX), int(JA), int(JA32)


@dataclass(frozen=True, slots=True)
class Insn:
    """One instruction. A 64-bit immediate load (`lddw`) is one `Insn` covering two slots;
    its `imm` then holds the whole unsigned 64-bit value (low half from the first slot)."""

    opcode: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0

    # -- classification -------------------------------------------------
    @property
    def cls(self) -> Cls:
        return Cls(self.opcode & CLASS_MASK)

    @property
    def slots(self) -> int:
        return 2 if self.opcode == _LDDW else 1

    @property
    def is_alu(self) -> bool:
        return self.opcode & 0x07 in _ALU_CLASSES

    @property
    def is_jmp(self) -> bool:
        return self.opcode & 0x07 in _JMP_CLASSES

    @property
    def uses_src_reg(self) -> bool:
        return bool(self.opcode & SRC_X)

    @property
    def op(self) -> int:
        return self.opcode & OP_MASK

    @property
    def mode(self) -> int:
        return self.opcode & MODE_MASK

    @property
    def size_bytes(self) -> int:
        return SIZE_BYTES[Size(self.opcode & SIZE_MASK)]

    @property
    def is_lddw(self) -> bool:
        return self.opcode == LDDW

    @property
    def is_exit(self) -> bool:
        return self.opcode == _EXIT

    @property
    def is_call(self) -> bool:
        return self.opcode in (_CALL, _CALLX)

    @property
    def is_local_call(self) -> bool:
        return self.opcode == _CALL and self.src == 1

    @property
    def is_helper_call(self) -> bool:
        return self.opcode == CALL and self.src != 1

    @property
    def is_unconditional_jump(self) -> bool:
        return self.opcode in (_JA, _JA32)

    @property
    def is_may_goto(self) -> bool:
        return self.opcode == MAY_GOTO

    @property
    def is_conditional_jump(self) -> bool:
        return self.opcode & 0x07 in _JMP_CLASSES and self.opcode & 0xF0 not in _NOT_CONDITIONAL

    @property
    def jump_offset(self) -> int:
        """Slots to skip after this one when the jump is taken (JA32 keeps it in imm)."""
        return self.imm if self.opcode == JA32 else self.off

    def jump_target(self, pc: int) -> int:
        return pc + 1 + self.jump_offset

    def call_target(self, pc: int) -> int:
        return pc + 1 + self.imm

    # -- bytes -----------------------------------------------------------
    def encode(self) -> bytes:
        regs = (self.dst & 0xF) | ((self.src & 0xF) << 4)
        if self.opcode == LDDW:
            lo = to_signed(self.imm & 0xFFFFFFFF, 32)
            hi = to_signed((self.imm >> 32) & 0xFFFFFFFF, 32)
            return _SLOT.pack(self.opcode, regs, self.off, lo) + _SLOT.pack(0, 0, 0, hi)
        return _SLOT.pack(self.opcode, regs, self.off, self.imm)

    def __str__(self) -> str:
        from .text import format_insn

        return format_insn(self)


def to_signed(value: int, width: int) -> int:
    """The two's complement reading of an unsigned `width`-bit value."""
    value &= (1 << width) - 1
    return value - (1 << width) if value >> (width - 1) else value


class DecodeError(ValueError):
    """Bytes that are not a valid RFC 9669 instruction stream."""

    def __init__(self, pc: int, reason: str) -> None:
        super().__init__(f"insn {pc}: {reason}")
        self.pc = pc
        self.reason = reason


def encode(insns: list[Insn]) -> bytes:
    return b"".join(insn.encode() for insn in insns)


def decode(data: bytes, *, check_reserved: bool = True, invalid: dict[int, str] | None = None) -> list[Insn]:
    """Decode little-endian bytecode. With `check_reserved`, fields the RFC reserves must be zero.

    Bytes that are not a multiple of 8 are no program at all (DecodeError). An instruction that
    is invalid (unknown opcode, reserved field set, malformed lddw) raises DecodeError too,
    unless `invalid` is given: then it is decoded field by field as it stands and `invalid[pc]`
    says why it is invalid, so a verifier can refuse the program at that pc as the kernel does."""
    if len(data) % SLOT_BYTES:
        raise DecodeError(
            len(data) // SLOT_BYTES,
            f"truncated bytecode: {len(data)} bytes is not a multiple of 8",
        )

    def problem_at(pc: int, reason: str, slot: int | None = None) -> None:
        if invalid is None:
            raise DecodeError(pc if slot is None else slot, reason)
        invalid.setdefault(pc, reason)

    slots = [_SLOT.unpack_from(data, i) for i in range(0, len(data), SLOT_BYTES)]
    insns: list[Insn] = []
    # programs repeat instructions (large ones mostly so): each distinct slot is decoded and
    # checked once, and the (immutable) record is shared
    seen: dict[tuple[int, int, int, int], tuple[Insn, str | None]] = {}
    pc = 0
    while pc < len(slots):
        slot = slots[pc]
        opcode, regs, off, imm = slot
        if opcode != LDDW:
            known = seen.get(slot)
            if known is None:
                insn = Insn(opcode, regs & 0xF, regs >> 4, off, imm)
                known = seen[slot] = (insn, check_fields(insn) if check_reserved else _check_known(insn))
            if known[1]:
                problem_at(pc, known[1])
            insns.append(known[0])
            pc += 1
            continue
        dst, src = regs & 0xF, regs >> 4
        if pc + 1 >= len(slots):
            problem_at(pc, "lddw needs a second slot but the program ends here")
            insns.append(Insn(opcode, dst, src, off, imm & 0xFFFFFFFF))
            break
        op2, regs2, off2, imm2 = slots[pc + 1]
        if check_reserved and (op2 or regs2 or off2):
            problem_at(pc, "second slot of lddw must have opcode, registers and offset 0", slot=pc + 1)
        insn = Insn(opcode, dst, src, off, (imm & 0xFFFFFFFF) | ((imm2 & 0xFFFFFFFF) << 32))
        problem = check_fields(insn) if check_reserved else _check_known(insn)
        if problem:
            problem_at(pc, problem)
        insns.append(insn)
        pc += 2
    return insns


def pcs(insns: list[Insn]) -> list[int]:
    """The slot index (the kernel's `pc`) of each instruction."""
    out, pc = [], 0
    for insn in insns:
        out.append(pc)
        pc += insn.slots
    return out


def _check_known(insn: Insn) -> str | None:
    """Like `check_fields`, but tolerating non-zero reserved fields (and nothing else)."""
    problem = check_fields(insn)
    if problem and problem.startswith("reserved field"):
        return None
    return problem


def _nonzero(insn: Insn, *fields: str) -> str | None:
    for name in fields:
        value = getattr(insn, name)
        if value:
            return f"reserved field '{name}' of opcode {insn.opcode:#04x} must be 0, found {value}"
    return None


def _register_problem(insn: Insn, *fields: str) -> str | None:
    for name in fields:
        value = getattr(insn, name)
        if value > 10:
            return f"invalid register r{value} in field '{name}': registers are r0..r10"
    return None


def check_fields(insn: Insn) -> str | None:
    """Why `insn` is not a valid RFC 9669 instruction, or None when it is."""
    cls = insn.opcode & CLASS_MASK
    if cls in (Cls.ALU, Cls.ALU64):
        return _check_alu(insn, cls)
    if cls in (Cls.JMP, Cls.JMP32):
        return _check_jmp(insn, cls)
    if cls == Cls.LD:
        return _check_ld(insn)
    if cls == Cls.LDX:
        if insn.mode == Mode.MEM or (
            insn.mode == Mode.MEMSX and insn.opcode & SIZE_MASK != Size.DW
        ):
            return _nonzero(insn, "imm") or _register_problem(insn, "dst", "src")
        return f"unknown opcode {insn.opcode:#04x} (load with unsupported mode or size)"
    if cls == Cls.ST:
        if insn.mode == Mode.MEM:
            return _nonzero(insn, "src") or _register_problem(insn, "dst")
        return f"unknown opcode {insn.opcode:#04x} (store with unsupported mode)"
    # STX
    if insn.mode == Mode.MEM:
        return _nonzero(insn, "imm") or _register_problem(insn, "dst", "src")
    if insn.mode == Mode.ATOMIC:
        from .opcodes import ATOMIC_IMMS

        if insn.opcode & SIZE_MASK not in (Size.W, Size.DW):
            return f"unknown opcode {insn.opcode:#04x} (atomic operations are 32 or 64 bit)"
        if insn.imm not in ATOMIC_IMMS:
            return f"unknown atomic operation imm={insn.imm:#x} in opcode {insn.opcode:#04x}"
        return _register_problem(insn, "dst", "src")
    return f"unknown opcode {insn.opcode:#04x} (store with unsupported mode)"


def _check_alu(insn: Insn, cls: int) -> str | None:
    op = insn.opcode & OP_MASK
    if op not in AluOp._value2member_map_:
        return f"unknown opcode {insn.opcode:#04x} (no ALU operation {op:#04x})"
    x = insn.opcode & SRC_X
    if op == AluOp.END:
        if cls == Cls.ALU64 and x:
            return f"unknown opcode {insn.opcode:#04x} (bswap has no register form)"
        if insn.imm not in (16, 32, 64):
            return f"byte swap width must be 16, 32 or 64, found imm={insn.imm}"
        return _nonzero(insn, "src", "off") or _register_problem(insn, "dst")
    if op == AluOp.NEG:
        if x:
            return f"unknown opcode {insn.opcode:#04x} (neg has no register form)"
        return _nonzero(insn, "src", "off", "imm") or _register_problem(insn, "dst")
    allowed_off: tuple[int, ...] = (0,)
    if op in (AluOp.DIV, AluOp.MOD):
        allowed_off = (0, 1)
    elif op == AluOp.MOV and x:
        allowed_off = (0, 8, 16, 32) if cls == Cls.ALU64 else (0, 8, 16)
    if insn.off not in allowed_off:
        return _nonzero(insn, "off") if allowed_off == (0,) else (
            f"offset {insn.off} is not valid for opcode {insn.opcode:#04x} "
            f"(allowed: {', '.join(map(str, allowed_off))})"
        )
    if x:
        return _nonzero(insn, "imm") or _register_problem(insn, "dst", "src")
    return _nonzero(insn, "src") or _register_problem(insn, "dst")


def _check_jmp(insn: Insn, cls: int) -> str | None:
    op = insn.opcode & OP_MASK
    if op not in JmpOp._value2member_map_:
        return f"unknown opcode {insn.opcode:#04x} (no jump operation {op:#04x})"
    x = insn.opcode & SRC_X
    if op == JmpOp.JA:
        if x:
            return f"unknown opcode {insn.opcode:#04x} (ja has no register form)"
        if cls == Cls.JMP:
            return _nonzero(insn, "dst", "src", "imm")
        return _nonzero(insn, "dst", "src", "off")
    if op == JmpOp.JCOND:
        if cls == Cls.JMP32 or x:
            return f"unknown opcode {insn.opcode:#04x} (may_goto is 0xe5 only)"
        if insn.src != 0:
            return f"conditional pseudo-jump with unknown src={insn.src} (0 is may_goto)"
        return _nonzero(insn, "dst", "imm")
    if op in (JmpOp.CALL, JmpOp.EXIT) and cls == Cls.JMP32:
        return f"unknown opcode {insn.opcode:#04x} (call and exit exist only in the JMP class)"
    if op == JmpOp.EXIT:
        if x:
            return f"unknown opcode {insn.opcode:#04x} (exit has no register form)"
        return _nonzero(insn, "dst", "src", "off", "imm")
    if op == JmpOp.CALL:
        if x:  # callx: target in register dst
            return _nonzero(insn, "src", "off", "imm") or _register_problem(insn, "dst")
        if insn.src not in (0, 1, 2):
            return f"call with unknown src={insn.src} (0 helper, 1 local function, 2 kfunc)"
        return _nonzero(insn, "dst", "off")
    if x:
        return _nonzero(insn, "imm") or _register_problem(insn, "dst", "src")
    return _nonzero(insn, "src") or _register_problem(insn, "dst")


def _check_ld(insn: Insn) -> str | None:
    if insn.opcode == LDDW:
        if insn.src > 6:
            return f"lddw with unknown src={insn.src} (pseudo sources are 0..6)"
        if insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX) and insn.imm >> 32:
            return (f"lddw of a map (src {insn.src}) must have 0 in the imm of its second slot, "
                    f"found {insn.imm >> 32:#x}")
        return _nonzero(insn, "off") or _register_problem(insn, "dst")
    mode = insn.mode
    if mode in (Mode.ABS, Mode.IND) and insn.opcode & SIZE_MASK != Size.DW:
        if mode == Mode.ABS:
            return _nonzero(insn, "dst", "src", "off")
        return _nonzero(insn, "dst", "off") or _register_problem(insn, "src")
    return f"unknown opcode {insn.opcode:#04x} (LD class supports lddw and legacy packet loads)"
