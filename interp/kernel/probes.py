"""Attaching a loaded kprobe-type program as the seed does: `perf_event_open()` on a probe, then
`ioctl(PERF_EVENT_IOC_SET_BPF, prog_fd)` and `PERF_EVENT_IOC_ENABLE`; closing the event's fd
detaches the program.

The probe is a uprobe (the uprobe PMU: the binary's path in config1, the function's file offset
in config2) or a kprobe (the kprobe PMU: the function's name in config1; or, where the kernel
has no kprobe PMU, a tracefs kprobe event opened as a tracepoint, the seed's own way). Run
counts come from the kernel's BPF run statistics (BPF_ENABLE_STATS), read per program."""

from __future__ import annotations

import ctypes
import os
import re
from contextlib import ExitStack
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from .syscalls import (
    BPF_ENABLE_STATS,
    BPF_OBJ_GET_INFO_BY_FD,
    BPF_STATS_RUN_TIME,
    PERF_ATTR_DISABLED,
    PERF_EVENT_IOC_ENABLE,
    PERF_EVENT_IOC_SET_BPF,
    PERF_TYPE_TRACEPOINT,
    EnableStatsAttr,
    InfoAttr,
    PerfEventAttr,
    ProgInfo,
    SyscallError,
    address,
    bpf,
    ioctl,
    perf_event_open,
)

PMU_ROOT = Path("/sys/bus/event_source/devices")
TRACEFS_ROOTS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))


class ProbeError(Exception):
    """A probe that cannot be set up here; the message says why, in one line."""


def symbol_offset(binary: Path, symbol: str) -> int:
    """The file offset of function `symbol` in the ELF executable or library `binary` (what a
    uprobe is placed at); `symbol` may also be a number (0x...), taken as the offset itself."""
    if re.fullmatch(r"0x[0-9a-fA-F]+|\d+", symbol):
        return int(symbol, 0)
    try:
        with open(binary, "rb") as handle:
            elf = ELFFile(handle)
            for table_name in (".symtab", ".dynsym"):
                table = elf.get_section_by_name(table_name)
                if not isinstance(table, SymbolTableSection):
                    continue
                for sym in table.get_symbol_by_name(symbol) or []:
                    if sym["st_info"]["type"] in ("STT_FUNC", "STT_GNU_IFUNC") and isinstance(sym["st_shndx"], int):
                        section = elf.get_section(sym["st_shndx"])
                        return int(sym["st_value"] - section["sh_addr"] + section["sh_offset"])
    except OSError as exc:
        raise ProbeError(f"cannot read {binary}: {exc.strerror or exc}") from None
    except ELFError as exc:
        raise ProbeError(f"{binary} is not an ELF executable or library: {exc}") from None
    raise ProbeError(f"{binary} has no function {symbol!r} in its symbol tables")


def _pmu_type(pmu: str) -> int | None:
    try:
        return int((PMU_ROOT / pmu / "type").read_text())
    except (OSError, ValueError):
        return None


def _retprobe_bit(pmu: str) -> int:
    """The config bit that makes a return probe, from the PMU's format ("config:0")."""
    text = (PMU_ROOT / pmu / "format" / "retprobe").read_text().strip()
    return 1 << int(text.split(":")[1].split("-")[0])


class PerfAttachment:
    """A program attached to a probe through a perf event; `close()` detaches it."""

    def __init__(self, fd: int, description: str, cleanup: ExitStack | None = None) -> None:
        self.fd: int | None = fd
        self.description = description
        self._cleanup = cleanup

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self._cleanup is not None:
            self._cleanup.close()
            self._cleanup = None

    def __enter__(self) -> "PerfAttachment":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_and_attach(attr: PerfEventAttr, prog_fd: int, description: str, pid: int,
                     cleanup: ExitStack | None = None) -> PerfAttachment:
    attr.flags |= PERF_ATTR_DISABLED  # enabled only once the program is set, as the seed does
    try:
        # a system-wide probe event on one CPU runs the program wherever the probe hits
        fd = perf_event_open(attr, pid, 0 if pid == -1 else -1)
    except SyscallError as exc:
        if cleanup is not None:
            cleanup.close()
        raise ProbeError(f"cannot open a perf event for {description}: {exc.strerror}") from None
    attachment = PerfAttachment(fd, description, cleanup)
    try:
        ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog_fd, "PERF_EVENT_IOC_SET_BPF")
        ioctl(fd, PERF_EVENT_IOC_ENABLE, 0, "PERF_EVENT_IOC_ENABLE")
    except SyscallError as exc:
        attachment.close()
        raise ProbeError(f"cannot attach the program to {description}: {exc.strerror}") from None
    return attachment


def attach_uprobe(prog_fd: int, binary: Path, symbol: str, *, retprobe: bool = False, pid: int = -1) -> PerfAttachment:
    """Attach to function `symbol` of `binary` (entry, or return with `retprobe`), in every
    process that runs it (pid -1) or in one."""
    pmu = _pmu_type("uprobe")
    if pmu is None:
        raise ProbeError("this kernel has no uprobe PMU (CONFIG_UPROBE_EVENTS is off)")
    binary = Path(binary).resolve()
    offset = symbol_offset(binary, symbol)
    path = ctypes.create_string_buffer(os.fsencode(binary))
    attr = PerfEventAttr(type=pmu, config=_retprobe_bit("uprobe") if retprobe else 0, config1=address(path),
                         config2=offset)
    kind = "uretprobe" if retprobe else "uprobe"
    return _open_and_attach(attr, prog_fd, f"{kind} {binary}:{symbol} (offset {offset:#x})", pid)


def _tracefs() -> Path | None:
    return next((root for root in TRACEFS_ROOTS if (root / "kprobe_events").exists()), None)


def attach_kprobe(prog_fd: int, function: str, *, retprobe: bool = False) -> PerfAttachment:
    """Attach to kernel function `function` through the kprobe PMU, or else through a tracefs
    kprobe event (removed again when the attachment is closed)."""
    kind = "kretprobe" if retprobe else "kprobe"
    description = f"{kind} {function}"
    pmu = _pmu_type("kprobe")
    if pmu is not None:
        name = ctypes.create_string_buffer(function.encode())
        attr = PerfEventAttr(type=pmu, config=_retprobe_bit("kprobe") if retprobe else 0, config1=address(name))
        return _open_and_attach(attr, prog_fd, description, -1)
    tracefs = _tracefs()
    if tracefs is None:
        raise ProbeError("this kernel has no kprobes (no kprobe PMU and no tracefs kprobe_events; CONFIG_KPROBES "
                         "is off or tracefs is not mounted): attach to a user function with --uprobe BINARY:SYMBOL")
    event = f"bpfverify_{os.getpid()}_{re.sub(r'[^A-Za-z0-9_]', '_', function)}"
    cleanup = ExitStack()
    try:
        with open(tracefs / "kprobe_events", "a") as events:
            events.write(f"{'r' if retprobe else 'p'}:kprobes/{event} {function}\n")
        cleanup.callback(_remove_kprobe_event, tracefs, event)
        event_id = int((tracefs / "events" / "kprobes" / event / "id").read_text())
    except (OSError, ValueError) as exc:
        cleanup.close()
        raise ProbeError(f"cannot create a kprobe event on {function}: {getattr(exc, 'strerror', None) or exc}") from None
    attr = PerfEventAttr(type=PERF_TYPE_TRACEPOINT, config=event_id)
    return _open_and_attach(attr, prog_fd, description, -1, cleanup)


def _remove_kprobe_event(tracefs: Path, event: str) -> None:
    try:
        with open(tracefs / "kprobe_events", "a") as events:
            events.write(f"-:kprobes/{event}\n")
    except OSError:
        pass  # already gone


class RunStatistics:
    """The kernel counts each program's runs while this is open (BPF_ENABLE_STATS); `available`
    is False where it refuses (then `runs()` is None)."""

    def __init__(self) -> None:
        try:
            self.fd: int | None = bpf(BPF_ENABLE_STATS, EnableStatsAttr(type=BPF_STATS_RUN_TIME))
        except SyscallError:
            self.fd = None

    @property
    def available(self) -> bool:
        return self.fd is not None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "RunStatistics":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def program_info(prog_fd: int) -> ProgInfo:
    info = ProgInfo()
    bpf(BPF_OBJ_GET_INFO_BY_FD, InfoAttr(bpf_fd=prog_fd, info_len=ctypes.sizeof(info), info=address(info)))
    return info


def run_count(prog_fd: int) -> int:
    """How many times the program has run (counted while run statistics are enabled)."""
    return int(program_info(prog_fd).run_cnt)


__all__ = ["PerfAttachment", "ProbeError", "RunStatistics", "attach_kprobe", "attach_uprobe", "program_info",
           "run_count", "symbol_offset"]
