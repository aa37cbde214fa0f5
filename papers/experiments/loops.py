"""Loops: how each loop's bound is found (proved by z3 from one iteration, or followed iteration by
iteration), what checking costs as the iteration count grows, beside the running kernel, which
walks every iteration; and the clang-compiled loops of `python -m papers.loop_bench`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from interp.asm.kernel_syntax import assemble
from interp.program import Program

from ..runner import REPOSITORY, Context
from .scaling import in_fresh_process, measure_kernel


def kernel_permitted() -> bool:
    from interp.kernel.load import unavailable_reason

    return unavailable_reason() is None

ITERATIONS = (10, 100, 1_000, 10_000, 100_000, 1_000_000)
QUICK_ITERATIONS = (10, 100)
# the same counted loop twice: its counter in a register, whose bound z3 proves from one iteration,
# and spilled to the stack and filled each time round, which the analysis follows iteration by iteration
FAMILIES = {
    "counter in a register": "r1 = 0\nloop:\nr1 += 1\nif r1 < {n} goto loop\nr0 = 0\nexit",
    "counter spilled each iteration": ("r1 = 0\nloop:\nr1 += 1\n*(u64 *)(r10 -8) = r1\nr1 = *(u64 *)(r10 -8)\n"
                                       "if r1 < {n} goto loop\nr0 = 0\nexit"),
}


def loop_program(family: str, iterations: int) -> Program:
    insns = assemble(FAMILIES[family].format(n=iterations))
    return Program("loop", "kprobe/f", "kprobe", "kprobe", "f", insns, len(insns), [], license="GPL")


def how_bounded(measured: dict[str, Any]) -> str:
    return ", ".join(f"{loop['bound']} ({loop['how']})" if loop["bound"] is not None else f"none ({loop['how']})"
                     for loop in measured["loops"]) or "-"


def run(context: Context) -> None:
    iterations = QUICK_ITERATIONS if context.quick else ITERATIONS
    rows: list[list[Any]] = []
    points: dict[str, list[tuple[int, float, bool]]] = {}  # line -> (iterations, seconds, accepted)
    for family in FAMILIES:
        for n in iterations:
            program = loop_program(family, n)
            ours, kernel = in_fresh_process(program), measure_kernel(program)
            points.setdefault(f"bpfverify, {family}", []).append((n, ours["cpu_s"], ours["verdict"] == "accepted"))
            if kernel and kernel["time_us"]:  # (a log axis has no room for 0)
                points.setdefault(f"Linux, {family}", []).append(
                    (n, kernel["time_us"] / 1e6, kernel["verdict"] == "accepted"))
            rows.append([family, n, ours["verdict"], ",".join(ours["codes"]) or "-", how_bounded(ours),
                         f"{ours['cpu_s']:.3f}", ours["work"], kernel["verdict"] if kernel else "not asked",
                         kernel["insns"] if kernel else "", f"{kernel['time_us'] / 1e3:.1f}" if kernel else ""])
    context.table("loops", "A counted loop against its iteration count: ours (CPU s) and the kernel's",
                  ["loop", "iterations", "ours", "codes", "bound (how found)", "CPU s", "analysis steps",
                   "kernel", "kernel processed insns", "kernel verification ms"], rows)
    _figure(context, points)
    _compiled_loops(context)


def _figure(context: Context, points: dict[str, list[tuple[int, float, bool]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    styles = {"bpfverify": ("-", "o"), "Linux": ("--", "s")}  # a line style per verifier, a colour per loop
    colours = {family: f"C{n}" for n, family in enumerate(FAMILIES)}
    for line, measured in points.items():
        verifier, family = line.split(", ", 1)
        xs, ys, _ = zip(*measured)
        style, marker = styles[verifier]
        axes.loglog(xs, ys, style, marker=marker, color=colours[family], label=line)
        refused = [(x, y) for x, y, ok in measured if not ok]
        if refused:
            axes.loglog(*zip(*refused), "x", color=colours[family], markersize=11, markeredgewidth=2)
    axes.plot([], [], "kx", markersize=9, markeredgewidth=2, label="refused (too complex or over budget)")
    axes.set_xlabel("loop iterations")
    axes.set_ylabel("verification time (s; ours CPU, the kernel's own count)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    context.figure("loops", "Verification time against a loop's iteration count (log-log)", figure)


def _compiled_loops(context: Context) -> None:
    """The clang-compiled cases of papers/loop_bench.py, each checked in a fresh process."""
    from .. import loop_bench

    if shutil.which("clang") is None:
        context.note("the clang-compiled loops were not checked: clang is not installed")
        return
    cases = loop_bench.CASES[:2] if context.quick else loop_bench.CASES
    asked = kernel_permitted()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, code, _) in enumerate(cases):
            obj = Path(tmp) / f"case{n}.o"
            loop_bench.compile_case(code, obj)
            ours = loop_bench.check_in(REPOSITORY, obj)
            kernel = loop_bench.kernel_says(obj) if asked else "not asked"
            rows.append([name, kernel, ours["verdict"], ",".join(ours["codes"]) or "-",
                         loop_bench.describe_loops(ours), ours["worst_case"],
                         "yes" if ours["confirmed"] else "-", f"{ours['cpu_s']:.2f}"])
    context.table("loop_cases", "Loops compiled by clang: `python -m papers.loop_bench --no-corpus`",
                  ["case", "kernel", "ours", "codes", "bound (how found)", "worst-case insns",
                   "endless run replayed", "CPU s"], rows)
