"""The helpers a kprobe program may call, as records (prototype + implementation).

The seed's four come first, then those real kprobe programs use, in the order of
`shared/corpus/helper_usage.tsv`. Prototypes follow Linux 6.18's `bpf_func_proto`s; the seed's
own prototypes for the first four (Linux 4.1) are kept in `SEED_ARGS`. Helpers that read the world
(time, pid, comm, current task) read the runtime's `Environment`."""

from __future__ import annotations

import re
import struct
from typing import TYPE_CHECKING, Any

from .faults import FaultKind, VmFault
from .helper_ids import HELPER_IDS
from .helpers import ArgType as A
from .helpers import Helper, HelperExit, HelperRegistry, RetType
from .maps import (
    CGROUP_ARRAY,
    E2BIG,
    EFAULT,
    EINVAL,
    ENOENT,
    PERF_EVENT_ARRAY,
    PROG_ARRAY,
    RINGBUF,
    STACK_TRACE,
    MapState,
)
from .world import USER_SPACE_END

if TYPE_CHECKING:
    from .kprobe import KprobeSession
    from .vm import Machine

EAGAIN = 11
BPF_F_CURRENT_CPU = 0xFFFFFFFF
BPF_F_INDEX_MASK = 0xFFFFFFFF
MAX_TAIL_CALL_CNT = 33
BPF_F_SKIP_FIELD_MASK = 0xFF
BPF_F_USER_STACK, BPF_F_FAST_STACK_CMP, BPF_F_REUSE_STACKID, BPF_F_USER_BUILD_ID = 1 << 8, 1 << 9, 1 << 10, 1 << 11
GET_STACK_FLAGS = BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_USER_BUILD_ID
GET_STACKID_FLAGS = BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_FAST_STACK_CMP | BPF_F_REUSE_STACKID
RINGBUF_WAKEUP_FLAGS = 3  # BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP


class TailCall(HelperExit):
    """Raised by `bpf_tail_call` to replace the running program with another."""

    def __init__(self, program_index: int) -> None:
        super().__init__(0)
        self.program_index = program_index


def _session(machine: "Machine") -> "KprobeSession":
    return machine.runtime


def _fault(pc: int, helper: str, message: str) -> VmFault:
    return VmFault(pc, FaultKind.HELPER_ARGUMENT, f"{helper}: {message}")


def _read(machine: "Machine", pc: int, helper: str, reg: int, address: int, size: int) -> bytes:
    try:
        return machine.space.read_bytes(pc, address, size)
    except VmFault as exc:
        raise _fault(pc, helper, f"r{reg} = {address:#x} must point to {size} readable bytes: {exc.message}") from None


def _write(machine: "Machine", pc: int, helper: str, reg: int, address: int, data: bytes) -> None:
    try:
        machine.space.write_bytes(pc, address, data)
    except VmFault as exc:
        raise _fault(pc, helper, f"r{reg} = {address:#x} must point to {len(data)} writable bytes: {exc.message}") from None


def _map(machine: "Machine", pc: int, helper: str, handle: int, reg: int = 1) -> MapState:
    state = _session(machine).map_for_handle(handle)
    if state is None:
        raise _fault(pc, helper, f"r{reg} = {handle:#x} is not a map pointer; load it with lddw from a map")
    return state


# -- the seed's four --------------------------------------------------------------


def map_lookup_elem(machine: "Machine", pc: int, args: list) -> int:
    state = _map(machine, pc, "map_lookup_elem", args[0])
    key = _read(machine, pc, "map_lookup_elem", 2, args[1], state.definition.key_size)
    region = state.lookup(key, _session(machine).cpu)
    return region.base if region is not None else 0


def map_update_elem(machine: "Machine", pc: int, args: list) -> int:
    state = _map(machine, pc, "map_update_elem", args[0])
    key = _read(machine, pc, "map_update_elem", 2, args[1], state.definition.key_size)
    value = _read(machine, pc, "map_update_elem", 3, args[2], state.definition.value_size)
    _session(machine).on_helper("map_update_elem")
    return state.update(key, value, args[3], _session(machine).cpu)


def map_delete_elem(machine: "Machine", pc: int, args: list) -> int:
    state = _map(machine, pc, "map_delete_elem", args[0])
    key = _read(machine, pc, "map_delete_elem", 2, args[1], state.definition.key_size)
    return state.delete(key)


def _probe_read(machine: "Machine", pc: int, args: list, name: str, space: str, string: bool) -> int:
    dst, size, src = args[0], args[1], args[2]
    session = _session(machine)
    if not string:
        data = session.read_memory(src, size, space)
        if data is None:
            _write(machine, pc, name, 1, dst, bytes(size))
            return -EFAULT
        _write(machine, pc, name, 1, dst, data)
        return 0
    if size == 0:
        return 0
    text = session.read_c_string(src, size - 1, space)
    if text is None:
        _write(machine, pc, name, 1, dst, bytes(size))
        return -EFAULT
    _write(machine, pc, name, 1, dst, text + b"\0")
    return len(text) + 1


def probe_read(machine: "Machine", pc: int, args: list) -> int:
    return _probe_read(machine, pc, args, "probe_read", "any", False)


def probe_read_kernel(machine: "Machine", pc: int, args: list) -> int:
    return _probe_read(machine, pc, args, "probe_read_kernel", "kernel", False)


def probe_read_user(machine: "Machine", pc: int, args: list) -> int:
    return _probe_read(machine, pc, args, "probe_read_user", "user", False)


def probe_read_str(machine: "Machine", pc: int, args: list) -> int:
    return _probe_read(machine, pc, args, "probe_read_str", "any", True)


def probe_read_kernel_str(machine: "Machine", pc: int, args: list) -> int:
    return _probe_read(machine, pc, args, "probe_read_kernel_str", "kernel", True)


def probe_read_user_str(machine: "Machine", pc: int, args: list) -> int:
    return _probe_read(machine, pc, args, "probe_read_user_str", "user", True)


# -- the world ----------------------------------------------------------------------------


def ktime_get_ns(machine: "Machine", pc: int, args: list) -> int:
    return _session(machine).env.next_ktime()


def ktime_get_boot_ns(machine: "Machine", pc: int, args: list) -> int:
    return _session(machine).env.next_boot_ns()


def jiffies64(machine: "Machine", pc: int, args: list) -> int:
    return _session(machine).env.jiffies


def get_current_pid_tgid(machine: "Machine", pc: int, args: list) -> int:
    env = _session(machine).env
    return (env.tgid << 32) | (env.pid & 0xFFFFFFFF)


def get_current_uid_gid(machine: "Machine", pc: int, args: list) -> int:
    env = _session(machine).env
    return (env.gid << 32) | (env.uid & 0xFFFFFFFF)


def get_current_comm(machine: "Machine", pc: int, args: list) -> int:
    dst, size = args[0], args[1]
    if size == 0:
        return -EINVAL
    comm = _session(machine).env.comm[: size - 1]
    _write(machine, pc, "get_current_comm", 1, dst, comm + bytes(size - len(comm)))
    return 0


def get_current_task(machine: "Machine", pc: int, args: list) -> int:
    return _session(machine).env.current_task


def get_current_cgroup_id(machine: "Machine", pc: int, args: list) -> int:
    return _session(machine).env.cgroup_id


def get_smp_processor_id(machine: "Machine", pc: int, args: list) -> int:
    return _session(machine).cpu


def get_prandom_u32(machine: "Machine", pc: int, args: list) -> int:
    return _session(machine).env.next_random()


def current_task_under_cgroup(machine: "Machine", pc: int, args: list) -> int:
    state = _map(machine, pc, "current_task_under_cgroup", args[0])
    if state.type != CGROUP_ARRAY:
        raise _fault(pc, "current_task_under_cgroup", f"map {state.name} is not a cgroup array")
    index = args[1] & 0xFFFFFFFF
    if index >= state.definition.max_entries:
        return -E2BIG
    under = _session(machine).env.under_cgroup
    if index not in under:
        return -EAGAIN  # the cgroup array slot holds no cgroup
    return 1 if under[index] else 0


# -- output -------------------------------------------------------------------------------


def _format_printk(session: "KprobeSession", fmt: bytes, values: list[int | None]) -> str:
    text = fmt.split(b"\0", 1)[0].decode("utf-8", "replace")
    arguments = iter(values)

    def convert(match: re.Match[str]) -> str:
        spec = match.group(0)
        if spec == "%%":
            return "%"
        value = next(arguments, None) or 0
        kind = spec[-1]
        if kind == "s":
            data = session.read_string(value, 256)
            return data if data is not None else "(efault)"
        if kind in "xX":
            return format(value & (0xFFFFFFFF if "l" not in spec else 0xFFFFFFFFFFFFFFFF), kind)
        if kind == "p":
            return f"{value:016x}"
        if kind in "di":
            bits = 64 if "l" in spec else 32
            value &= (1 << bits) - 1
            return str(value - (1 << bits) if value >> (bits - 1) else value)
        bits = 64 if "l" in spec else 32
        return str(value & ((1 << bits) - 1))

    return re.sub(r"%%|%(?:ll|l)?[diuxXsp]|%p[a-zA-Z]?", convert, text)


def trace_printk(machine: "Machine", pc: int, args: list) -> int:
    fmt_ptr, fmt_size = args[0], args[1]
    fmt = _read(machine, pc, "trace_printk", 1, fmt_ptr, fmt_size)
    if not fmt.endswith(b"\0") and b"\0" not in fmt:
        return -EINVAL  # the format must be NUL-terminated within fmt_size
    session = _session(machine)
    line = _format_printk(session, fmt, args[2:5])
    session.emit({"kind": "trace_printk", "text": line})
    return len(line) + 1


def perf_event_output(machine: "Machine", pc: int, args: list) -> int:
    handle, flags, data_ptr, size = args[1], args[2], args[3], args[4]
    state = _map(machine, pc, "perf_event_output", handle, 2)
    if state.type != PERF_EVENT_ARRAY:
        raise _fault(pc, "perf_event_output", f"map {state.name} is a {state.definition.type_name} map, "
                                              "not a perf event array")
    session = _session(machine)
    if flags & ~BPF_F_INDEX_MASK:
        return -EINVAL
    index = session.cpu if (flags & BPF_F_INDEX_MASK) == BPF_F_CURRENT_CPU else flags & BPF_F_INDEX_MASK
    if index >= state.definition.max_entries:
        return -E2BIG
    data = _read(machine, pc, "perf_event_output", 4, data_ptr, size)
    session.emit({"kind": "perf_event_output", "map": state.name, "cpu": index, "data": data.hex()})
    return 0


def perf_event_read(machine: "Machine", pc: int, args: list) -> int:
    state = _map(machine, pc, "perf_event_read", args[0])
    session = _session(machine)
    index = session.cpu if (args[1] & BPF_F_INDEX_MASK) == BPF_F_CURRENT_CPU else args[1] & BPF_F_INDEX_MASK
    if index >= state.definition.max_entries:
        return -E2BIG
    counter = session.env.perf_counters.get(index)
    return counter if counter is not None else -ENOENT


def _read_value(machine: "Machine", pc: int, name: str, index: int, dst: int, size: int) -> int:
    # struct bpf_perf_event_value { u64 counter; u64 enabled; u64 running; }
    if size != 24:
        _write(machine, pc, name, 3, dst, bytes(size))
        return -EINVAL
    counter = _session(machine).env.perf_counters.get(index)
    if counter is None:
        _write(machine, pc, name, 3, dst, bytes(size))
        return -ENOENT
    _write(machine, pc, name, 3, dst, struct.pack("<QQQ", counter, counter, counter))
    return 0


def perf_event_read_value(machine: "Machine", pc: int, args: list) -> int:
    state = _map(machine, pc, "perf_event_read_value", args[0])
    session = _session(machine)
    index = session.cpu if (args[1] & BPF_F_INDEX_MASK) == BPF_F_CURRENT_CPU else args[1] & BPF_F_INDEX_MASK
    if index >= state.definition.max_entries:
        return -E2BIG
    return _read_value(machine, pc, "perf_event_read_value", index, args[2], args[3])


def perf_prog_read_value(machine: "Machine", pc: int, args: list) -> int:
    session = _session(machine)
    return _read_value(machine, pc, "perf_prog_read_value", session.cpu, args[1], args[2])


def get_stackid(machine: "Machine", pc: int, args: list) -> int:
    state = _map(machine, pc, "get_stackid", args[1], 2)
    if state.type != STACK_TRACE:
        raise _fault(pc, "get_stackid", f"map {state.name} is not a stack trace map")
    session = _session(machine)
    if args[2] & ~GET_STACKID_FLAGS:
        return -EINVAL
    depth = state.definition.value_size // 8
    skip = args[2] & BPF_F_SKIP_FIELD_MASK
    frames = session.env.stack[skip : skip + depth]
    if not frames:
        return -EFAULT
    value = b"".join(struct.pack("<Q", ip) for ip in frames).ljust(state.definition.value_size, b"\0")
    stack_id = (hash(tuple(frames)) & 0x7FFFFFFF) % max(state.definition.max_entries, 1)
    key = stack_id.to_bytes(4, "little")
    existing = state.lookup(key, 0)
    if existing is not None and bytes(existing.data) != value and not args[2] & BPF_F_REUSE_STACKID:
        return -17  # -EEXIST: a different stack already holds this id
    state.update(key, value, 0, 0)
    return stack_id


def get_stack(machine: "Machine", pc: int, args: list) -> int:
    _ctx, dst, size, flags = args[0], args[1], args[2], args[3]
    if flags & ~GET_STACK_FLAGS or size % 8:
        _write(machine, pc, "get_stack", 2, dst, bytes(size))  # the kernel clears the buffer
        return -EINVAL
    frames = _session(machine).env.stack[flags & BPF_F_SKIP_FIELD_MASK :]
    data = b"".join(struct.pack("<Q", ip) for ip in frames[: size // 8])
    _write(machine, pc, "get_stack", 2, dst, data + bytes(size - len(data)))
    return len(data)


def override_return(machine: "Machine", pc: int, args: list) -> int:
    session = _session(machine)
    session.override_return(args[1])
    session.emit({"kind": "override_return", "value": args[1]})
    return 0


def probe_write_user(machine: "Machine", pc: int, args: list) -> int:
    dst, src, size = args[0], args[1], args[2]
    data = _read(machine, pc, "probe_write_user", 2, src, size)
    session = _session(machine)
    if dst >= USER_SPACE_END or not session.kmem.write(dst, data):
        return -EFAULT
    session.emit({"kind": "probe_write_user", "address": dst, "data": data.hex()})
    return 0


def tail_call(machine: "Machine", pc: int, args: list) -> int:
    state = _map(machine, pc, "tail_call", args[1], 2)
    if state.type != PROG_ARRAY:
        raise _fault(pc, "tail_call", f"map {state.name} is not a program array")
    session = _session(machine)
    index = args[2] & 0xFFFFFFFF
    if index >= state.definition.max_entries or session.tail_calls >= MAX_TAIL_CALL_CNT:
        return 0  # a failed tail call falls through to the next instruction
    region = state.lookup(index.to_bytes(4, "little"), 0)
    if region is None:
        return 0
    program_index = int.from_bytes(region.data[:4], "little")
    if program_index == 0 or program_index > len(session.programs):
        return 0  # the slot holds no program (values are 1-based program numbers; 0 is empty)
    raise TailCall(program_index - 1)


# -- ring buffer ----------------------------------------------------------------------------


def ringbuf_output(machine: "Machine", pc: int, args: list) -> int:
    state = _map(machine, pc, "ringbuf_output", args[0])
    if state.type != RINGBUF:
        raise _fault(pc, "ringbuf_output", f"map {state.name} is not a ring buffer")
    if args[3] & ~RINGBUF_WAKEUP_FLAGS:
        return -EINVAL
    data = _read(machine, pc, "ringbuf_output", 2, args[1], args[2])
    return _session(machine).ringbuf(state).output(data)


def ringbuf_reserve(machine: "Machine", pc: int, args: list) -> int:
    state = _map(machine, pc, "ringbuf_reserve", args[0])
    if state.type != RINGBUF:
        raise _fault(pc, "ringbuf_reserve", f"map {state.name} is not a ring buffer")
    return _session(machine).ringbuf(state).reserve(args[1], args[2])


def _ringbuf_finish(machine: "Machine", pc: int, args: list, name: str, submit: bool) -> int:
    session = _session(machine)
    if not session.finish_ringbuf_record(args[0], submit):
        raise _fault(pc, name, f"r1 = {args[0]:#x} is not a record from ringbuf_reserve that is still open")
    return 0


def ringbuf_submit(machine: "Machine", pc: int, args: list) -> int:
    return _ringbuf_finish(machine, pc, args, "ringbuf_submit", True)


def ringbuf_discard(machine: "Machine", pc: int, args: list) -> int:
    return _ringbuf_finish(machine, pc, args, "ringbuf_discard", False)


# -- the registry --------------------------------------------------------------------------

_MEM_RO = A.PTR_TO_MEM
_SIZE = A.CONST_SIZE_OR_ZERO

_SPECS: list[tuple[str, Any, RetType, tuple[A, ...], bool]] = [
    ("map_lookup_elem", map_lookup_elem, RetType.PTR_TO_MAP_VALUE_OR_NULL, (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY), False),
    ("map_update_elem", map_update_elem, RetType.INTEGER,
     (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY, A.PTR_TO_MAP_VALUE, A.ANYTHING), False),
    ("map_delete_elem", map_delete_elem, RetType.INTEGER, (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY), False),
    ("probe_read", probe_read, RetType.INTEGER, (A.PTR_TO_UNINIT_MEM, _SIZE, A.ANYTHING), True),
    ("get_current_pid_tgid", get_current_pid_tgid, RetType.INTEGER, (), False),
    ("ktime_get_ns", ktime_get_ns, RetType.INTEGER, (), False),
    ("perf_event_output", perf_event_output, RetType.INTEGER,
     (A.PTR_TO_CTX, A.CONST_MAP_PTR, A.ANYTHING, _MEM_RO, _SIZE), True),
    ("get_current_comm", get_current_comm, RetType.INTEGER, (A.PTR_TO_UNINIT_MEM, A.CONST_SIZE), False),
    ("probe_read_kernel", probe_read_kernel, RetType.INTEGER, (A.PTR_TO_UNINIT_MEM, _SIZE, A.ANYTHING), True),
    ("get_current_uid_gid", get_current_uid_gid, RetType.INTEGER, (), False),
    ("ktime_get_boot_ns", ktime_get_boot_ns, RetType.INTEGER, (), False),
    ("get_stackid", get_stackid, RetType.INTEGER, (A.PTR_TO_CTX, A.CONST_MAP_PTR, A.ANYTHING), True),
    ("probe_read_kernel_str", probe_read_kernel_str, RetType.INTEGER, (A.PTR_TO_UNINIT_MEM, _SIZE, A.ANYTHING), True),
    ("get_smp_processor_id", get_smp_processor_id, RetType.INTEGER, (), False),
    ("current_task_under_cgroup", current_task_under_cgroup, RetType.INTEGER, (A.CONST_MAP_PTR, A.ANYTHING), False),
    ("probe_read_user", probe_read_user, RetType.INTEGER, (A.PTR_TO_UNINIT_MEM, _SIZE, A.ANYTHING), True),
    ("trace_printk", trace_printk, RetType.INTEGER, (_MEM_RO, A.CONST_SIZE), True),
    ("get_current_task", get_current_task, RetType.INTEGER, (), True),
    ("probe_read_user_str", probe_read_user_str, RetType.INTEGER, (A.PTR_TO_UNINIT_MEM, _SIZE, A.ANYTHING), True),
    ("override_return", override_return, RetType.INTEGER, (A.PTR_TO_CTX, A.ANYTHING), True),
    ("ringbuf_reserve", ringbuf_reserve, RetType.PTR_TO_MEM_OR_NULL, (A.CONST_MAP_PTR, A.CONST_ALLOC_SIZE_OR_ZERO, A.ANYTHING), False),
    ("ringbuf_submit", ringbuf_submit, RetType.VOID, (A.PTR_TO_ALLOC_MEM, A.ANYTHING), False),
    ("ringbuf_discard", ringbuf_discard, RetType.VOID, (A.PTR_TO_ALLOC_MEM, A.ANYTHING), False),
    ("ringbuf_output", ringbuf_output, RetType.INTEGER, (A.CONST_MAP_PTR, _MEM_RO, _SIZE, A.ANYTHING), False),
    ("get_prandom_u32", get_prandom_u32, RetType.INTEGER, (), False),
    ("tail_call", tail_call, RetType.VOID, (A.PTR_TO_CTX, A.CONST_MAP_PTR, A.ANYTHING), False),
    ("perf_event_read", perf_event_read, RetType.INTEGER, (A.CONST_MAP_PTR, A.ANYTHING), True),
    ("probe_write_user", probe_write_user, RetType.INTEGER, (A.ANYTHING, _MEM_RO, A.CONST_SIZE), True),
    ("get_stack", get_stack, RetType.INTEGER, (A.PTR_TO_CTX, A.PTR_TO_UNINIT_MEM, _SIZE, A.ANYTHING), True),
    ("get_current_cgroup_id", get_current_cgroup_id, RetType.INTEGER, (), False),
    ("probe_read_str", probe_read_str, RetType.INTEGER, (A.PTR_TO_UNINIT_MEM, _SIZE, A.ANYTHING), True),
    ("jiffies64", jiffies64, RetType.INTEGER, (), False),
    ("perf_event_read_value", perf_event_read_value, RetType.INTEGER,
     (A.CONST_MAP_PTR, A.ANYTHING, A.PTR_TO_UNINIT_MEM, A.CONST_SIZE), True),
    ("perf_prog_read_value", perf_prog_read_value, RetType.INTEGER,
     (A.PTR_TO_CTX, A.PTR_TO_UNINIT_MEM, A.CONST_SIZE), True),
]

# The seed kernel's prototypes of its four helpers (Linux 4.1, kprobe_prog_func_proto)
SEED_ARGS: dict[str, tuple[A, ...]] = {
    "map_lookup_elem": (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY),
    "map_update_elem": (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY, A.PTR_TO_MAP_VALUE, A.ANYTHING),
    "map_delete_elem": (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY),
    "probe_read": (A.PTR_TO_STACK, A.CONST_STACK_SIZE, A.ANYTHING),
}


def kprobe_helpers() -> HelperRegistry:
    registry = HelperRegistry("kprobe")
    for name, impl, ret, args, gpl_only in _SPECS:
        registry.add(Helper(HELPER_IDS[name], name, impl, ret, args, gpl_only))
    return registry
