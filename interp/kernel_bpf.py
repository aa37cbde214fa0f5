"""The running kernel's `bpf()` system call, for the few commands that ask the real kernel (probing
which helpers a program type may call). Only BPF_PROG_LOAD is used: a program is loaded, the
verifier's verdict and log are read, and the program is closed again at once."""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
from dataclasses import dataclass

from .isa import encode
from .isa.insn import Insn

NR_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine())
BPF_PROG_LOAD = 5
PROG_LOAD_ATTR_SIZE = 144  # sizeof(union bpf_attr) as far as BPF_PROG_LOAD reads it
LOG_SIZE = 1 << 16
LOG_LEVEL = 1  # the verifier's messages, without the instruction-by-instruction trace

PROG_TYPES: dict[str, int] = {"kprobe": 2, "tracepoint": 5, "perf_event": 7, "raw_tracepoint": 17}


class BpfUnavailable(OSError):
    """bpf() cannot be used here: no such system call on this architecture, or not permitted."""


@dataclass(frozen=True)
class LoadResult:
    loaded: bool
    log: str
    errno: int = 0


def _syscall() -> ctypes._CFuncPtr:  # type: ignore[name-defined]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall


def prog_load(insns: list[Insn], prog_type: int, license: str = "GPL") -> LoadResult:
    """Load `insns` as a program of `prog_type` and unload it; the verifier's verdict and log.
    Raises BpfUnavailable where bpf() itself is missing or refused (ENOSYS, EPERM)."""
    if NR_BPF is None:
        raise BpfUnavailable(errno.ENOSYS, f"bpf(): no system call number known for {platform.machine()}")
    code = encode(insns)
    text = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(license.encode())
    log = ctypes.create_string_buffer(LOG_SIZE)
    # union bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns, license, log_level, log_size,
    # log_buf, kern_version; the rest zero
    attr = struct.pack("<IIQQIIQI", prog_type, len(code) // 8, ctypes.addressof(text), ctypes.addressof(lic),
                       LOG_LEVEL, LOG_SIZE, ctypes.addressof(log), 0).ljust(PROG_LOAD_ATTR_SIZE, b"\0")
    buffer = ctypes.create_string_buffer(attr, len(attr))
    fd = _syscall()(NR_BPF, BPF_PROG_LOAD, buffer, len(attr))
    if fd >= 0:
        os.close(fd)
        return LoadResult(True, log.value.decode(errors="replace"))
    err = ctypes.get_errno()
    message = log.value.decode(errors="replace")
    if err in (errno.ENOSYS, errno.EPERM) and not message:
        raise BpfUnavailable(err, f"bpf(): {os.strerror(err)}")
    return LoadResult(False, message, err)
