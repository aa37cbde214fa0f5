"""Our verdicts against the running kernel's on every tracing program of the shared corpus.

    python papers/corpus_verdicts.py [--profile linux-6.18] [--types kprobe,tracepoint,...]

Writes papers/measurements/corpus_verdicts.tsv (one row per program; all tracing types only) and
prints the agreement table, the time taken, and the checking time per program type. Objects without a license section are checked with license "GPL", as the
kernel's verdicts in MANIFEST.tsv were obtained (shared/tools/kernel_verdict.py's default)."""

from __future__ import annotations

import argparse
import collections
import csv
import time
from pathlib import Path

from interp.loader import load_object
from verifier.check import check_program
from verifier.profiles import PROFILES

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent.parent / "shared" / "corpus" / "ebpf-samples"
TRACING = ("kprobe", "tracepoint", "raw_tracepoint", "perf_event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="linux-6.18", choices=sorted(PROFILES))
    parser.add_argument("--samples", type=Path, default=SAMPLES)
    parser.add_argument("--types", default=",".join(TRACING),
                        help="comma-separated program types to check (default: all tracing types)")
    args = parser.parse_args()
    types = tuple(t for t in args.types.split(",") if t)
    if not set(types) <= set(TRACING):
        parser.error(f"--types: choose from {', '.join(TRACING)}")
    if not (args.samples / "MANIFEST.tsv").is_file():
        parser.error(f"--samples {args.samples}: no MANIFEST.tsv there (the corpus is shared/corpus/ebpf-samples)")
    with open(args.samples / "MANIFEST.tsv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["prog_type"] in types]
    objects: dict[str, list] = {}
    table: collections.Counter[tuple[str, str]] = collections.Counter()
    out_rows = []
    start = time.monotonic()
    for row in rows:
        if row["file"] not in objects:
            objects[row["file"]] = load_object(args.samples / row["file"])
        programs = objects[row["file"]]
        program = next(p for p in programs if p.section == row["section"] and p.name == row["function"])
        if not program.license:
            program.license = "GPL"
        result = check_program(program, args.profile)
        table[(row["kernel_6_18"], result.verdict)] += 1
        first = result.findings[0] if result.findings else None
        out_rows.append([row["file"], row["section"], row["function"], row["prog_type"], program.slots,
                         row["kernel_6_18"], result.verdict, f"{result.time_s:.3f}",
                         f"{first.code} at {first.pc}" if first else ""])
    elapsed = time.monotonic() - start
    if types == TRACING:  # the table of record covers every tracing program
        (HERE / "measurements").mkdir(exist_ok=True)
        with open(HERE / "measurements" / "corpus_verdicts.tsv", "w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t")
            writer.writerow(["file", "section", "function", "prog_type", "slots", "kernel", "ours", "time_s",
                             "first_finding"])
            writer.writerows(out_rows)
    print(f"{len(rows)} programs ({', '.join(types)}), profile {args.profile}, {elapsed:.1f} s (load + check)")
    for (kernel, ours), count in sorted(table.items()):
        print(f"  kernel {kernel:12} ours {ours:9} {count}")
    by_type: collections.Counter[str] = collections.Counter()
    count: collections.Counter[str] = collections.Counter()
    for row in out_rows:
        by_type[row[3]] += float(row[7])
        count[row[3]] += 1
    for prog_type in types:
        print(f"  {prog_type:15} {count[prog_type]:4} programs, {by_type[prog_type]:.2f} s checking")


if __name__ == "__main__":
    main()
