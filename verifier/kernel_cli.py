"""`bpfverify kernel check` and `bpfverify kernel attach`, and what `check --compare-kernel`
prints: the running kernel asked through `interp.kernel`, beside our own verdict."""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interp.program import Program
from interp.sources import ProgramSource, describe, read_program, select_programs

from .cli_common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, UsageError, target_btf

if TYPE_CHECKING:
    from .check import ProgramResult

# (interp.kernel, its ctypes layouts and the comparison are imported by the commands that ask the
# kernel: `bpfverify check` registers these commands without loading them)

RETURN_PROBES = ("kretprobe", "uretprobe")


def _unavailable(reason: str) -> int:
    print(f"bpfverify: kernel: {reason}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _programs(source: ProgramSource, section: str | None) -> list[Program]:
    """The programs `check` would take: the one named, or every one of a known type."""
    programs = select_programs(source.programs, section)
    if not programs:
        source.select(section)  # raises: names what the file has
    if section is None:
        programs = [p for p in programs if p.prog_type != "unknown"] or programs
    return programs


def _log_level(value: str) -> int:
    from interp.kernel.load import BPF_LOG_LEVEL1, BPF_LOG_LEVEL2

    level = int(value)
    if level not in (0, BPF_LOG_LEVEL1, BPF_LOG_LEVEL2):
        raise argparse.ArgumentTypeError(f"{value}: the verifier's log levels are 1 (the failing path) and 2 "
                                         "(every instruction); statistics are always asked for")
    return level


# -- kernel check ---------------------------------------------------------------------------


def cmd_kernel_check(args: argparse.Namespace) -> int:
    from interp.kernel import KernelUnavailable, kernel_verdict
    from interp.kernel.load import BPF_LOG_LEVEL1

    from .kernel_compare import kernel_summary

    source = read_program(Path(args.file), None, target_btf(args), args.section)
    programs = _programs(source, args.section)
    log_level = BPF_LOG_LEVEL1 if args.log_level is None else args.log_level
    try:
        verdicts = [kernel_verdict(program, log_level=log_level) for program in programs]
    except KernelUnavailable as exc:
        return _unavailable(str(exc))
    if args.json:
        print(json.dumps({"file": str(source.path), "programs": [
            {"section": p.section, "name": p.name, "prog_type": p.prog_type, **v.to_json()}
            for p, v in zip(programs, verdicts)]}))
    else:
        for program, verdict in zip(programs, verdicts):
            print(f"{describe(program)}: kernel {kernel_summary(verdict)}")
            stats = verdict.stats
            if stats.processed_insns is not None:
                print(f"  stats: processed {stats.processed_insns} insns, max_states_per_insn "
                      f"{stats.max_states_per_insn}, total_states {stats.total_states}, peak_states "
                      f"{stats.peak_states}, verification time {stats.verification_time_us} us, stack depth "
                      f"{stats.stack_depth}")
            if verdict.log.strip():
                note = " (truncated: too long to keep whole)" if verdict.log_truncated else ""
                print(f"  log{note}:")
                for line in verdict.log.rstrip().splitlines():
                    print(f"    {line}")
    return EXIT_OK if all(v.accepted for v in verdicts) else EXIT_FAILED


# -- check --compare-kernel ------------------------------------------------------------


def print_check_comparison(args: argparse.Namespace, source: ProgramSource, results: list[ProgramResult]) -> None:
    """`check --compare-kernel`: each program's verdict and findings, then the kernel's beside it."""
    from interp.kernel import kernel_verdict, unavailable_reason

    from .kernel_compare import Comparison, comparison_lines

    if args.format == "sarif":
        raise UsageError("--compare-kernel prints text or json, not sarif")
    reason = unavailable_reason()
    comparisons = [Comparison(r, kernel_verdict(r.program)) for r in results] if reason is None else []
    if reason is not None:
        print(f"bpfverify: kernel not asked: {reason}", file=sys.stderr)
    if args.format == "json":
        entries: list[dict[str, Any]] = [c.to_json() for c in comparisons] or [r.to_json() for r in results]
        document: dict[str, Any] = {"file": str(source.path), "profile": args.profile, "programs": entries}
        if reason is not None:
            document["kernel_unavailable"] = reason
        print(json.dumps(document))
        return
    for index, result in enumerate(results):
        print(f"{describe(result.program)}: {result.verdict} ({result.program.slots} insns, {result.time_s:.2f} s)")
        for finding in result.findings:
            print(f"  {finding}")
        if result.reason:
            print(f"  unknown: {result.reason}")
        if comparisons:
            for line in comparison_lines(comparisons[index]):
                print(line)


# -- kernel attach ------------------------------------------------------------------------


def _parse_uprobe(text: str) -> tuple[Path, str]:
    binary, sep, symbol = text.rpartition(":")
    if not sep or not binary or not symbol:
        raise UsageError(f"--uprobe {text}: give BINARY:SYMBOL (or BINARY:0xOFFSET)")
    if not Path(binary).is_file():
        raise UsageError(f"--uprobe {text}: no such file {binary}")
    return Path(binary), symbol


def cmd_kernel_attach(args: argparse.Namespace) -> int:
    from interp.kernel import KernelUnavailable, load_program
    from interp.kernel.probes import (
        ProbeError,
        RunStatistics,
        attach_kprobe,
        attach_uprobe,
    )

    from .check import check_program
    from .fixpoint import Limits
    from .kernel_compare import kernel_summary

    if args.uprobe and args.kprobe:
        raise UsageError("give --uprobe or --kprobe, not both")
    if args.duration is not None and args.duration <= 0:
        raise UsageError(f"--duration {args.duration:g}: give a positive number of seconds")
    if args.count is not None and args.count <= 0:
        raise UsageError(f"--count {args.count}: give a positive number of firings")
    uprobe = _parse_uprobe(args.uprobe) if args.uprobe else None
    source = read_program(Path(args.file), None, target_btf(args), args.section)
    program = source.select(args.section)
    if program.prog_type != "kprobe":
        raise UsageError(f"{describe(program)} is a {program.prog_type} program; only kprobe programs attach to "
                         "a kprobe or uprobe")
    kprobe = args.kprobe or (program.attach_to if program.attach_kind in ("kprobe", "kretprobe") else None)
    if uprobe is None and kprobe is None:
        raise UsageError(f"{describe(program)} names no kernel function: give --uprobe BINARY:SYMBOL or --kprobe FUNCTION")
    ours = check_program(program, args.profile, limits=Limits(timeout_s=args.timeout))
    if ours.verdict != "accepted":
        print(f"{describe(program)}: {ours.verdict} by bpfverify ({args.profile})", file=sys.stderr)
        for finding in ours.findings:
            print(f"  {finding}", file=sys.stderr)
        if ours.reason:
            print(f"  unknown: {ours.reason}", file=sys.stderr)
        if not args.force:
            print("bpfverify: refused to load a program bpfverify did not accept (--force loads it anyway)",
                  file=sys.stderr)
            return EXIT_FAILED
        print(f"bpfverify: --force: loading a program bpfverify {ours.verdict.replace('unknown', 'could not decide')}",
              file=sys.stderr)
    try:
        loaded = load_program(program)
    except KernelUnavailable as exc:
        return _unavailable(str(exc))
    with ExitStack() as stack:
        stack.enter_context(loaded)
        print(f"kernel: {kernel_summary(loaded.verdict)}", file=sys.stderr)
        if not loaded.verdict.accepted:
            for line in loaded.verdict.log.rstrip().splitlines():
                print(f"  {line}", file=sys.stderr)
            return EXIT_FAILED
        assert loaded.prog_fd is not None and loaded.maps is not None
        retprobe = program.attach_kind in RETURN_PROBES
        statistics = stack.enter_context(RunStatistics())
        if args.count is not None and not statistics.available:
            raise UsageError("--count needs the kernel's run statistics (BPF_ENABLE_STATS), which it refused: use "
                             "--duration")
        try:
            if uprobe is not None:
                attachment = attach_uprobe(loaded.prog_fd, uprobe[0], uprobe[1], retprobe=retprobe, pid=args.pid)
            else:
                assert kprobe is not None
                attachment = attach_kprobe(loaded.prog_fd, kprobe, retprobe=retprobe)
        except ProbeError as exc:
            print(f"bpfverify: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        with attachment:
            print(f"attached to {attachment.description}", file=sys.stderr)
            firings, elapsed = _watch(loaded.prog_fd, statistics.available, args.duration, args.count)
        # the event is closed: the program is detached and the maps hold what it left
        shown = f"fired {firings} times" if firings is not None else "firings not counted (no run statistics)"
        print(f"detached after {elapsed:.1f} s; {shown}", file=sys.stderr)
        print(json.dumps({"program": describe(program), "attached_to": attachment.description, "firings": firings,
                          "kernel": {k: v for k, v in loaded.verdict.to_json().items() if k != "log"},
                          "maps": loaded.maps.dump()}))
    return EXIT_OK


def _watch(prog_fd: int, counted: bool, duration: float | None, count: int | None) -> tuple[int | None, float]:
    """Wait for `duration` seconds, `count` firings or an interrupt, showing the firings so far."""
    from tqdm import tqdm

    from interp.kernel.probes import run_count

    start = time.monotonic()
    firings = 0
    with tqdm(total=count, unit=" firings", file=sys.stderr, disable=None, leave=False) as bar:
        try:
            while True:
                if counted:
                    now = run_count(prog_fd)
                    bar.update(now - firings)
                    firings = now
                elapsed = time.monotonic() - start
                if (count is not None and firings >= count) or (duration is not None and elapsed >= duration):
                    break
                time.sleep(0.05 if count is not None else 0.2)
        except KeyboardInterrupt:
            pass  # stop watching; the maps are still printed
    return (firings if counted else None), time.monotonic() - start


# -- registration ----------------------------------------------------------------------------


def register(sub: Any) -> None:
    """Add `kernel check` and `kernel attach` to the `bpfverify` subcommands."""
    kernel = sub.add_parser("kernel", help="ask the running kernel: load (check) or load and attach (attach)")
    commands = kernel.add_subparsers(dest="kernel_command", metavar="{check,attach}")
    commands.required = True

    def program_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("file", help=".o (ELF), .bin (bytecode + .json sidecar) or .s/.asm")
        p.add_argument("--section", help="the program to use: a section, a function, or SECTION:FUNCTION")
        p.add_argument("--btf", help="kernel BTF for CO-RE relocations (default: /sys/kernel/btf/vmlinux)")

    check = commands.add_parser("check", help="load each program into the running kernel: its verdict, errno, "
                                              "log and statistics (exit 0 accepted, 1 rejected)")
    program_options(check)
    check.add_argument("--log-level", type=_log_level,
                       help="1: the failing path (default); 2: every instruction; 0: the verdict and statistics")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(func=cmd_kernel_check)

    attach = commands.add_parser("attach", help="load a kprobe program and attach it to a probe as the seed does; "
                                                "prints the maps as JSON when detached")
    program_options(attach)
    attach.add_argument("--uprobe", metavar="BINARY:SYMBOL", help="the user function to probe (its file offset "
                                                                  "also as BINARY:0xOFFSET)")
    attach.add_argument("--kprobe", metavar="FUNCTION", help="the kernel function to probe (default: the section's)")
    attach.add_argument("--pid", type=int, default=-1, help="probe only this process (default: every process)")
    attach.add_argument("--duration", type=float, help="seconds to stay attached (default: until Ctrl-C)")
    attach.add_argument("--count", type=int, help="detach after this many firings")
    attach.add_argument("--force", action="store_true", help="load even what bpfverify does not accept")
    attach.add_argument("--profile", choices=("linux-6.18", "linux-4.1"), default="linux-6.18",
                        help="the rules bpfverify checks the program by first (default: linux-6.18)")
    attach.add_argument("--timeout", type=float, default=60.0, help="seconds for bpfverify's check")
    attach.set_defaults(func=cmd_kernel_attach)
