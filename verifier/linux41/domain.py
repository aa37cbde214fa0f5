"""The abstract state of the Linux 4.1 verifier: what each register holds (one of nine types, no
value ranges) and how each of the 512 stack bytes was last written (nothing, a spilled register,
other data). A constant is known only from a move of an immediate; any arithmetic gives an
unknown value, except the frame pointer plus an immediate (a stack pointer)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from interp.isa.opcodes import STACK_SIZE

MASK64 = (1 << 64) - 1
SLOT = 8  # a spilled register fills one aligned 8-byte slot


class RegType(Enum):
    NOT_INIT = "NOT_INIT"
    UNKNOWN_VALUE = "UNKNOWN_VALUE"
    PTR_TO_CTX = "PTR_TO_CTX"
    CONST_PTR_TO_MAP = "CONST_PTR_TO_MAP"
    PTR_TO_MAP_VALUE = "PTR_TO_MAP_VALUE"
    PTR_TO_MAP_VALUE_OR_NULL = "PTR_TO_MAP_VALUE_OR_NULL"
    FRAME_PTR = "FRAME_PTR"
    PTR_TO_STACK = "PTR_TO_STACK"
    CONST_IMM = "CONST_IMM"

    @property
    def kernel_name(self) -> str:
        """The name the 4.1 kernel prints for the type (its reg_type_str)."""
        return KERNEL_NAMES[self]


KERNEL_NAMES = {
    RegType.NOT_INIT: "?", RegType.UNKNOWN_VALUE: "inv", RegType.PTR_TO_CTX: "ctx",
    RegType.CONST_PTR_TO_MAP: "map_ptr", RegType.PTR_TO_MAP_VALUE: "map_value",
    RegType.PTR_TO_MAP_VALUE_OR_NULL: "map_value_or_null", RegType.FRAME_PTR: "fp", RegType.PTR_TO_STACK: "fp",
    RegType.CONST_IMM: "imm",
}
# what our reports call each type
DESCRIPTIONS = {
    RegType.NOT_INIT: "not initialised", RegType.UNKNOWN_VALUE: "an unknown number",
    RegType.PTR_TO_CTX: "the context pointer", RegType.CONST_PTR_TO_MAP: "a map pointer",
    RegType.PTR_TO_MAP_VALUE: "a map value pointer", RegType.PTR_TO_MAP_VALUE_OR_NULL: "a map value pointer or NULL",
    RegType.FRAME_PTR: "the frame pointer", RegType.PTR_TO_STACK: "a stack pointer (frame pointer plus a constant)",
    RegType.CONST_IMM: "a constant",
}
# the registers check_stack_write keeps as a spill; any other is stored as plain data
SPILLABLE = frozenset({RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_STACK, RegType.PTR_TO_CTX})


class Slot(Enum):
    """How a stack byte was last written (4.1's stack_slot_type)."""

    INVALID = 0
    SPILL = 1
    MISC = 2


@dataclass(frozen=True, slots=True)
class Reg:
    """A register: its type; `imm` the constant (CONST_IMM) or offset from the frame pointer
    (PTR_TO_STACK); `map` the program's map index (the map pointer kinds). `value` is the
    constant's real 64-bit value: the 4.1 kernel kept only the 32-bit immediate, which a 32-bit
    move of a negative immediate zero-extends, so the two can differ (see `walk`)."""

    type: RegType
    imm: int = 0
    map: int | None = None
    value: int | None = None

    def describe(self) -> str:
        if self.type == RegType.CONST_IMM:
            return f"the constant {self.imm}"
        if self.type == RegType.PTR_TO_STACK:
            return f"a stack pointer fp{self.imm:+d}"
        return DESCRIPTIONS[self.type]


NOT_INIT = Reg(RegType.NOT_INIT)
UNKNOWN = Reg(RegType.UNKNOWN_VALUE)


def const(imm: int, value: int | None = None) -> Reg:
    """A CONST_IMM of the 32-bit immediate `imm` whose real value is `value` (default: `imm`
    sign-extended to 64 bits, as a 64-bit move or a 64-bit comparison makes it)."""
    return Reg(RegType.CONST_IMM, imm, value=imm & MASK64 if value is None else value)


@dataclass(frozen=True, slots=True)
class State:
    """The registers r0-r10, the 512 stack bytes' marks (index 0 is fp-512) and the register
    spilled in each 8-byte slot (None: no spill)."""

    regs: tuple[Reg, ...]
    stack: bytes
    spills: tuple[Reg | None, ...]

    @classmethod
    def entry(cls) -> "State":
        regs = [NOT_INIT] * 11
        regs[1] = Reg(RegType.PTR_TO_CTX)
        regs[10] = Reg(RegType.FRAME_PTR)
        return cls(tuple(regs), bytes(STACK_SIZE), (None,) * (STACK_SIZE // SLOT))

    def reg(self, n: int) -> Reg:
        return self.regs[n]

    def set(self, n: int, reg: Reg) -> "State":
        regs = list(self.regs)
        regs[n] = reg
        return State(tuple(regs), self.stack, self.spills)

    def set_many(self, changes: dict[int, Reg]) -> "State":
        regs = list(self.regs)
        for n, reg in changes.items():
            regs[n] = reg
        return State(tuple(regs), self.stack, self.spills)

    def slot_types(self, off: int, size: int) -> bytes:
        """The marks of the `size` bytes at fp+off."""
        return self.stack[STACK_SIZE + off:STACK_SIZE + off + size]

    def spilled(self, off: int) -> Reg | None:
        return self.spills[(STACK_SIZE + off) // SLOT]

    def write_stack(self, off: int, size: int, spill: Reg | None) -> "State":
        """A store of `size` bytes at fp+off: the register `spill` kept whole, or plain data.
        Plain data forgets the spill of the slot that holds its first byte only, as 4.1 did."""
        mark = Slot.SPILL.value if spill is not None else Slot.MISC.value
        start = STACK_SIZE + off
        stack = self.stack[:start] + bytes([mark]) * size + self.stack[start + size:]
        spills = list(self.spills)
        spills[start // SLOT] = spill
        return State(self.regs, stack, tuple(spills))


_WRITTEN = bytes([0] + [0xFF] * 255)  # a stack byte's mark -> 0xff where it was written


@dataclass(frozen=True)
class Seen:
    """A state kept at a pruning point, with its stack as numbers for a quick comparison."""

    state: State
    stack: int
    written: int  # 0xff in each byte that was written

    @classmethod
    def of(cls, state: State) -> "Seen":
        return cls(state, int.from_bytes(state.stack, "little"),
                   int.from_bytes(state.stack.translate(_WRITTEN), "little"))


def subsumes(old: State | Seen, cur: State) -> bool:
    """4.1's states_equal: `old`, a state already shown safe from the same instruction, is at
    least as strict as `cur`, so exploring `cur` further is not needed. A register is as strict
    when it is the same, or the old one is unset, or the old one is an unknown number and the
    current one is set; a stack byte when the old one was never written, or both are marked the
    same and the spilled registers of each slot are the same."""
    seen = old if isinstance(old, Seen) else Seen.of(old)
    before = seen.state
    for a, b in zip(before.regs, cur.regs):
        if a == b or a.type == RegType.NOT_INIT:
            continue
        if a.type == RegType.UNKNOWN_VALUE and b.type != RegType.NOT_INIT:
            continue
        return False
    if (seen.stack ^ int.from_bytes(cur.stack, "little")) & seen.written:
        return False
    if before.spills == cur.spills:
        return True
    return all(a == b for k, (a, b) in enumerate(zip(before.spills, cur.spills))
               if before.stack[k * SLOT] != Slot.INVALID.value)


__all__ = ["DESCRIPTIONS", "MASK64", "NOT_INIT", "Reg", "RegType", "SLOT", "SPILLABLE", "Seen", "Slot", "State",
           "UNKNOWN", "const", "subsumes"]
