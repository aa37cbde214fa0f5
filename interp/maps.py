"""Maps as the kernel keeps them: each value is a memory region the program reads and writes
within bounds; updates follow BPF_ANY/BPF_NOEXIST/BPF_EXIST and `max_entries` with the kernel's
error codes. Per-CPU maps keep one value per CPU and hand out the current CPU's."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from .json_input import HEX_BYTES, JsonInputError, to_bytes, uint
from .memory import (
    MAP_VALUE_BASE,
    MAP_VALUE_END,
    AddressSpace,
    MemoryLimit,
    Region,
    RegionKind,
)
from .program import MapDef

ENOENT, E2BIG, EFAULT, EEXIST, EINVAL, ENOSPC, EOPNOTSUPP = 2, 7, 14, 17, 22, 28, 95
BPF_ANY, BPF_NOEXIST, BPF_EXIST = 0, 1, 2

HASH, ARRAY, PROG_ARRAY, PERF_EVENT_ARRAY, PERCPU_HASH, PERCPU_ARRAY, STACK_TRACE, CGROUP_ARRAY = 1, 2, 3, 4, 5, 6, 7, 8
LRU_HASH, LRU_PERCPU_HASH, ARRAY_OF_MAPS, HASH_OF_MAPS, RINGBUF = 9, 10, 12, 13, 27
QUEUE, STACK, TASK_STORAGE, USER_RINGBUF, CGRP_STORAGE = 22, 23, 29, 31, 32
BPF_LOCAL_STORAGE_GET_F_CREATE = 1

VALUE_ARRAYS = (ARRAY, PERCPU_ARRAY)  # arrays whose values the program reads and writes

MAP_AREA = 1 << 32  # addresses each map's values (and ring buffer records) are placed in
PAGE = 4096
MAP_AREAS = (MAP_VALUE_END - MAP_VALUE_BASE) // MAP_AREA


class MapError(ValueError):
    """Initial map contents that do not fit the map."""


_ENTRY = {
    "type": "object",
    "description": "an object {\"key\": hex, \"value\": hex or a list of hex per CPU}",
    "properties": {
        "key": HEX_BYTES,
        "value": {"oneOf": [HEX_BYTES, {"type": "array", "items": HEX_BYTES}],
                  "description": "hex bytes, or a list of hex bytes (one per CPU)"},
    },
    "required": ["key", "value"],
    "additionalProperties": False,
}
_MAP_LIST = {
    "type": "array",
    "description": "a list of {\"name\" or \"index\", \"entries\"}",
    "items": {
        "type": "object",
        "description": "an object {\"name\" or \"index\", \"entries\"}",
        "properties": {
            "name": {"type": "string", "description": "a map name"},
            "index": uint(32),
            "type": {"type": "string", "description": "a map type name"},
            "entries": {"type": "array", "items": _ENTRY, "description": "a list of entries"},
        },
        "required": ["entries"],
        "anyOf": [{"required": ["name"]}, {"required": ["index"]}],
        "additionalProperties": False,
    },
}
# `run --maps`: a list of map contents, or a whole `run --json` output whose "maps" is that list
MAPS_SCHEMA: dict[str, Any] = {
    "type": ["array", "object"],
    "description": "a list of maps, or the output of run --json",
    "if": {"type": "object"},
    "then": {"required": ["maps"], "properties": {"maps": _MAP_LIST}},
    "else": _MAP_LIST,
}


@dataclass
class MapState:
    """One map of a loaded program: its definition and its entries (key bytes -> per-CPU regions)."""

    index: int
    definition: MapDef
    space: AddressSpace
    ncpus: int
    entries: "OrderedDict[bytes, list[Region]]" = field(default_factory=OrderedDict)
    items: "deque[bytes]" = field(default_factory=deque)  # queue and stack maps: the values, oldest first
    _next_offset: int = 0

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def type(self) -> int:
        return self.definition.type

    @property
    def per_cpu(self) -> bool:
        return self.type in (PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH)

    @property
    def is_array(self) -> bool:
        return self.type in (ARRAY, PERCPU_ARRAY, PROG_ARRAY, PERF_EVENT_ARRAY, CGROUP_ARRAY, ARRAY_OF_MAPS)

    @property
    def is_hash(self) -> bool:
        return self.type in (HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH, HASH_OF_MAPS)

    def place(self, size: int) -> int:
        """The address for a new region of `size` bytes in this map's area: whole pages, with an
        unmapped page after each, so that running off the end of one value faults."""
        offset = self._next_offset
        if offset + size > MAP_AREA or self.index >= MAP_AREAS:
            raise MemoryLimit(f"map {self.name}: its values fill the {MAP_AREA >> 30} GiB of addresses a map has")
        self._next_offset += (size + PAGE - 1) // PAGE * PAGE + PAGE
        return MAP_VALUE_BASE + self.index * MAP_AREA + offset

    def _new_value(self, data: bytes | None = None) -> list[Region]:
        """A value (one region per CPU for per-CPU maps), zero-filled or holding `data`."""
        copies = self.ncpus if self.per_cpu else 1
        regions = []
        for cpu in range(copies):
            suffix = f"[cpu{cpu}]" if self.per_cpu else ""
            buffer = self.space.reserve(self.definition.value_size, f"a value of map {self.name}")
            if data is not None:
                buffer[:] = data
            region = Region(RegionKind.MAP_VALUE, f"{self.name}{suffix}", self.place(len(buffer)), buffer,
                            writable=not self.definition.read_only_for_programs)
            self.space.map(region)
            regions.append(region)
        return regions

    def _key_index(self, key: bytes) -> int:
        return int.from_bytes(key[:4], "little")

    def _array_element(self, key: bytes) -> list[Region] | None:
        """An array's element, created zero-filled when first used: an array of any size costs
        only the elements a run touches (all of them exist, as in the kernel)."""
        key = key[:4]
        regions = self.entries.get(key)
        index = self._key_index(key)
        if regions is None and self.type in VALUE_ARRAYS and index < self.definition.max_entries:
            regions = self.entries[key] = self._new_value(self.definition.initial_element(index))
        return regions

    def populate_arrays(self) -> None:
        """Elements the object gives initial bytes (global data) hold them from creation."""
        if self.type in VALUE_ARRAYS:
            initial = self.definition.initial_element(0)
            if initial is not None:
                self.entries[bytes(4)] = self._new_value(initial)

    # -- the operations helpers perform --------------------------------------
    def lookup(self, key: bytes, cpu: int) -> Region | None:
        regions = self._array_element(key) if self.is_array else self.entries.get(key)
        if regions is None:
            return None
        if self.type in (LRU_HASH, LRU_PERCPU_HASH):
            self.entries.move_to_end(key)
        return regions[cpu if self.per_cpu else 0]

    def update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        """0 or a negative errno, as bpf_map_update_elem returns."""
        if flags & ~7 or flags & 3 == 3:  # BPF_F_LOCK (4) may accompany the others
            return -EINVAL
        flags &= 3
        if self.is_array:
            index = self._key_index(key)
            if index >= self.definition.max_entries:
                return -E2BIG
            if flags == BPF_NOEXIST:
                return -EEXIST  # array elements always exist
            regions = self._array_element(key)
            if regions is None:
                regions = self.entries[key[:4]] = self._new_value()
            target = regions[cpu] if self.per_cpu else regions[0]
            target.data[:] = value
            return 0
        if not self.is_hash:
            return -EOPNOTSUPP if self.type != PROG_ARRAY else -EINVAL
        existing = self.entries.get(key)
        if existing is not None:
            if flags == BPF_NOEXIST:
                return -EEXIST
            (existing[cpu] if self.per_cpu else existing[0]).data[:] = value
            if self.type in (LRU_HASH, LRU_PERCPU_HASH):
                self.entries.move_to_end(key)
            return 0
        if flags == BPF_EXIST:
            return -ENOENT
        if len(self.entries) >= self.definition.max_entries:
            if self.type in (LRU_HASH, LRU_PERCPU_HASH):
                oldest = next(iter(self.entries))
                self.delete(oldest)
            else:
                return -E2BIG
        regions = self._new_value()
        (regions[cpu] if self.per_cpu else regions[0]).data[:] = value
        self.entries[key] = regions
        return 0

    def delete(self, key: bytes) -> int:
        if self.is_array:
            return -EINVAL  # array elements cannot be deleted
        regions = self.entries.pop(key, None)
        if regions is None:
            return -ENOENT
        for region in regions:
            self.space.unmap(region)  # a pointer kept to a deleted value now faults
        return 0

    # -- queue and stack maps (bpf_map_push_elem, bpf_map_pop_elem, bpf_map_peek_elem) --------
    def push(self, value: bytes, flags: int) -> int:
        if flags & ~BPF_EXIST:
            return -EINVAL
        if len(self.items) >= self.definition.max_entries:
            if not flags & BPF_EXIST:
                return -E2BIG
            # BPF_EXIST makes room by dropping the oldest value (a stack's too: its bottom)
            self.items.popleft()
        self.items.append(bytes(value))
        return 0

    def take(self, remove: bool) -> bytes | None:
        """The next value (a queue's oldest, a stack's newest), removed or not; None when empty."""
        if not self.items:
            return None
        if self.type == QUEUE:
            return self.items.popleft() if remove else self.items[0]
        return self.items.pop() if remove else self.items[-1]

    # -- task storage: one value per task, created on demand ----------------------------------
    def storage_get(self, owner: int, init: bytes | None, create: bool) -> Region | None:
        key = owner.to_bytes(8, "little")
        regions = self.entries.get(key)
        if regions is None and create:
            regions = self.entries[key] = self._new_value(init if init is not None else bytes(self.definition.value_size))
        return regions[0] if regions is not None else None

    # -- user space's view: JSON in and out --------------------------------------
    def load_entries(self, entries: list[dict[str, Any]]) -> None:
        """Entries of a map of MAPS_SCHEMA (hex keys and values) stored as user space would."""
        where = f"map {self.name}"
        if self.type in (QUEUE, STACK):
            self._load_items(entries, where)
            return
        for item in entries:
            values = item["value"] if isinstance(item["value"], list) else [item["value"]]
            try:
                key = to_bytes(item["key"], f"{where}: key")
                datas = [to_bytes(v, f"{where}: value") for v in values]
            except JsonInputError as exc:
                raise MapError(str(exc)) from None
            if len(key) != self.definition.key_size:
                raise MapError(f"{where}: key {key.hex()[:40]} has {len(key)} bytes, the map's keys have "
                               f"{self.definition.key_size}")
            for data in datas:
                if len(data) != self.definition.value_size:
                    raise MapError(f"{where}: value of key {key.hex()[:40]} has {len(data)} bytes, "
                                   f"the map's values have {self.definition.value_size}")
            if self.is_array and self._key_index(key) >= self.definition.max_entries:
                raise MapError(f"{where}: key {key.hex()} is past max_entries {self.definition.max_entries}")
            if (self.per_cpu and len(datas) not in (1, self.ncpus)) or (not self.per_cpu and len(datas) != 1):
                wanted = f"1 or {self.ncpus} values" if self.per_cpu else "one value"
                raise MapError(f"{where}: key {key.hex()[:40]} needs {wanted}, found {len(datas)}")
            for cpu in range(self.ncpus if self.per_cpu else 1):
                data = datas[cpu] if len(datas) > 1 else datas[0]
                try:
                    stored = self.update(key, data, BPF_ANY, cpu)
                except MemoryLimit as exc:
                    raise MapError(f"{where}: {exc}") from None
                if stored < 0:
                    raise MapError(f"{where}: cannot hold key {key.hex()[:40]} (max_entries "
                                   f"{self.definition.max_entries})")

    def _load_items(self, entries: list[Any], where: str) -> None:
        for item in entries:
            try:
                value = bytes.fromhex(str(item["value"] if isinstance(item, dict) else item))
            except (KeyError, ValueError):
                raise MapError(f"{where}: each value of a queue or stack map is hex (or {{\"value\": hex}})") from None
            if len(value) != self.definition.value_size:
                raise MapError(f"{where}: value {value.hex()} has {len(value)} bytes, the map's values have "
                               f"{self.definition.value_size}")
            if self.push(value, 0) < 0:
                raise MapError(f"{where}: more values than max_entries {self.definition.max_entries}")

    def dump(self) -> dict[str, Any]:
        """The elements that exist: of a hash map all, of an array those a run used or seeded
        (every other element is zero), in key order for arrays; a queue's or stack's values, oldest
        first, with an empty key."""
        entries: list[dict[str, Any]] = [{"key": "", "value": v.hex()} for v in self.items]
        items = sorted(self.entries.items(), key=lambda kv: self._key_index(kv[0])) if self.is_array \
            else self.entries.items()
        for key, regions in items:
            if self.per_cpu:
                value: Any = [bytes(r.data).hex() for r in regions]
            else:
                value = bytes(regions[0].data).hex()
            entries.append({"key": key.hex(), "value": value})
        return {"name": self.name, "index": self.index, "type": self.definition.type_name, "entries": entries}
