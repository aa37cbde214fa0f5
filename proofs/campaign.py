"""A long state-containment campaign: generated programs checked, run on random inputs, and every
executed instruction compared with the analysis' invariant (proofs.containment).

    python -m proofs.campaign --programs 100000 --jobs 2 --out results.jsonl [--seed 1] [--runs 3]
                              [--resume] [--scheduler tcp://HOST:8786]

Four programs in five come from proofs.programs (every ALU and jump form, spills, pointer
arithmetic, helper calls, loops, local calls), the fifth from the rule generators of
tests/verifier/program_shapes.py (drawn by hypothesis, a class per chunk in turn). Chunks of
programs go to worker processes; each program's JSON line is appended to `--out` as its chunk
finishes (with its text where it broke containment, crashed the verifier or was lost), and
`--out` with the suffix `.summary.json` holds the totals so far, rewritten after every chunk, so
a running campaign can be read at any time; `--resume` keeps the chunks an interrupted run wrote
whole and runs the others. Chunks run on local worker processes, or on a Dask cluster
(`--scheduler`); their results do not depend on where. Exit status 1 when any program broke
containment or crashed the verifier."""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
import traceback
from dataclasses import dataclass
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

CHUNK = 40
SHAPE_EVERY = 5  # program n is drawn from the rule shapes when n % SHAPE_EVERY == SHAPE_EVERY - 1
SHAPE_CLASSES = ("general", "linked-scalars", "narrow-spills", "sign-extension", "helper-calls", "partial-spills",
                 "pointer-comparison", "helper-stack-write", "helper-memory-bounds", "misaligned-atomics",
                 "atomic-on-spill", "stack-pointer-escape", "ringbuf-references", "may-goto", "helper-length",
                 "read-only-map", "combined-stack", "function-boundaries")


@dataclass(frozen=True)
class Chunk:
    index: int
    first: int  # number of its first program
    count: int
    seed: int
    runs: int


def _shapes(chunk: Chunk, count: int) -> list[Any]:
    """`count` programs of the chunk's rule class, drawn by hypothesis from the chunk's seed."""
    from program_shapes import SHAPES, draw  # (on the path: see proofs.containment)

    kind = SHAPE_CLASSES[chunk.index % len(SHAPE_CLASSES)]
    return draw(SHAPES[kind], count, derived_seed(chunk.seed, "shapes", chunk.index))


def run_chunk(chunk: Chunk, _options: Any = None) -> list[dict[str, Any]]:
    from .containment import check_runs
    from .programs import program_of, random_text

    numbers = range(chunk.first, chunk.first + chunk.count)
    shaped = [n for n in numbers if n % SHAPE_EVERY == SHAPE_EVERY - 1]
    try:
        shapes = dict(zip(shaped, _shapes(chunk, len(shaped))))
    except Exception as exc:  # a generator failing costs its programs, not the campaign
        shapes = {}
        print(f"drawing shapes for chunk {chunk.index} failed: {exc}", file=sys.stderr)
    records = []
    for n in numbers:
        seed = derived_seed(chunk.seed, n)
        shape = shapes.get(n)
        record: dict[str, Any] = {"n": n, "seed": seed,
                                  "source": f"shape:{shape.kind}" if shape is not None else "random"}
        text = shape.text if shape is not None else random_text(seed)
        try:
            program = shape.program() if shape is not None else program_of(text)
            record.update(check_runs(program, seed=seed, runs=chunk.runs).to_json())
        except Exception:
            record["crash"] = traceback.format_exc(limit=3).strip().splitlines()[-1]
        if record.get("violations") or record.get("crash"):
            record["program"] = shape.to_json() if shape is not None else {"asm": text}
        records.append(record)
    return records


def lost(chunk: Chunk, why: str) -> list[dict[str, Any]]:
    return lost_records(chunk.first, chunk.count, why)


class Totals:
    def __init__(self, programs: int) -> None:
        self.planned = programs
        self.counts: collections.Counter[str] = collections.Counter()
        self.violations: list[dict[str, Any]] = []
        self.crashes: list[dict[str, Any]] = []
        self.start = time.monotonic()

    def add(self, record: dict[str, Any]) -> None:
        c = self.counts
        c["programs"] += 1
        if "lost" in record:
            c["lost"] += 1
            return
        if record.get("crash"):
            c["crashes"] += 1
            self.crashes.append(record)
            return
        c[record["verdict"]] += 1
        c["runs"] += record.get("runs", 0)
        c["instructions checked"] += record.get("checked", 0)
        if record.get("skipped"):
            c["skipped"] += 1
        if record.get("violations"):
            c["programs with violations"] += 1
            self.violations.append(record)

    def to_json(self) -> dict[str, Any]:
        return {"planned": self.planned, "elapsed_s": round(time.monotonic() - self.start, 1),
                "counts": dict(self.counts), "violations": self.violations[:50], "crashes": self.crashes[:50]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proofs.campaign", description=__doc__.split("\n\n")[0])
    add_campaign_arguments(parser, "containment-campaign.jsonl")
    parser.add_argument("--runs", type=int, default=3, help="runs on random inputs per program")
    args = parser.parse_args(argv)
    check_campaign_arguments(parser, args)
    if args.runs < 1:
        parser.error("--runs must be positive")
    try:
        import proofs.containment  # noqa: F401 - here, so that a missing checkout is one line
    except ImportError as exc:
        print(f"proofs.campaign: {exc}", file=sys.stderr)
        return 2

    chunks = [Chunk(i, first, min(CHUNK, args.programs - first), args.seed, args.runs)
              for i, first in enumerate(range(0, args.programs, CHUNK))]
    totals = Totals(args.programs)
    try:
        run_campaign(args.out, chunks, totals, chunk_size=CHUNK, planned=args.programs,
                     settings={"seed": args.seed, "runs": args.runs}, resume=args.resume, work=run_chunk,
                     on_lost=lost, jobs=args.jobs, scheduler=args.scheduler, deadline_s=1800)
    except ResumeMismatch as exc:
        parser.error(str(exc))
    except CampaignError as exc:
        print(f"proofs.campaign: {exc}", file=sys.stderr)
        return 2
    c = totals.counts
    print(f"{c['programs']} programs ({c['accepted']} accepted, {c['rejected']} rejected, {c['unknown']} unknown, "
          f"{c['skipped']} not checked), {c['runs']} runs, {c['instructions checked']} instructions checked, "
          f"{c['programs with violations']} with violations, {c['crashes']} crashes, {c['lost']} lost, "
          f"{time.monotonic() - totals.start:.0f} s")
    for record in totals.violations[:10]:
        print(json.dumps(record))
    return 1 if totals.violations or totals.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
