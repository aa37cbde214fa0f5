"""The symbolic machine: what a path has computed, as z3 terms.

A register holds a `Sym`: its 64-bit value as a term and, for a pointer, the region it points
into and its offset there (the offset is what every memory rule is about). Where memory is
private to the run it is one z3 array (64-bit index -> byte) per region: each stack frame
(indexed by the offset from the frame's top, so negative) and each ring buffer record; pointers
spilled to the stack are kept whole beside the bytes. What other CPUs and user space may change
at any time is read afresh each time: a map lookup finds the key or not, a map value's bytes,
the bytes probe_read copies. The context is read-only for the whole run.

Nothing is assumed of where memory lies: the address of each region is a free variable (not 0,
8-byte aligned), so no conclusion rests on the interpreter's layout. Everything read from the
world is recorded in `inputs`, so that a model of a path's condition becomes the interpreter's
input for a replay."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import z3

BYTE = z3.BitVecSort(8)
INDEX = z3.BitVecSort(64)
MASK64 = (1 << 64) - 1


class Unmodelled(Exception):
    """The step has no exact symbolic reading: the search cannot conclude about this path."""


class Kind:
    """What a register holds."""

    SCALAR = "scalar"
    CTX = "ctx"
    STACK = "stack"
    MAP_VALUE = "map_value"
    MEM = "mem"
    MAP_PTR = "map_ptr"
    FUNC = "func"
    OTHER = "other"  # a pointer that may only be passed on (a task pointer, ...)


POINTERS = (Kind.CTX, Kind.STACK, Kind.MAP_VALUE, Kind.MEM, Kind.MAP_PTR, Kind.FUNC, Kind.OTHER)
MEMORY = (Kind.CTX, Kind.STACK, Kind.MAP_VALUE, Kind.MEM)


@dataclass(frozen=True)
class Region:
    """Where a pointer points: `kind`, and which one (a frame's depth, a map's lookup, a record)."""

    kind: str
    frame: int = 0  # STACK: the frame's depth
    instance: int = 0  # STACK: which call made the frame (a frame at the same depth later is another)
    map_index: int | None = None  # MAP_VALUE / MAP_PTR: the map
    lookup: int | None = None  # MAP_VALUE: which lookup of the path found it (an index into inputs.lookups)
    record: int | None = None  # MEM: which record (a key into SymState.records)
    size: int = 0  # MEM: the record's size; MAP_VALUE: the value size


@dataclass(frozen=True)
class Sym:
    """A register's value: a scalar term, or a pointer (`region`, `offset` term, and `null`: the
    condition under which it is NULL, for results of lookups and reservations)."""

    kind: str
    value: Any  # z3 BitVec 64: the number, or the pointer's address
    region: Region | None = None
    offset: Any = None  # z3 BitVec 64 (signed): the pointer's offset into its region
    null: Any = None  # z3 Bool, or None when the pointer cannot be NULL

    @property
    def is_pointer(self) -> bool:
        return self.kind in POINTERS

    def moved(self, offset: Any, value: Any) -> "Sym":
        return replace(self, offset=offset, value=value)


def const(value: int) -> Any:
    return z3.BitVecVal(value & MASK64, 64)


def scalar(term: Any) -> Sym:
    return Sym(Kind.SCALAR, term)


@dataclass
class Lookup:
    """A map lookup of the path: the key, whether it was found, and the value bytes read from it."""

    pc: int
    map_index: int
    key: Any  # z3 BitVec (key_size * 8)
    found: Any  # z3 Bool
    reads: list[tuple[int, int, Any]] = field(default_factory=list)  # (offset term's value?, size, term)


@dataclass
class Frame:
    regs: list[Sym | None]
    stack: Any  # Array(offset from the frame's top -> byte)
    spills: dict[int, Sym]  # offset -> a pointer stored whole there
    callsite: int  # pc of the call that made this frame (-1: the program's entry)
    entry: int  # the function's entry pc
    base: Any  # the frame's top address (r10), a free variable
    return_pc: int = -1
    instance: int = 0  # unique on the path: pointers into a frame that has returned are told apart


@dataclass
class Inputs:
    """The free variables a path reads from the world, for the interpreter's inputs."""

    ctx: Any  # Array(offset -> byte): the context as the program receives it
    lookups: list[Lookup] = field(default_factory=list)
    helpers: list[tuple[int, str, Any]] = field(default_factory=list)  # (pc, helper, result term)
    reads: list[tuple[int, Any, Any, Any, int, bool]] = field(default_factory=list)
    # kernel reads: (pc, source address, ok / length term, copied bytes array, size, string?)
    choices: list[tuple[str, Any]] = field(default_factory=list)  # (what, z3 Bool): outcomes no input fixes
    # calls the world may fail (interp.world.FAILABLE_CALLS): (helper, its call number on the path, z3 Bool)
    failures: list[tuple[str, int, Any]] = field(default_factory=list)


@dataclass
class SymState:
    frames: list[Frame]
    ctx: Any
    records: dict[int, tuple[Any, int]]  # record id -> (bytes array, size)
    inputs: Inputs
    assumptions: list[Any] = field(default_factory=list)  # what the fresh variables satisfy (bases, ranges)
    path: list[int] = field(default_factory=list)
    fresh: int = 0  # a counter for fresh variable names
    may_goto: dict[int, int] = field(default_factory=dict)  # frame depth -> budget left (concrete)
    visits: dict[tuple[int, int], int] = field(default_factory=dict)  # (pc, depth) -> times the path was there
    closed: set[int] = field(default_factory=set)  # records submitted or discarded

    @property
    def top(self) -> Frame:
        return self.frames[-1]

    @property
    def depth(self) -> int:
        return len(self.frames) - 1

    def reg(self, n: int) -> Sym | None:
        return self.top.regs[n]

    def set_reg(self, n: int, value: Sym | None) -> None:
        self.top.regs[n] = value

    def frame_of(self, region: Region) -> Frame:
        """The live frame a stack pointer points into; a pointer into a frame that has returned
        (its memory is unmapped, or holds a later call's frame) is not followed."""
        if region.frame < len(self.frames) and self.frames[region.frame].instance == region.instance:
            return self.frames[region.frame]
        raise Unmodelled("a pointer into a frame that has returned")

    def new(self, prefix: str, bits: int = 64) -> Any:
        self.fresh += 1
        return z3.BitVec(f"{prefix}!{self.fresh}", bits)

    def new_bool(self, prefix: str) -> Any:
        self.fresh += 1
        return z3.Bool(f"{prefix}!{self.fresh}")

    def new_bytes(self, prefix: str) -> Any:
        self.fresh += 1
        return z3.Array(f"{prefix}!{self.fresh}", INDEX, BYTE)

    def new_address(self, prefix: str) -> Any:
        """Where a region lies: anywhere but 0, 8-byte aligned."""
        address = self.new(prefix)
        self.assumptions.append(z3.And(address != 0, address & 7 == 0))
        return address

    def copy(self) -> "SymState":
        """An independent copy for another branch (terms are immutable and shared)."""
        frames = [replace(f, regs=list(f.regs), spills=dict(f.spills)) for f in self.frames]
        inputs = replace(self.inputs, lookups=[replace(lk, reads=list(lk.reads)) for lk in self.inputs.lookups],
                         helpers=list(self.inputs.helpers), reads=list(self.inputs.reads),
                         choices=list(self.inputs.choices), failures=list(self.inputs.failures))
        return SymState(frames, self.ctx, dict(self.records), inputs, list(self.assumptions), list(self.path),
                        self.fresh, dict(self.may_goto), dict(self.visits), set(self.closed))


def load_bytes(array: Any, offset: Any, size: int) -> Any:
    """`size` bytes at `offset` of a byte array, little-endian, as a `size` * 8-bit term."""
    parts = [z3.Select(array, offset + i) for i in range(size)]
    return parts[0] if size == 1 else z3.Concat(*reversed(parts))


def store_bytes(array: Any, offset: Any, value: Any, size: int) -> Any:
    """The array with the low `size` bytes of the 64-bit `value` stored at `offset`."""
    for i in range(size):
        array = z3.Store(array, offset + i, z3.Extract(8 * i + 7, 8 * i, value))
    return array


__all__ = ["BYTE", "Frame", "INDEX", "Inputs", "Kind", "Lookup", "MEMORY", "Region", "Sym", "SymState", "const",
           "load_bytes", "scalar", "store_bytes"]
