"""The `Program` model that the interpreter and the verifier share, whatever file it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .isa.insn import Insn
from .isa.opcodes import PseudoSrc

BPF_F_RDONLY_PROG = 1 << 7

# enum bpf_map_type names, for printing
MAP_TYPE_NAMES = {
    0: "unspec", 1: "hash", 2: "array", 3: "prog_array", 4: "perf_event_array",
    5: "percpu_hash", 6: "percpu_array", 7: "stack_trace", 8: "cgroup_array", 9: "lru_hash",
    10: "lru_percpu_hash", 11: "lpm_trie", 12: "array_of_maps", 13: "hash_of_maps", 14: "devmap",
    15: "sockmap", 16: "cpumap", 17: "xskmap", 18: "sockhash", 19: "cgroup_storage",
    20: "reuseport_sockarray", 21: "percpu_cgroup_storage", 22: "queue", 23: "stack",
    24: "sk_storage", 25: "devmap_hash", 26: "struct_ops", 27: "ringbuf", 28: "inode_storage",
    29: "task_storage", 30: "bloom_filter", 31: "user_ringbuf", 32: "cgrp_storage", 33: "arena",
}


@dataclass
class MapDef:
    """One map, as declared by the object (legacy `maps`, BTF `.maps`, or global data)."""

    name: str
    type: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    origin: str = "legacy"  # "legacy", "btf", "data" (global data), "sidecar"
    initial_value: bytes | None = None  # global data: the value of entry 0
    frozen: bool = False  # read-only from user space once loaded (.rodata)
    inner_idx: int | None = None  # map-in-map: index of the inner map's template
    inner: "MapDef | None" = None  # map-in-map: the inner map's definition (BTF `values`)
    pinning: int = 0

    @property
    def type_name(self) -> str:
        return MAP_TYPE_NAMES.get(self.type, f"type {self.type}")

    def initial_element(self, index: int) -> bytes | None:
        """The bytes element `index` holds when the map is created, where the object says so:
        `initial_value` is element 0's (global data); every other element starts zeroed or empty."""
        return self.initial_value if index == 0 else None

    @property
    def read_only_for_programs(self) -> bool:
        """Programs may not write its values: global .rodata, or a map created BPF_F_RDONLY_PROG."""
        return self.frozen or bool(self.flags & BPF_F_RDONLY_PROG)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "type": self.type, "type_name": self.type_name,
            "key_size": self.key_size, "value_size": self.value_size,
            "max_entries": self.max_entries, "flags": self.flags, "origin": self.origin,
        }
        if self.initial_value is not None:
            out["initial_value_hex"] = self.initial_value.hex()
        if self.frozen:
            out["frozen"] = True
        if self.inner_idx is not None:
            out["inner_idx"] = self.inner_idx
        if self.inner is not None:
            out["inner"] = self.inner.to_json()
        return out


@dataclass(frozen=True)
class SourceLine:
    file: str
    line: int
    column: int
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Relocation:
    """A reference the loader recorded but could not (or must not yet) resolve."""

    pc: int
    kind: str  # "core", "extern", "kfunc", ...
    description: str
    resolved: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"pc": self.pc, "kind": self.kind, "description": self.description, "resolved": self.resolved}


@dataclass
class Program:
    """A loadable program: its instructions (subprograms appended and relocated the way libbpf
    links them), the object's maps, and what the object says about it."""

    name: str
    section: str
    prog_type: str  # kernel program type name: "kprobe", "tracepoint", "xdp", ... or "unknown"
    attach_kind: str  # "kprobe", "kretprobe", "uprobe", "raw_tp", "tc", ... or "unknown"
    attach_to: str | None
    insns: list[Insn]
    entry_slots: int  # slots of the entry function alone
    maps: list[MapDef] = field(default_factory=list)
    license: str = ""
    kern_version: int | None = None
    source_lines: dict[int, SourceLine] = field(default_factory=dict)  # pc -> line
    functions: list[tuple[int, str]] = field(default_factory=list)  # (pc, name) of each function
    relocations: list[Relocation] = field(default_factory=list)
    path: Path | None = None
    invalid: dict[int, str] = field(default_factory=dict)  # pc -> why its encoding is invalid (see isa.decode)

    @property
    def slots(self) -> int:
        return sum(insn.slots for insn in self.insns)

    @property
    def unresolved_pcs(self) -> frozenset[int]:
        """Instructions whose reference the loader could not resolve (extern calls among them)."""
        return frozenset(r.pc for r in self.relocations if not r.resolved)

    def map_of(self, insn: Insn) -> MapDef | None:
        """The map an `lddw` refers to (src 1/2: fd-style, 5/6: index-style; both index `maps`)."""
        if not insn.is_lddw or insn.src not in (
            PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE
        ):
            return None
        index = insn.imm & 0xFFFFFFFF
        return self.maps[index] if index < len(self.maps) else None

    def map_name(self, src: int, index: int) -> str | None:
        return self.maps[index].name if 0 <= index < len(self.maps) else None

    @property
    def used_maps(self) -> list[int]:
        seen: list[int] = []
        for insn in self.insns:
            if self.map_of(insn) is not None and (insn.imm & 0xFFFFFFFF) not in seen:
                seen.append(insn.imm & 0xFFFFFFFF)
        return seen

    @property
    def is_gpl_compatible(self) -> bool:
        # the kernel's license_is_gpl_compatible()
        return self.license in ("GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL",
                                "Dual MIT/GPL", "Dual MPL/GPL")
