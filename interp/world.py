"""What a kprobe program can observe beyond its context: simulated kernel and user memory for
`probe_read` and friends, and the environment (time, current task, CPU) the caller controls,
so that every run is reproducible. The host's memory is never read."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .json_input import (
    HEX_BYTES,
    U64_MAX,
    JsonInputError,
    load,
    to_bytes,
    to_int,
    uint_or_text,
    validate,
)
from .map_limits import PERF_MAX_STACK

USER_SPACE_END = 0x0000_8000_0000_0000  # x86_64: addresses below are user space


class WorldError(ValueError):
    """A kernel-memory or environment description that cannot be used."""


ADDRESS = uint_or_text(64)
MAX_CHUNKS = 1 << 16
KMEM_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": f"a list of at most {MAX_CHUNKS} chunks {{\"address\": .., \"hex\": ..}}",
    "maxItems": MAX_CHUNKS,
    "items": {
        "type": "object",
        "description": "an object {\"address\": .., \"hex\": .., \"symbol\": ..}",
        "properties": {"address": ADDRESS, "hex": HEX_BYTES,
                       "symbol": {"type": "string", "maxLength": 256, "description": "a string"}},
        "required": ["address", "hex"],
        "additionalProperties": False,
    },
}


@dataclass
class Chunk:
    address: int
    data: bytearray
    symbol: str | None = None

    @property
    def end(self) -> int:
        return self.address + len(self.data)


@dataclass
class KernelMemory:
    """A sparse address space of chunks; a read touching any unmapped byte fails."""

    chunks: list[Chunk] = field(default_factory=list)  # sorted by address, never overlapping
    _starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.chunks.sort(key=lambda c: c.address)
        self._starts = [c.address for c in self.chunks]
        for before, after in zip(self.chunks, self.chunks[1:]):
            if before.end > after.address:
                raise WorldError(f"kernel memory at {after.address:#x} ({len(after.data)} bytes) overlaps the "
                                 f"chunk at {before.address:#x} ({len(before.data)} bytes)")

    def add(self, address: int, data: bytes, symbol: str | None = None) -> None:
        chunk = Chunk(address & U64_MAX, bytearray(data), symbol)
        if chunk.end > U64_MAX + 1:
            raise WorldError(f"kernel memory at {chunk.address:#x} ({len(data)} bytes) runs past the end of "
                             "the address space")
        i = bisect.bisect_left(self._starts, chunk.address)
        if (i < len(self.chunks) and self.chunks[i].address < chunk.end) or (i > 0 and self.chunks[i - 1].end > chunk.address):
            raise WorldError(f"kernel memory at {address:#x} ({len(data)} bytes) overlaps another chunk")
        self.chunks.insert(i, chunk)
        self._starts.insert(i, chunk.address)

    def chunk_at(self, address: int) -> Chunk | None:
        return self._chunk(address)

    def _chunk(self, address: int) -> Chunk | None:
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0 and address < self.chunks[i].end:
            return self.chunks[i]
        return None

    def _spans(self, address: int, size: int) -> list[tuple[Chunk, int, int]] | None:
        """(chunk, offset, length) pieces covering [address, address + size), or None for a gap."""
        pieces = []
        while size > 0:
            chunk = self._chunk(address)
            if chunk is None:
                return None
            offset = address - chunk.address
            take = min(size, len(chunk.data) - offset)
            pieces.append((chunk, offset, take))
            address += take
            size -= take
        return pieces

    def read(self, address: int, size: int) -> bytes | None:
        pieces = self._spans(address, size)
        if pieces is None:
            return None
        return b"".join(bytes(chunk.data[offset : offset + take]) for chunk, offset, take in pieces)

    def write(self, address: int, data: bytes) -> bool:
        pieces = self._spans(address, len(data))
        if pieces is None:
            return False
        done = 0
        for chunk, offset, take in pieces:
            chunk.data[offset : offset + take] = data[done : done + take]
            done += take
        return True

    @classmethod
    def from_json(cls, items: Any, where: str = "kernel memory") -> "KernelMemory":
        """Chunks from a document of KMEM_SCHEMA: `[{"address": .., "hex": .., "symbol": ..}]`."""
        try:
            validate(items, KMEM_SCHEMA, where)
        except JsonInputError as exc:
            raise WorldError(str(exc)) from None
        chunks = []
        for n, item in enumerate(items):
            try:
                data = to_bytes(item["hex"], f"{where}: [{n}].hex")
            except JsonInputError as exc:
                raise WorldError(str(exc)) from None
            address = to_int(item["address"])
            if address + len(data) > U64_MAX + 1:
                raise WorldError(f"{where}: [{n}]: {len(data)} bytes at {address:#x} run past the end of the "
                                 "address space")
            chunks.append(Chunk(address, bytearray(data), item.get("symbol")))
        try:
            return cls(chunks)
        except WorldError as exc:
            raise WorldError(f"{where}: {exc}") from None

    @classmethod
    def from_file(cls, path: Path) -> "KernelMemory":
        try:
            return cls.from_json(load(path, KMEM_SCHEMA), path.name)
        except JsonInputError as exc:
            raise WorldError(str(exc)) from None


TASK_COMM_LEN = 16


def _env(default: Any, schema: dict[str, Any], convert: Any = None, factory: Any = None) -> Any:
    """A field of `Environment` with the schema its JSON form must fit and how it becomes a value."""
    metadata = {"schema": schema, "convert": convert or (lambda value: value)}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


_U32, _U64 = uint_or_text(32), uint_or_text(64)
_INDEX_KEYS = {"type": "string", "pattern": "^[0-9]{1,9}$", "description": "a decimal index below 10^9"}
_BOOL = {"type": "boolean", "description": "true or false"}
# helper calls whose failure is the world's doing, which `Environment.failing_calls` may order
FAILABLE_CALLS = {"map_lookup_elem": "finds nothing, as if another CPU had just deleted the element (hash-like maps)",
                  "ringbuf_reserve": "returns NULL, as when the ring buffer is full"}


@dataclass
class Environment:
    """The world as the helpers see it during one firing; every field is the caller's choice."""

    pid: int = _env(4242, _U32, to_int)  # thread id
    tgid: int = _env(4242, _U32, to_int)  # process id
    uid: int = _env(1000, _U32, to_int)
    gid: int = _env(1000, _U32, to_int)
    comm: bytes = _env(b"bpfverify", {"type": "string", "maxLength": TASK_COMM_LEN - 1,
                                      "description": f"a string of at most {TASK_COMM_LEN - 1} characters"},
                       lambda text: text.encode()[: TASK_COMM_LEN - 1])
    ktime_ns: int = _env(1_000_000_000, _U64, to_int)
    boot_ns: int = _env(2_000_000_000, _U64, to_int)
    jiffies: int = _env(4_294_967_296, _U64, to_int)
    current_task: int = _env(0xFFFF_8880_0100_0000, _U64, to_int)
    cgroup_id: int = _env(1, _U64, to_int)
    # cgroup array index -> membership
    under_cgroup: dict[int, bool] = _env(None, {
        "type": "object", "propertyNames": _INDEX_KEYS, "additionalProperties": _BOOL,
        "description": "an object {\"INDEX\": true or false}"},
        lambda value: {int(k): v for k, v in value.items()}, dict)
    stack: list[int] = _env(None, {"type": "array", "items": _U64, "maxItems": PERF_MAX_STACK,
                                   "description": f"a list of at most {PERF_MAX_STACK} addresses"},
                            lambda value: [to_int(v) for v in value],
                            lambda: [0xFFFF_FFFF_8100_0000, 0xFFFF_FFFF_8100_1000])
    random_seed: int = _env(1, _U32, to_int)
    time_step_ns: int = _env(1000, _U64, to_int)  # each time read advances the clock, as real time does
    perf_counters: dict[int, int] = _env(None, {
        "type": "object", "propertyNames": _INDEX_KEYS, "additionalProperties": _U64,
        "description": "an object {\"INDEX\": counter}"},
        lambda value: {int(k): to_int(v) for k, v in value.items()}, dict)
    in_nmi: bool = _env(False, _BOOL)
    tai_ns: int = _env(1_000_000_037, _U64, to_int)  # CLOCK_TAI: realtime plus the leap seconds
    numa_node: int = _env(0, _U32, to_int)
    cgroup_classid: int = _env(0, _U32, to_int)  # the net_cls class id of the current task's cgroup
    # cgroup ids from the root down; [] is [cgroup_id]
    cgroup_ancestors: list[int] = _env(None, {"type": "array", "items": _U64, "maxItems": 1024,
                                              "description": "a list of at most 1024 cgroup ids"},
                                       lambda value: [to_int(v) for v in value], list)
    func_ip: int = _env(0xFFFF_FFFF_8100_0000, _U64, to_int)  # the probed function's address (get_func_ip)
    attach_cookie: int = _env(0, _U64, to_int)  # the cookie given when the program was attached
    task_pt_regs: int = _env(0xFFFF_C900_0000_3F58, _U64, to_int)  # where the task's user registers are saved
    pidns_dev: int = _env(4, _U64, to_int)  # the current pid namespace's nsfs device and inode
    pidns_ino: int = _env(0xEFFF_FFFC, _U64, to_int)
    # the current thread's and process's ids in that namespace; None: pid, tgid
    ns_pid: int | None = _env(None, {"anyOf": [_U32, {"type": "null"}], "description": "a 32-bit id or null"},
                              lambda value: None if value is None else to_int(value))
    ns_tgid: int | None = _env(None, {"anyOf": [_U32, {"type": "null"}], "description": "a 32-bit id or null"},
                               lambda value: None if value is None else to_int(value))
    # last branch records: [from, to, flags]
    branch_records: list[list[int]] = _env(None, {
        "type": "array", "maxItems": 1024, "description": "a list of at most 1024 records [from, to, flags]",
        "items": {"type": "array", "items": _U64, "minItems": 3, "maxItems": 3,
                  "description": "a record [from, to, flags]"}},
        lambda value: [[to_int(v) for v in record] for record in value], list)
    # helper name -> which of its calls (0 for the first of the session) fail: see FAILABLE_CALLS
    failing_calls: dict[str, list[int]] = _env(None, {
        "type": "object", "propertyNames": {"enum": sorted(FAILABLE_CALLS), "description": "a helper whose calls "
                                            f"may fail: {', '.join(sorted(FAILABLE_CALLS))}"},
        "additionalProperties": {"type": "array", "maxItems": 1024, "items": {"type": "integer", "minimum": 0,
                                 "maximum": 2**32, "description": "a call's number, from 0"},
                                 "description": "a list of at most 1024 call numbers"},
        "description": "an object {\"HELPER\": [call numbers]}"},
        lambda value: {name: sorted(set(calls)) for name, calls in value.items()}, dict)
    _calls_made: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def call_fails(self, helper: str) -> bool:
        """Whether this call of `helper` (counted from the session's first) is one of `failing_calls`."""
        made = self._calls_made.get(helper, 0)
        self._calls_made[helper] = made + 1
        return made in self.failing_calls.get(helper, ())

    def next_tai(self) -> int:
        value = self.tai_ns
        self.tai_ns = (self.tai_ns + self.time_step_ns) & U64_MAX
        return value

    def cgroup_path(self) -> list[int]:
        """The ids of the current task's cgroup and its ancestors, from the root (level 0) down."""
        return self.cgroup_ancestors or [self.cgroup_id]

    def next_ktime(self) -> int:
        value = self.ktime_ns
        self.ktime_ns = (self.ktime_ns + self.time_step_ns) & U64_MAX
        return value

    def next_boot_ns(self) -> int:
        value = self.boot_ns
        self.boot_ns = (self.boot_ns + self.time_step_ns) & U64_MAX
        return value

    def next_random(self) -> int:
        # xorshift32: reproducible from `random_seed`
        x = self.random_seed or 1
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.random_seed = x
        return x

    @classmethod
    def from_json(cls, obj: Any, where: str = "environment") -> "Environment":
        """An environment from a document of ENV_SCHEMA; fields not given keep their defaults."""
        try:
            validate(obj, ENV_SCHEMA, where)
        except JsonInputError as exc:
            raise WorldError(str(exc)) from None
        converters = {f.name: f.metadata["convert"] for f in fields(cls) if f.init}
        return cls(**{key: converters[key](value) for key, value in obj.items()})

    @classmethod
    def from_file(cls, path: Path) -> "Environment":
        try:
            return cls.from_json(load(path, ENV_SCHEMA), path.name)
        except JsonInputError as exc:
            raise WorldError(str(exc)) from None


ENV_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "a JSON object",
    "properties": {f.name: f.metadata["schema"] for f in fields(Environment) if f.init},
    "additionalProperties": False,
}
