"""Checking time and peak memory against program size: straight-line programs of 100 to 1,000,000
instructions, each checked in a fresh process (so that its peak memory is its own), beside the
running kernel's own verification time for the same program."""

from __future__ import annotations

import resource
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

from interp.asm.kernel_syntax import assemble
from interp.program import Program

from ..runner import Context

SIZES = (100, 1_000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (100, 1_000, 3_000)
# a context read, arithmetic, a spill and its fill: the work of a real program's straight stretch
BODY = "r2 = *(u64 *)(r1 +112)\nr0 += r2\n*(u64 *)(r10 -8) = r0\nr0 = *(u64 *)(r10 -8)\n"


def straight_program(size: int) -> Program:
    """`size` instructions: r0 = 0, the body repeated, r0 = 0, exit."""
    body = assemble(BODY)
    repeats, rest = divmod(size - 3, len(body))
    insns = assemble("r0 = 0") + body * repeats + body[:rest] + assemble("r0 = 0\nexit")
    return Program("straight", "kprobe/f", "kprobe", "kprobe", "f", insns, len(insns), [], license="GPL")


def measure_check(program: Program) -> dict[str, Any]:
    """Run in a fresh process: the CPU time of checking `program`, and the process' peak memory."""
    from verifier.check import check_program
    from verifier.fixpoint import Limits

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.process_time()
    result = check_program(program, limits=Limits(timeout_s=3600, max_memory_mb=8192))
    cpu = time.process_time() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"verdict": result.verdict, "codes": sorted({f.code for f in result.errors}), "cpu_s": cpu,
            "peak_mb": peak / 1024, "added_mb": (peak - base) / 1024, "work": result.work,
            "loops": [loop.to_json() for loop in result.loops]}


def in_fresh_process(program: Program) -> dict[str, Any]:
    """`measure_check` in a process of its own (so that its peak memory and caches are its own)."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(measure_check, program).result()


def measure_kernel(program: Program) -> dict[str, Any] | None:
    """The running kernel's verdict, its own verification time and processed instructions (None
    where bpf() is not permitted)."""
    from interp.kernel import KernelUnavailable, kernel_verdict

    try:
        verdict = kernel_verdict(program, log_level=0)
    except KernelUnavailable:
        return None
    return {"verdict": verdict.verdict, "time_us": verdict.stats.verification_time_us,
            "insns": verdict.stats.processed_insns, "reason": verdict.reason}


def kernel_words(kernel: dict[str, Any] | None) -> str:
    """The kernel's verdict for a table cell, with its reason where it refused."""
    if kernel is None:
        return "not asked"
    return kernel["verdict"] + (f": {kernel['reason']}" if kernel["verdict"] != "accepted" and kernel["reason"] else "")


def run(context: Context) -> None:
    sizes = QUICK_SIZES if context.quick else SIZES
    rows, ours, kernel = [], [], []
    for size in sizes:
        program = straight_program(size)
        mine = in_fresh_process(program)
        theirs = measure_kernel(program)
        ours.append(mine)
        kernel.append(theirs)
        rows.append([size, mine["verdict"], f"{mine['cpu_s']:.4f}", f"{mine['cpu_s'] / size * 1e6:.1f}",
                     f"{mine['peak_mb']:.0f}", f"{mine['added_mb']:.0f}", mine["work"],
                     kernel_words(theirs), theirs["insns"] if theirs else "",
                     f"{theirs['time_us'] / 1e3:.1f}" if theirs and theirs["time_us"] is not None else ""])
    context.table("scaling", "Straight-line programs: our checking (CPU s, peak memory) and the kernel's",
                  ["insns", "ours", "CPU s", "us per insn", "peak MB", "MB added by checking", "analysis steps",
                   "kernel", "kernel processed insns", "kernel verification ms"], rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.loglog(sizes, [m["cpu_s"] for m in ours], "o-", label="bpfverify (CPU)")
    accepted = [(s, k["time_us"] / 1e6) for s, k in zip(sizes, kernel) if k and k["time_us"] and k["verdict"] == "accepted"]
    refused = [(s, k["time_us"] / 1e6) for s, k in zip(sizes, kernel) if k and k["time_us"] and k["verdict"] != "accepted"]
    if accepted:
        left.loglog(*zip(*accepted), "s--", color="C1", label="Linux verifier (its own count)")
    if refused:
        left.loglog(*zip(*refused), "x", color="C1", markersize=10, markeredgewidth=2,
                    label="Linux verifier: gave up (see the table)")
    left.set_xlabel("program size (instructions)")
    left.set_ylabel("verification time (s)")
    left.legend(fontsize=8)
    left.grid(True, which="both", alpha=0.3)
    right.semilogx(sizes, [m["peak_mb"] for m in ours], "o-", label="peak of the checking process")
    right.semilogx(sizes, [m["peak_mb"] - m["added_mb"] for m in ours], ":", color="gray",
                   label="the same process before checking")
    right.set_ylim(0, 1.15 * max(m["peak_mb"] for m in ours))
    right.set_xlabel("program size (instructions)")
    right.set_ylabel("peak resident memory (MB)")
    right.legend(fontsize=8)
    right.grid(True, which="both", alpha=0.3)
    figure.tight_layout()  # (the right panel's label clear of the left panel's numbers)
    context.figure("scaling", "Checking time (log-log) and peak memory against program size", figure)
