"""`bpfverify corpus`: every program of many objects checked in worker processes, one row each
(with `--compare-kernel`, the running kernel's verdict beside ours), in the habits of veristat:
a progress bar on stderr, filters, sorting, table/CSV/JSON, and `--compare A B` between runs.

Each program is bounded by the check limits, and runs in a worker that a crash or a hang costs
only that program's row, so one bad program never stops the run."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from interp.program import Program
from interp.sources import describe, read_program

from .corpus_report import (
    BASE_COLUMNS,
    COMPARE_COLUMNS,
    DETAIL_COLUMNS,
    KERNEL_COLUMNS,
    ReportError,
    Row,
    agreement_table,
    compare_runs,
    make_filter,
    read_run,
    render,
    sort_rows,
)
from .profiles import PROFILES

OBJECT_SUFFIXES = (".o",)
DEFAULT_MAX_MEMORY_MB = 1024


@dataclass(frozen=True)
class CorpusOptions:
    profile: str
    timeout_s: float
    max_work: int
    max_unroll: int
    max_memory_mb: int
    compare_kernel: bool
    kern_version: int | None = None  # --kern-version; None: each object's own version section


@dataclass(frozen=True)
class Task:
    kind: str  # "list": the programs of a file; "check": one program
    path: str
    shown: str  # the file as rows name it
    index: int = -1
    section: str = ""


# -- in the workers ---------------------------------------------------------------------------


def _setup(options: CorpusOptions) -> None:
    import resource

    from .fixpoint import process_memory

    # the analysis watches its own memory (verdict unknown past the budget); the address-space
    # limit is a backstop far above it, for what it does not see coming
    limit = process_memory()[0] + (4 * options.max_memory_mb + 1024) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


@lru_cache(maxsize=4)
def _programs(path: str) -> list[Program]:
    return read_program(Path(path)).programs


def _work(task: Task, options: CorpusOptions) -> Any:
    try:
        programs = _programs(task.path)
    except Exception as exc:  # any file that cannot be read is one row, never the end of the run
        return {"error": f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)}
    if task.kind == "list":
        return [(i, describe(p), p.prog_type) for i, p in enumerate(programs)]
    return _check_row(task, programs[task.index], options)


def _check_row(task: Task, program: Program, options: CorpusOptions) -> Row:
    from .check import check_program
    from .fixpoint import Limits, process_memory
    from .structure import kern_version_target

    row: Row = {"file": task.shown, "section": describe(program), "type": program.prog_type, "insns": program.slots}
    before = process_memory()[1]
    try:
        limits = Limits(timeout_s=options.timeout_s, max_work=options.max_work, max_unroll_work=options.max_unroll,
                        max_memory_mb=options.max_memory_mb)
        result = check_program(program, options.profile, kern_version=kern_version_target(program, options.kern_version),
                               limits=limits)
    except Exception as exc:
        row.update(verdict="error", error="internal-error", detail=f"{type(exc).__name__}: {exc}")
        return row
    first = result.findings[0] if result.findings else None
    row.update(verdict=result.verdict, error=first.code if first else ("resource-limit" if result.reason else None),
               time_s=round(result.time_s, 4), mem_mb=round(max(process_memory()[1] - before, 0) / 2**20, 1),
               alarms=len(result.findings), detail=first.message if first else result.reason)
    if options.compare_kernel:
        row.update(_kernel_columns(program, result.verdict))
    return row


def _kernel_columns(program: Program, ours: str) -> Row:
    from interp.kernel import KernelUnavailable, kernel_verdict

    from .kernel_compare import agreement

    try:
        verdict = kernel_verdict(program, log_level=0)  # the judgement and the statistics only
    except KernelUnavailable:
        return {}
    return {"kernel": verdict.verdict, "kernel_reason": verdict.reason,
            "kernel_insns": verdict.stats.processed_insns, "kernel_time_us": verdict.stats.verification_time_us,
            "agreement": agreement(ours, verdict.verdict)}


def _lost(task: Task, why: str) -> Any:
    if task.kind == "list":
        return {"error": why}
    return {"file": task.shown, "section": task.section, "verdict": "error", "error": "worker-lost", "detail": why}


# -- the command ------------------------------------------------------------------------------


def _files(paths: list[str]) -> list[tuple[str, str]]:
    """(path, shown name) of each object: directories are searched for `.o` files, and their
    files are named relative to the directory (under its own name when several PATHs are given)."""
    files: list[tuple[str, str]] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            root = path.parent if len(paths) > 1 else path
            files += [(str(f), str(f.relative_to(root))) for f in sorted(path.rglob("*"))
                      if f.suffix in OBJECT_SUFFIXES and f.is_file()]
        elif path.is_file():
            files.append((str(path), str(path)))
        else:
            raise ReportError(f"{name}: no such file or directory")
    if not files:
        raise ReportError(f"no .o files in {', '.join(paths)}")
    return files


def _types(spec: str | None, profile: str) -> set[str] | None:
    if spec is None:
        return set(PROFILES[profile].program_types)
    if spec == "all":
        return None
    return {t.strip() for t in spec.split(",") if t.strip()}


def cmd_corpus(args: argparse.Namespace) -> int:
    from .cli_common import EXIT_BAD_INPUT

    try:
        if args.compare is not None:
            if args.paths:
                raise ReportError("give PATHs to run, or --compare A B, not both")
            return _compare(args)
        if not args.paths:
            raise ReportError("give files or directories of objects (or --compare A B)")
        return _run(args)
    except ReportError as exc:
        print(f"bpfverify: corpus: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .cli_common import kern_version_option

    kern_version = kern_version_option(args.kern_version)
    for name in ("timeout", "max_work", "max_unroll", "max_memory", "jobs"):
        if getattr(args, name) <= 0:
            raise ReportError(f"--{name.replace('_', '-')} {getattr(args, name)}: give a positive number")
    compare_kernel = args.compare_kernel
    if compare_kernel:
        from interp.kernel import unavailable_reason

        reason = unavailable_reason()
        if reason is not None:
            print(f"bpfverify: kernel not asked: {reason}", file=sys.stderr)
            compare_kernel = False
    columns = BASE_COLUMNS + (KERNEL_COLUMNS if compare_kernel else []) + DETAIL_COLUMNS
    filters = [make_filter(expr, columns) for expr in args.filter or []]
    if args.sort:
        sort_rows([], args.sort, columns)  # a bad key is a usage error before the run, not after it
    options = CorpusOptions(args.profile, args.timeout, args.max_work, args.max_unroll, args.max_memory,
                            compare_kernel, kern_version)
    types = _types(args.types, args.profile)
    files = _files(args.paths)
    start = time.monotonic()
    rows: list[Row] = []
    skipped = 0
    deadline = 2 * args.timeout + 60  # past its own timeout and the kernel's verification: stuck
    # (worker processes, or a Dask cluster: for this command only)
    from .scale import SchedulerError, run_tasks

    def run(tasks: list[Task]) -> Any:
        return run_tasks(_work, tasks, jobs=args.jobs, on_lost=_lost, scheduler=args.scheduler, options=options,
                         deadline_s=deadline, setup=_setup)

    checks: list[Task] = []
    try:
        with tqdm(total=len(files), desc="reading", unit=" files", file=sys.stderr, disable=None, leave=False) as bar:
            for task, listing in run([Task("list", path, shown) for path, shown in files]):
                bar.update()
                if isinstance(listing, dict):
                    rows.append({"file": task.shown, "section": None, "verdict": "error", "error": "load-error",
                                 "detail": listing["error"]})
                    continue
                for index, section, prog_type in listing:
                    if types is None or prog_type in types:
                        checks.append(Task("check", task.path, task.shown, index, section))
                    else:
                        skipped += 1
        order = {(t.path, t.index): n for n, t in enumerate(sorted(checks, key=lambda t: (t.shown, t.index)))}
        checked: list[tuple[int, Row]] = []
        with tqdm(total=len(checks), desc="checking", unit=" programs", file=sys.stderr, disable=None) as bar:
            for task, row in run(sorted(checks, key=lambda t: (t.shown, t.index))):
                checked.append((order[(task.path, task.index)], row))
                bar.set_postfix_str(f"{task.shown} {task.section}"[-50:], refresh=False)
                bar.update()
    except SchedulerError as exc:
        raise ReportError(str(exc)) from None
    elapsed = time.monotonic() - start
    rows += [row for _, row in sorted(checked, key=lambda pair: pair[0])]
    where = f"on {args.scheduler}" if args.scheduler else f"{args.jobs} jobs"
    summary = [f"{len(checked)} programs from {len(files)} files in {elapsed:.1f} s ({where}, profile "
               f"{args.profile}); {skipped} programs of other types not checked (--types)"]
    if filters:
        rows = [r for r in rows if all(f(r) for f in filters)]
        summary.append(f"{len(rows)} rows kept by --filter")
    if args.sort:
        rows = sort_rows(rows, args.sort, columns)
    programs = [r for r in rows if r.get("error") != "load-error"]
    verdicts = {v: sum(1 for r in programs if r.get("verdict") == v) for v in ("accepted", "rejected", "unknown", "error")}
    unloadable = len(rows) - len(programs)
    summary.append("ours: " + ", ".join(f"{count} {verdict}" for verdict, count in verdicts.items())
                   + (f"; {unloadable} files could not be loaded" if unloadable else ""))
    if compare_kernel:
        summary += agreement_table(rows)
    _emit(args, rows, columns, summary, {"profile": args.profile, "summary": summary})
    return 0


def _emit(args: argparse.Namespace, rows: list[Row], columns: list[str], summary: list[str],
          extra: dict[str, Any]) -> None:
    text = render(rows, columns, args.format, extra)
    if args.format == "table":
        text += "\n" + "\n".join(summary) + "\n"
    else:
        for line in summary:
            print(line, file=sys.stderr)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ReportError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)


def _compare(args: argparse.Namespace) -> int:
    a, b = (read_run(Path(name)) for name in args.compare)
    joined, summary = compare_runs(a, b)
    filters = [make_filter(expr, COMPARE_COLUMNS) for expr in args.filter or []]
    joined = [r for r in joined if all(f(r) for f in filters)]
    if args.sort:
        joined = sort_rows(joined, args.sort, COMPARE_COLUMNS)
    _emit(args, joined, COMPARE_COLUMNS, summary, {"a": args.compare[0], "b": args.compare[1], "summary": summary})
    return 0


def register(sub: Any) -> None:
    from .cli_common import KERN_VERSION_HELP

    corpus = sub.add_parser("corpus", help="check every program of many objects: one row each (veristat-like)")
    corpus.add_argument("paths", nargs="*", metavar="PATH", help="objects, or directories searched for .o files")
    corpus.add_argument("--profile", choices=sorted(PROFILES), default="linux-6.18")
    corpus.add_argument("--kern-version", help=KERN_VERSION_HELP)
    corpus.add_argument("--types", help="comma-separated program types to check, or 'all' (default: the types "
                                        "the profile verifies)")
    corpus.add_argument("--compare-kernel", action="store_true",
                        help="load each program into the running kernel too: its verdict, reason, processed "
                             "insns and verification time")
    corpus.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    corpus.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the checks on a Dask distributed cluster (tcp://HOST:8786) instead of local "
                             "processes; its workers must see the same paths")
    corpus.add_argument("--format", choices=("table", "csv", "json"), default="table")
    corpus.add_argument("--filter", action="append", metavar="EXPR",
                        help="keep rows where KEY OP VALUE holds (e.g. verdict=rejected, insns>100, "
                             "agreement!=agree), or whose file/section matches a glob; '!' negates; repeatable")
    corpus.add_argument("--sort", metavar="KEY", help="sort by columns: KEY[,KEY]; KEY:desc or -KEY descending")
    corpus.add_argument("-o", "--output", help="write the rows here (default: stdout)")
    corpus.add_argument("--compare", nargs=2, metavar=("A", "B"),
                        help="compare two earlier runs (their CSV or JSON): verdict changes and time ratios")
    corpus.add_argument("--timeout", type=float, default=60.0, help="seconds per program before the verdict is unknown")
    corpus.add_argument("--max-work", type=int, default=5_000_000, help="instruction steps per program")
    corpus.add_argument("--max-unroll", type=int, default=60_000, help="steps spent following loops per program")
    corpus.add_argument("--max-memory", type=int, default=DEFAULT_MAX_MEMORY_MB,
                        help=f"megabytes each check may use (default {DEFAULT_MAX_MEMORY_MB})")
    corpus.set_defaults(func=cmd_corpus)
