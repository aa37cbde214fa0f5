"""A program's maps created in the running kernel as libbpf creates them, and read back in the
shape of the interpreter's `MapState.dump()` (so `bpfverify run --maps` can take them).

Global data becomes a one-element array holding the section's bytes; `.rodata` is created
BPF_F_RDONLY_PROG and frozen, which is what lets the kernel's verifier read its contents as
constants. The sizes follow what user-space loaders (libbpf, cilium/ebpf) make of a declaration:
a map declared with 0 entries gets one per possible CPU (libbpf's rule for perf event arrays,
which loaders such as falco's apply to their per-CPU scratch arrays); a ring buffer has no key
or value size (a declared value type documents its records) and a size rounded up to a
power-of-two number of pages; a perf event array holds 4-byte keys and values (CPU indices and
fds), and a map of maps 4-byte values (map fds), whatever the declaration says."""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import re
from contextlib import ExitStack
from functools import cache
from typing import Any

from ..maps import (
    ARRAY,
    ARRAY_OF_MAPS,
    HASH,
    HASH_OF_MAPS,
    LRU_HASH,
    LRU_PERCPU_HASH,
    PERCPU_ARRAY,
    PERCPU_HASH,
    PERF_EVENT_ARRAY,
    RINGBUF,
    STACK_TRACE,
)
from ..program import BPF_F_RDONLY_PROG, MapDef, Program
from .syscalls import (
    BPF_MAP_CREATE,
    BPF_MAP_FREEZE,
    BPF_MAP_GET_NEXT_KEY,
    BPF_MAP_LOOKUP_ELEM,
    BPF_MAP_UPDATE_ELEM,
    OBJ_NAME_LEN,
    FdAttr,
    MapCreateAttr,
    MapElemAttr,
    SyscallError,
    address,
    bpf,
)

PER_CPU_TYPES = (PERCPU_ARRAY, PERCPU_HASH, LRU_PERCPU_HASH)
# maps whose keys and values user space reads (the others hold fds, records or nothing readable)
READABLE_TYPES = (ARRAY, HASH, PERCPU_ARRAY, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH, STACK_TRACE)


class MapSetupError(Exception):
    """A map the program uses could not be created; the message names it and the errno."""

    def __init__(self, message: str, err: int = 0) -> None:
        super().__init__(message)
        self.errno = err


@cache
def possible_cpus() -> int:
    """How many CPUs the kernel may ever bring up: the number of values of a per-CPU map."""
    try:
        with open("/sys/devices/system/cpu/possible") as handle:
            text = handle.read().strip()
    except OSError:
        return os.cpu_count() or 1
    count = 0
    for part in text.split(","):
        low, _, high = part.partition("-")
        count += int(high or low) - int(low) + 1
    return count


def kernel_object_name(name: str) -> bytes:
    """`name` as the kernel accepts object names: letters, digits, '_' and '.', at most 15 bytes."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", name).encode()[: OBJ_NAME_LEN - 1]


def _ringbuf_size(size: int) -> int:
    page = mmap.PAGESIZE
    rounded = page
    while rounded < size:
        rounded *= 2
    return rounded


def created_shape(definition: MapDef) -> tuple[int, int, int]:
    """(key size, value size, max entries) of the map as a user-space loader creates it."""
    key_size, value_size = definition.key_size, definition.value_size
    max_entries = definition.max_entries or possible_cpus()
    if definition.type == RINGBUF:
        key_size, value_size, max_entries = 0, 0, _ringbuf_size(max_entries)
    elif definition.type == PERF_EVENT_ARRAY:
        key_size, value_size = 4, 4
    elif definition.type in (ARRAY_OF_MAPS, HASH_OF_MAPS):
        value_size = 4
    return key_size, value_size, max_entries


def _create(definition: MapDef, inner_fd: int = 0) -> int:
    key_size, value_size, max_entries = created_shape(definition)
    flags = definition.flags | (BPF_F_RDONLY_PROG if definition.frozen else 0)
    attr = MapCreateAttr(map_type=definition.type, key_size=key_size, value_size=value_size,
                         max_entries=max_entries, map_flags=flags, inner_map_fd=inner_fd,
                         map_name=kernel_object_name(definition.name))
    return bpf(BPF_MAP_CREATE, attr)


def _update(fd: int, key: bytes, value: bytes) -> None:
    key_buffer = ctypes.create_string_buffer(key, max(len(key), 1))
    value_buffer = ctypes.create_string_buffer(value, max(len(value), 1))
    bpf(BPF_MAP_UPDATE_ELEM, MapElemAttr(map_fd=fd, key=address(key_buffer), value=address(value_buffer)))


class KernelMaps:
    """The kernel maps of the maps `program` uses, by the program's map index. Close it (or use
    it as a context manager) to release every fd; a failed creation releases those made so far."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.fds: dict[int, int] = {}
        with ExitStack() as undo:
            undo.callback(self.close)
            for index in program.used_maps:
                self.fds[index] = self._create_one(program.maps[index])
            undo.pop_all()

    def _create_one(self, definition: MapDef) -> int:
        where = f"map {definition.name!r} ({definition.type_name}, key {definition.key_size} B, " \
                f"value {definition.value_size} B, {definition.max_entries} entries)"
        inner_fd = 0
        try:
            if definition.type in (ARRAY_OF_MAPS, HASH_OF_MAPS):
                template = definition.inner
                if template is None and definition.inner_idx is not None \
                        and definition.inner_idx < len(self.program.maps):
                    template = self.program.maps[definition.inner_idx]
                if template is None:
                    raise MapSetupError(f"{where}: a map of maps needs its inner map's definition, "
                                        "which the object does not give")
                inner_fd = _create(template)
            fd = _create(definition, inner_fd)
        except SyscallError as exc:
            raise MapSetupError(f"{where} could not be created: {exc.strerror}", exc.errno or 0) from None
        finally:
            if inner_fd:
                os.close(inner_fd)  # the outer map keeps what it needs of the template
        try:
            if definition.initial_value is not None and definition.value_size:
                _update(fd, bytes(4), definition.initial_value)
            if definition.frozen:
                bpf(BPF_MAP_FREEZE, FdAttr(fd=fd))
        except SyscallError as exc:
            os.close(fd)
            raise MapSetupError(f"{where}: its initial value could not be set: {exc.strerror}", exc.errno or 0) from None
        return fd

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

    def __enter__(self) -> "KernelMaps":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading back -------------------------------------------------------------------
    def dump(self) -> list[dict[str, Any]]:
        """Each map's entries as `MapState.dump()` gives them: hex keys and values (per-CPU
        values as a list, one per possible CPU); maps whose values are not data have none."""
        return [dump_map(fd, index, self.program.maps[index]) for index, fd in sorted(self.fds.items())]


def _keys(fd: int, key_size: int) -> list[bytes]:
    keys: list[bytes] = []
    current = None
    next_key = ctypes.create_string_buffer(max(key_size, 1))
    while True:
        attr = MapElemAttr(map_fd=fd, value=address(next_key))
        if current is not None:
            attr.key = address(current)
        try:
            bpf(BPF_MAP_GET_NEXT_KEY, attr)
        except SyscallError as exc:
            if exc.errno == errno.ENOENT:
                return keys
            raise
        keys.append(next_key.raw[:key_size])
        current = ctypes.create_string_buffer(next_key.raw, max(key_size, 1))


def dump_map(fd: int, index: int, definition: MapDef) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    if definition.type in READABLE_TYPES:
        per_cpu = definition.type in PER_CPU_TYPES
        slot = (definition.value_size + 7) // 8 * 8  # per-CPU values are 8-byte aligned each
        size = slot * possible_cpus() if per_cpu else definition.value_size
        value = ctypes.create_string_buffer(max(size, 1))
        for key in _keys(fd, definition.key_size):
            key_buffer = ctypes.create_string_buffer(key, max(len(key), 1))
            try:
                bpf(BPF_MAP_LOOKUP_ELEM, MapElemAttr(map_fd=fd, key=address(key_buffer), value=address(value)))
            except SyscallError as exc:
                if exc.errno == errno.ENOENT:  # deleted since it was listed
                    continue
                raise
            raw = value.raw[:size]
            if per_cpu:
                shown: Any = [raw[cpu * slot: cpu * slot + definition.value_size].hex()
                              for cpu in range(possible_cpus())]
            else:
                shown = raw.hex()
            entries.append({"key": key.hex(), "value": shown})
    return {"name": definition.name, "index": index, "type": definition.type_name, "entries": entries}
