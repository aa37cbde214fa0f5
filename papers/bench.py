"""Start-up and scale of `bpfverify check`, in CPU seconds of child processes (their rusage, not
the wall clock), side by side in one run:

    python -m papers.bench [--baseline DIR] [--sizes 1000,10000,100000] [--repeat N] [--limit N]
                           [--falco-section S] [--no-kernel] [--out DIR]

- `check FILE --section S`, one process per program, for each kprobe program of the shared corpus
  (median and total: what a user waits for, start-up included);
- `check --section S` on one program of `falco/probe.o` (95 programs; median of --repeat runs);
- `bpfverify corpus` over the same kprobe programs, in one process (and its worker, whose time is
  counted too: the bench adopts the processes a command leaves running);
- straight-line programs of --sizes instructions (`papers.experiments.scaling`'s body) checked
  from a `.bin` file: CPU seconds, the child's peak memory (ru_maxrss) and the analysis' steps
  (`stats.steps` of `--format json`);
- where `bpf()` may be used, the running kernel on the same straight-line programs: the
  verification time it reports (BPF_LOG_STATS) and the CPU seconds of the load (BPF_PROG_LOAD).

`--baseline DIR` times another checkout of this project (its root) beside this one, with the same
interpreter. Children run with bytecode caching on (PYTHONDONTWRITEBYTECODE removed) after an
untimed run of each command, as an installed package runs: compiling the sources is not
start-up. `--out DIR` writes `startup_bench.tsv` and `startup_bench.json` there (the single
measurements' directory is `papers/measurements`)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLES = ROOT.parent / "shared" / "corpus" / "ebpf-samples"
FALCO = "falco/probe.o"
FALCO_SECTION = "raw_tracepoint/sys_enter"
SIZES = (1_000, 10_000, 100_000)
CHECK_TIMEOUT_S = 600  # the checks' own limit (CPU seconds): a straight line of 100k takes seconds


class BenchError(Exception):
    """Input the bench cannot use (no corpus, a baseline that is no checkout); one line."""


@dataclass
class Run:
    cpu_s: float  # user + system time of the child and the processes it waited for
    peak_mb: float  # the child's ru_maxrss
    exit: int
    stdout: str


def child_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(root)  # this checkout's packages, before any installed copy
    return env


def adopt_orphans() -> bool:
    """Make this process the reaper of its descendants' orphans (Linux' PR_SET_CHILD_SUBREAPER):
    `bpfverify corpus` runs its checks in workers of a forkserver, which outlive the command by a
    moment; adopted, their CPU time is counted too. False where the kernel refuses."""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def bpfverify(root: Path, args: list[str]) -> Run:
    """`bpfverify ARGS` run from `root` in a fresh process, measured by its own rusage and that of
    every process it started (adopted when the command left them running)."""
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen([sys.executable, "-m", "verifier.cli", *args], cwd=root, env=child_env(root),
                                 stdout=out, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        cpu, peak = usage.ru_utime + usage.ru_stime, usage.ru_maxrss
        while True:  # the orphans it left, now ours
            try:
                _, _, usage = os.wait4(-1, 0)
            except ChildProcessError:
                break
            cpu, peak = cpu + usage.ru_utime + usage.ru_stime, max(peak, usage.ru_maxrss)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return Run(cpu, peak / 1024, child.returncode, text)


def python_alone() -> float:
    """CPU seconds of `python -c pass` with this environment: the interpreter's own start-up, the
    floor under every command."""
    child = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0
    return usage.ru_utime + usage.ru_stime


def kprobe_programs(samples: Path, limit: int | None) -> list[tuple[Path, str]]:
    """(object, --section selector) of every kprobe program of the corpus, in file order."""
    from interp.loader import LoaderError, load_object
    from interp.sources import describe

    found: list[tuple[Path, str]] = []
    for path in sorted(samples.rglob("*.o")):
        if limit is not None and len(found) >= limit:
            break
        try:
            programs = load_object(path, target_btf=None)
        except LoaderError:
            continue  # (the corpus's invalid/ objects)
        found += [(path, describe(p)) for p in programs if p.prog_type == "kprobe"]
    return found[:limit] if limit is not None else found


def straight_line_file(size: int, directory: Path) -> Path:
    """`papers.experiments.scaling`'s straight-line program of `size` instructions as a `.bin`
    file with its sidecar."""
    from interp.isa.insn import encode
    from papers.experiments.scaling import straight_program

    path = directory / f"straight_{size}.bin"
    path.write_bytes(encode(straight_program(size).insns))
    path.with_suffix(".json").write_text(json.dumps({"prog_type": "kprobe", "license": "GPL"}))
    return path


def kernel_straight_line(size: int) -> dict[str, Any] | None:
    """The running kernel on the straight-line program: its verdict, processed instructions, the
    verification time it reports, and the CPU seconds of the load; None without `bpf()`."""
    from interp.kernel import KernelUnavailable, kernel_verdict
    from papers.experiments.scaling import straight_program

    program = straight_program(size)
    before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        verdict = kernel_verdict(program, log_level=0)
    except KernelUnavailable:
        return None
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    time_us = verdict.stats.verification_time_us
    return {"verdict": verdict.verdict, "processed_insns": verdict.stats.processed_insns,
            "verification_s": time_us / 1e6 if time_us is not None else None, "load_cpu_s": cpu}


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def measure(roots: dict[str, Path], programs: list[tuple[Path, str]], falco: Path | None, falco_section: str,
            sizes: list[int], repeat: int, work: Path) -> dict[str, dict[str, Any]]:
    """Every measurement of each checkout; the checkouts take turns run by run, so that a machine
    growing busier or quieter weighs on them alike."""
    out: dict[str, dict[str, Any]] = {name: {"root": str(root)} for name, root in roots.items()}

    def each(args: list[str]) -> dict[str, Run]:
        return {name: bpfverify(root, args) for name, root in roots.items()}

    bare = [python_alone() for _ in range(5)]
    for name in roots:
        out[name]["python_alone_s"] = _median(bare)  # (the same interpreter for every checkout)
    if programs:
        each(["check", str(programs[0][0]), "--section", programs[0][1]])  # (untimed: bytecode cached)
        runs = [each(["check", str(path), "--section", section]) for path, section in programs]
        for name in roots:
            times = [r[name].cpu_s for r in runs]
            out[name]["check_each"] = {"programs": len(programs), "median_s": _median(times), "total_s": sum(times),
                                       "max_s": max(times), "exits": sorted({r[name].exit for r in runs})}
        files = sorted({str(path) for path, _ in programs})
        csv_out = work / "corpus.csv"
        args = ["corpus", *files, "--types", "kprobe", "--format", "csv", "-o", str(csv_out)]
        each(args)  # (untimed)
        for name, root in roots.items():
            run = bpfverify(root, args)
            rows = max(len(csv_out.read_text().splitlines()) - 1, 0) if csv_out.exists() else 0
            out[name]["corpus"] = {"programs": len(programs), "rows": rows, "cpu_s": run.cpu_s, "exit": run.exit}
    if falco is not None:
        runs = [each(["check", str(falco), "--section", falco_section]) for _ in range(repeat)]
        for name in roots:
            out[name]["falco_section"] = {"section": falco_section, "median_s": _median([r[name].cpu_s for r in runs]),
                                          "runs": [round(r[name].cpu_s, 3) for r in runs], "exit": runs[0][name].exit}
    for name in roots:
        out[name]["straight_line"] = []
    for size in sizes:
        path = work / f"straight_{size}.bin"
        for name, run in each(["check", str(path), "--format", "json", "--timeout", str(CHECK_TIMEOUT_S)]).items():
            try:
                entry = json.loads(run.stdout)["programs"][0]
                verdict, steps = entry["verdict"], entry["stats"].get("steps")
            except (ValueError, KeyError, IndexError):
                verdict, steps = f"exit {run.exit}", None
            out[name]["straight_line"].append({"insns": size, "cpu_s": run.cpu_s, "peak_mb": run.peak_mb,
                                               "steps": steps, "verdict": verdict})
    return out


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
            "load_average": os.getloadavg()}


def _cell(value: Any, unit: str = "s") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f} {unit}".rstrip()
    return str(value)


def table(results: dict[str, dict[str, Any]], kernel: list[dict[str, Any] | None]) -> list[list[str]]:
    """Rows: what was measured, then one column per checkout."""
    names = list(results)
    rows: list[list[str]] = []

    def row(label: str, pick: Any) -> None:
        rows.append([label] + [pick(results[name]) for name in names])

    first = results[names[0]]
    row("python -c pass (the interpreter alone): median of 5", lambda r: _cell(r["python_alone_s"]))
    if "check_each" in first:
        count = first["check_each"]["programs"]
        row(f"check --section, one process per kprobe program ({count}): median",
            lambda r: _cell(r["check_each"]["median_s"]))
        row("  total", lambda r: _cell(r["check_each"]["total_s"]))
        row("  slowest", lambda r: _cell(r["check_each"]["max_s"]))
        row(f"corpus --types kprobe, one process ({count} programs)", lambda r: _cell(r["corpus"]["cpu_s"]))
    if "falco_section" in first:
        section = first["falco_section"]["section"]
        row(f"check --section {section} {FALCO}: median of {len(first['falco_section']['runs'])}",
            lambda r: _cell(r["falco_section"]["median_s"]))
    for n, entry in enumerate(first["straight_line"]):
        size = entry["insns"]
        row(f"straight line {size:,} insns: CPU", lambda r, n=n: _cell(r["straight_line"][n]["cpu_s"]))
        row("  peak memory", lambda r, n=n: _cell(r["straight_line"][n]["peak_mb"], "MB"))
        row("  steps, verdict", lambda r, n=n: f"{r['straight_line'][n]['steps']}, {r['straight_line'][n]['verdict']}")
        theirs = kernel[n] if n < len(kernel) else None
        if theirs is not None:
            seconds = theirs["verification_s"]
            verification = f"{seconds * 1e3:.2f} ms" if seconds is not None else "-"
            rows.append([f"  kernel: {theirs['verdict']}, {theirs['processed_insns']} processed, verification "
                         f"{verification}, load CPU {_cell(theirs['load_cpu_s'])}"] + [""] * len(names))
    return rows


def write(out: Path, results: dict[str, dict[str, Any]], kernel: list[dict[str, Any] | None],
          rows: list[list[str]], args: argparse.Namespace) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    tsv = out / "startup_bench.tsv"
    tsv.write_text("\n".join("\t".join(cells) for cells in [["measure", *results]] + rows) + "\n")
    document = {"command": "python -m papers.bench " + " ".join(sys.argv[1:]), "machine": machine(),
                "checkouts": results, "kernel_straight_line": kernel,
                "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    data = out / "startup_bench.json"
    data.write_text(json.dumps(document, indent=1) + "\n")
    return [tsv, data]


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: give sizes as numbers, e.g. 1000,10000") from None
    if not sizes or any(not 3 <= s <= 1_000_000 for s in sizes):
        raise argparse.ArgumentTypeError(f"{text}: each size from 3 to 1,000,000 instructions")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m papers.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout's root, measured beside this one")
    parser.add_argument("--samples", type=Path, default=SAMPLES, help="the corpus (default ../shared/corpus/ebpf-samples)")
    parser.add_argument("--sizes", type=_sizes, default=list(SIZES), help="straight-line sizes (default 1000,10000,100000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the falco check; the median is kept")
    parser.add_argument("--limit", type=int, help="only the first N kprobe programs (a quick run)")
    parser.add_argument("--falco-section", default=FALCO_SECTION, help=f"the program of {FALCO} (default {FALCO_SECTION})")
    parser.add_argument("--no-falco", action="store_true", help=f"skip the {FALCO} check")
    parser.add_argument("--no-kernel", action="store_true", help="do not ask the running kernel")
    parser.add_argument("--out", type=Path, help="write startup_bench.tsv and .json into this directory")
    args = parser.parse_args(argv)
    try:
        if args.repeat < 1 or (args.limit is not None and args.limit < 0):
            raise BenchError("--repeat must be at least 1 and --limit at least 0")
        if args.out is not None and args.out.exists() and not args.out.is_dir():
            raise BenchError(f"--out {args.out} is a file; give a directory (e.g. papers/measurements)")
        roots = {"this": ROOT}
        if args.baseline is not None:
            if not (args.baseline / "verifier" / "cli.py").is_file():
                raise BenchError(f"--baseline {args.baseline}: no checkout of this project there (no verifier/cli.py)")
            roots["baseline"] = args.baseline.resolve()
        if not args.samples.is_dir():
            raise BenchError(f"--samples {args.samples}: no such directory (the shared corpus)")
        programs = kprobe_programs(args.samples, args.limit)
        falco = None if args.no_falco else args.samples / FALCO
        if falco is not None and not falco.is_file():
            raise BenchError(f"{falco}: no such file (give --no-falco)")
    except BenchError as exc:
        print(f"papers.bench: {exc}", file=sys.stderr)
        return 2
    if not adopt_orphans():
        print("papers.bench: processes a command leaves running are not counted (no PR_SET_CHILD_SUBREAPER)",
              file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for size in args.sizes:
            straight_line_file(size, work)
        results = measure(roots, programs, falco, args.falco_section, args.sizes, args.repeat, work)
    kernel = [] if args.no_kernel else [kernel_straight_line(size) for size in args.sizes]
    if kernel and all(k is None for k in kernel):
        print("papers.bench: the running kernel was not asked (bpf() is not permitted here)", file=sys.stderr)
    rows = table(results, kernel)
    width = max(len(r[0]) for r in rows)
    print(f"{'CPU seconds of child processes':{width}}  " + "  ".join(f"{name:>12}" for name in results))
    for cells in rows:
        print(f"{cells[0]:{width}}  " + "  ".join(f"{c:>12}" for c in cells[1:]))
    if args.out is not None:
        for path in write(args.out, results, kernel, rows, args):
            print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
