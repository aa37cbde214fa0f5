"""A `Program` made runnable: its maps created, its map references resolved to addresses and
global data mapped as memory, on top of a `Machine`."""

from __future__ import annotations

from typing import Callable

from .faults import ProgramError
from .helpers import HelperRegistry
from .isa.insn import Insn, to_signed
from .isa.opcodes import PseudoSrc
from .maps import ARRAY, MapState
from .memory import AddressSpace
from .program import MapDef, Program
from .vm import DEFAULT_BUDGET, Machine

# A map pointer is a handle: an address where nothing is mapped, so that only helpers use it.
MAP_HANDLE_BASE = 0xFFFF_8882_0000_0000
MAP_HANDLE_STRIDE = 0x100
CODE_BASE = 0xFFFF_FFFF_A000_0000  # function pointers (lddw src 4) point here, 8 bytes a slot


def map_handle(index: int) -> int:
    return MAP_HANDLE_BASE + index * MAP_HANDLE_STRIDE


def map_index_of_handle(address: int) -> int | None:
    offset = address - MAP_HANDLE_BASE
    if offset < 0 or offset % MAP_HANDLE_STRIDE:
        return None
    return offset // MAP_HANDLE_STRIDE


def create_maps(definitions: list[MapDef], space: AddressSpace, ncpus: int = 1) -> list[MapState]:
    states = []
    for index, definition in enumerate(definitions):
        state = MapState(index, definition, space, ncpus)
        state.populate_arrays()
        states.append(state)
    return states


class ProgramImage:
    """`program` ready to run: `machine` executes it against `maps` in `space`."""

    def __init__(self, program: Program, helpers: HelperRegistry | None = None, *,
                 budget: int = DEFAULT_BUDGET, entry_args: int = 1, space: AddressSpace | None = None,
                 maps: list[MapState] | None = None, ncpus: int = 1,
                 trace: Callable[[int, tuple], None] | None = None,
                 observe: Callable[[int, int, tuple], None] | None = None) -> None:
        self.program = program
        if program.invalid:
            pc = min(program.invalid)
            raise ProgramError(pc, f"invalid instruction: {program.invalid[pc]}; the program cannot run")
        self.space = space if space is not None else AddressSpace()
        self.maps = maps if maps is not None else create_maps(program.maps, self.space, ncpus)
        self.machine = Machine(program.insns, helpers, budget=budget, resolve_lddw=self._resolve,
                               entry_args=entry_args, space=self.space, trace=trace,
                               observe=observe)

    def _map(self, pc: int, index: int) -> MapState:
        if not 0 <= index < len(self.maps):
            raise ProgramError(pc, f"lddw refers to map {index}, but the program has {len(self.maps)} maps")
        return self.maps[index]

    def _resolve(self, pc: int, insn: Insn) -> int:
        src, lo, hi = insn.src, insn.imm & 0xFFFFFFFF, insn.imm >> 32
        if src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX):
            self._map(pc, lo)
            return map_handle(lo)
        if src in (PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE):
            state = self._map(pc, lo)
            if state.type != ARRAY:
                raise ProgramError(pc, f"lddw takes the address of a value of map {state.name}, a "
                                       f"{state.definition.type_name} map; only array values are addressable")
            if hi >= state.definition.value_size:
                raise ProgramError(pc, f"lddw points {hi} bytes into the {state.definition.value_size}-byte "
                                       f"value of map {state.name}")
            region = state.lookup(bytes(4), 0)
            if region is None:
                raise ProgramError(pc, f"map {state.name} has no element 0 to point into")
            return region.base + hi
        if src == PseudoSrc.FUNC:
            return CODE_BASE + (pc + 1 + to_signed(lo, 32)) * 8
        raise ProgramError(pc, f"lddw of a kernel symbol (BTF id {lo}) needs the kernel's symbol addresses, "
                               "which this runtime does not have")
