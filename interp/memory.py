"""Memory as typed regions with bounds and permissions, mapped at synthetic addresses.

A program only ever sees addresses of regions it was given (its stack frames, its context,
caller memory, map values); nothing of the host is addressable."""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field
from enum import Enum

from .faults import FaultKind, VmFault

MASK64 = (1 << 64) - 1

# Synthetic bases, spaced so that no region can run into another.
STACK_BASE = 0xFFFF_C900_0000_0000
STACK_STRIDE = 0x1_0000
CONTEXT_BASE = 0xFFFF_8880_0000_1000
CALLER_MEMORY_BASE = 0xFFFF_8880_1000_0000
MAP_VALUE_BASE = 0xFFFF_A000_0000_0000  # map values and ring buffer records, a 4 GiB area per map
MAP_VALUE_END = STACK_BASE

_UNPACK = {size: struct.Struct("<" + code) for size, code in ((1, "B"), (2, "H"), (4, "I"), (8, "Q"))}


DEFAULT_MEMORY_LIMIT = 128 << 20  # bytes of regions a run may have mapped at once


class MemoryLimit(Exception):
    """A run needed more memory for its regions (map values, records, output) than it may use."""


class RegionKind(str, Enum):
    STACK = "stack"
    CONTEXT = "context"
    CALLER_MEMORY = "memory"
    MAP_VALUE = "map value"


@dataclass(eq=False)
class Region:
    kind: RegionKind
    name: str
    base: int
    data: bytearray
    writable: bool = True
    aligned: bool = False  # accesses must be aligned to their size

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def end(self) -> int:
        return self.base + len(self.data)

    def describe(self, offset: int) -> str:
        return f"{self.kind.value} {self.name}{offset:+d}" if self.name else f"{self.kind.value}{offset:+d}"


@dataclass
class AddressSpace:
    """The regions a program can address, sorted by base address. Together they hold at most
    `limit` bytes: the host's memory is spent only on what the program was given, and only up to
    the run's limit."""

    limit: int = DEFAULT_MEMORY_LIMIT
    used: int = 0
    _bases: list[int] = field(default_factory=list)
    _regions: list[Region] = field(default_factory=list)

    def _room(self, size: int, what: str) -> None:
        if self.used + size > self.limit:
            raise MemoryLimit(f"{what} needs {size} bytes, but the run already holds {self.used} bytes of "
                              f"its {self.limit >> 20} MB (raise --max-memory)")

    def charge(self, size: int, what: str) -> None:
        """Count `size` bytes the run keeps outside regions (its output) against its limit."""
        self._room(size, what)
        self.used += size

    def reserve(self, size: int, what: str) -> bytearray:
        """`size` zero bytes for a region about to be mapped (and counted then), if there is room."""
        self._room(size, what)
        return bytearray(size)

    def span(self, pc: int, addr: int, size: int, write: bool) -> None:
        """Fault unless `size` bytes from `addr` lie in one region (writable where `write`)."""
        if size:
            self._resolve(pc, addr, size, write, check_alignment=False)

    def map(self, region: Region) -> Region:
        i = bisect.bisect_left(self._bases, region.base)
        if (i < len(self._regions) and self._regions[i].base < region.end) or (
            i > 0 and self._regions[i - 1].end > region.base
        ):
            raise ValueError(f"region {region.name} at {region.base:#x} overlaps another")
        self._bases.insert(i, region.base)
        self._regions.insert(i, region)
        self.used += region.size
        return region

    def unmap(self, region: Region) -> None:
        i = bisect.bisect_left(self._bases, region.base)
        if i < len(self._regions) and self._regions[i] is region:
            del self._bases[i]
            del self._regions[i]
            self.used -= region.size

    @property
    def regions(self) -> list[Region]:
        return list(self._regions)

    def region_at(self, addr: int) -> Region | None:
        i = bisect.bisect_right(self._bases, addr) - 1
        if i >= 0 and addr < self._regions[i].end:
            return self._regions[i]
        return None

    def _resolve(self, pc: int, addr: int, size: int, write: bool, check_alignment: bool = True) -> tuple[Region, int]:
        region = self.region_at(addr)
        verb = "write" if write else "read"
        if region is None:
            raise VmFault(
                pc,
                FaultKind.OUT_OF_BOUNDS,
                f"{size}-byte {verb} at {addr:#x} hits no memory the program may access; "
                "only pointers into the stack, the context, and map values may be dereferenced",
            )
        offset = addr - region.base
        if offset + size > region.size:
            raise VmFault(
                pc,
                FaultKind.OUT_OF_BOUNDS,
                f"{size}-byte {verb} at {region.describe(offset)} runs past the end of the "
                f"{region.size}-byte {region.kind.value}; keep offset+size <= {region.size}",
            )
        if write and not region.writable:
            raise VmFault(
                pc,
                FaultKind.READ_ONLY,
                f"{size}-byte write to {region.describe(offset)}: the {region.kind.value} is "
                "read-only; copy the value to the stack and modify it there",
            )
        if check_alignment and region.aligned and offset % size:
            raise VmFault(
                pc,
                FaultKind.MISALIGNED,
                f"{size}-byte {verb} at {region.describe(offset)} is misaligned; the "
                f"{region.kind.value} needs offsets that are multiples of the access size",
            )
        return region, offset

    def load(self, pc: int, addr: int, size: int) -> int:
        """The `size` bytes at `addr` as an unsigned number (extension is the instruction's: semantics.load_extend)."""
        return self.load_caching(pc, addr, size)[0]

    def store(self, pc: int, addr: int, size: int, value: int) -> None:
        self.store_caching(pc, addr, size, value)

    def load_caching(self, pc: int, addr: int, size: int) -> tuple[int, int, int, bytearray, int]:
        """`load`, and the region it read for the caller to keep (the generated code keeps the
        region its last load hit; interp.vm): (value, base, end, bytes, alignment mask: 7 where
        accesses must be aligned to their size, else 0)."""
        region, offset = self._resolve(pc, addr, size, write=False)
        return (_UNPACK[size].unpack_from(region.data, offset)[0], region.base, region.end, region.data,
                7 if region.aligned else 0)

    def store_caching(self, pc: int, addr: int, size: int, value: int) -> tuple[int, int, bytearray, int]:
        """`store`, and the writable region it wrote for the caller to keep: (base, end, bytes,
        alignment mask)."""
        region, offset = self._resolve(pc, addr, size, write=True)
        _UNPACK[size].pack_into(region.data, offset, value & ((1 << (8 * size)) - 1))
        return region.base, region.end, region.data, 7 if region.aligned else 0

    def read_bytes(self, pc: int, addr: int, size: int) -> bytes:
        if size == 0:
            return b""
        region, offset = self._resolve(pc, addr, size, write=False, check_alignment=False)
        return bytes(region.data[offset : offset + size])

    def write_bytes(self, pc: int, addr: int, data: bytes) -> None:
        if not data:
            return
        region, offset = self._resolve(pc, addr, len(data), write=True, check_alignment=False)
        region.data[offset : offset + len(data)] = data
