"""The helpers a kprobe program may call, as records (prototype + implementation).

The seed's four come first, then those real kprobe programs use, in the order of
`shared/corpus/helper_usage.tsv`. Prototypes follow Linux 6.18's `bpf_func_proto`s; the seed's
own prototypes for the first four (Linux 4.1) are kept in `SEED_ARGS`. Helpers that read the world
(time, pid, comm, current task) read the runtime's `Environment`."""

from __future__ import annotations

import re
import struct
from typing import TYPE_CHECKING, Any

from . import bprintf
from .faults import FaultKind, VmFault
from .helper_ids import HELPER_IDS
from .helpers import ArgType as A
from .helpers import Helper, HelperContext, HelperExit, HelperRegistry, RetType
from .isa.insn import to_signed
from .map_kinds import map_helper_mismatch
from .maps import (
    BPF_LOCAL_STORAGE_GET_F_CREATE,
    CGROUP_ARRAY,
    E2BIG,
    EFAULT,
    EINVAL,
    ENOENT,
    PERF_EVENT_ARRAY,
    PROG_ARRAY,
    QUEUE,
    RINGBUF,
    STACK,
    STACK_TRACE,
    TASK_STORAGE,
    MapState,
)
from .memory import RegionKind
from .world import USER_SPACE_END

if TYPE_CHECKING:
    from .kprobe import KprobeSession

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


def _session(machine: HelperContext) -> "KprobeSession":
    return machine.runtime


def _fault(pc: int, helper: str, message: str) -> VmFault:
    return VmFault(pc, FaultKind.HELPER_ARGUMENT, f"{helper}: {message}")


def _not_context(machine: HelperContext, pc: int, helper: str, reg: int, address: int) -> None:
    """The context is never memory a helper reads or writes (the kernel's rule for helper memory)."""
    region = machine.space.region_at(address)
    if region is not None and region.kind == RegionKind.CONTEXT:
        raise _fault(pc, helper, f"r{reg} = {address:#x} points into the context, which is not memory helpers take")


def _read(machine: HelperContext, pc: int, helper: str, reg: int, address: int, size: int) -> bytes:
    _not_context(machine, pc, helper, reg, address)
    try:
        return machine.space.read_bytes(pc, address, size)
    except VmFault as exc:
        raise _fault(pc, helper, f"r{reg} = {address:#x} must point to {size} readable bytes: {exc.message}") from None


def _write(machine: HelperContext, pc: int, helper: str, reg: int, address: int, data: bytes) -> None:
    _not_context(machine, pc, helper, reg, address)
    try:
        machine.space.write_bytes(pc, address, data)
    except VmFault as exc:
        raise _fault(pc, helper, f"r{reg} = {address:#x} must point to {len(data)} writable bytes: {exc.message}") from None


def _map(machine: HelperContext, pc: int, helper: str, handle: int, reg: int = 1) -> MapState:
    state = _session(machine).map_for_handle(handle)
    if state is None:
        raise _fault(pc, helper, f"r{reg} = {handle:#x} is not a map pointer; load it with lddw from a map")
    mismatch = map_helper_mismatch(state.definition.type, helper)
    if mismatch:
        raise _fault(pc, helper, f"r{reg} is map {state.name}, but {mismatch}")
    return state


# -- the seed's four --------------------------------------------------------------


def map_lookup_elem(machine: HelperContext, pc: int, args: list) -> int:
    state = _map(machine, pc, "map_lookup_elem", args[0])
    key = _read(machine, pc, "map_lookup_elem", 2, args[1], state.definition.key_size)
    if _session(machine).env.call_fails("map_lookup_elem") and not state.is_array:  # (an array's elements stay)
        return 0
    region = state.lookup(key, _session(machine).cpu)
    return region.base if region is not None else 0


def map_update_elem(machine: HelperContext, pc: int, args: list) -> int:
    state = _map(machine, pc, "map_update_elem", args[0])
    key = _read(machine, pc, "map_update_elem", 2, args[1], state.definition.key_size)
    value = _read(machine, pc, "map_update_elem", 3, args[2], state.definition.value_size)
    _session(machine).on_helper("map_update_elem")
    return state.update(key, value, args[3], _session(machine).cpu)


def map_delete_elem(machine: HelperContext, pc: int, args: list) -> int:
    state = _map(machine, pc, "map_delete_elem", args[0])
    key = _read(machine, pc, "map_delete_elem", 2, args[1], state.definition.key_size)
    return state.delete(key)


def _probe_read(machine: HelperContext, pc: int, args: list, name: str, space: str, string: bool) -> int:
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


# the address space each probe read may read: "kernel" reads fail on user addresses and "user"
# reads on kernel ones (the x86_64 split of interp.world.USER_SPACE_END); the old reads take either
READ_SPACES = {"probe_read": "any", "probe_read_str": "any", "probe_read_kernel": "kernel",
               "probe_read_kernel_str": "kernel", "probe_read_user": "user", "probe_read_user_str": "user"}


def _probe_reader(name: str) -> Any:
    """The helper `name` of the probe_read family: its address space, and a string read or not."""
    space, string = READ_SPACES[name], name.endswith("_str")

    def read(machine: HelperContext, pc: int, args: list) -> int:
        return _probe_read(machine, pc, args, name, space, string)

    read.__name__ = name
    return read


probe_read, probe_read_str = _probe_reader("probe_read"), _probe_reader("probe_read_str")
probe_read_kernel, probe_read_kernel_str = _probe_reader("probe_read_kernel"), _probe_reader("probe_read_kernel_str")
probe_read_user, probe_read_user_str = _probe_reader("probe_read_user"), _probe_reader("probe_read_user_str")


# -- the world ----------------------------------------------------------------------------


def ktime_get_ns(machine: HelperContext, pc: int, args: list) -> int:
    return _session(machine).env.next_ktime()


def ktime_get_boot_ns(machine: HelperContext, pc: int, args: list) -> int:
    return _session(machine).env.next_boot_ns()


def jiffies64(machine: HelperContext, pc: int, args: list) -> int:
    return _session(machine).env.jiffies


def get_current_pid_tgid(machine: HelperContext, pc: int, args: list) -> int:
    env = _session(machine).env
    return (env.tgid << 32) | (env.pid & 0xFFFFFFFF)


def get_current_uid_gid(machine: HelperContext, pc: int, args: list) -> int:
    env = _session(machine).env
    return (env.gid << 32) | (env.uid & 0xFFFFFFFF)


def get_current_comm(machine: HelperContext, pc: int, args: list) -> int:
    dst, size = args[0], args[1]
    if size == 0:
        return -EINVAL
    comm = _session(machine).env.comm[: size - 1]
    _write(machine, pc, "get_current_comm", 1, dst, comm + bytes(size - len(comm)))
    return 0


def get_current_task(machine: HelperContext, pc: int, args: list) -> int:
    return _session(machine).env.current_task


def get_current_cgroup_id(machine: HelperContext, pc: int, args: list) -> int:
    return _session(machine).env.cgroup_id


def get_smp_processor_id(machine: HelperContext, pc: int, args: list) -> int:
    return _session(machine).cpu


def get_prandom_u32(machine: HelperContext, pc: int, args: list) -> int:
    return _session(machine).env.next_random()


def current_task_under_cgroup(machine: HelperContext, pc: int, args: list) -> int:
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


def trace_printk(machine: HelperContext, pc: int, args: list) -> int:
    fmt_ptr, fmt_size = args[0], args[1]
    fmt = _read(machine, pc, "trace_printk", 1, fmt_ptr, fmt_size)
    if not fmt.endswith(b"\0") and b"\0" not in fmt:
        return -EINVAL  # the format must be NUL-terminated within fmt_size
    session = _session(machine)
    line = _format_printk(session, fmt, args[2:5])
    session.emit({"kind": "trace_printk", "text": line})
    return len(line) + 1


def perf_event_output(machine: HelperContext, pc: int, args: list) -> int:
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


def perf_event_read(machine: HelperContext, pc: int, args: list) -> int:
    state = _map(machine, pc, "perf_event_read", args[0])
    session = _session(machine)
    index = session.cpu if (args[1] & BPF_F_INDEX_MASK) == BPF_F_CURRENT_CPU else args[1] & BPF_F_INDEX_MASK
    if index >= state.definition.max_entries:
        return -E2BIG
    counter = session.env.perf_counters.get(index)
    return counter if counter is not None else -ENOENT


def _read_value(machine: HelperContext, pc: int, name: str, index: int, dst: int, size: int) -> int:
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


def perf_event_read_value(machine: HelperContext, pc: int, args: list) -> int:
    state = _map(machine, pc, "perf_event_read_value", args[0])
    session = _session(machine)
    index = session.cpu if (args[1] & BPF_F_INDEX_MASK) == BPF_F_CURRENT_CPU else args[1] & BPF_F_INDEX_MASK
    if index >= state.definition.max_entries:
        return -E2BIG
    return _read_value(machine, pc, "perf_event_read_value", index, args[2], args[3])


def perf_prog_read_value(machine: HelperContext, pc: int, args: list) -> int:
    session = _session(machine)
    return _read_value(machine, pc, "perf_prog_read_value", session.cpu, args[1], args[2])


def get_stackid(machine: HelperContext, pc: int, args: list) -> int:
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


def get_stack(machine: HelperContext, pc: int, args: list) -> int:
    _ctx, dst, size, flags = args[0], args[1], args[2], args[3]
    if flags & ~GET_STACK_FLAGS or size % 8:
        _write(machine, pc, "get_stack", 2, dst, bytes(size))  # the kernel clears the buffer
        return -EINVAL
    frames = _session(machine).env.stack[flags & BPF_F_SKIP_FIELD_MASK :]
    data = b"".join(struct.pack("<Q", ip) for ip in frames[: size // 8])
    _write(machine, pc, "get_stack", 2, dst, data + bytes(size - len(data)))
    return len(data)


def override_return(machine: HelperContext, pc: int, args: list) -> int:
    session = _session(machine)
    session.override_return(args[1])
    session.emit({"kind": "override_return", "value": args[1]})
    return 0


def probe_write_user(machine: HelperContext, pc: int, args: list) -> int:
    dst, src, size = args[0], args[1], args[2]
    data = _read(machine, pc, "probe_write_user", 2, src, size)
    session = _session(machine)
    if dst >= USER_SPACE_END or not session.kmem.write(dst, data):
        return -EFAULT
    session.emit({"kind": "probe_write_user", "address": dst, "data": data.hex()})
    return 0


def tail_call(machine: HelperContext, pc: int, args: list) -> int:
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


def ringbuf_output(machine: HelperContext, pc: int, args: list) -> int:
    state = _map(machine, pc, "ringbuf_output", args[0])
    if state.type != RINGBUF:
        raise _fault(pc, "ringbuf_output", f"map {state.name} is not a ring buffer")
    if args[3] & ~RINGBUF_WAKEUP_FLAGS:
        return -EINVAL
    data = _read(machine, pc, "ringbuf_output", 2, args[1], args[2])
    return _session(machine).ringbuf(state).output(data)


def ringbuf_reserve(machine: HelperContext, pc: int, args: list) -> int:
    state = _map(machine, pc, "ringbuf_reserve", args[0])
    if state.type != RINGBUF:
        raise _fault(pc, "ringbuf_reserve", f"map {state.name} is not a ring buffer")
    if _session(machine).env.call_fails("ringbuf_reserve"):
        return 0
    return _session(machine).ringbuf(state).reserve(args[1], args[2])


def _ringbuf_finish(machine: HelperContext, pc: int, args: list, name: str, submit: bool) -> int:
    session = _session(machine)
    if not session.finish_ringbuf_record(args[0], submit):
        raise _fault(pc, name, f"r1 = {args[0]:#x} is not a record from ringbuf_reserve that is still open")
    return 0


def ringbuf_submit(machine: HelperContext, pc: int, args: list) -> int:
    return _ringbuf_finish(machine, pc, args, "ringbuf_submit", True)


def ringbuf_discard(machine: HelperContext, pc: int, args: list) -> int:
    return _ringbuf_finish(machine, pc, args, "ringbuf_discard", False)


# -- more of the world ------------------------------------------------------------------------


def ktime_get_tai_ns(machine: HelperContext, pc: int, args: list) -> int:
    return _session(machine).env.next_tai()


def get_numa_node_id(machine: HelperContext, pc: int, args: list) -> int:
    return _session(machine).env.numa_node


def get_cgroup_classid(machine: HelperContext, pc: int, args: list) -> int:
    return _session(machine).env.cgroup_classid & 0xFFFFFFFF


def get_current_ancestor_cgroup_id(machine: HelperContext, pc: int, args: list) -> int:
    level = to_signed(args[0], 32)
    path = _session(machine).env.cgroup_path()
    return path[level] if 0 <= level < len(path) else 0  # no ancestor at that level: 0


def get_func_ip(machine: HelperContext, pc: int, args: list) -> int:
    return _session(machine).env.func_ip


def get_attach_cookie(machine: HelperContext, pc: int, args: list) -> int:
    return _session(machine).env.attach_cookie


def get_current_task_btf(machine: HelperContext, pc: int, args: list) -> int:
    return _session(machine).env.current_task


def _current_task(machine: HelperContext, pc: int, helper: str, task: int, reg: int) -> None:
    """Only the current task is known to the environment: another task's state cannot be made up."""
    current = _session(machine).env.current_task
    if task != current:
        raise VmFault(pc, FaultKind.UNSUPPORTED, f"{helper}: r{reg} = {task:#x} is not the current task "
                      f"({current:#x}), the only task the environment describes; cannot emulate another task")


def task_pt_regs(machine: HelperContext, pc: int, args: list) -> int:
    _current_task(machine, pc, "task_pt_regs", args[0], 1)
    return _session(machine).env.task_pt_regs


def get_task_stack(machine: HelperContext, pc: int, args: list) -> int:
    _current_task(machine, pc, "get_task_stack", args[0], 1)
    return get_stack(machine, pc, args)


def get_ns_current_pid_tgid(machine: HelperContext, pc: int, args: list) -> int:
    dev, ino, dst, size = args[0], args[1], args[2], args[3]
    env = _session(machine).env
    # struct bpf_pidns_info { u32 pid; u32 tgid; }; on any mismatch the kernel zeroes it
    if size != 8 or dev >> 32 or dev != env.pidns_dev or ino != env.pidns_ino:
        _write(machine, pc, "get_ns_current_pid_tgid", 3, dst, bytes(size))
        return -EINVAL
    pid = env.ns_pid if env.ns_pid is not None else env.pid
    tgid = env.ns_tgid if env.ns_tgid is not None else env.tgid
    _write(machine, pc, "get_ns_current_pid_tgid", 3, dst, struct.pack("<II", pid & 0xFFFFFFFF, tgid & 0xFFFFFFFF))
    return 0


BRANCH_ENTRY_SIZE = 24  # struct perf_branch_entry: from, to, and a word of flags
BPF_F_GET_BRANCH_RECORDS_SIZE = 1


def _branch_bytes(records: list[list[int]]) -> bytes:
    return b"".join(struct.pack("<QQQ", *(v & 0xFFFF_FFFF_FFFF_FFFF for v in record)) for record in records)


def read_branch_records(machine: HelperContext, pc: int, args: list) -> int:
    dst, size, flags = args[1], args[2], args[3]
    records = _session(machine).env.branch_records
    if flags & ~BPF_F_GET_BRANCH_RECORDS_SIZE:
        return -EINVAL
    if not records:
        return -ENOENT  # the event samples no branch stack
    if flags & BPF_F_GET_BRANCH_RECORDS_SIZE:
        return len(records) * BRANCH_ENTRY_SIZE
    if dst == 0 or size % BRANCH_ENTRY_SIZE:
        return -EINVAL
    data = _branch_bytes(records)[:size]
    _write(machine, pc, "read_branch_records", 2, dst, data)
    return len(data)


def get_branch_snapshot(machine: HelperContext, pc: int, args: list) -> int:
    dst, size, flags = args[0], args[1], args[2]
    records = _session(machine).env.branch_records
    if flags:
        return -EINVAL
    if not records:
        return -ENOENT  # no last-branch-record hardware, or nothing taken
    whole = size - size % BRANCH_ENTRY_SIZE
    data = _branch_bytes(records)[:whole]
    _write(machine, pc, "get_branch_snapshot", 1, dst, data + bytes(size - len(data)))
    return len(data)


# -- signals: an effect outside the program, recorded as output ------------------------------

_NSIG = 64
EPERM = 1


def _send_signal(machine: HelperContext, pc: int, args: list, scope: str) -> int:
    sig = args[0] & 0xFFFFFFFF
    session = _session(machine)
    if sig > _NSIG:
        return -EINVAL
    if session.env.tgid == 1:
        return -EPERM  # never to init
    target = session.env.tgid if scope == "process" else session.env.pid
    session.output.append({"kind": "send_signal", "signal": sig, "to": scope, "pid": target})
    return 0


def send_signal(machine: HelperContext, pc: int, args: list) -> int:
    return _send_signal(machine, pc, args, "process")


def send_signal_thread(machine: HelperContext, pc: int, args: list) -> int:
    return _send_signal(machine, pc, args, "thread")


# -- strings ----------------------------------------------------------------------------------

ERANGE = 34
_SPACE = b" \t\n\v\f\r\xa0"  # the kernel's isspace (its ctype table counts 0xa0 too)


def _strtoull(text: bytes, flags: int) -> tuple[int, int, bool]:
    """(consumed, value, negative) as the kernel's __bpf_strtoull, or (-errno, 0, False)."""
    base = flags & 0x1F
    if base not in (0, 8, 10, 16) or flags & ~0x1F or not text:
        return -EINVAL, 0, False
    i = 0
    while i < len(text) and text[i] in _SPACE:
        i += 1
    negative = i < len(text) and text[i] == ord("-")
    i += negative
    if i == len(text):
        return -EINVAL, 0, False
    digits = text[i : i + 63].split(b"\0", 1)[0] + b"\0\0\0"  # the kernel parses a NUL-terminated copy
    start = 0
    if base == 0:
        if digits[0] == ord("0"):
            base = 16 if digits[1] in b"xX" and chr(digits[2]) in "0123456789abcdefABCDEF" else 8
        else:
            base = 10
    if base == 16 and digits[0] == ord("0") and digits[1] in b"xX":
        start = 2
    value, n, overflow = 0, start, False
    while True:
        c = chr(digits[n]).lower()
        digit = int(c, 16) if c in "0123456789abcdef" else 99
        if digit >= base:
            break
        value = value * base + digit
        if value >> 64:
            overflow = True
            value &= 0xFFFF_FFFF_FFFF_FFFF
        n += 1
    if overflow:
        return -ERANGE, 0, False
    if n == start:
        return -EINVAL, 0, False
    return i + n, value, negative


def _strto(machine: HelperContext, pc: int, args: list, name: str, signed: bool) -> int:
    buf, size, flags, res = args[0], args[1], args[2], args[3]
    text = _read(machine, pc, name, 1, buf, size)
    _write(machine, pc, name, 4, res, bytes(8))  # the result is 0 unless the parse succeeds
    consumed, value, negative = _strtoull(text, flags)
    if consumed < 0:
        return consumed
    if signed:
        result = (-value) & 0xFFFF_FFFF_FFFF_FFFF if negative else value
        if (negative and value and result >> 63 == 0) or (not negative and value >> 63) or (negative and value > 1 << 63):
            return -ERANGE
    else:
        if negative:
            return -EINVAL
        result = value
    _write(machine, pc, name, 4, res, result.to_bytes(8, "little"))
    return consumed


def strtol(machine: HelperContext, pc: int, args: list) -> int:
    return _strto(machine, pc, args, "strtol", True)


def strtoul(machine: HelperContext, pc: int, args: list) -> int:
    return _strto(machine, pc, args, "strtoul", False)


def strncmp(machine: HelperContext, pc: int, args: list) -> int:
    s1 = _read(machine, pc, "strncmp", 1, args[0], args[1])
    s2 = _session(machine).read_c_string(args[2])
    if s2 is None:
        raise _fault(pc, "strncmp", f"r3 = {args[2]:#x} must point to a NUL-terminated string")
    for i, a in enumerate(s1):  # strncmp(s1, s2, s1_sz)
        b = s2[i] if i < len(s2) else 0
        if a != b:
            return -1 if a < b else 1
        if a == 0:
            return 0
    return 0


def _bprintf_args(machine: HelperContext, pc: int, name: str, reg: int, data: int, size: int) -> list[int] | None:
    if size % 8 or size > 8 * bprintf.MAX_ARGS or (data == 0 and size):
        return None
    raw = _read(machine, pc, name, reg, data, size) if size else b""
    return [int.from_bytes(raw[i : i + 8], "little") for i in range(0, size, 8)]


def _render(session: "KprobeSession", fmt: bytes, values: list[int]) -> str:
    return bprintf.render(fmt, values, lambda a: session.read_string(a, 256),
                          lambda a, n: session.read_memory(a, n, "any"))


def snprintf(machine: HelperContext, pc: int, args: list) -> int:
    dst, size, fmt_ptr, data, data_len = args
    session = _session(machine)
    fmt = session.read_c_string(fmt_ptr)
    values = _bprintf_args(machine, pc, "snprintf", 4, data, data_len)
    if fmt is None or values is None:
        return -EINVAL
    try:
        text = _render(session, fmt, values).encode()
    except bprintf.FormatError:
        return -EINVAL
    if size:
        out = text[: size - 1] + b"\0"
        _write(machine, pc, "snprintf", 1, dst, out)
    return len(text) + 1


def trace_vprintk(machine: HelperContext, pc: int, args: list) -> int:
    fmt_ptr, fmt_size, data, data_len = args[0], args[1], args[2], args[3]
    fmt = _read(machine, pc, "trace_vprintk", 1, fmt_ptr, fmt_size)
    values = _bprintf_args(machine, pc, "trace_vprintk", 3, data, data_len)
    if b"\0" not in fmt or values is None:
        return -EINVAL
    session = _session(machine)
    try:
        line = _render(session, fmt, values)
    except bprintf.FormatError:
        return -EINVAL
    session.output.append({"kind": "trace_printk", "text": line})
    return len(line) + 1


# -- more maps --------------------------------------------------------------------------------


def map_push_elem(machine: HelperContext, pc: int, args: list) -> int:
    state = _queue(machine, pc, "map_push_elem", args[0])
    value = _read(machine, pc, "map_push_elem", 2, args[1], state.definition.value_size)
    return state.push(value, args[2])


def _queue(machine: HelperContext, pc: int, helper: str, handle: int) -> MapState:
    state = _map(machine, pc, helper, handle)
    if state.type not in (QUEUE, STACK):
        raise _fault(pc, helper, f"map {state.name} is a {state.definition.type_name} map, not a queue or stack")
    return state


def _take(machine: HelperContext, pc: int, args: list, name: str, remove: bool) -> int:
    state = _queue(machine, pc, name, args[0])
    value = state.take(remove)
    _write(machine, pc, name, 2, args[1], value if value is not None else bytes(state.definition.value_size))
    return 0 if value is not None else -ENOENT


def map_pop_elem(machine: HelperContext, pc: int, args: list) -> int:
    return _take(machine, pc, args, "map_pop_elem", True)


def map_peek_elem(machine: HelperContext, pc: int, args: list) -> int:
    return _take(machine, pc, args, "map_peek_elem", False)


def map_lookup_percpu_elem(machine: HelperContext, pc: int, args: list) -> int:
    state = _map(machine, pc, "map_lookup_percpu_elem", args[0])
    if not state.per_cpu:
        raise _fault(pc, "map_lookup_percpu_elem", f"map {state.name} is not a per-CPU map")
    cpu = args[2] & 0xFFFFFFFF
    if cpu >= state.ncpus:
        return 0  # no such CPU: NULL
    key = _read(machine, pc, "map_lookup_percpu_elem", 2, args[1], state.definition.key_size)
    region = state.lookup(key, cpu)
    return region.base if region is not None else 0


def _task_storage(machine: HelperContext, pc: int, helper: str, handle: int) -> MapState:
    state = _map(machine, pc, helper, handle)
    if state.type != TASK_STORAGE:
        raise _fault(pc, helper, f"map {state.name} is a {state.definition.type_name} map, not task storage")
    return state


def task_storage_get(machine: HelperContext, pc: int, args: list) -> int:
    state = _task_storage(machine, pc, "task_storage_get", args[0])
    task, init, flags = args[1], args[2], args[3]
    if flags & ~BPF_LOCAL_STORAGE_GET_F_CREATE or task == 0:
        return 0
    _current_task(machine, pc, "task_storage_get", task, 2)
    value = _read(machine, pc, "task_storage_get", 3, init, state.definition.value_size) if init else None
    region = state.storage_get(task, value, bool(flags & BPF_LOCAL_STORAGE_GET_F_CREATE))
    return region.base if region is not None else 0


def task_storage_delete(machine: HelperContext, pc: int, args: list) -> int:
    state = _task_storage(machine, pc, "task_storage_delete", args[0])
    _current_task(machine, pc, "task_storage_delete", args[1], 2)
    return state.delete(args[1].to_bytes(8, "little"))


def ringbuf_query(machine: HelperContext, pc: int, args: list) -> int:
    state = _map(machine, pc, "ringbuf_query", args[0])
    if state.type != RINGBUF:
        raise _fault(pc, "ringbuf_query", f"map {state.name} is not a ring buffer")
    ring = _session(machine).ringbuf(state)
    # BPF_RB_AVAIL_DATA, BPF_RB_RING_SIZE, BPF_RB_CONS_POS, BPF_RB_PROD_POS: nothing here consumes records
    return {0: ring.used, 1: state.definition.max_entries, 2: 0, 3: ring.used}.get(args[1], 0)


# -- callbacks ------------------------------------------------------------------------------

BPF_MAX_LOOPS = 1 << 23  # the most iterations bpf_loop runs


def loop(machine: HelperContext, pc: int, args: list) -> int:
    """bpf_loop(nr_loops, callback_fn, callback_ctx, flags): the callback, a function of the
    program, called with (index, callback_ctx) until it returns non-zero or nr_loops (a u32) calls
    are made; the calls made. Flags other than 0 and more than BPF_MAX_LOOPS iterations are
    refused without a call."""
    from .image import CODE_BASE

    nr_loops, callback, context, flags = args[0] & 0xFFFF_FFFF, args[1], args[2], args[3]
    if flags:
        return -EINVAL
    if nr_loops > BPF_MAX_LOOPS:
        return -E2BIG
    offset = callback - CODE_BASE
    if offset < 0 or offset % 8:
        raise _fault(pc, "loop", f"r2 = {callback:#x} is not a function of the program")
    for index in range(nr_loops):
        # (r3-r5 are not arguments of the callback: unset, as the kernel's verifier has them)
        if machine.call_function(pc, offset // 8, [index, context, None, None, None]):  # type: ignore[attr-defined]
            return index + 1
    return nr_loops


# -- what cannot be emulated ------------------------------------------------------------------

_CANNOT = {
    "spin_lock": "a tracing program cannot hold a bpf_spin_lock (the kernel refuses maps with one)",
    "spin_unlock": "a tracing program cannot hold a bpf_spin_lock (the kernel refuses maps with one)",
    "snprintf_btf": "printing a kernel object by its BTF type needs the kernel's types and memory",
    "per_cpu_ptr": "per-CPU kernel variables (__ksym) are not part of the environment",
    "this_cpu_ptr": "per-CPU kernel variables (__ksym) are not part of the environment",
    "for_each_map_elem": "callbacks are not run by the interpreter",
    "find_vma": "callbacks are not run by the interpreter, and the task's memory map is not part of the environment",
    "user_ringbuf_drain": "callbacks are not run by the interpreter, and user ring buffers are not modelled",
    "timer_init": "timers run after the program, outside one firing",
    "timer_set_callback": "timers run after the program, outside one firing",
    "timer_start": "timers run after the program, outside one firing",
    "timer_cancel": "timers run after the program, outside one firing",
    "kptr_xchg": "referenced kernel pointers (kptrs) in map values are not modelled",
    "dynptr_from_mem": "dynptrs are not modelled",
    "ringbuf_reserve_dynptr": "dynptrs are not modelled",
    "ringbuf_submit_dynptr": "dynptrs are not modelled",
    "ringbuf_discard_dynptr": "dynptrs are not modelled",
    "dynptr_read": "dynptrs are not modelled",
    "dynptr_write": "dynptrs are not modelled",
    "dynptr_data": "dynptrs are not modelled",
    "cgrp_storage_get": "cgroup objects are not part of the environment",
    "cgrp_storage_delete": "cgroup objects are not part of the environment",
}


def _cannot_emulate(name: str) -> Any:
    reason = _CANNOT[name]

    def impl(machine: HelperContext, pc: int, args: list) -> int:
        raise VmFault(pc, FaultKind.UNSUPPORTED, f"{name}: cannot emulate: {reason}")

    impl.__name__ = name
    return impl


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
    # the rest of what the running kernel allows tracing programs (interp/data/linux-6.18-helpers.json)
    ("get_cgroup_classid", get_cgroup_classid, RetType.INTEGER, (), False),
    ("get_numa_node_id", get_numa_node_id, RetType.INTEGER, (), False),
    ("map_push_elem", map_push_elem, RetType.INTEGER, (A.CONST_MAP_PTR, A.PTR_TO_MAP_VALUE, A.ANYTHING), False),
    ("map_pop_elem", map_pop_elem, RetType.INTEGER, (A.CONST_MAP_PTR, A.PTR_TO_UNINIT_MAP_VALUE), False),
    ("map_peek_elem", map_peek_elem, RetType.INTEGER, (A.CONST_MAP_PTR, A.PTR_TO_UNINIT_MAP_VALUE), False),
    ("spin_lock", _cannot_emulate("spin_lock"), RetType.VOID, (A.PTR_TO_SPIN_LOCK,), False),
    ("spin_unlock", _cannot_emulate("spin_unlock"), RetType.VOID, (A.PTR_TO_SPIN_LOCK,), False),
    ("strtol", strtol, RetType.INTEGER, (_MEM_RO, A.CONST_SIZE, A.ANYTHING, A.PTR_TO_LONG), False),
    ("strtoul", strtoul, RetType.INTEGER, (_MEM_RO, A.CONST_SIZE, A.ANYTHING, A.PTR_TO_LONG), False),
    ("send_signal", send_signal, RetType.INTEGER, (A.ANYTHING,), False),
    ("send_signal_thread", send_signal_thread, RetType.INTEGER, (A.ANYTHING,), False),
    ("read_branch_records", read_branch_records, RetType.INTEGER,
     (A.PTR_TO_CTX, A.PTR_TO_UNINIT_MEM_OR_NULL, _SIZE, A.ANYTHING), True),
    ("get_ns_current_pid_tgid", get_ns_current_pid_tgid, RetType.INTEGER,
     (A.ANYTHING, A.ANYTHING, A.PTR_TO_UNINIT_MEM, A.CONST_SIZE), False),
    ("get_current_ancestor_cgroup_id", get_current_ancestor_cgroup_id, RetType.INTEGER, (A.ANYTHING,), False),
    ("ringbuf_query", ringbuf_query, RetType.INTEGER, (A.CONST_MAP_PTR, A.ANYTHING), False),
    ("get_task_stack", get_task_stack, RetType.INTEGER, (A.PTR_TO_BTF_TASK, A.PTR_TO_UNINIT_MEM, _SIZE, A.ANYTHING),
     False),
    ("snprintf_btf", _cannot_emulate("snprintf_btf"), RetType.INTEGER,
     (A.PTR_TO_UNINIT_MEM, A.CONST_SIZE, _MEM_RO, A.CONST_SIZE, A.ANYTHING), False),
    ("per_cpu_ptr", _cannot_emulate("per_cpu_ptr"), RetType.PTR_TO_MEM_OR_BTF_ID, (A.PTR_TO_PERCPU_BTF_ID, A.ANYTHING),
     False),
    ("this_cpu_ptr", _cannot_emulate("this_cpu_ptr"), RetType.PTR_TO_MEM_OR_BTF_ID, (A.PTR_TO_PERCPU_BTF_ID,), False),
    ("task_storage_get", task_storage_get, RetType.PTR_TO_MAP_VALUE_OR_NULL,
     (A.CONST_MAP_PTR, A.PTR_TO_BTF_TASK_OR_NULL, A.PTR_TO_MAP_VALUE_OR_NULL, A.ANYTHING), False),
    ("task_storage_delete", task_storage_delete, RetType.INTEGER, (A.CONST_MAP_PTR, A.PTR_TO_BTF_TASK), False),
    ("get_current_task_btf", get_current_task_btf, RetType.PTR_TO_BTF_TASK, (), True),
    ("for_each_map_elem", _cannot_emulate("for_each_map_elem"), RetType.INTEGER,
     (A.CONST_MAP_PTR, A.PTR_TO_FUNC, A.PTR_TO_STACK_OR_NULL, A.ANYTHING), False),
    ("snprintf", snprintf, RetType.INTEGER,
     (A.PTR_TO_UNINIT_MEM_OR_NULL, _SIZE, A.PTR_TO_CONST_STR, A.PTR_TO_MEM_OR_NULL, _SIZE), True),
    ("timer_init", _cannot_emulate("timer_init"), RetType.INTEGER, (A.PTR_TO_TIMER, A.CONST_MAP_PTR, A.ANYTHING), True),
    ("timer_set_callback", _cannot_emulate("timer_set_callback"), RetType.INTEGER, (A.PTR_TO_TIMER, A.PTR_TO_FUNC),
     True),
    ("timer_start", _cannot_emulate("timer_start"), RetType.INTEGER, (A.PTR_TO_TIMER, A.ANYTHING, A.ANYTHING), True),
    ("timer_cancel", _cannot_emulate("timer_cancel"), RetType.INTEGER, (A.PTR_TO_TIMER,), True),
    ("get_func_ip", get_func_ip, RetType.INTEGER, (A.PTR_TO_CTX,), True),
    ("get_attach_cookie", get_attach_cookie, RetType.INTEGER, (A.PTR_TO_CTX,), False),
    ("task_pt_regs", task_pt_regs, RetType.PTR_TO_BTF_PT_REGS, (A.PTR_TO_BTF_TASK,), True),
    ("get_branch_snapshot", get_branch_snapshot, RetType.INTEGER, (A.PTR_TO_UNINIT_MEM, _SIZE, A.ANYTHING), True),
    ("trace_vprintk", trace_vprintk, RetType.INTEGER, (_MEM_RO, A.CONST_SIZE, A.PTR_TO_MEM_OR_NULL, _SIZE), True),
    ("find_vma", _cannot_emulate("find_vma"), RetType.INTEGER,
     (A.PTR_TO_BTF_TASK, A.ANYTHING, A.PTR_TO_FUNC, A.PTR_TO_STACK_OR_NULL, A.ANYTHING), False),
    ("loop", loop, RetType.INTEGER, (A.ANYTHING, A.PTR_TO_FUNC, A.PTR_TO_STACK_OR_NULL, A.ANYTHING),
     False),
    ("strncmp", strncmp, RetType.INTEGER, (_MEM_RO, A.CONST_SIZE, A.PTR_TO_CONST_STR), False),
    ("kptr_xchg", _cannot_emulate("kptr_xchg"), RetType.PTR_TO_BTF_ID_OR_NULL,
     (A.KPTR_XCHG_DEST, A.PTR_TO_BTF_ID_OR_NULL_RELEASE), False),
    ("map_lookup_percpu_elem", map_lookup_percpu_elem, RetType.PTR_TO_MAP_VALUE_OR_NULL,
     (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY, A.ANYTHING), False),
    ("dynptr_from_mem", _cannot_emulate("dynptr_from_mem"), RetType.INTEGER,
     (A.PTR_TO_UNINIT_MEM, _SIZE, A.ANYTHING, A.PTR_TO_UNINIT_DYNPTR), False),
    ("ringbuf_reserve_dynptr", _cannot_emulate("ringbuf_reserve_dynptr"), RetType.INTEGER,
     (A.CONST_MAP_PTR, A.ANYTHING, A.ANYTHING, A.PTR_TO_UNINIT_DYNPTR), False),
    ("ringbuf_submit_dynptr", _cannot_emulate("ringbuf_submit_dynptr"), RetType.VOID, (A.PTR_TO_DYNPTR, A.ANYTHING),
     False),
    ("ringbuf_discard_dynptr", _cannot_emulate("ringbuf_discard_dynptr"), RetType.VOID, (A.PTR_TO_DYNPTR, A.ANYTHING),
     False),
    ("dynptr_read", _cannot_emulate("dynptr_read"), RetType.INTEGER,
     (A.PTR_TO_UNINIT_MEM, _SIZE, A.PTR_TO_DYNPTR, A.ANYTHING, A.ANYTHING), False),
    ("dynptr_write", _cannot_emulate("dynptr_write"), RetType.INTEGER,
     (A.PTR_TO_DYNPTR, A.ANYTHING, _MEM_RO, _SIZE, A.ANYTHING), False),
    ("dynptr_data", _cannot_emulate("dynptr_data"), RetType.PTR_TO_DYNPTR_MEM_OR_NULL,
     (A.PTR_TO_DYNPTR, A.ANYTHING, A.CONST_ALLOC_SIZE_OR_ZERO), False),
    ("ktime_get_tai_ns", ktime_get_tai_ns, RetType.INTEGER, (), False),
    ("user_ringbuf_drain", _cannot_emulate("user_ringbuf_drain"), RetType.INTEGER,
     (A.CONST_MAP_PTR, A.PTR_TO_FUNC, A.PTR_TO_STACK_OR_NULL, A.ANYTHING), False),
    ("cgrp_storage_get", _cannot_emulate("cgrp_storage_get"), RetType.PTR_TO_MAP_VALUE_OR_NULL,
     (A.CONST_MAP_PTR, A.PTR_TO_BTF_CGROUP, A.PTR_TO_MAP_VALUE_OR_NULL, A.ANYTHING), False),
    ("cgrp_storage_delete", _cannot_emulate("cgrp_storage_delete"), RetType.INTEGER,
     (A.CONST_MAP_PTR, A.PTR_TO_BTF_CGROUP), False),
]

# What is known of some integer results beyond their type: a NUMA node is below MAX_NUMNODES, at most
# 1 << CONFIG_NODES_SHIFT (10 at most on x86_64 and arm64)
# What is known of integer results: CPU numbers are below 8192, the largest NR_CPUS of x86_64 and
# arm64; NUMA nodes below 1024, the largest MAX_NUMNODES (a bound Linux 6.18's verifier does not use)
RET_RANGES: dict[str, tuple[int, int]] = {"get_numa_node_id": (0, (1 << 10) - 1),
                                          "get_smp_processor_id": (0, 8192 - 1)}
# results that are at most the size argument, or a negative errno
BOUNDED_BY_SIZE = frozenset({"probe_read_str", "probe_read_kernel_str", "probe_read_user_str", "get_stack",
                             "get_task_stack"})

# The seed kernel's prototypes of its four helpers (Linux 4.1, kprobe_prog_func_proto)
SEED_ARGS: dict[str, tuple[A, ...]] = {
    "map_lookup_elem": (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY),
    "map_update_elem": (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY, A.PTR_TO_MAP_VALUE, A.ANYTHING),
    "map_delete_elem": (A.CONST_MAP_PTR, A.PTR_TO_MAP_KEY),
    "probe_read": (A.PTR_TO_STACK, A.CONST_STACK_SIZE, A.ANYTHING),
}


# the helpers that change the map they are given (the kernel refuses them on BPF_F_RDONLY_PROG maps)
MAP_WRITERS = frozenset({"map_update_elem", "map_delete_elem", "map_push_elem", "map_pop_elem"})


def kprobe_helpers() -> HelperRegistry:
    registry = HelperRegistry("kprobe")
    for name, impl, ret, args, gpl_only in _SPECS:
        registry.add(Helper(HELPER_IDS[name], name, impl, ret, args, gpl_only, writes_map=name in MAP_WRITERS,
                            ret_range=RET_RANGES.get(name), ret_bounded_by_size=name in BOUNDED_BY_SIZE))
    return registry
