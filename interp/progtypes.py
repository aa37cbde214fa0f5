"""Program types as data, like the kernel's `bpf_verifier_ops`: what a program of each type
receives in r1 (its context: name, size per architecture, field names) and which accesses to it
are valid. The kprobe runtime builds its context region from these records and the verifier
checks context accesses against them; which helpers a type may call depends on the kernel and
lives with the profiles' helper sets (`helper_sets`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable

from .memory import Region, RegionKind
from .pt_regs import layout_for


class Violation(str, Enum):
    WRITE = "write"  # the context is read-only
    BOUNDS = "bounds"  # outside the readable bytes
    ALIGNMENT = "alignment"  # not at a multiple of the access size
    WIDTH = "width"  # a field read at a size it may not be read at


@dataclass(frozen=True)
class AccessProblem:
    violation: Violation
    reason: str  # what the rule is, in words


@dataclass(frozen=True)
class ProgramType:
    name: str
    type_id: int  # BPF_PROG_TYPE_*
    context_name: str  # what r1 points to, as messages name it
    read_only_name: str  # the context as "the ... is read-only" names it
    first: int  # the first readable byte
    end: Callable[[str], int]  # one past the last readable byte, per architecture
    bounds_rule: str  # why the readable bytes end there ({size}, {arch})
    region_name: str = "ctx"  # the context's name in the interpreter's fault messages
    whole_registers: bool = False  # struct pt_regs fields inside it are read 8 bytes at a time

    def size(self, arch: str) -> int:
        return self.end(arch)

    def access(self, off: int, size: int, write: bool, arch: str) -> AccessProblem | None:
        """Why a `size`-byte access at `off` of the context is refused, or None."""
        if write:
            return AccessProblem(Violation.WRITE, f"{self.read_only_name} is read-only")
        end = self.end(arch)
        if off < self.first or off + size > end:
            return AccessProblem(Violation.BOUNDS, self.bounds_rule.format(size=end, arch=arch) + "; read only within it")
        if off % size:
            return AccessProblem(Violation.ALIGNMENT, f"context loads must be aligned: offset {off} is not a multiple "
                                                      f"of {size}; read the field at its own offset and size")
        if self.whole_registers and off < layout_for(arch).size and size != 8:
            return AccessProblem(Violation.WIDTH, f"registers in {self.context_name} are read 8 bytes at a time")
        return None

    def context_region(self, data: bytes, base: int) -> Region:
        """The context as a program of this type addresses it: read-only, accessed aligned."""
        return Region(RegionKind.CONTEXT, self.region_name, base, bytearray(data), writable=False, aligned=True)


KPROBE = ProgramType("kprobe", 2, "struct pt_regs", "the context (struct pt_regs)", 0,
                     lambda arch: layout_for(arch).size, "sizeof(struct pt_regs) is {size} on {arch}",
                     region_name="pt_regs")
TRACEPOINT = ProgramType("tracepoint", 5, "the tracepoint record", "the tracepoint record", 8, lambda arch: 2048,
                         "a tracepoint program reads its record from offset 8 (after the common fields) to 2048")
RAW_TRACEPOINT = ProgramType("raw_tracepoint", 17, "struct bpf_raw_tracepoint_args", "the raw tracepoint arguments",
                             0, lambda arch: 96, "a raw tracepoint program reads at most 12 eight-byte arguments "
                             "(96 bytes)")
PERF_EVENT = ProgramType("perf_event", 7, "struct bpf_perf_event_data", "struct bpf_perf_event_data", 0,
                         lambda arch: layout_for(arch).size + 16,
                         "sizeof(struct bpf_perf_event_data) is {size} on {arch}", whole_registers=True)

PROGRAM_TYPES = {t.name: t for t in (KPROBE, TRACEPOINT, RAW_TRACEPOINT, PERF_EVENT)}

__all__ = ["AccessProblem", "KPROBE", "PERF_EVENT", "PROGRAM_TYPES", "ProgramType", "RAW_TRACEPOINT", "TRACEPOINT",
           "Violation"]
