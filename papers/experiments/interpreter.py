"""The interpreter: the eBPF conformance suite's pass rate, and instructions per second on the
benchmark programs of ../shared/bench (CPU time, best of a few runs)."""

from __future__ import annotations

import time

from interp.conformance import judge, run_with_memory
from interp.sources import read_program

from ..runner import SHARED, Context, Skipped

CONFORMANCE = SHARED / "corpus" / "conformance"
BENCH = SHARED / "bench"


def run(context: Context) -> None:
    if not (CONFORMANCE / "tests").is_dir():
        raise Skipped(f"no conformance suite at {CONFORMANCE}")
    rows = []
    for kind, negative in (("tests", False), ("tests_negative", True)):
        files = sorted((CONFORMANCE / kind).glob("*.data"))
        passed = sum(judge(path, negative=negative).passed for path in files)
        rows.append([kind, len(files), passed, f"{100 * passed / len(files):.1f}" if files else ""])
    context.table("conformance", "The conformance suite (negative files pass when refused)",
                  ["files", "count", "passed", "percent"], rows)
    speed = []
    for path in sorted(BENCH.glob("*.data")):
        source = read_program(path)
        best, executed = float("inf"), 0
        for _ in range(1 if context.quick else 3):
            start = time.process_time()
            result = run_with_memory(source.insns, source.mem or b"", 100_000_000)
            best = min(best, time.process_time() - start)
            executed = result.insns_executed
        ok = result.fault is None and result.r0 == source.expected_r0
        speed.append([path.stem, executed, f"{best:.3f}", f"{executed / best / 1e6:.1f}" if best else "",
                      "yes" if ok else "NO"])
    context.table("interpreter_speed", "Interpreter speed on ../shared/bench (best CPU time of the runs)",
                  ["program", "instructions", "CPU s", "M insns/s", "r0 as expected"], speed)
