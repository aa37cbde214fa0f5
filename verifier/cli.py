"""`bpfverify`: one command for running, assembling, disassembling and checking eBPF programs.

Exit codes: 0 success; 1 the program faulted or a check failed; 2 bad input or usage."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn, Sequence

from interp.isa.insn import encode
from interp.memory import DEFAULT_MEMORY_LIMIT, MemoryLimit
from interp.sources import (
    SourceError,
    describe,
    printable,
    read_program,
    select_programs,
)
from interp.vm import DEFAULT_BUDGET

from . import clock
from .cli_common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNKNOWN,
    GRACE_S,
    KERN_VERSION_HELP,
    TimeLimit,
    UsageError,
    check_timeout,
    is_bad_input,
    kern_version_option,
    one_line,
    positive,
    target_btf,
    time_limit,
)

# Each command imports what only it needs when it runs (the interpreter, the kernel interface, z3,
# the table printer...): `bpfverify check` on one program starts in a fraction of a second.


def cmd_run(args: argparse.Namespace) -> int:
    from .run_cli import cmd_run as run

    return run(args)


def cmd_asm(args: argparse.Namespace) -> int:
    source = read_program(Path(args.file), args.syntax)
    data = encode(source.select(args.section).insns)
    if args.output:
        try:
            Path(args.output).write_bytes(data)
        except OSError as exc:
            raise SourceError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    else:
        for i in range(0, len(data), 8):
            print(" ".join(f"{b:02x}" for b in data[i : i + 8]))
    return EXIT_OK


def cmd_disasm(args: argparse.Namespace) -> int:
    from interp.listing import maps_text, program_json, program_text

    source = read_program(Path(args.file), None, target_btf(args))
    programs = select_programs(source.programs, args.section)
    if not programs:
        source.select(args.section)  # raises: names what the file has
    if args.json:
        print(json.dumps({"file": str(source.path), "programs": [program_json(p) for p in programs]}))
        return EXIT_OK
    if len(source.programs) > 1 or source.programs[0].maps:
        first = source.programs[0]
        license_text = f", license {first.license}" if first.license else ""
        version = f", kern_version {first.kern_version:#x}" if first.kern_version is not None else ""
        count = len(source.programs)
        print(f"{source.path.name}: {count} program{'s' if count != 1 else ''}, {len(first.maps)} maps"
              f"{license_text}{version}")
        if first.maps:
            print(maps_text(first))
        for program in source.programs:
            print(f"  {describe(program):50} {program.prog_type:16} {program.entry_slots:6} insns "
                  f"{program.slots:6} linked")
        print()
    for program in programs:
        sys.stdout.write(program_text(program, args.syntax))
    return EXIT_OK


# -- check --------------------------------------------------------------------------------




def resource_limited() -> bool:
    import resource

    return resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY


def cmd_check(args: argparse.Namespace) -> int:
    # the time limit covers the whole command, loading and control-flow graphs included
    started = clock.now()
    check_timeout(args.timeout)
    try:
        with time_limit(args.timeout + GRACE_S, "loading the program", args.timeout):
            source = read_program(Path(args.file), None, target_btf(args), args.section)
    except TimeLimit as exc:
        print(f"bpfverify: {one_line(args.file)}: unknown: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN
    return _check(args, source, started + args.timeout)


def loop_lines(result: Any) -> list[str]:
    """The text report's account of a program's loops (`check -v`)."""
    lines = []
    for loop in result.loops:
        bound = "no bound" if loop.visits is None else f"bound {loop.visits:,}"
        what = "bpf_loop call" if loop.how == "bpf_loop" else "loop"
        lines.append(f"  {what} at insn {loop.head}: {bound} ({loop.how})")
    if result.worst_case is not None:
        lines.append(f"  worst case: {result.worst_case:,} instructions")
    elif result.loops:
        lines.append("  worst case: unknown (a loop has no bound)")
    return lines


def _check(args: argparse.Namespace, source: Any, deadline: float) -> int:
    import resource

    from verifier.check import ProgramResult, check_program
    from verifier.fixpoint import Limits, process_memory
    from verifier.structure import kern_version_target

    if args.max_memory is not None:
        if args.max_memory <= 0:
            raise UsageError(f"--max-memory {args.max_memory}: give a positive number of megabytes")
        # the analysis watches its own use (verdict unknown past the budget); the address-space
        # limit is a backstop well above it, for memory the analysis does not see coming
        limit = process_memory()[0] + (2 * args.max_memory + 512) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    explain_dir = None
    if args.explain is not None:
        # (graphviz and the replay: for the pages only)
        from verifier.explain import prepare as prepare_explain

        explain_dir = prepare_explain(args.explain)
    programs = select_programs(source.programs, args.section)
    if not programs:
        source.select(args.section)
    if args.section is None:
        traced = [p for p in programs if p.prog_type not in ("unknown",)]
        programs = traced or programs
    kern_version = kern_version_option(args.kern_version)
    for name in ("max_work", "max_unroll"):
        if getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} {getattr(args, name)}: give a positive number of steps")
    if not 0 < args.solver_timeout <= 3600:
        raise UsageError(f"--solver-timeout {args.solver_timeout:g}: give seconds from more than 0 to 3600")
    limits = Limits(timeout_s=args.timeout, max_work=args.max_work, max_unroll_work=args.max_unroll,
                    max_memory_mb=args.max_memory, deadline=deadline, solver=not args.no_solver,
                    solver_timeout_s=args.solver_timeout)
    results = []
    for program in programs:
        started = clock.now()
        try:
            with time_limit(max(deadline - started, 0) + GRACE_S, "the analysis", args.timeout):
                results.append(check_program(program, args.profile, args.arch,
                                             kern_version_target(program, kern_version), limits,
                                             strict=args.strict))
        except TimeLimit as exc:
            results.append(ProgramResult(program, args.profile, "unknown", reason=str(exc),
                                         time_s=clock.now() - started))
    if args.compare_kernel:
        from .kernel_cli import print_check_comparison

        print_check_comparison(args, source, results)
    elif args.format == "json":
        print(json.dumps({"file": str(source.path), "profile": args.profile, "arch": args.arch,
                          "programs": [r.to_json() for r in results]}))
    elif args.format == "sarif":
        from verifier.sarif import to_sarif

        print(json.dumps(to_sarif(str(source.path), args.profile, results), indent=1))
    else:
        for result in results:
            stats = f"{result.program.slots} insns, {result.time_s:.2f} s"
            print(f"{printable(describe(result.program))}: {result.verdict} ({stats})")
            for finding in result.findings:
                print(f"  {finding}")
                if finding.kernel_message is not None:  # the line a log of the profile's kernel shows
                    print(f"    {result.profile} kernel: {finding.kernel_message}")
                if finding.proof:
                    from verifier.evidence import proof_lines

                    for line in proof_lines(finding.proof):
                        print(line)
            if result.reason:
                print(f"  unknown: {result.reason}")
            if args.verbose:
                for line in loop_lines(result):
                    print(line)
    if explain_dir is not None:
        from verifier.explain import write_pages as write_explanations

        written = write_explanations(explain_dir, results, args.arch, deadline)
        print(f"bpfverify: explained in {written}", file=sys.stderr)
    verdicts = {r.verdict for r in results}
    if "rejected" in verdicts:
        return EXIT_FAILED
    if "unknown" in verdicts:
        return EXIT_UNKNOWN
    return EXIT_OK


# -- cfg ------------------------------------------------------------------------------


def cmd_cfg(args: argparse.Namespace) -> int:
    from verifier.cfg import GraphvizError, build_cfg, to_dot, to_json, to_svg
    from verifier.errors import ResourceLimit

    check_timeout(args.timeout)
    try:
        with time_limit(args.timeout + GRACE_S, "building the control-flow graph", args.timeout):
            source = read_program(Path(args.file), None, target_btf(args), args.section)
            program = source.select(args.section)
            cf = build_cfg(program.insns, dict(program.functions), program.unresolved_pcs,
                           clock.now() + args.timeout)
    except (TimeLimit, ResourceLimit) as exc:
        print(f"bpfverify: {one_line(args.file)}: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN
    if args.format == "json":
        print(json.dumps(to_json(cf)))
        return EXIT_OK
    from interp.listing import insn_texts

    texts = insn_texts(program)
    dot = to_dot(cf, texts.__getitem__)
    if args.format == "dot":
        sys.stdout.write(dot)
        return EXIT_OK
    try:
        svg = to_svg(dot)
    except GraphvizError as exc:
        raise UsageError(f"--format svg {exc}; use --format dot") from None
    if args.output:
        Path(args.output).write_text(svg)
    else:
        sys.stdout.write(svg)
    return EXIT_OK


# -- conformance -------------------------------------------------------------------


def _conformance_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend(sorted(path.glob("*.data")))
        elif path.is_file():
            files.append(path)
        else:
            raise SourceError(f"{name}: no such file or directory")
    if not files:
        raise SourceError(f"no .data files in {', '.join(paths)}")
    return files


def cmd_conformance(args: argparse.Namespace) -> int:
    from interp.conformance import judge

    files = _conformance_files(args.paths)
    passed = failed = 0
    for path in files:
        negative = args.negative or "negative" in path.parent.name
        outcome = judge(path, negative=negative, budget=args.budget)
        if outcome.passed:
            passed += 1
            label = "refused" if outcome.expects_refusal else "ok"
        else:
            failed += 1
            label = "FAIL"
        if not outcome.passed or args.verbose or outcome.expects_refusal:
            print(f"{label:8} {path.name}: {outcome.message}")
    print(f"{passed} passed, {failed} failed")
    return EXIT_OK if failed == 0 else EXIT_FAILED


# -- bench ---------------------------------------------------------------------------


def cmd_bench(args: argparse.Namespace) -> int:
    from interp.conformance import run_with_memory

    positive("--repeat", args.repeat, "runs")
    files = _conformance_files(args.paths)
    mismatches = 0
    for path in files:
        source = read_program(path)
        best = float("inf")
        result = None
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = run_with_memory(source.insns, source.mem or b"", args.budget)
            best = min(best, time.perf_counter() - start)
        assert result is not None
        ok = result.fault is None and result.r0 == source.expected_r0
        mismatches += not ok
        status = "r0 ok" if ok else f"r0 WRONG ({result.r0!r}, expected {source.expected_r0!r})"
        rate = result.insns_executed / best / 1e6 if best > 0 else float("inf")
        print(f"{path.name:24} {result.insns_executed:>11,} insns {best:7.3f} s {rate:7.2f} M insns/s  {status}")
    return EXIT_OK if mismatches == 0 else EXIT_FAILED


# -- entry point ---------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are one line (the full usage stays under --help)."""

    def error(self, message: str) -> "NoReturn":  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: usage error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bpfverify",
        description="Verify, run, assemble and disassemble eBPF programs for kprobes.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def syntax_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--syntax", choices=("kernel", "conformance"),
                       help="assembly syntax (default: detected; %%rN means conformance)")

    def program_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--section", help="the program to use: a section, a function, or SECTION:FUNCTION")
        p.add_argument("--btf", help="kernel BTF for CO-RE relocations (default: /sys/kernel/btf/vmlinux)")

    run = sub.add_parser("run", help="run a program in the interpreter and print r0")
    run.add_argument("file", help=".o (ELF), .bin (bytecode + .json sidecar), .s/.asm or .data")
    program_options(run)
    run.add_argument("--mem", help="hex bytes given to the program in r1 (length in r2)")
    run.add_argument("--mem-file", help="file whose bytes are given to the program in r1")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help="instruction budget")
    run.add_argument("--timeout", type=float, default=60.0,
                     help="seconds the command may take, loading included (default 60)")
    run.add_argument("--max-memory", type=int, default=DEFAULT_MEMORY_LIMIT >> 20,
                     help=f"megabytes the run may hold in map values, records and output (default "
                          f"{DEFAULT_MEMORY_LIMIT >> 20})")
    run.add_argument("--regs", help="kprobe context registers, e.g. di=1,si=0x2000 (others are 0)")
    run.add_argument("--kmem", help="JSON list of simulated kernel/user memory chunks for probe_read")
    run.add_argument("--maps", help="JSON initial map contents (the 'maps' of a previous run --json)")
    run.add_argument("--env", help="JSON environment: pid, tgid, uid, gid, comm, ktime_ns, in_nmi, ...")
    run.add_argument("--cpu", type=int, default=0, help="the CPU the probe fires on")
    run.add_argument("--ncpus", type=int, default=1, help="CPUs of the simulated machine (per-CPU maps)")
    run.add_argument("--arch", default="x86_64", choices=("x86_64", "arm64"), help="pt_regs layout")
    run.add_argument("--trace", action="store_true", help="print each executed instruction")
    run.add_argument("--max-entries", type=int, default=16, help="map entries printed per map")
    syntax_option(run)
    run.set_defaults(func=cmd_run)

    asm = sub.add_parser("asm", help="assemble to raw bytecode")
    asm.add_argument("file")
    asm.add_argument("-o", "--output", help="write raw bytecode here (default: hex on stdout)")
    asm.add_argument("--section", help="the program to take from a multi-program file")
    syntax_option(asm)
    asm.set_defaults(func=cmd_asm)

    dis = sub.add_parser("disasm", help="list and disassemble the programs of a file")
    dis.add_argument("file")
    program_options(dis)
    dis.add_argument("--syntax", choices=("kernel", "conformance"), default="kernel")
    dis.add_argument("--json", action="store_true")
    dis.set_defaults(func=cmd_disasm)

    check = sub.add_parser("check", help="verify programs: accepted (exit 0), rejected (1), unknown (3)")
    check.add_argument("file")
    program_options(check)
    check.add_argument("--profile", choices=("linux-6.18", "linux-4.1"), default="linux-6.18",
                       help="the kernel whose rules apply (default: linux-6.18)")
    check.add_argument("--arch", choices=("x86_64", "arm64"), default="x86_64")
    check.add_argument("--kern-version", help=KERN_VERSION_HELP)
    check.add_argument("--strict", action="store_true",
                       help="the rules for unprivileged programs: the profile's warnings are errors")
    check.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                       help="text, JSON (the verdict per program) or SARIF 2.1.0 (for code-scanning tools)")
    check.add_argument("--timeout", type=float, default=60.0, help="seconds the whole command may take, loading included, before verdicts are unknown")
    check.add_argument("--max-memory", type=int, help="megabytes of memory the analysis may use")
    check.add_argument("--max-work", type=int, default=5_000_000, help="instruction steps per program")
    check.add_argument("--max-unroll", type=int, default=60_000,
                       help="instruction steps spent following loops to prove they end (default 60000)")
    check.add_argument("--compare-kernel", action="store_true",
                       help="load each program into the running kernel too and print its verdict beside ours")
    check.add_argument("--no-solver", action="store_true",
                       help="report the abstract interpretation's alarms as they stand, without z3's judgement")
    check.add_argument("--solver-timeout", type=float, default=5.0,
                       help="seconds one z3 query may take (default 5); z3's resource limit decides first, "
                            "the same on every machine")
    check.add_argument("-v", "--verbose", action="store_true",
                       help="also each loop's bound and how it was found, and the worst-case instruction count")
    check.add_argument("--explain", metavar="DIR",
                       help="write an HTML page per program into DIR: its graph, findings and the failing run replayed")
    check.set_defaults(func=cmd_check)

    cfg = sub.add_parser("cfg", help="the control-flow graph of a program (dot, json or svg)")
    cfg.add_argument("file")
    program_options(cfg)
    cfg.add_argument("--format", choices=("dot", "json", "svg"), default="dot")
    cfg.add_argument("-o", "--output", help="write the svg here (default: stdout)")
    cfg.add_argument("--timeout", type=float, default=60.0,
                     help="seconds the command may take, loading included (default 60)")
    cfg.set_defaults(func=cmd_cfg)

    conf = sub.add_parser("conformance", help="run eBPF conformance-suite files")
    conf.add_argument("paths", nargs="+", help="directories of .data files, or files")
    conf.add_argument("--negative", action="store_true",
                      help="every file must be refused (default for directories named *negative*)")
    conf.add_argument("-v", "--verbose", action="store_true", help="one line per file")
    conf.add_argument("--budget", type=int, default=10_000_000)
    conf.set_defaults(func=cmd_conformance)

    bench = sub.add_parser("bench", help="time the interpreter on benchmark programs")
    bench.add_argument("paths", nargs="*", default=["../shared/bench"],
                       help="benchmark .data files or directories (default: ../shared/bench)")
    bench.add_argument("--repeat", type=int, default=1, help="runs per program; the best is shown")
    bench.add_argument("--budget", type=int, default=10**9)
    bench.set_defaults(func=cmd_bench)

    from .corpus import register as register_corpus
    from .kernel_cli import register as register_kernel
    from .replay_cli import register as register_replay

    register_kernel(sub)
    register_corpus(sub)
    register_replay(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors and --help end here, with their one line printed
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"bpfverify: usage error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryLimit as exc:  # the run's regions, before the program ran (global data, --maps)
        print(f"bpfverify: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_UNKNOWN
    except MemoryError:
        print("bpfverify: error: out of memory (raise --max-memory)", file=sys.stderr)
        return EXIT_UNKNOWN
    except KeyboardInterrupt:
        print("bpfverify: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # never a traceback for users; BPFVERIFY_DEBUG=1 shows it
        if is_bad_input(exc):
            print(f"bpfverify: error: {one_line(str(exc))}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if isinstance(exc, SystemError) and resource_limited():
            # CPython reports some allocation failures under an address-space limit this way
            print("bpfverify: error: out of memory (raise --max-memory)", file=sys.stderr)
            return EXIT_UNKNOWN
        if os.environ.get("BPFVERIFY_DEBUG"):
            raise
        print(f"bpfverify: internal error: {type(exc).__name__}: {one_line(str(exc))}", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
