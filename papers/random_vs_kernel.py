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
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.scale import (
    CampaignError,
    ResumeMismatch,
    add_campaign_arguments,
    check_campaign_arguments,
    derived_seed,
    lost_records,
    run_campaign,
)

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
    return lost_records(chunk.first, chunk.count, why)


class Totals:
    """The verdict pairs of the records so far, and the programs behind every unsound pair."""

    def __init__(self, programs: int) -> None:
        self.planned = programs
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
        return {"planned": self.planned, "elapsed_s": round(time.monotonic() - self.start, 1),
                "counts": dict(self.counts), "pairs": dict(self.pairs), "stricter_by_codes": dict(self.stricter),
                "stricter_examples": self.stricter_examples,
                "kernel_rejects_we_accept": self.unsound, "crashes": self.crashes[:50]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m papers.random_vs_kernel", description=__doc__.split("\n\n")[0])
    add_campaign_arguments(parser, "random-vs-kernel.jsonl")
    args = parser.parse_args(argv)
    check_campaign_arguments(parser, args)
    try:
        if not kernel_available():
            print("papers.random_vs_kernel: bpf() is not permitted here", file=sys.stderr)
            return 2
    except ImportError as exc:
        print(f"papers.random_vs_kernel: {exc}", file=sys.stderr)
        return 2
    chunks = [Chunk(i, first, min(CHUNK, args.programs - first), args.seed)
              for i, first in enumerate(range(0, args.programs, CHUNK))]
    totals = Totals(args.programs)
    try:
        run_campaign(args.out, chunks, totals, chunk_size=CHUNK, planned=args.programs, settings={"seed": args.seed},
                     resume=args.resume, work=run_chunk, on_lost=lost, jobs=args.jobs, scheduler=args.scheduler,
                     deadline_s=3600)
    except ResumeMismatch as exc:
        parser.error(str(exc))
    except CampaignError as exc:
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
