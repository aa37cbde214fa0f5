"""A `Program` made runnable: its map references resolved to addresses and its global data
mapped as memory, on top of a `Machine`."""

from __future__ import annotations

from .faults import ProgramError
from .helpers import HelperRegistry
from .isa.insn import Insn
from .isa.opcodes import PseudoSrc
from .memory import MAP_VALUE_BASE, Region, RegionKind
from .program import MapDef, Program
from .vm import DEFAULT_BUDGET, Machine

# A map pointer is a handle: an address where nothing is mapped, so that only helpers use it.
MAP_HANDLE_BASE = 0xFFFF_8882_0000_0000
MAP_HANDLE_STRIDE = 0x100
MAP_VALUE_STRIDE = 0x1000_0000
CODE_BASE = 0xFFFF_FFFF_A000_0000  # function pointers (lddw src 4) point here, 8 bytes a slot


def map_handle(index: int) -> int:
    return MAP_HANDLE_BASE + index * MAP_HANDLE_STRIDE


def map_index_of_handle(address: int) -> int | None:
    offset = address - MAP_HANDLE_BASE
    if offset < 0 or offset % MAP_HANDLE_STRIDE:
        return None
    return offset // MAP_HANDLE_STRIDE


class ProgramImage:
    """`program` ready to run: `machine` executes it; `value_regions[i]` holds the directly
    addressed value of map i (global data), initialised from the object."""

    def __init__(self, program: Program, helpers: HelperRegistry | None = None, *,
                 budget: int = DEFAULT_BUDGET, entry_args: int = 1) -> None:
        self.program = program
        self.value_regions: dict[int, Region] = {}
        self.machine = Machine(program.insns, helpers, budget=budget, resolve_lddw=self._resolve,
                               entry_args=entry_args)
        for region in self.value_regions.values():
            self.machine.space.map(region)

    def _map(self, pc: int, index: int) -> MapDef:
        if not 0 <= index < len(self.program.maps):
            raise ProgramError(pc, f"lddw refers to map {index}, but the program has {len(self.program.maps)} maps")
        return self.program.maps[index]

    def _resolve(self, pc: int, insn: Insn) -> int:
        src, lo, hi = insn.src, insn.imm & 0xFFFFFFFF, insn.imm >> 32
        if src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX):
            self._map(pc, lo)
            return map_handle(lo)
        if src in (PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE):
            mdef = self._map(pc, lo)
            if mdef.type != 2:
                raise ProgramError(pc, f"lddw takes the address of a value of map {mdef.name}, which is "
                                       f"a {mdef.type_name} map; only array maps have directly addressable values")
            if hi >= mdef.value_size:
                raise ProgramError(pc, f"lddw points {hi} bytes into the {mdef.value_size}-byte value of map {mdef.name}")
            region = self.value_regions.get(lo)
            if region is None:
                initial = mdef.initial_value if mdef.initial_value is not None else bytes(mdef.value_size)
                region = Region(RegionKind.GLOBAL_DATA if mdef.origin == "data" else RegionKind.MAP_VALUE,
                                mdef.name, MAP_VALUE_BASE + lo * MAP_VALUE_STRIDE, bytearray(initial),
                                writable=not mdef.frozen)
                self.value_regions[lo] = region
            return region.base + hi
        if src == PseudoSrc.FUNC:
            signed = lo - (1 << 32) if lo & 0x80000000 else lo
            return CODE_BASE + (pc + 1 + signed) * 8
        raise ProgramError(pc, f"lddw of a kernel symbol (BTF id {lo}) needs the kernel's symbol addresses, "
                               "which this runtime does not have")
