"""Path partitioning: the states reaching one program point, kept apart where joining them would
lose a register's type.

The kernel's verifier walks every path separately, so a register that is a map value on one
path and NULL (or a stack pointer) on another is still usable on each. A plain join would turn
it into a conflict. `Paths` keeps such states apart, joins the rest, and falls back to one
joined state when more than `MAX_PATHS` kinds would be needed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from .state import Frame, State

MAX_PATHS = 8


def _frames_agree(a: Frame, b: Frame, live: int) -> bool:
    for reg in range(11):
        if live >> reg & 1 and not a.regs[reg].same_kind(b.regs[reg]):
            return False
    spills_a = {(off, size): reg for off, size, reg in a.spills}
    spills_b = {(off, size): reg for off, size, reg in b.spills}
    for off in spills_a.keys() | spills_b.keys():
        x, y = spills_a.get(off), spills_b.get(off)
        if x is None or y is None:
            # a pointer spilled on one path only would be lost by the join
            if (x or y).is_pointer:  # type: ignore[union-attr]
                return False
        elif not x.same_kind(y):
            return False
    return True


def compatible(a: State, b: State, live: int) -> bool:
    """Whether joining `a` and `b` keeps the kind of every register that may still be read
    (`live` for the current function; every register of the callers' frames)."""
    if len(a.frames) != len(b.frames) or a.refs != b.refs:
        return False
    last = len(a.frames) - 1
    return all(_frames_agree(fa, fb, live if i == last else (1 << 11) - 1)
               for i, (fa, fb) in enumerate(zip(a.frames, b.frames)))


@dataclass(frozen=True)
class Paths:
    states: tuple[State, ...]

    @staticmethod
    def of(state: State) -> "Paths":
        return Paths((state,))

    def __iter__(self) -> Iterator[State]:
        return iter(self.states)

    def __len__(self) -> int:
        return len(self.states)

    def single(self) -> State:
        """All paths joined into one state."""
        result = self.states[0]
        for s in self.states[1:]:
            result = result.join(s)
        return result

    def join(self, other: "Paths", live: int, widen: bool = False) -> "Paths":
        """The union of both sets of paths; `widen` extrapolates each kind's state (loop heads)."""
        result = list(self.states)
        for state in other.states:
            for i, mine in enumerate(result):
                if compatible(mine, state, live):
                    result[i] = mine.join(state, widen)
                    break
            else:
                result.append(state)
        if len(result) > MAX_PATHS:
            old = self.single()
            return Paths((old.join(old.join(other.single()), widen),))
        return Paths(tuple(result))


__all__ = ["MAX_PATHS", "Paths", "compatible"]
