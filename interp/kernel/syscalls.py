"""The system calls of the running kernel that loading and attaching need, through ctypes:
`bpf()` with the attribute layouts of `union bpf_attr` it uses, `perf_event_open()` and `ioctl()`.

Every call either returns a value or raises `SyscallError`, an `OSError` that names the command
(`BPF_PROG_LOAD: Permission denied`). Structures carry the fields up to the last one used; the
kernel reads the rest as zero."""

from __future__ import annotations

import ctypes
import errno
import os
import platform
from typing import Any

# syscall numbers by machine (uname -m)
NR_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine())
NR_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241}.get(platform.machine())

# enum bpf_cmd
BPF_MAP_CREATE = 0
BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_GET_NEXT_KEY = 4
BPF_PROG_LOAD = 5
BPF_OBJ_GET_INFO_BY_FD = 15
BPF_BTF_LOAD = 18
BPF_MAP_FREEZE = 22
BPF_ENABLE_STATS = 32
COMMAND_NAMES = {
    BPF_MAP_CREATE: "BPF_MAP_CREATE", BPF_MAP_LOOKUP_ELEM: "BPF_MAP_LOOKUP_ELEM",
    BPF_MAP_UPDATE_ELEM: "BPF_MAP_UPDATE_ELEM", BPF_MAP_GET_NEXT_KEY: "BPF_MAP_GET_NEXT_KEY",
    BPF_PROG_LOAD: "BPF_PROG_LOAD", BPF_OBJ_GET_INFO_BY_FD: "BPF_OBJ_GET_INFO_BY_FD",
    BPF_MAP_FREEZE: "BPF_MAP_FREEZE", BPF_ENABLE_STATS: "BPF_ENABLE_STATS", BPF_BTF_LOAD: "BPF_BTF_LOAD",
}
BPF_STATS_RUN_TIME = 0
OBJ_NAME_LEN = 16  # BPF_OBJ_NAME_LEN

# perf_event_open and the perf ioctls
PERF_TYPE_TRACEPOINT = 2
PERF_FLAG_FD_CLOEXEC = 1 << 3
PERF_ATTR_DISABLED = 1 << 0  # the first bit of perf_event_attr's flag word
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_SET_BPF = 0x40042408


class SyscallError(OSError):
    """A system call refused: `errno` and the command it refused."""

    def __init__(self, err: int, command: str) -> None:
        super().__init__(err, f"{command}: {os.strerror(err)} ({errno.errorcode.get(err, err)})")
        self.command = command


class ProgLoadAttr(ctypes.Structure):
    """`union bpf_attr` for BPF_PROG_LOAD, up to `log_true_size` (Linux 6.4; zero for older kernels)."""

    _fields_ = [
        ("prog_type", ctypes.c_uint32), ("insn_cnt", ctypes.c_uint32), ("insns", ctypes.c_uint64),
        ("license", ctypes.c_uint64), ("log_level", ctypes.c_uint32), ("log_size", ctypes.c_uint32),
        ("log_buf", ctypes.c_uint64), ("kern_version", ctypes.c_uint32), ("prog_flags", ctypes.c_uint32),
        ("prog_name", ctypes.c_char * OBJ_NAME_LEN), ("prog_ifindex", ctypes.c_uint32),
        ("expected_attach_type", ctypes.c_uint32), ("prog_btf_fd", ctypes.c_uint32),
        ("func_info_rec_size", ctypes.c_uint32), ("func_info", ctypes.c_uint64), ("func_info_cnt", ctypes.c_uint32),
        ("line_info_rec_size", ctypes.c_uint32), ("line_info", ctypes.c_uint64), ("line_info_cnt", ctypes.c_uint32),
        ("attach_btf_id", ctypes.c_uint32), ("attach_prog_fd", ctypes.c_uint32), ("core_relo_cnt", ctypes.c_uint32),
        ("fd_array", ctypes.c_uint64), ("core_relos", ctypes.c_uint64), ("core_relo_rec_size", ctypes.c_uint32),
        ("log_true_size", ctypes.c_uint32),
    ]


class BtfLoadAttr(ctypes.Structure):
    _fields_ = [("btf", ctypes.c_uint64), ("btf_log_buf", ctypes.c_uint64), ("btf_size", ctypes.c_uint32),
                ("btf_log_size", ctypes.c_uint32), ("btf_log_level", ctypes.c_uint32)]


class MapCreateAttr(ctypes.Structure):
    _fields_ = [
        ("map_type", ctypes.c_uint32), ("key_size", ctypes.c_uint32), ("value_size", ctypes.c_uint32),
        ("max_entries", ctypes.c_uint32), ("map_flags", ctypes.c_uint32), ("inner_map_fd", ctypes.c_uint32),
        ("numa_node", ctypes.c_uint32), ("map_name", ctypes.c_char * OBJ_NAME_LEN),
    ]


class MapElemAttr(ctypes.Structure):
    """BPF_MAP_LOOKUP_ELEM / UPDATE_ELEM / GET_NEXT_KEY (`value` is `next_key` for the last)."""

    _fields_ = [("map_fd", ctypes.c_uint32), ("_pad", ctypes.c_uint32), ("key", ctypes.c_uint64),
                ("value", ctypes.c_uint64), ("flags", ctypes.c_uint64)]


class FdAttr(ctypes.Structure):
    """BPF_MAP_FREEZE (one fd)."""

    _fields_ = [("fd", ctypes.c_uint32)]


class InfoAttr(ctypes.Structure):
    _fields_ = [("bpf_fd", ctypes.c_uint32), ("info_len", ctypes.c_uint32), ("info", ctypes.c_uint64)]


class EnableStatsAttr(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32)]


class ProgInfo(ctypes.Structure):
    """`struct bpf_prog_info` up to `verified_insns` (Linux 5.16); the kernel fills what it has."""

    _fields_ = [
        ("type", ctypes.c_uint32), ("id", ctypes.c_uint32), ("tag", ctypes.c_uint8 * 8),
        ("jited_prog_len", ctypes.c_uint32), ("xlated_prog_len", ctypes.c_uint32),
        ("jited_prog_insns", ctypes.c_uint64), ("xlated_prog_insns", ctypes.c_uint64),
        ("load_time", ctypes.c_uint64), ("created_by_uid", ctypes.c_uint32), ("nr_map_ids", ctypes.c_uint32),
        ("map_ids", ctypes.c_uint64), ("name", ctypes.c_char * OBJ_NAME_LEN), ("ifindex", ctypes.c_uint32),
        ("gpl_compatible", ctypes.c_uint32), ("netns_dev", ctypes.c_uint64), ("netns_ino", ctypes.c_uint64),
        ("nr_jited_ksyms", ctypes.c_uint32), ("nr_jited_func_lens", ctypes.c_uint32),
        ("jited_ksyms", ctypes.c_uint64), ("jited_func_lens", ctypes.c_uint64), ("btf_id", ctypes.c_uint32),
        ("func_info_rec_size", ctypes.c_uint32), ("func_info", ctypes.c_uint64), ("nr_func_info", ctypes.c_uint32),
        ("nr_line_info", ctypes.c_uint32), ("line_info", ctypes.c_uint64), ("jited_line_info", ctypes.c_uint64),
        ("nr_jited_line_info", ctypes.c_uint32), ("line_info_rec_size", ctypes.c_uint32),
        ("jited_line_info_rec_size", ctypes.c_uint32), ("nr_prog_tags", ctypes.c_uint32),
        ("prog_tags", ctypes.c_uint64), ("run_time_ns", ctypes.c_uint64), ("run_cnt", ctypes.c_uint64),
        ("recursion_misses", ctypes.c_uint64), ("verified_insns", ctypes.c_uint32),
    ]


class PerfEventAttr(ctypes.Structure):
    """`struct perf_event_attr` up to `config2` (PERF_ATTR_SIZE_VER1), the fields probes use."""

    _fields_ = [
        ("type", ctypes.c_uint32), ("size", ctypes.c_uint32), ("config", ctypes.c_uint64),
        ("sample_period", ctypes.c_uint64), ("sample_type", ctypes.c_uint64), ("read_format", ctypes.c_uint64),
        ("flags", ctypes.c_uint64), ("wakeup_events", ctypes.c_uint32), ("bp_type", ctypes.c_uint32),
        ("config1", ctypes.c_uint64), ("config2", ctypes.c_uint64),
    ]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong]
_libc.ioctl.restype = ctypes.c_int


def unsupported_machine() -> str | None:
    """Why this machine cannot make these calls at all, or None."""
    if platform.system() != "Linux":
        return f"bpf() exists only on Linux, not on {platform.system()}"
    if NR_BPF is None or NR_PERF_EVENT_OPEN is None:
        return f"bpf() system call numbers are not known for {platform.machine()} (x86_64 and aarch64 are)"
    return None


def bpf(cmd: int, attr: ctypes.Structure) -> int:
    """bpf(cmd, &attr, sizeof(attr)); returns the result (an fd for the creating commands)."""
    if NR_BPF is None:
        raise SyscallError(errno.ENOSYS, COMMAND_NAMES.get(cmd, f"bpf command {cmd}"))
    result = _libc.syscall(NR_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    if result < 0:
        raise SyscallError(ctypes.get_errno(), COMMAND_NAMES.get(cmd, f"bpf command {cmd}"))
    return int(result)


def perf_event_open(attr: PerfEventAttr, pid: int, cpu: int) -> int:
    attr.size = ctypes.sizeof(PerfEventAttr)
    if NR_PERF_EVENT_OPEN is None:
        raise SyscallError(errno.ENOSYS, "perf_event_open")
    result = _libc.syscall(NR_PERF_EVENT_OPEN, ctypes.byref(attr), pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)
    if result < 0:
        raise SyscallError(ctypes.get_errno(), "perf_event_open")
    return int(result)


def ioctl(fd: int, request: int, argument: int, name: str) -> None:
    if _libc.ioctl(fd, request, argument) < 0:
        raise SyscallError(ctypes.get_errno(), name)


def address(buffer: Any) -> int:
    """The address of a ctypes buffer, for the u64 pointer fields of the attributes."""
    return ctypes.addressof(buffer)
