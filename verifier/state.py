"""The abstract machine state: per call frame the 11 registers and the 512-byte stack (bytes
uninitialised, initialised, or of known value; registers spilled to 8-byte slots kept
precisely: pointers whole, numbers also as their low 1, 2 or 4 bytes), and the references a
program holds and must release."""

from __future__ import annotations

from dataclasses import dataclass, replace

from interp.isa.opcodes import STACK_SIZE

from .domains.regs import RegState, RegType
from .domains.scalar import Scalar

_ZERO_STACK = bytes(STACK_SIZE)


def _span(lo: int, hi: int) -> int:
    """The bitmask of stack bytes [lo, hi) within the frame (bit 0 is offset -512)."""
    lo, hi = max(lo, -STACK_SIZE), min(hi, 0)
    return ((1 << (hi - lo)) - 1) << (lo + STACK_SIZE) if hi > lo else 0


def _offsets(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1 - STACK_SIZE)
        mask ^= low
    return out


SLOT = 8  # the stack is divided into 8-byte slots; a spill starts at a slot's first byte

Spill = tuple[int, int, RegState]  # (offset of the slot, bytes stored, what a load of those bytes reads)


def _same_slot(offset: int, lo: int, hi: int) -> bool:
    """Whether bytes [lo, hi) touch the slot at `offset`: a write anywhere in a slot breaks its spill."""
    return offset < hi and lo < offset + SLOT


@dataclass(frozen=True)
class Frame:
    regs: tuple[RegState, ...]
    spills: tuple[Spill, ...]  # sorted by offset
    callsite: int = -1  # pc of the call that made this frame (-1: the program's entry)
    # the 512 stack bytes as bitmasks (bit 0 is offset -512): which are initialised, which of
    # those have a known value, and the values (0 wherever not known, so equal stacks compare equal)
    init: int = 0
    known: int = 0
    data: bytes = _ZERO_STACK

    @staticmethod
    def entry(args: dict[int, RegState], index: int, callsite: int = -1) -> "Frame":
        regs = [RegState.uninit()] * 11
        for reg, state in args.items():
            regs[reg] = state
        regs[10] = RegState(RegType.PTR_TO_STACK, Scalar.const(0), frame=index)
        return Frame(tuple(regs), (), callsite)

    def with_reg(self, reg: int, state: RegState) -> "Frame":
        regs = list(self.regs)
        regs[reg] = state
        return Frame(tuple(regs), self.spills, self.callsite, self.init, self.known, self.data)

    def __hash__(self) -> int:
        # states are hashed often (loop unrolling remembers the ones it has seen): compute once
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.regs, self.spills, self.callsite, self.init, self.known, self.data))
            object.__setattr__(self, "_hash", cached)
        return cached

    # -- stack ------------------------------------------------------------------------
    def spill_at(self, offset: int) -> tuple[int, RegState] | None:
        """(size, register) of the spill starting at `offset`, if any."""
        for slot, size, reg in self.spills:
            if slot == offset:
                return size, reg
        return None

    def _with_bytes(self, lo: int, hi: int, values: bytes | None, spills: tuple[Spill, ...]) -> "Frame":
        """Bytes [lo, hi) initialised, to `values` or (None) to unknown values."""
        span = _span(lo, hi)
        data = bytearray(self.data)
        data[lo + STACK_SIZE : hi + STACK_SIZE] = values if values is not None else bytes(hi - lo)
        known = self.known | span if values is not None else self.known & ~span
        return Frame(self.regs, spills, self.callsite, self.init | span, known, bytes(data))

    def _spills_outside(self, lo: int, hi: int) -> tuple[Spill, ...]:
        return tuple(spill for spill in self.spills if not _same_slot(spill[0], lo, hi))

    def store_stack(self, offset: int, size: int, value: RegState) -> "Frame":
        """Write `size` bytes at `offset` (fixed, in bounds) from a register (or constant). A
        whole pointer, or a number of any size, stored at a slot's start is kept as a spill."""
        spills = self._spills_outside(offset, offset + size)
        if offset % SLOT == 0 and (size == SLOT or value.is_scalar):
            if size < SLOT:
                narrowed = value.value.truncate(8 * size)
                value = value if narrowed == value.value else RegState.scalar(narrowed)
            spills = tuple(sorted(spills + ((offset, size, value),), key=lambda spill: spill[0]))
        values = value.value.value.to_bytes(8, "little")[:size] if value.is_scalar and value.value.is_const else None
        return self._with_bytes(offset, offset + size, values, spills)

    def mark_initialised(self, lo: int, hi: int) -> "Frame":
        """Bytes [lo, hi) now hold unknown data (a helper wrote them)."""
        return self._with_bytes(lo, hi, None, self._spills_outside(lo, hi))

    def blur(self, lo: int, hi: int) -> "Frame":
        """A write somewhere in [lo, hi): initialised bytes there may have changed (none becomes
        initialised, as the write may have landed elsewhere)."""
        span = _span(lo, hi)
        data = bytearray(self.data)
        for off in _offsets(self.known & span):
            data[off + STACK_SIZE] = 0
        return Frame(self.regs, self._spills_outside(lo, hi), self.callsite, self.init, self.known & ~span, bytes(data))

    def first_uninitialised(self, lo: int, hi: int) -> int | None:
        missing = _span(lo, hi) & ~self.init
        return (missing & -missing).bit_length() - 1 - STACK_SIZE if missing else None

    def known_bytes(self, lo: int, hi: int) -> bytes | None:
        if lo < -STACK_SIZE or hi > 0:  # (outside the frame: reported as such where it is used)
            return None
        span = _span(lo, hi)
        if self.known & span != span:
            return None
        return self.data[lo + STACK_SIZE : hi + STACK_SIZE]

    def load_stack(self, offset: int, size: int) -> RegState:
        """What a load of `size` bytes at a fixed `offset` reads (bytes must be initialised)."""
        spill = self.spill_at(offset)
        if spill is not None and size <= spill[0] and (size == SLOT or spill[1].is_scalar):
            reg = spill[1]
            if size == SLOT:
                return reg
            narrowed = reg.value.truncate(8 * size)
            return reg if narrowed == reg.value else RegState.scalar(narrowed)
        known = self.known_bytes(offset, offset + size)
        if known is not None:
            return RegState.const(int.from_bytes(known, "little"))
        return RegState.scalar(Scalar.urange(0, (1 << (8 * size)) - 1) if size < 8 else Scalar.unknown())

    # -- lattice ---------------------------------------------------------------------------
    def join(self, other: "Frame", widen: bool = False) -> "Frame":
        regs = tuple(a.widen(b) if widen else a.join(b) for a, b in zip(self.regs, other.regs))
        init = self.init & other.init
        known = self.known & other.known & init
        data = self.data
        if self.data != other.data or known != self.known:
            merged = bytearray(STACK_SIZE)
            for off in _offsets(known):
                i = off + STACK_SIZE
                if self.data[i] == other.data[i]:
                    merged[i] = self.data[i]
                else:
                    known &= ~(1 << i)
            data = bytes(merged)
        theirs = {(slot, size): reg for slot, size, reg in other.spills}
        spills = []
        for slot, size, reg in self.spills:
            if (slot, size) in theirs:
                joined = reg.widen(theirs[(slot, size)]) if widen else reg.join(theirs[(slot, size)])
                if joined.type not in (RegType.NOT_INIT,):
                    spills.append((slot, size, joined))
        return Frame(regs, tuple(spills), self.callsite, init, known, data)


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
        """Apply `change(RegState) -> RegState` to every register and spilled register of every
        frame. Where `change` gives every value back as it was, the state itself (most calls
        change nothing: making the frames again would cost more than looking)."""
        frames = []
        changed = False
        for frame in self.frames:
            regs = tuple(change(r) for r in frame.regs)
            spills = tuple((off, size, change(r)) for off, size, r in frame.spills)
            if all(new is old for new, old in zip(regs, frame.regs)) and \
                    all(new[2] is old[2] for new, old in zip(spills, frame.spills)):
                frames.append(frame)
                continue
            changed = True
            frames.append(replace(frame, regs=regs, spills=spills))
        return State(tuple(frames), self.refs) if changed else self

    def join(self, other: "State", widen: bool = False) -> "State":
        if len(self.frames) != len(other.frames):
            raise ValueError("joining states of different call depths")
        other = _align_links(self, other)
        frames = tuple(a.join(b, widen) for a, b in zip(self.frames, other.frames))
        return State(frames, self.refs | other.refs)


def _scalar_ids(state: State) -> dict[tuple[int, int, int], int]:
    """The id of every linked scalar, by (frame, register or -1 - spill offset, spill size)."""
    ids = {}
    for f, frame in enumerate(state.frames):
        for r, reg in enumerate(frame.regs):
            if reg.id and reg.is_scalar:
                ids[(f, r, 0)] = reg.id
        for off, size, reg in frame.spills:
            if reg.id and reg.is_scalar:
                ids[(f, -1 - off, size)] = reg.id
    return ids


def _align_links(mine: State, other: State) -> State:
    """`other` with its scalar ids renamed to `mine`'s where both link the same registers: two
    paths that each copied a value (at different instructions, so under different ids) still
    agree that those registers hold one value, and the join keeps that."""
    ours, theirs = _scalar_ids(mine), _scalar_ids(other)
    pairs = {(ours[p], theirs[p]) for p in ours.keys() & theirs.keys()}
    if all(a == b for a, b in pairs):
        return other
    forward: dict[int, set[int]] = {}
    backward: dict[int, set[int]] = {}
    for a, b in pairs:
        forward.setdefault(b, set()).add(a)
        backward.setdefault(a, set()).add(b)
    rename = {b: a for a, b in pairs if a != b and forward[b] == {a} and backward[a] == {b}}
    if not rename:
        return other
    return other.map_regs(lambda r: r.with_id(rename[r.id]) if r.is_scalar and r.id in rename else r)


__all__ = ["STACK_SIZE", "Frame", "State"]
