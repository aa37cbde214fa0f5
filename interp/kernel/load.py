"""Loading a `Program` into the running kernel: its maps created and their fds patched into the
`lddw` instructions that name them, then BPF_PROG_LOAD with the program's type, license and
`kern_version`, and a log buffer that grows until the whole log fits.

    with load_program(program) as loaded:      # raises KernelUnavailable where bpf() is refused
        loaded.verdict.verdict                 # "accepted", "rejected" or "setup-error"
        loaded.prog_fd                         # the loaded program (None unless accepted)

`kernel_verdict(program)` loads, reads the verdict and closes everything."""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import os
import re
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ..isa.insn import Insn, encode
from ..isa.opcodes import PseudoSrc
from ..program import Program
from ..sections import PROG_TYPE_IDS
from .func_info import FUNC_INFO_RECORD, func_info, load_btf, needs_func_info
from .log import LogStats, first_reason, parse_stats
from .maps import KernelMaps, MapSetupError, kernel_object_name
from .syscalls import (
    BPF_PROG_LOAD,
    ProgLoadAttr,
    SyscallError,
    address,
    bpf,
    unsupported_machine,
)

BPF_LOG_LEVEL1, BPF_LOG_LEVEL2, BPF_LOG_STATS = 1, 2, 4
DEFAULT_LOG_LEVEL = BPF_LOG_LEVEL1  # the failing path, then the judgement
INITIAL_LOG_SIZE = 1 << 20
MAX_LOG_SIZE = 256 << 20  # beyond this the verdict comes from a load without a log (the tail is kept)

ACCEPTED, REJECTED, SETUP_ERROR = "accepted", "rejected", "setup-error"


class KernelUnavailable(Exception):
    """bpf() cannot be used here; the message says why, in one line."""


@dataclass
class KernelVerdict:
    """What the running kernel said about a program. `setup-error`: it was never asked, because
    the program cannot be prepared for it (an unresolved extern, a map it refuses to create)."""

    verdict: str
    errno: int = 0  # of BPF_PROG_LOAD (or of the map creation that failed); 0 when accepted
    log: str = ""
    reason: str | None = None  # the first line of the judgement (or why it was not loaded)
    stats: LogStats = field(default_factory=LogStats)
    load_time_s: float = 0.0  # wall time of the BPF_PROG_LOAD that gave the verdict
    loads: int = 0  # BPF_PROG_LOAD calls made until the log fitted
    log_truncated: bool = False

    @property
    def accepted(self) -> bool:
        return self.verdict == ACCEPTED

    @property
    def errno_name(self) -> str | None:
        return errno.errorcode.get(self.errno, str(self.errno)) if self.errno else None

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "errno": self.errno_name, "reason": self.reason,
                "stats": self.stats.to_json(), "load_time_s": round(self.load_time_s, 6),
                "log_truncated": self.log_truncated, "log": self.log}


@cache
def running_version_code() -> int:
    """LINUX_VERSION_CODE of the running kernel, from its release string."""
    numbers = [int(n) for n in re.findall(r"\d+", os.uname().release)[:3]] + [0, 0, 0]
    return (numbers[0] << 16) | (numbers[1] << 8) | min(numbers[2], 255)


@cache
def unavailable_reason() -> str | None:
    """Why bpf() cannot load kprobe programs here, or None: asks the kernel once to load `r0 = 0; exit`."""
    reason = unsupported_machine()
    if reason is not None:
        return reason
    code = encode([Insn(0xB7, 0, 0, 0, 0), Insn(0x95)])
    fd, err, _ = _prog_load(code, PROG_TYPE_IDS["kprobe"], b"GPL", running_version_code(), b"probe", None, 0, None)
    if fd is not None:
        os.close(fd)
        return None
    why = SyscallError(err, "BPF_PROG_LOAD").strerror
    if err in (errno.EPERM, errno.EACCES):
        return f"bpf() is not permitted here ({why}); it needs root or CAP_BPF with CAP_PERFMON"
    if err == errno.ENOSYS:
        return "this kernel has no bpf() system call (ENOSYS)"
    return f"this kernel does not load kprobe programs ({why})"


def require_kernel() -> None:
    reason = unavailable_reason()
    if reason is not None:
        raise KernelUnavailable(reason)


FuncInfo = tuple[int, bytes]  # a loaded BTF's fd and the func_info records


def _prog_load(code: bytes, prog_type: int, license: bytes, kern_version: int, name: bytes,
               functions: FuncInfo | None, log_level: int,
               log: ctypes.Array[ctypes.c_char] | None) -> tuple[int | None, int, ProgLoadAttr]:
    """(fd or None, errno, the attributes as the kernel left them: it writes `log_true_size` back)."""
    insns = ctypes.create_string_buffer(code, len(code))
    license_buffer = ctypes.create_string_buffer(license)
    attr = ProgLoadAttr(prog_type=prog_type, insn_cnt=len(code) // 8, insns=address(insns),
                        license=address(license_buffer), kern_version=kern_version, prog_name=name)
    if functions is not None:
        btf_fd, records = functions
        records_buffer = ctypes.create_string_buffer(records, len(records))
        attr.prog_btf_fd, attr.func_info_rec_size = btf_fd, FUNC_INFO_RECORD
        attr.func_info, attr.func_info_cnt = address(records_buffer), len(records) // FUNC_INFO_RECORD
    if log is not None:
        attr.log_level, attr.log_size, attr.log_buf = log_level, len(log), address(log)
    try:
        return bpf(BPF_PROG_LOAD, attr), 0, attr
    except SyscallError as exc:
        return None, exc.errno or 0, attr


def bytecode_with_fds(program: Program, fds: dict[int, int]) -> bytes:
    """The program's bytes with each map reference holding the map's fd (index-style references,
    src 5/6, become fd-style src 1/2)."""
    patched: list[Insn] = []
    pc = 0
    for insn in program.insns:
        if program.map_of(insn) is not None:
            index, high = insn.imm & 0xFFFFFFFF, insn.imm >> 32
            to_value = insn.src in (PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE)
            insn = dataclasses.replace(insn, src=PseudoSrc.MAP_VALUE if to_value else PseudoSrc.MAP_FD,
                                       imm=(high << 32 if to_value else 0) | fds[index])
        elif insn.is_lddw and insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX,
                                           PseudoSrc.MAP_IDX_VALUE):
            raise MapSetupError(f"insn {pc} refers to map {insn.imm & 0xFFFFFFFF}, but the program has "
                                f"{len(program.maps)} maps")
        patched.append(insn)
        pc += insn.slots
    return encode(patched)


def _setup_problem(program: Program) -> str | None:
    if program.prog_type not in PROG_TYPE_IDS:
        return f"program type {program.prog_type!r} is not one the kernel knows; name it by the section " \
               "(e.g. kprobe/...) or the sidecar's prog_type"
    unresolved = [r for r in program.relocations if not r.resolved]
    if unresolved:
        first = unresolved[0]
        more = f" (and {len(unresolved) - 1} more)" if len(unresolved) > 1 else ""
        return f"unresolved {first.kind} relocation at insn {first.pc}: {first.description}{more}"
    return None


class LoadedProgram:
    """A program loaded into the kernel with its maps, until `close()`."""

    def __init__(self, program: Program, verdict: KernelVerdict, prog_fd: int | None, maps: KernelMaps | None) -> None:
        self.program = program
        self.verdict = verdict
        self.prog_fd = prog_fd
        self.maps = maps

    def close(self) -> None:
        if self.prog_fd is not None:
            os.close(self.prog_fd)
            self.prog_fd = None
        if self.maps is not None:
            self.maps.close()
            self.maps = None

    def __enter__(self) -> "LoadedProgram":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_program(program: Program, *, log_level: int = DEFAULT_LOG_LEVEL) -> LoadedProgram:
    """Load `program` (statistics are always asked for: BPF_LOG_STATS is added to `log_level`).
    The result holds the fds; close it. Raises `KernelUnavailable` where bpf() is refused."""
    require_kernel()
    problem = _setup_problem(program)
    if problem is not None:
        return LoadedProgram(program, KernelVerdict(SETUP_ERROR, reason=problem), None, None)
    try:
        maps = KernelMaps(program)
    except MapSetupError as exc:
        return LoadedProgram(program, KernelVerdict(SETUP_ERROR, exc.errno, reason=str(exc)), None, None)
    loaded = LoadedProgram(program, KernelVerdict(SETUP_ERROR), None, maps)
    btf_fd = None
    try:
        code = bytecode_with_fds(program, maps.fds)
        functions = None
        if needs_func_info(program):  # the kernel wants BTF for functions named by reference
            btf, records = func_info(program)
            try:
                btf_fd = load_btf(btf)
            except SyscallError as exc:
                loaded.close()
                return LoadedProgram(program, KernelVerdict(SETUP_ERROR, exc.errno, reason=str(exc)), None, None)
            functions = (btf_fd, records)
        loaded.prog_fd, loaded.verdict = _load_growing_log(_load_arguments(program, code) + (functions,),
                                                           log_level | BPF_LOG_STATS)
    except MapSetupError as exc:
        loaded.close()
        return LoadedProgram(program, KernelVerdict(SETUP_ERROR, reason=str(exc)), None, None)
    except BaseException:
        loaded.close()
        raise
    finally:
        if btf_fd is not None:
            os.close(btf_fd)  # (a loaded program holds its own reference)
    return loaded


def _load_arguments(program: Program, code: bytes) -> tuple[bytes, int, bytes, int, bytes]:
    """What BPF_PROG_LOAD is given besides the log: code, program type, license, kern_version, name."""
    return (code, PROG_TYPE_IDS[program.prog_type], program.license.encode(errors="replace"),
            program.kern_version if program.kern_version is not None else running_version_code(),
            kernel_object_name(program.name))


def _load_growing_log(arguments: tuple[bytes, int, bytes, int, bytes, FuncInfo | None],
                      log_level: int) -> tuple[int | None, KernelVerdict]:
    size, loads = INITIAL_LOG_SIZE, 0
    while True:
        log = ctypes.create_string_buffer(size)
        loads += 1
        start = time.perf_counter()
        fd, err, attr = _prog_load(*arguments, log_level, log)
        elapsed = time.perf_counter() - start
        text = log.value.decode(errors="replace")
        if err != errno.ENOSPC:
            break
        # the log outgrew the buffer (the kernel then returns ENOSPC whatever the verdict):
        # Linux 6.4 and later say how much it needs in log_true_size; before, double
        needed = attr.log_true_size
        if 0 < needed <= size:
            break  # ENOSPC for another reason than the log
        if size >= MAX_LOG_SIZE:  # the kernel kept the log's tail, where the judgement is
            start = time.perf_counter()
            fd, err, _ = _prog_load(*arguments, 0, None)  # (no log)
            verdict = _verdict(fd, err, text, time.perf_counter() - start, loads + 1)
            verdict.log_truncated = True
            return fd, verdict
        size = min(MAX_LOG_SIZE, max(size * 2, needed + 1))
    return fd, _verdict(fd, err, text, elapsed, loads)


def _verdict(fd: int | None, err: int, log: str, elapsed: float, loads: int) -> KernelVerdict:
    verdict = KernelVerdict(ACCEPTED if fd is not None else REJECTED, err, log, None, parse_stats(log), elapsed, loads)
    if fd is None:
        verdict.reason = first_reason(log) or SyscallError(err, "BPF_PROG_LOAD").strerror
    return verdict


def kernel_verdict(program: Program, *, log_level: int = DEFAULT_LOG_LEVEL) -> KernelVerdict:
    """The kernel's verdict on `program`; everything it loaded is closed again."""
    with load_program(program, log_level=log_level) as loaded:
        return loaded.verdict


def bytecode_verdict(code: bytes, prog_type: str = "kprobe", license: str = "GPL", *,
                     log_level: int = DEFAULT_LOG_LEVEL) -> KernelVerdict:
    """The kernel's verdict on bytecode exactly as it stands, for encodings a `Program` cannot hold (an
    lddw whose second slot is not zero, or cut off by the end): no map is created and no lddw is patched,
    so an immediate that names a map is taken as the fd it is."""
    require_kernel()
    name = kernel_object_name("bytecode")
    fd, verdict = _load_growing_log((code, PROG_TYPE_IDS[prog_type], license.encode(), running_version_code(), name,
                                     None), log_level | BPF_LOG_STATS)
    if fd is not None:
        os.close(fd)
    return verdict
