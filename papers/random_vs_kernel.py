"""Random programs of real shapes: our verdict against the running kernel's.

    python -m papers.random_vs_kernel --programs 10000 --jobs 2 --out random.jsonl [--seed 1]
                                      [--resume] [--scheduler tcp://HOST:8786]

Programs come from the general mix of tests/verifier/program_shapes.py (context loads, ALU,
spills, map lookups with indexed values, forward branches, counted loops, helper calls with
computed sizes), drawn by hypothesis in chunks, each chunk from its own seed. Each is checked by
bpfverify (linux-6.18, loop budget 4000 steps) and loaded by the kernel through bpf(). A record
per program (with its text wherever the verdicts differ) is appended to `--out` as its chunk
finishes, and `--out` with the suffix `.summary.json` holds the verdict pairs so far; `--resume`
keeps the chunks an interrupted run wrote whole. Chunks run on local worker processes or on a
Dask cluster (`--scheduler`), with the same records. Exit status 1 when our checker crashed or
the kernel rejects a program we accept: that is a soundness bug unless the kernel's reason lies on
a path our analysis shows no run takes; each such program is printed with the kernel's reason."""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.scale import derived_seed

TESTS = Path(__file__).resolve().parent.parent / "tests" / "verifier"
CHUNK = 100
BUDGET_STEPS = 4000  # enough for every loop the generator makes that ends
REPLAYS = 100  # runs on random inputs of a program the kernel rejects and we accept


@dataclass(frozen=True)
class Chunk:
    index: int
    first: int  # number of its first program
    count: int
    seed: int


def _generators() -> Any:
    """tests/verifier's generators and kernel loader (a checkout's, not an installed package's)."""
    if not (TESTS / "program_shapes.py").is_file():
        raise ImportError(f"the program generators are in a checkout's tests/verifier, not at {TESTS}")
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    import program_shapes
    import random_inputs
    import test_rules

    return program_shapes, test_rules, random_inputs


def kernel_available() -> bool:
    _, rules, _ = _generators()
    return rules.kernel_verdict(rules.Case("probe", "r0 = 0\nexit", "accept")) is not None


def kernel_reason(program: Any) -> str:
    """The kernel's reason for refusing `program` (loaded again, with a log)."""
    from interp.kernel import kernel_verdict

    return kernel_verdict(program, log_level=1).reason or "(no reason logged)"


def run_chunk(chunk: Chunk, _options: Any = None) -> list[dict[str, Any]]:
    """The chunk's programs, each checked by us and loaded by the kernel."""
    from verifier.check import check_program
    from verifier.fixpoint import Limits

    shapes, rules, inputs = _generators()
    texts = shapes.draw(shapes.mix_text(), chunk.count, derived_seed(chunk.seed, "random-kernel", chunk.index))
    records = []
    for offset in range(chunk.count):
        record: dict[str, Any] = {"n": chunk.first + offset}
        records.append(record)
        if offset >= len(texts):
            record["skipped"] = "hypothesis drew fewer distinct programs"
            continue
        asm = texts[offset]
        try:
            program = shapes.Shape("general", asm, shapes.MIX_MAPS).program()
        except Exception as exc:  # noqa: BLE001 - the generator made text the assembler refuses
            record["skipped"] = f"does not assemble: {exc}"
            continue
        try:
            ours = check_program(program, limits=Limits(max_unroll_work=BUDGET_STEPS))
        except Exception:  # noqa: BLE001 - a crash of ours is a finding of the campaign, with its program
            record.update(crash=traceback.format_exc(limit=3).strip().splitlines()[-1], asm=asm)
            continue
        kernel = rules.kernel_verdict(rules.Case("random", asm, "accept", maps=shapes.MIX_MAPS))
        record.update(kernel=kernel, ours=ours.verdict)
        if ours.verdict != "accepted":
            record["codes"] = sorted({f.code for f in ours.findings})
        if (kernel == "accept") != (ours.verdict == "accepted"):
            record["asm"] = asm
        if kernel == "reject" and ours.verdict == "accepted":
            # the kernel's reason, and whether a run shows it right: the interpreter on random inputs
            replayed = inputs.replay(program, derived_seed(chunk.seed, "replay", record["n"]), runs=REPLAYS)
            record.update(kernel_reason=kernel_reason(program), replayed=replayed.runs,
                          fault=str(replayed.fault) if replayed.fault else None)
    return records


def lost(chunk: Chunk, why: str) -> list[dict[str, Any]]:
    return [{"n": n, "lost": why} for n in range(chunk.first, chunk.first + chunk.count)]


class Totals:
    """The verdict pairs of the records so far, and the programs behind every unsound pair."""

    def __init__(self, programs: int, seed: int) -> None:
        self.planned, self.seed = programs, seed
        self.pairs: collections.Counter[str] = collections.Counter()
        self.counts: collections.Counter[str] = collections.Counter()
        self.stricter: collections.Counter[str] = collections.Counter()  # the kernel accepts, we do not: by our codes
        self.stricter_examples: dict[str, str] = {}  # the shortest program of each
        self.unsound: list[dict[str, Any]] = []  # the kernel rejects, we accept
        self.crashes: list[dict[str, Any]] = []
        self.start = time.monotonic()

    def add(self, record: dict[str, Any]) -> None:
        self.counts["programs"] += 1
        for kind in ("lost", "skipped"):
            if kind in record:
                self.counts[kind] += 1
                return
        if "crash" in record:
            self.counts["crashes"] += 1
            self.crashes.append(record)
            return
        self.pairs[f"{record['kernel']} / {record['ours']}"] += 1
        if record["kernel"] == "reject" and record["ours"] == "accepted":
            self.unsound.append({key: record.get(key) for key in ("n", "kernel_reason", "replayed", "fault", "asm")})
        if record["kernel"] == "accept" and record["ours"] != "accepted":
            codes = ",".join(record["codes"]) or record["ours"]
            self.stricter[codes] += 1
            smallest = self.stricter_examples.get(codes)
            if smallest is None or len(record["asm"]) < len(smallest):
                self.stricter_examples[codes] = record["asm"]

    def to_json(self) -> dict[str, Any]:
        return {"planned": self.planned, "seed": self.seed, "elapsed_s": round(time.monotonic() - self.start, 1),
                "counts": dict(self.counts), "pairs": dict(self.pairs), "stricter_by_codes": dict(self.stricter),
                "stricter_examples": self.stricter_examples,
                "kernel_rejects_we_accept": self.unsound, "crashes": self.crashes[:50]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m papers.random_vs_kernel", description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("random-vs-kernel.jsonl"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--resume", action="store_true",
                        help="keep the chunks --out already holds whole (same --programs and --seed), run the rest")
    parser.add_argument("--scheduler", help="a Dask distributed scheduler (tcp://HOST:8786) to run the chunks on, "
                        "instead of --jobs local processes")
    args = parser.parse_args(argv)
    if args.programs < 1 or args.jobs < 1:
        parser.error("--programs and --jobs must be positive")
    if args.out.is_dir():
        parser.error(f"--out {args.out} is a directory; give the file to write")
    if args.resume and not args.out.is_file():
        parser.error(f"--resume: no earlier run at {args.out}")
    from verifier.scale import SchedulerError, kept_chunks, run_tasks

    try:
        if not kernel_available():
            print("papers.random_vs_kernel: bpf() is not permitted here", file=sys.stderr)
            return 2
    except ImportError as exc:
        print(f"papers.random_vs_kernel: {exc}", file=sys.stderr)
        return 2
    chunks = [Chunk(i, first, min(CHUNK, args.programs - first), args.seed)
              for i, first in enumerate(range(0, args.programs, CHUNK))]
    totals = Totals(args.programs, args.seed)
    summary = args.out.with_name(args.out.name + ".summary.json")
    try:
        if args.resume:
            earlier = json.loads(summary.read_text()) if summary.is_file() else {}
            if (earlier.get("planned", args.programs), earlier.get("seed", args.seed)) != (args.programs, args.seed):
                parser.error(f"--resume: {args.out} was run with --programs {earlier.get('planned')} "
                             f"--seed {earlier.get('seed')}")
            totals.start -= earlier.get("elapsed_s", 0)  # the time the earlier runs took counts
            whole, kept = kept_chunks(args.out, CHUNK, args.programs)
            for record in kept:
                totals.add(record)
            chunks = [c for c in chunks if c.index not in whole]
            print(f"{len(whole)} chunks kept from {args.out}, {len(chunks)} to run", file=sys.stderr)
        out = args.out.open("a" if args.resume else "w")
    except (OSError, ValueError, KeyError) as exc:
        print(f"{args.out}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        return 2
    try:
        with out:
            for _, records in run_tasks(run_chunk, chunks, jobs=args.jobs, on_lost=lost, scheduler=args.scheduler,
                                        deadline_s=3600):
                for record in records:
                    totals.add(record)
                    out.write(json.dumps(record) + "\n")
                out.flush()
                summary.write_text(json.dumps(totals.to_json(), indent=1) + "\n")
    except SchedulerError as exc:
        print(f"papers.random_vs_kernel: {exc}", file=sys.stderr)
        return 2
    print(f"{totals.counts['programs']} random programs, seed {args.seed}, {time.monotonic() - totals.start:.0f} s")
    for pair, n in sorted(totals.pairs.items()):
        kernel, ours = pair.split(" / ")
        print(f"  kernel {kernel:7} ours {ours:9} {n}")
    for codes, n in sorted(totals.stricter.items(), key=lambda item: -item[1]):
        print(f"  stricter ({codes}): {n}")
    for what in ("skipped", "crashes", "lost"):
        if totals.counts[what]:
            print(f"  {what}: {totals.counts[what]}")
    for case in totals.unsound:
        print(f"KERNEL REJECTS ({case['kernel_reason']}), WE ACCEPT: program {case['n']}, "
              f"{case['replayed']} runs on random inputs: {case['fault'] or 'no fault'}\n{case['asm']}")
    return 1 if totals.unsound or totals.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
