"""Loops: how long checking takes and what it concludes, for clang-compiled loops of growing trip
counts, a nested loop, and loops that never end.

    python -m papers.loop_bench [--baseline DIR] [--kernel] [--no-corpus] [-o papers/measurements/loop_bench.tsv]
    python -m papers.loop_bench --corpus DIR

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
checked too and its loops counted by how their bound was found, with the programs with loops that
the kernel accepts (the corpus's MANIFEST.tsv) and we do not. `--corpus DIR` does only that, for
the corpus in DIR (a directory with MANIFEST.tsv, or whose ebpf-samples/ has one)."""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "measurements" / "loop_bench.tsv"

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


TRACING = ("kprobe", "tracepoint", "raw_tracepoint", "perf_event")
LOOP_CODES = frozenset({"unbounded-loop", "back-edge", "too-complex"})


@dataclass
class CorpusLoops:
    """The loops of a corpus's tracing programs: how their bounds were found, and the programs with
    loops that the kernel accepts (MANIFEST.tsv's `kernel_6_18`) and we do not."""

    programs: int = 0
    with_loops: int = 0
    how: Counter[str] = field(default_factory=Counter)
    kernel_accepts: int = 0  # programs with loops the kernel accepts
    not_accepted: list[str] = field(default_factory=list)  # of those, ours: file section function verdict why
    seconds: float = 0.0

    def lines(self) -> list[str]:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.how.items())) or "none"
        out = [f"corpus: {self.programs} tracing programs, {self.with_loops} with loops; loops by how their bound "
               f"was found: {counts}",
               f"programs with loops the kernel accepts: {self.kernel_accepts}, of which we do not accept "
               f"{len(self.not_accepted)}"]
        out += [f"  {row}" for row in self.not_accepted]
        out.append(f"({self.seconds:.1f} s of CPU, loading and checking)")
        return out


def manifest_of(directory: Path) -> Path | None:
    """The MANIFEST.tsv of a corpus directory (the samples directory itself, or the corpus above it)."""
    for candidate in (directory / "MANIFEST.tsv", directory / "ebpf-samples" / "MANIFEST.tsv"):
        if candidate.is_file():
            return candidate
    return None


def has_loop(program: Any) -> bool:
    from verifier.cfg import build_cfg

    try:
        cf = build_cfg(program.insns, dict(program.functions), program.unresolved_pcs)
    except Exception:  # noqa: BLE001 - a program whose control flow is refused has no loop to count
        return False
    return any(fn.back_edges for fn in cf.functions.values())


def corpus_loops(manifest: Path | None = None) -> CorpusLoops:
    """Every tracing program of the corpus checked under linux-6.18 (a fresh analysis each)."""
    from interp.loader import load_object
    from verifier import clock
    from verifier.check import check_program

    from .verdict_snapshot import SAMPLES

    found = CorpusLoops()
    manifest = manifest or SAMPLES / "MANIFEST.tsv"
    if not manifest.is_file():
        return found
    start = clock.now()
    with open(manifest, newline="") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["prog_type"] in TRACING]
    objects: dict[str, list[Any]] = {}
    for row in rows:
        if row["file"] not in objects:
            objects[row["file"]] = load_object(manifest.parent / row["file"])
        program = next(p for p in objects[row["file"]] if p.section == row["section"] and p.name == row["function"])
        if not program.license:
            program.license = "GPL"  # as the kernel's verdicts of the manifest were obtained
        result = check_program(program, "linux-6.18")
        found.programs += 1
        codes = {f.code for f in result.findings}
        looped = bool(result.loops) or has_loop(program) or bool(codes & LOOP_CODES)
        found.with_loops += looped
        found.how.update(loop.how for loop in result.loops)
        if looped and row.get("kernel_6_18") == "accept":
            found.kernel_accepts += 1
            if result.verdict != "accepted":
                why = result.findings[0] if result.findings else None
                found.not_accepted.append(f"{row['file']} {row['section']} {row['function']}: {result.verdict}"
                                          + (f" ({why.code} at insn {why.pc})" if why else
                                             f" ({result.reason})" if result.reason else ""))
    found.seconds = clock.now() - start
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout's root, checked beside this one")
    parser.add_argument("--kernel", action="store_true", help="ask the running kernel for its verdicts")
    parser.add_argument("--no-corpus", action="store_true", help="skip counting the corpus's loops")
    parser.add_argument("--corpus", type=Path, metavar="DIR",
                        help="only the loops of the tracing programs of the corpus in DIR (its MANIFEST.tsv), "
                             "and those the kernel accepts that we do not")
    parser.add_argument("-o", "--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.corpus is not None:
        manifest = manifest_of(args.corpus)
        if manifest is None:
            print(f"loop_bench: {args.corpus}: no MANIFEST.tsv there or in its ebpf-samples/", file=sys.stderr)
            return 2
        print("\n".join(corpus_loops(manifest).lines()))
        return 0
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
        print("\n".join(corpus_loops().lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
