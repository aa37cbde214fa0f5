"""Loops: how long checking takes and what it concludes, for clang-compiled loops of growing trip
counts, a nested loop, and loops that never end.

    python -m papers.loop_bench [--baseline DIR] [--kernel] [--no-corpus] [-o papers/results/loop_bench.tsv]

Each case is a C program compiled with `clang -O2 -target bpf -c` (a kprobe program summing a
64-byte stack array through `for (i = 0; i < N; i++)`, N = 100, 10,000, 100,000 and 1,000,000;
the same loop nested 300 x 300; and four loops that never end: `for (;;)`, an odd counter tested
against an even bound, a step of 0 and an exit test on a value the loop never changes). Each is
checked in a fresh process, and the CPU seconds of `check_program` alone (loading excluded) are
printed beside the verdict, each loop's bound and how it was found, the worst-case instruction
count, and, for a refused loop, whether its counterexample was replayed to budget exhaustion.
`--baseline DIR` runs the same cases with the verifier of another checkout of this project (its
root directory) beside ours; `--kernel` loads each into the running kernel (needs `bpf()`) and
gives its verdict and processed instructions instead of what it is known to do. Unless `--no-corpus`, every tracing program of the shared corpus is
checked too and its loops counted by how their bound was found."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "loop_bench.tsv"

HEADER = """#define SEC(n) __attribute__((section(n), used))
char _license[] SEC("license") = "GPL";
SEC("kprobe/ksys_write") int loop(unsigned long *ctx) {
    unsigned char arr[64];
    __builtin_memset(arr, 0, sizeof(arr));
    arr[ctx[14] & 63] = ctx[13];
    unsigned char *p = arr;
    asm volatile("" : "+r"(p));  /* the array's address in a register, as a callee would have it */
    unsigned long sum = 0;
"""
FOOTER = """    return sum > 1000;
}
"""
NOUNROLL = "    #pragma clang loop unroll(disable)\n"


def counted(n: int) -> str:
    return NOUNROLL + f"    for (unsigned long i = 0; i < {n}; i++)\n        sum += p[i & 63];\n"


NESTED = (NOUNROLL + "    for (unsigned long i = 0; i < 300; i++)\n" + NOUNROLL
          + "        for (unsigned long j = 0; j < 300; j++)\n            sum += p[(i ^ j) & 63];\n")
# loops that never end; `asm volatile` keeps each one (a loop without side effects may be assumed to end)
FOREVER = "    for (unsigned long i = 0;; i++) {\n        sum += p[i & 63];\n        asm volatile(\"\" : \"+r\"(sum));\n    }\n"
WRAPS = ("    for (unsigned int i = 1; i != 100; i += 2) {  /* odd: never 100, wraps past it */\n"
         "        sum += p[i & 63];\n        asm volatile(\"\" : \"+r\"(sum));\n    }\n")
STEP_ZERO = ("    unsigned long step;\n    asm volatile(\"%0 = 0\" : \"=r\"(step));  /* 0, unknown to the compiler */\n"
             "    for (unsigned long i = 0; i < 100; i += step) {\n        sum += p[i & 63];\n"
             "        asm volatile(\"\" : \"+r\"(sum));\n    }\n")
UNCHANGED = ("    unsigned long stop = ctx[12];\n    for (unsigned long i = 0; stop != 5; i++) {  /* stop never changes */\n"
             "        sum += p[i & 63];\n        asm volatile(\"\" : \"+r\"(sum));\n    }\n")

CASES: list[tuple[str, str, str]] = [  # (name, loop code, what the kernel does)
    ("for i < 100", counted(100), "accepts"),
    ("for i < 10,000", counted(10_000), "accepts"),
    ("for i < 100,000", counted(100_000), "accepts"),
    ("for i < 1,000,000", counted(1_000_000), "refuses: too complex"),
    ("nested 300 x 300", NESTED, "accepts"),
    ("for (;;)", FOREVER, "refuses"),
    ("counter wraps past its bound", WRAPS, "refuses"),
    ("step 0", STEP_ZERO, "refuses"),
    ("exit test on an unchanged value", UNCHANGED, "refuses"),
]

# run in a fresh process, with the checkout under test first on the path; prints one JSON line
DRIVER = r"""
import json, sys, time
from pathlib import Path
from interp.sources import read_program
from verifier.check import check_program
from verifier.fixpoint import Limits
program = read_program(Path(sys.argv[1])).programs[0]
start = time.process_time()
result = check_program(program, "linux-6.18", limits=Limits(timeout_s=600))
cpu = time.process_time() - start
errors = [f.to_json() for f in result.errors]
print(json.dumps({"verdict": result.verdict, "codes": sorted({e["code"] for e in errors}), "cpu_s": cpu,
                  "loops": [l.to_json() for l in getattr(result, "loops", [])],
                  "worst_case": getattr(result, "worst_case", None),
                  "confirmed": any((e.get("proof") or {}).get("confirmed") for e in errors
                                   if e["code"] == "unbounded-loop")}))
"""


def compile_case(code: str, out: Path) -> None:
    source = out.with_suffix(".c")
    source.write_text(HEADER + code + FOOTER)
    subprocess.run(["clang", "-O2", "-target", "bpf", "-c", str(source), "-o", str(out)], check=True,
                   capture_output=True, text=True)


def check_in(checkout: Path, obj: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", DRIVER, str(obj)], capture_output=True, text=True,
                          cwd=checkout, env={"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"}, timeout=1800)
    if done.returncode != 0:
        return {"verdict": "error", "codes": [done.stderr.strip().splitlines()[-1] if done.stderr else "?"],
                "cpu_s": 0.0, "loops": [], "worst_case": None, "confirmed": False}
    return json.loads(done.stdout.strip().splitlines()[-1])


def kernel_says(obj: Path) -> str:
    from interp.kernel.load import kernel_verdict
    from interp.sources import read_program

    said = kernel_verdict(read_program(obj).programs[0], log_level=0)
    processed = said.stats.processed_insns
    words = said.verdict + (f" ({processed} insns)" if processed is not None else "")
    return words + (f": {said.reason}" if said.verdict != "accepted" and said.reason else "")


def describe_loops(row: dict[str, Any]) -> str:
    return ", ".join(f"insn {loop['head']}: {loop['bound'] if loop['bound'] is not None else 'none'} "
                     f"({loop['how']})" for loop in row["loops"]) or "-"


def corpus_loops() -> tuple[Counter[str], int, int]:
    """How the bounds of the corpus's tracing programs' loops were found; programs, programs with loops."""
    from verifier.check import check_program

    from .verdict_snapshot import tracing_corpus

    how: Counter[str] = Counter()
    subjects = tracing_corpus()
    with_loops = 0
    for subject in subjects.values():
        result = check_program(subject.program, subject.profile, limits=subject.limits)
        with_loops += bool(result.loops)
        how.update(loop.how for loop in result.loops)
    return how, len(subjects), with_loops


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout's root, checked beside this one")
    parser.add_argument("--kernel", action="store_true", help="ask the running kernel for its verdicts")
    parser.add_argument("--no-corpus", action="store_true", help="skip counting the corpus's loops")
    parser.add_argument("-o", "--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if shutil.which("clang") is None:
        print("loop_bench: clang is needed (apt-get install clang)", file=sys.stderr)
        return 2
    columns = ["case", "kernel", "verdict", "codes", "loops", "worst_case", "confirmed", "cpu_s"]
    if args.baseline:
        columns += ["baseline_verdict", "baseline_codes", "baseline_cpu_s"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, code, kernel) in enumerate(CASES):
            obj = Path(tmp) / f"case{n}.o"
            compile_case(code, obj)
            ours = check_in(ROOT, obj)
            if args.kernel:
                kernel = kernel_says(obj)
            row = {"case": name, "kernel": kernel, "verdict": ours["verdict"], "codes": ",".join(ours["codes"]) or "-",
                   "loops": describe_loops(ours), "worst_case": ours["worst_case"],
                   "confirmed": "yes" if ours["confirmed"] else "-", "cpu_s": f"{ours['cpu_s']:.2f}"}
            if args.baseline:
                base = check_in(args.baseline.resolve(), obj)
                row.update(baseline_verdict=base["verdict"], baseline_codes=",".join(base["codes"]) or "-",
                           baseline_cpu_s=f"{base['cpu_s']:.2f}")
            rows.append(row)
            print("\t".join(str(row[c]) for c in columns), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("w") as out:
        out.write("\t".join(columns) + "\n")
        for row in rows:
            out.write("\t".join(str(row[c]) for c in columns) + "\n")
    print(f"written {args.output}")
    if not args.no_corpus:
        how, programs, with_loops = corpus_loops()
        counts = ", ".join(f"{k} {v}" for k, v in sorted(how.items())) or "none"
        print(f"corpus: {programs} tracing programs, {with_loops} with loops; loops by how their bound was found: "
              f"{counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
