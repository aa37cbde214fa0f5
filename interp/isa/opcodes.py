"""Opcode fields of RFC 9669: classes, sources, ALU and jump operations, memory modes and sizes."""

from __future__ import annotations

from enum import IntEnum


class Cls(IntEnum):
    """The low three bits of an opcode."""

    LD = 0x00
    LDX = 0x01
    ST = 0x02
    STX = 0x03
    ALU = 0x04
    JMP = 0x05
    JMP32 = 0x06
    ALU64 = 0x07


CLASS_MASK = 0x07
SRC_X = 0x08  # source is the register `src` (otherwise the immediate)
OP_MASK = 0xF0
MODE_MASK = 0xE0
SIZE_MASK = 0x18


class AluOp(IntEnum):
    ADD = 0x00
    SUB = 0x10
    MUL = 0x20
    DIV = 0x30
    OR = 0x40
    AND = 0x50
    LSH = 0x60
    RSH = 0x70
    NEG = 0x80
    MOD = 0x90
    XOR = 0xA0
    MOV = 0xB0
    ARSH = 0xC0
    END = 0xD0


class JmpOp(IntEnum):
    JA = 0x00
    JEQ = 0x10
    JGT = 0x20
    JGE = 0x30
    JSET = 0x40
    JNE = 0x50
    JSGT = 0x60
    JSGE = 0x70
    CALL = 0x80
    EXIT = 0x90
    JLT = 0xA0
    JLE = 0xB0
    JSLT = 0xC0
    JSLE = 0xD0
    JCOND = 0xE0  # may_goto (src 0): jumps once a per-frame budget of iterations is used up


CONDITIONAL_JUMPS = frozenset(
    {
        JmpOp.JEQ,
        JmpOp.JGT,
        JmpOp.JGE,
        JmpOp.JSET,
        JmpOp.JNE,
        JmpOp.JSGT,
        JmpOp.JSGE,
        JmpOp.JLT,
        JmpOp.JLE,
        JmpOp.JSLT,
        JmpOp.JSLE,
    }
)


class Mode(IntEnum):
    IMM = 0x00
    ABS = 0x20
    IND = 0x40
    MEM = 0x60
    MEMSX = 0x80
    ATOMIC = 0xC0


class Size(IntEnum):
    W = 0x00
    H = 0x08
    B = 0x10
    DW = 0x18


SIZE_BYTES = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}
BYTES_SIZE = {v: k for k, v in SIZE_BYTES.items()}


class AtomicOp(IntEnum):
    """The `imm` field of an atomic instruction."""

    ADD = 0x00
    OR = 0x40
    AND = 0x50
    XOR = 0xA0
    FETCH = 0x01
    XCHG = 0xE0 | 0x01
    CMPXCHG = 0xF0 | 0x01


ATOMIC_IMMS = frozenset(
    {
        AtomicOp.ADD,
        AtomicOp.OR,
        AtomicOp.AND,
        AtomicOp.XOR,
        AtomicOp.ADD | AtomicOp.FETCH,
        AtomicOp.OR | AtomicOp.FETCH,
        AtomicOp.AND | AtomicOp.FETCH,
        AtomicOp.XOR | AtomicOp.FETCH,
        AtomicOp.XCHG,
        AtomicOp.CMPXCHG,
    }
)


class PseudoSrc(IntEnum):
    """The `src` field of a 64-bit immediate load (RFC 9669 section 5.4)."""

    IMM64 = 0
    MAP_FD = 1
    MAP_VALUE = 2
    BTF_ID = 3
    FUNC = 4
    MAP_IDX = 5
    MAP_IDX_VALUE = 6


class CallSrc(IntEnum):
    """The `src` field of a call."""

    HELPER = 0
    LOCAL = 1  # program-local function, imm is the pc-relative target
    KFUNC = 2  # helper by BTF id


LDDW = Cls.LD | Mode.IMM | Size.DW  # 0x18
CALL = Cls.JMP | JmpOp.CALL  # 0x85
CALLX = Cls.JMP | JmpOp.CALL | SRC_X  # 0x8d
EXIT = Cls.JMP | JmpOp.EXIT  # 0x95
JA = Cls.JMP | JmpOp.JA  # 0x05
JA32 = Cls.JMP32 | JmpOp.JA  # 0x06: `gotol`, 32-bit offset in imm
MAY_GOTO = Cls.JMP | JmpOp.JCOND  # 0xe5 (Linux 6.9)
MAY_GOTO_BUDGET = 8 * 1024 * 1024  # the kernel's BPF_MAX_LOOPS: may_goto falls through this often per frame

MAX_REGISTER = 10
FRAME_POINTER = 10
STACK_SIZE = 512
