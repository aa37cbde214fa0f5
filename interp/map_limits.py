"""The sizes the kernel refuses when a map is created (BPF_MAP_CREATE), so that an object whose
maps the kernel would not create is refused on loading, before anything is allocated for it.

The figures are Linux 6.18's, and the running kernel gives the same answers when asked through
bpf(BPF_MAP_CREATE): `array_map_alloc_check` (values up to INT_MAX bytes; per-CPU values up to
PCPU_MIN_UNIT_SIZE), `htab_map_alloc_check` (key and value together below KMALLOC_MAX_SIZE less
an element header; at most 2^27 elements, whose buckets must be indexable by a u32),
`stack_map_alloc` (whole 8-byte frames, at most kernel.perf_event_max_stack of them) and the
allocation itself, which fails (ENOMEM) for an area larger than the machine's memory."""

from __future__ import annotations

from .program import MapDef

INT_MAX = (1 << 31) - 1
KMALLOC_MAX_SIZE = 1 << 22  # x86_64 and arm64 with 4 KiB pages: 2^(MAX_PAGE_ORDER + PAGE_SHIFT)
HTAB_ELEM_SIZE = 48  # sizeof(struct htab_elem)
HTAB_BUCKET_SIZE = 16  # sizeof(struct bucket)
PCPU_MIN_UNIT_SIZE = 32 << 10
POINTER_SIZE = 8
# The allocation a map needs at creation may not exceed this: the kernel refuses an area larger
# than the machine's memory; 16 GiB is what the kernel allocated on a 24 GiB machine (an array of
# 2^31 eight-byte values), and twice that it refused. A fixed figure keeps verdicts reproducible.
MAP_MEMORY_LIMIT = 1 << 34

ARRAYS = (2, 6)  # array, per-CPU array: values live in the map
FD_ARRAYS = (3, 4, 8, 12)  # program, perf event, cgroup arrays, array of maps: a pointer per slot
HASHES = (1, 5, 9, 10, 13)  # hash, per-CPU hash, LRU hash, LRU per-CPU hash, hash of maps
PER_CPU = (5, 6, 10)
STACK_TRACE = 7
PERF_MAX_STACK = 127  # sysctl kernel.perf_event_max_stack's default


def _round8(size: int) -> int:
    return (size + 7) // 8 * 8


def _power_of_two_at_least(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def creation_error(mdef: MapDef) -> str | None:
    """Why the kernel would refuse to create `mdef` (E2BIG or ENOMEM), or None."""
    kind, key, value, entries = mdef.type, mdef.key_size, mdef.value_size, mdef.max_entries
    if kind in ARRAYS + FD_ARRAYS and value > INT_MAX:
        return f"value_size {value} is larger than the kernel's limit for arrays, {INT_MAX} bytes (E2BIG)"
    if kind in PER_CPU and _round8(value) > PCPU_MIN_UNIT_SIZE:
        return (f"value_size {value} is larger than the kernel's limit for per-CPU values, "
                f"{PCPU_MIN_UNIT_SIZE} bytes (E2BIG)")
    if kind == STACK_TRACE and (value < 8 or value % 8 or value // 8 > PERF_MAX_STACK):
        return (f"value_size {value} is not a whole number of 8-byte frames from 1 to {PERF_MAX_STACK}, "
                "as a stack trace map needs (EINVAL)")
    if kind in HASHES:
        if key + value >= KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE:
            return (f"key_size {key} and value_size {value} together reach the kernel's limit for hash maps, "
                    f"{KMALLOC_MAX_SIZE - HTAB_ELEM_SIZE} bytes (E2BIG)")
        if _power_of_two_at_least(entries) > 0xFFFF_FFFF // HTAB_BUCKET_SIZE:
            return (f"max_entries {entries} is more than a hash map may hold, "
                    f"{(0xFFFF_FFFF // HTAB_BUCKET_SIZE + 1) // 2} (E2BIG)")
    if kind in ARRAYS:
        need = entries * _round8(value)
    elif kind in HASHES:
        need = entries * (HTAB_ELEM_SIZE + _round8(key) + _round8(value))
    else:
        need = entries * POINTER_SIZE
    if need > MAP_MEMORY_LIMIT:
        return (f"max_entries {entries} of {value}-byte values need {need} bytes, more than the kernel can "
                f"allocate for a map ({MAP_MEMORY_LIMIT} bytes; ENOMEM)")
    return None
