"""Generated programs of every class against the running kernel and the interpreter.

    python -m papers.soundness_campaign --count 50000 --jobs 2 --seed 1 [--classes A,B] [--runs 4] [--chunk 250]

Programs come from the generators of tests/verifier/program_shapes.py, the same number of
different programs of each class (drawn by hypothesis, one run per class from a seed derived from
`--seed`), judged in chunks by worker processes:
bpfverify checks each one (linux-6.18, bounded: soundness_oracle.LIMITS), the running kernel
loads it through bpf() (interp.kernel, log level 0: its judgement and statistics), and every
program we accept runs on the kprobe runtime on `--runs` sets of random inputs (registers,
kernel and user memory, map contents). One JSON line per program goes to
papers/measurements/soundness_campaign.jsonl (the program's text only where we disagree with the
kernel, crash, fault or run out of a bound), the summary to papers/measurements/soundness_campaign.json.

Prints, per class, the kernel's verdict against ours, crashes and accepted programs that faulted,
then every disagreement with the kernel grouped by our codes and the kernel's first reason, with
its smallest program and, where it is understood, which known disagreement it is. The exit status
is 1 when a program crashed the verifier, an accepted one faulted, or the kernel refused one we
accepted for no reason known to be safe."""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "verifier"))

from program_shapes import SHAPES, Shape  # noqa: E402
from soundness_oracle import KNOWN, judge  # noqa: E402

from interp import kernel  # noqa: E402
from verifier.scale import SchedulerError, run_tasks  # noqa: E402

RESULTS = HERE / "measurements"


@dataclass(frozen=True)
class Draw:
    """Draw `count` different programs of class `kind` from `seed`."""

    kind: str
    count: int
    seed: int


@dataclass(frozen=True)
class Chunk:
    """Judge these programs of class `kind`."""

    kind: str
    index: int
    shapes: tuple[Shape, ...]
    seed: int
    runs: int
    ask: bool


def derived_seed(seed: int, *parts: object) -> int:
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def draw_shapes(task: Draw) -> list[Shape]:
    """`task.count` different programs of its class (fewer if hypothesis finds no more), in one hypothesis run
    from its seed: up to three times as many are drawn, since different draws can spell the same program."""
    from hypothesis import HealthCheck, Phase, given, seed, settings

    shapes: dict[str, Shape] = {}

    @seed(task.seed)
    @settings(max_examples=3 * task.count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(SHAPES[task.kind])
    def collect(shape: Shape) -> None:
        if len(shapes) < task.count:
            shapes.setdefault(shape_key(shape), shape)

    collect()
    return list(shapes.values())


def work(task: Draw | Chunk, _options: Any) -> list[Shape] | list[dict[str, Any]]:
    """In a worker process: the programs of a `Draw`, or the records of a `Chunk`."""
    return draw_shapes(task) if isinstance(task, Draw) else run_chunk(task)


def run_chunk(chunk: Chunk) -> list[dict[str, Any]]:
    """One JSON record per program of the chunk."""
    records = []
    for number, shape in enumerate(chunk.shapes):
        judgement = judge(shape, seed=chunk.seed * 100_003 + number, runs=chunk.runs, ask=chunk.ask)
        record = {"kind": chunk.kind, "chunk": chunk.index, "n": number, "key": shape_key(shape),
                  **judgement.to_json()}
        interesting = (judgement.disagreement or judgement.ours not in ("accepted", "rejected")
                       or judgement.fault or judgement.kernel == "setup-error")
        if interesting:
            record["program"] = shape.to_json()
        records.append(record)
    return records


def shape_key(shape: Shape) -> str:
    return hashlib.sha1((shape.text + repr(shape.maps)).encode()).hexdigest()[:16]


def lost_task(task: Draw | Chunk, why: str) -> list[Any]:
    if isinstance(task, Draw):
        print(f"drawing the {task.kind} programs failed: {why}", file=sys.stderr)
        return []
    return [{"kind": task.kind, "chunk": task.index, "n": -1, "ours": "lost", "crash": why}]


def normalise(reason: str | None) -> str:
    """The kernel's reason with its numbers replaced, so the same refusal groups together."""
    return re.sub(r"-?\b(0x[0-9a-f]+|\d+)\b", "N", reason or "")


class Summary:
    def __init__(self, classes: list[str]) -> None:
        self.classes = classes
        self.pairs: dict[str, collections.Counter[tuple[str, str]]] = {k: collections.Counter() for k in classes}
        self.counts: dict[str, collections.Counter[str]] = {k: collections.Counter() for k in classes}
        self.groups: dict[tuple[str, ...], dict[str, Any]] = {}
        self.seen: set[str] = set()
        self.problems: list[dict[str, Any]] = []  # crashes, faults, unexplained kernel-stricter verdicts

    def add(self, record: dict[str, Any]) -> None:
        kind = record["kind"]
        counts = self.counts[kind]
        counts["programs"] += record["ours"] != "lost"
        if record.get("key") in self.seen:
            counts["duplicates"] += 1
        self.seen.add(record.get("key", ""))
        self.pairs[kind][(record.get("kernel") or "not asked", record["ours"])] += 1
        for field in ("crash", "fault", "not_emulated"):
            counts[field] += bool(record.get(field))
        counts["unknown"] += record["ours"] == "unknown"
        direction = self._direction(record)
        if direction:
            known = record.get("known")
            key = (kind, direction, ",".join(record.get("codes", [])), normalise(record.get("kernel_reason")),
                   known or "")
            group = self.groups.setdefault(key, {"class": kind, "direction": direction, "codes": key[2],
                                                 "kernel_reason": record.get("kernel_reason"), "known": known,
                                                 "count": 0, "program": None, "ours_first": None})
            group["count"] += 1
            text = record["program"].get("asm") or record["program"].get("hex", "")
            if group["program"] is None or len(text) < len(group["program"]["asm"] or group["program"]["hex"]):
                group["program"] = {"asm": record["program"].get("asm", ""), "hex": record["program"].get("hex", ""),
                                    "maps": record["program"]["maps"]}
                group["ours_first"] = record.get("first")
                group["kernel_reason"] = record.get("kernel_reason")
            counts[direction] += 1
            if direction == "kernel-stricter" and not self._known_safe(known):
                self.problems.append(record)
        if record.get("crash") or record.get("fault") or record["ours"] == "not-a-program":
            self.problems.append(record)

    @staticmethod
    def _direction(record: dict[str, Any]) -> str | None:
        if record.get("kernel") == "rejected" and record["ours"] == "accepted":
            return "kernel-stricter"
        if record.get("kernel") == "accepted" and record["ours"] in ("rejected", "unknown"):
            return "ours-stricter"
        return None

    @staticmethod
    def _known_safe(name: str | None) -> bool:
        return any(k.name == name and k.safe for k in KNOWN)

    def table(self) -> str:
        rows = []
        for kind in self.classes:
            pairs, counts = self.pairs[kind], self.counts[kind]
            rows.append([kind, counts["programs"], pairs[("accepted", "accepted")], pairs[("rejected", "rejected")],
                         counts["kernel-stricter"], counts["ours-stricter"], counts["unknown"], counts["crash"],
                         counts["fault"], counts["not_emulated"], counts["duplicates"]])
        totals = ["all"] + [sum(row[i] for row in rows) for i in range(1, len(rows[0]))]
        headers = ["class", "programs", "both accept", "both reject", "kernel rejects, we accept",
                   "kernel accepts, we reject", "ours unknown", "crashes", "accepted & faulted", "not emulated",
                   "duplicates"]
        return tabulate(rows + [totals], headers=headers)

    def to_json(self) -> dict[str, Any]:
        return {
            "classes": {kind: {"counts": dict(self.counts[kind]),
                               "pairs": {f"kernel {k} / ours {o}": n for (k, o), n in sorted(self.pairs[kind].items())}}
                        for kind in self.classes},
            "disagreements": sorted(self.groups.values(), key=lambda g: (g["class"], g["direction"], -g["count"])),
            "problems": self.problems,
        }


def run_campaign(args: argparse.Namespace, classes: list[str], ask: bool, scheduler: Any = None) -> Summary:
    """Draw the programs, judge them chunk by chunk where `scheduler` says (None: local worker
    processes), and stream every record into `args.out` as its chunk finishes. With `args.resume`
    the chunks already in `args.out` are kept and only the others are judged."""
    per_class = [args.count // len(classes) + (i < args.count % len(classes)) for i in range(len(classes))]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = Summary(classes)
    start = time.monotonic()
    drawn: dict[str, list[Shape]] = {}
    for task, shapes in run_tasks(work, [Draw(kind, total, derived_seed(args.seed, kind))
                                         for kind, total in zip(classes, per_class)],
                                  jobs=args.jobs, on_lost=lost_task, scheduler=scheduler, deadline_s=4 * 3600):
        drawn[task.kind] = shapes
        print(f"[{time.monotonic() - start:7.0f} s] drew {len(shapes)} {task.kind} programs", file=sys.stderr)
    chunks = [Chunk(kind, index, tuple(drawn.get(kind, [])[first:first + args.chunk]),
                    derived_seed(args.seed, kind, index), args.runs, ask)
              for kind in classes for index, first in enumerate(range(0, len(drawn.get(kind, [])), args.chunk))]
    chunks.sort(key=lambda c: (c.index, classes.index(c.kind)))  # every class early on, the long tail last
    finished = _finished_chunks(args.out, summary) if args.resume else set()
    if finished:
        print(f"[{time.monotonic() - start:7.0f} s] {len(finished)} chunks kept from {args.out}", file=sys.stderr)
    chunks = [c for c in chunks if (c.kind, c.index) not in finished]
    done = 0
    with open(args.out, "a" if args.resume else "w") as out:
        for chunk, records in run_tasks(work, chunks, jobs=args.jobs, on_lost=lost_task, scheduler=scheduler,
                                        deadline_s=4 * 3600):
            for record in records:
                out.write(json.dumps(record) + "\n")
                summary.add(record)
            out.flush()
            done += 1
            programs = sum(c["programs"] for c in summary.counts.values())
            print(f"[{time.monotonic() - start:7.0f} s] {done}/{len(chunks)} chunks, {programs} programs, "
                  f"{len(summary.problems)} problems", file=sys.stderr, flush=True)
    return summary


def _finished_chunks(path: Path, summary: Summary) -> set[tuple[str, int]]:
    """The chunks an earlier run wrote whole (none of its records lost), their records added to
    `summary`; the records of the others are dropped from the file, to be judged again."""
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    lost = {(r["kind"], r["chunk"]) for r in records if r["ours"] == "lost"}
    kept = [r for r in records if (r["kind"], r["chunk"]) not in lost and r["kind"] in summary.classes]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    for record in kept:
        summary.add(record)
    return {(r["kind"], r["chunk"]) for r in kept}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="programs in all, shared out among the classes")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--classes", help=f"comma-separated classes (default: all of {', '.join(SHAPES)})")
    parser.add_argument("--runs", type=int, default=4, help="runs on random inputs of each accepted program")
    parser.add_argument("--chunk", type=int, default=250, help="programs a worker judges at a time")
    parser.add_argument("--no-kernel", action="store_true", help="do not ask the kernel (where bpf() is refused)")
    parser.add_argument("--out", type=Path, default=RESULTS / "soundness_campaign.jsonl")
    parser.add_argument("--scheduler", help="a Dask distributed scheduler (tcp://HOST:8786) to run the work on, "
                        "instead of --jobs local processes")
    parser.add_argument("--resume", action="store_true", help="keep the chunks --out already holds, judge the rest")
    args = parser.parse_args()
    classes = [c for c in (args.classes or ",".join(SHAPES)).split(",") if c]
    unknown_classes = [c for c in classes if c not in SHAPES]
    if unknown_classes:
        parser.error(f"--classes: no class {', '.join(unknown_classes)}; the classes are {', '.join(SHAPES)}")
    if args.count < len(classes) or args.jobs < 1 or args.runs < 0 or args.chunk < 1:
        parser.error("--count must give each class a program; --jobs and --chunk must be positive")
    ask = not args.no_kernel
    if ask and kernel.unavailable_reason() is not None:
        print(f"kernel: {kernel.unavailable_reason()} (use --no-kernel to run without it)", file=sys.stderr)
        return 2
    if args.out.is_dir():
        parser.error(f"--out {args.out} is a directory; give the file to write (e.g. {args.out / 'campaign.jsonl'})")
    if args.resume and not args.out.is_file():
        parser.error(f"--resume: no earlier run at {args.out}")
    start = time.monotonic()
    try:
        summary = run_campaign(args, classes, ask, args.scheduler)
    except SchedulerError as exc:
        print(f"soundness_campaign: {exc}", file=sys.stderr)
        return 2
    elapsed = time.monotonic() - start
    command = "python -m papers.soundness_campaign " + " ".join(sys.argv[1:])
    report = {"command": command, "count": args.count, "seed": args.seed, "jobs": args.jobs, "runs": args.runs,
              "elapsed_s": round(elapsed), "kernel": os.uname().release if ask else None,
              **summary.to_json()}
    with open(args.out.with_suffix(".json"), "w") as handle:
        json.dump(report, handle, indent=1)
    programs = sum(c["programs"] for c in summary.counts.values())
    print(f"{programs} programs ({len(classes)} classes, seed {args.seed}, {args.runs} runs of each accepted one) "
          f"in {elapsed:.0f} s on {args.jobs} jobs")
    print(summary.table())
    print("\ndisagreements with the kernel (our codes; the kernel's first reason; the known disagreement):")
    for group in report["disagreements"]:
        label = group["known"] or ("UNEXPLAINED" if group["direction"] == "kernel-stricter" else "not yet known")
        print(f"  {group['class']}: {group['direction']} x{group['count']}: ours {group['codes'] or 'accepted'}; "
              f"kernel: {group['kernel_reason'] or 'accepted'} [{label}]")
        print("    " + (group["program"]["asm"] or group["program"]["hex"]).replace("\n", "; "))
    for problem in summary.problems:
        print(f"PROBLEM ({problem['kind']}): {problem.get('crash') or problem.get('fault') or problem.get('kernel_reason')}")
        print("    " + json.dumps(problem.get("program")))
    return 1 if summary.problems else 0


if __name__ == "__main__":
    # run as papers.soundness_campaign, so the worker processes find `work` under that name
    from papers.soundness_campaign import main as campaign_main

    sys.exit(campaign_main())
