"""The running kernel's `bpf()` system call, for the few commands that ask the real kernel (probing
which helpers a program type may call). Only BPF_PROG_LOAD is used: a program is loaded, the
verifier's verdict and log are read, and the program is closed again at once."""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import os
import platform
import struct
from dataclasses import dataclass

from .isa import encode
from .isa.insn import Insn
from .isa.opcodes import PseudoSrc
from .program import MapDef

NR_BPF = {"x86_64": 321, "aarch64": 280}.get(platform.machine())
BPF_MAP_CREATE, BPF_MAP_UPDATE_ELEM, BPF_PROG_LOAD, BPF_MAP_FREEZE = 0, 2, 5, 22
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


def _bpf(cmd: int, attr: bytes) -> int:
    buffer = ctypes.create_string_buffer(attr, len(attr))
    fd = _syscall()(NR_BPF, cmd, buffer, len(attr))
    if fd < 0:
        err = ctypes.get_errno()
        if err in (errno.ENOSYS, errno.EPERM):
            raise BpfUnavailable(err, f"bpf(): {os.strerror(err)}")
        raise OSError(err, os.strerror(err))
    return fd


def create_map(mdef: MapDef) -> int:
    """A kernel map like `mdef`, holding its initial value (key 0) and frozen where `mdef` is."""
    if NR_BPF is None:
        raise BpfUnavailable(errno.ENOSYS, f"bpf(): no system call number known for {platform.machine()}")
    attr = struct.pack("<IIIII", mdef.type, mdef.key_size, mdef.value_size, mdef.max_entries, mdef.flags)
    fd = _bpf(BPF_MAP_CREATE, attr.ljust(72, b"\0"))
    try:
        if mdef.initial_value is not None:
            key = ctypes.create_string_buffer(bytes(mdef.key_size), max(mdef.key_size, 1))
            value = ctypes.create_string_buffer(mdef.initial_value.ljust(mdef.value_size, b"\0"), mdef.value_size)
            _bpf(BPF_MAP_UPDATE_ELEM, struct.pack("<IIQQQ", fd, 0, ctypes.addressof(key), ctypes.addressof(value), 0))
        if mdef.frozen:
            _bpf(BPF_MAP_FREEZE, struct.pack("<I", fd).ljust(8, b"\0"))
    except OSError:
        os.close(fd)
        raise
    return fd


def with_map_fds(insns: list[Insn], fds: list[int]) -> list[Insn]:
    """`insns` with each map reference by index (`map[idx:N]`, `map[idx:N][0]+OFF`) turned into one by fd."""
    out = []
    for insn in insns:
        if insn.is_lddw and insn.src in (PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE, PseudoSrc.MAP_FD,
                                         PseudoSrc.MAP_VALUE):
            by_value = insn.src in (PseudoSrc.MAP_IDX_VALUE, PseudoSrc.MAP_VALUE)
            low = fds[insn.imm & 0xFFFFFFFF]
            insn = dataclasses.replace(insn, src=PseudoSrc.MAP_VALUE if by_value else PseudoSrc.MAP_FD,
                                       imm=(insn.imm & ~0xFFFFFFFF) | low)
        out.append(insn)
    return out


def load_with_maps(insns: list[Insn], maps: list[MapDef], prog_type: int, license: str = "GPL") -> LoadResult:
    """Create `maps`, load `insns` referring to them by index, and close everything again."""
    fds: list[int] = []
    try:
        for mdef in maps:
            fds.append(create_map(mdef))
        return prog_load(with_map_fds(insns, fds), prog_type, license)
    finally:
        for fd in fds:
            os.close(fd)


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
