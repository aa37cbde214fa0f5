"""The abstract machine state: per call frame the 11 registers and the 512-byte stack (bytes
uninitialised, initialised, or of known value; 8-byte slots holding spilled registers kept
precisely), and the references a program holds and must release."""

from __future__ import annotations

from dataclasses import dataclass, replace

from interp.isa.opcodes import STACK_SIZE

from .domains.regs import RegState, RegType
from .domains.scalar import Scalar

MISC = -1  # an initialised stack byte of unknown value (known bytes are 0..255)


@dataclass(frozen=True)
class Frame:
    regs: tuple[RegState, ...]
    stack: tuple[tuple[int, int], ...]  # sorted (offset, MISC or byte value) for initialised bytes
    spills: tuple[tuple[int, RegState], ...]  # sorted (offset, register) of 8-byte spill slots
    callsite: int = -1  # pc of the call that made this frame (-1: the program's entry)

    @staticmethod
    def entry(args: dict[int, RegState], index: int, callsite: int = -1) -> "Frame":
        regs = [RegState.uninit()] * 11
        for reg, state in args.items():
            regs[reg] = state
        regs[10] = RegState(RegType.PTR_TO_STACK, Scalar.const(0), frame=index)
        return Frame(tuple(regs), (), (), callsite)

    def with_reg(self, reg: int, state: RegState) -> "Frame":
        regs = list(self.regs)
        regs[reg] = state
        return Frame(tuple(regs), self.stack, self.spills, self.callsite)

    def __hash__(self) -> int:
        # states are hashed often (loop unrolling remembers the ones it has seen): compute once
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.regs, self.stack, self.spills, self.callsite))
            object.__setattr__(self, "_hash", cached)
        return cached

    # -- stack ------------------------------------------------------------------------
    def stack_bytes(self) -> dict[int, int]:
        return dict(self.stack)

    def spill_slots(self) -> dict[int, RegState]:
        return dict(self.spills)

    def store_stack(self, offset: int, size: int, value: RegState) -> "Frame":
        """Write `size` bytes at `offset` (fixed, in bounds) from a register (or constant)."""
        stack = self.stack_bytes()
        spills = self.spill_slots()
        for slot in list(spills):
            if slot < offset + size and offset < slot + 8:
                del spills[slot]  # a partial overwrite breaks the spilled register
        if size == 8 and offset % 8 == 0:
            spills[offset] = value
        if value.is_scalar and value.value.is_const:
            data = value.value.value.to_bytes(8, "little")[:size]
            for i in range(size):
                stack[offset + i] = data[i]
        else:
            for i in range(size):
                stack[offset + i] = MISC
        if size != 8 or offset % 8:
            spills.pop(offset, None)
        return replace(self, stack=tuple(sorted(stack.items())), spills=tuple(sorted(spills.items())))

    def mark_initialised(self, lo: int, hi: int) -> "Frame":
        """Bytes [lo, hi) now hold unknown data (a helper wrote them)."""
        stack = self.stack_bytes()
        spills = {s: r for s, r in self.spills if not (s < hi and lo < s + 8)}
        for off in range(lo, hi):
            stack[off] = MISC
        return replace(self, stack=tuple(sorted(stack.items())), spills=tuple(sorted(spills.items())))

    def first_uninitialised(self, lo: int, hi: int) -> int | None:
        stack = self.stack_bytes()
        for off in range(lo, hi):
            if off not in stack:
                return off
        return None

    def known_bytes(self, lo: int, hi: int) -> bytes | None:
        stack = self.stack_bytes()
        out = bytearray()
        for off in range(lo, hi):
            value = stack.get(off)
            if value is None or value == MISC:
                return None
            out.append(value)
        return bytes(out)

    def load_stack(self, offset: int, size: int) -> RegState:
        """What a load of `size` bytes at a fixed `offset` reads (bytes must be initialised)."""
        spill = dict(self.spills).get(offset)
        if spill is not None and size == 8:
            return spill
        known = self.known_bytes(offset, offset + size)
        if known is not None:
            return RegState.const(int.from_bytes(known, "little"))
        if spill is not None and spill.is_scalar and size < 8:
            return RegState.scalar(Scalar.urange(0, (1 << (8 * size)) - 1))
        return RegState.scalar(Scalar.urange(0, (1 << (8 * size)) - 1) if size < 8 else Scalar.unknown())

    # -- lattice ---------------------------------------------------------------------------
    def join(self, other: "Frame", widen: bool = False) -> "Frame":
        regs = tuple(a.widen(b) if widen else a.join(b) for a, b in zip(self.regs, other.regs))
        mine, theirs = self.stack_bytes(), other.stack_bytes()
        stack = {}
        for off, value in mine.items():
            if off in theirs:
                stack[off] = value if theirs[off] == value else MISC
        spills_a, spills_b = self.spill_slots(), other.spill_slots()
        spills = {}
        for off, reg in spills_a.items():
            if off in spills_b:
                joined = reg.widen(spills_b[off]) if widen else reg.join(spills_b[off])
                if joined.type not in (RegType.NOT_INIT,):
                    spills[off] = joined
        return Frame(regs, tuple(sorted(stack.items())), tuple(sorted(spills.items())), self.callsite)


@dataclass(frozen=True)
class State:
    frames: tuple[Frame, ...]
    refs: frozenset[int] = frozenset()  # acquired references (ring buffer records) not yet released

    @property
    def top(self) -> Frame:
        return self.frames[-1]

    @property
    def depth(self) -> int:
        return len(self.frames) - 1

    def reg(self, reg: int) -> RegState:
        return self.frames[-1].regs[reg]

    def with_reg(self, reg: int, state: RegState) -> "State":
        return State(self.frames[:-1] + (self.frames[-1].with_reg(reg, state),), self.refs)

    def __hash__(self) -> int:
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.frames, self.refs))
            object.__setattr__(self, "_hash", cached)
        return cached

    def with_frame(self, index: int, frame: Frame) -> "State":
        frames = list(self.frames)
        frames[index] = frame
        return replace(self, frames=tuple(frames))

    def map_regs(self, change) -> "State":  # type: ignore[no-untyped-def]
        """Apply `change(RegState) -> RegState` to every register and spilled register of every frame."""
        frames = []
        for frame in self.frames:
            regs = tuple(change(r) for r in frame.regs)
            spills = tuple((off, change(r)) for off, r in frame.spills)
            frames.append(replace(frame, regs=regs, spills=spills))
        return replace(self, frames=tuple(frames))

    def join(self, other: "State", widen: bool = False) -> "State":
        if len(self.frames) != len(other.frames):
            raise ValueError("joining states of different call depths")
        frames = tuple(a.join(b, widen) for a, b in zip(self.frames, other.frames))
        return State(frames, self.refs | other.refs)


__all__ = ["Frame", "MISC", "STACK_SIZE", "State"]
