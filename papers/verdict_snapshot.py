"""Every verdict and finding of the verifier on a fixed set of programs, to prove that a change
which should keep behaviour does, and what it costs.

    python papers/verdict_snapshot.py -o before.json            # before the change
    python papers/verdict_snapshot.py -o after.json --compare before.json

The set: the rule suite (tests/verifier/test_rules.py), every tracing program of the shared
corpus (license "GPL" where the object has none, as papers/corpus_verdicts.py), and --random
programs of the general mix (tests/verifier/program_shapes.py) drawn with a fixed
seed (`--load-each`: each corpus program loaded by itself, as `check --section` loads it, so that
a snapshot compares that loading with the whole object's). For each program: the verdict and
the findings as (pc, code, severity). CPU time (process time, loading excluded) is measured per
group, --repeat times, keeping the median.
With --compare, prints every program whose verdict or findings differ and the time ratios;
exit 1 when something differs."""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "verifier"))

import program_shapes as shapes  # noqa: E402
import test_rules as rules  # noqa: E402

from interp.loader import load_object  # noqa: E402
from interp.program import Program  # noqa: E402
from verifier.check import ProgramResult, check_program  # noqa: E402
from verifier.fixpoint import Limits  # noqa: E402

SAMPLES = HERE.parent.parent / "shared" / "corpus" / "ebpf-samples"
TRACING = ("kprobe", "tracepoint", "raw_tracepoint", "perf_event")

RANDOM_LIMITS = Limits(max_unroll_work=4000)  # enough for every loop the generator makes that ends


@dataclass(frozen=True)
class Subject:
    """One program of the set and how it is checked."""

    program: Program
    profile: str = "linux-6.18"
    limits: Limits | None = None

    def check(self, limits: Limits | None = None) -> ProgramResult:
        return check_program(self.program, self.profile, limits=limits or self.limits)


def rule_suite() -> dict[str, Subject]:
    return {f"rules/{case.name}": Subject(rules.program(case), case.profile) for case in rules.CASES + rules.SEED_CASES}


def tracing_corpus(load_each: bool = False) -> dict[str, Subject]:
    """The corpus's tracing programs (empty where the shared corpus is absent). `load_each`: each
    program loaded by itself, as `check --section SECTION:FUNCTION` loads it."""
    if not (SAMPLES / "MANIFEST.tsv").is_file():
        return {}
    with open(SAMPLES / "MANIFEST.tsv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["prog_type"] in TRACING]
    objects: dict[str, list[Program]] = {}
    subjects: dict[str, Subject] = {}
    for row in rows:
        if load_each:
            objects[row["file"]] = load_object(SAMPLES / row["file"], select=f"{row['section']}:{row['function']}")
        elif row["file"] not in objects:
            objects[row["file"]] = load_object(SAMPLES / row["file"])
        program = next(p for p in objects[row["file"]] if p.section == row["section"] and p.name == row["function"])
        if not program.license:
            program.license = "GPL"
        subjects[f"corpus/{row['file']}/{row['section']}/{row['function']}"] = Subject(program)
    return subjects


def random_programs(count: int, rng_seed: int) -> dict[str, Subject]:
    drawn: list[shapes.Shape] = []
    if count == 0:
        return {}

    @seed(rng_seed)
    @settings(max_examples=count, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(shapes.general_mix())
    def draw(shape: shapes.Shape) -> None:
        drawn.append(shape)

    draw()
    subjects: dict[str, Subject] = {}
    for n, shape in enumerate(drawn):
        try:
            program = shape.program()
        except Exception:  # noqa: BLE001 - a jump past the end: not a program
            continue
        subjects[f"random/{n}"] = Subject(program, limits=RANDOM_LIMITS)
    return subjects


def _record(result: ProgramResult) -> dict[str, Any]:
    return {"verdict": result.verdict,
            "findings": sorted([f.pc, f.code, f.severity] for f in result.findings)}


def snapshot(random_count: int, rng_seed: int, repeat: int, solver: bool = True,
             load_each: bool = False) -> dict[str, Any]:
    groups = {"rules": rule_suite(), "corpus": tracing_corpus(load_each), "random": random_programs(random_count, rng_seed)}
    programs: dict[str, Any] = {}
    cpu: dict[str, float] = {}
    for group, checks in groups.items():
        times = []
        for _ in range(repeat):
            start = time.process_time()
            for name, subject in checks.items():
                limits = subject.limits or Limits()
                programs[name] = _record(subject.check(limits if solver else replace(limits, solver=False)))
            times.append(time.process_time() - start)
        cpu[group] = statistics.median(times)
    return {"programs": programs, "cpu_s": cpu, "random": random_count, "seed": rng_seed, "repeat": repeat}


def compare(before: dict[str, Any], after: dict[str, Any]) -> int:
    differ = 0
    for name in sorted(before["programs"].keys() | after["programs"].keys()):
        old, new = before["programs"].get(name), after["programs"].get(name)
        if old != new:
            differ += 1
            print(f"{name}:\n  before {old}\n  after  {new}")
    by_group: dict[str, int] = {}
    for name in after["programs"]:
        by_group[name.split("/", 1)[0]] = by_group.get(name.split("/", 1)[0], 0) + 1
    print(f"{sum(by_group.values())} programs ({', '.join(f'{g} {n}' for g, n in by_group.items())}): "
          f"{differ} differ")
    for group in after["cpu_s"]:
        old, new = before["cpu_s"].get(group), after["cpu_s"][group]
        ratio = f", ratio {new / old:.2f}" if old else ""
        print(f"  {group}: CPU {old if old is None else round(old, 2)} s -> {new:.2f} s{ratio}")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--compare", type=Path, help="an earlier snapshot to compare with")
    parser.add_argument("--random", type=int, default=2000, help="random programs (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="timing runs per group; the median is kept")
    parser.add_argument("--no-solver", action="store_true", help="the abstract analysis alone (check --no-solver)")
    parser.add_argument("--load-each", action="store_true",
                        help="load each corpus program by itself, as check --section does")
    args = parser.parse_args()
    if args.random < 0 or args.repeat < 1:
        parser.error("--random must be >= 0 and --repeat >= 1")
    random.seed(args.seed)
    after = snapshot(args.random, args.seed, args.repeat, solver=not args.no_solver, load_each=args.load_each)
    args.output.write_text(json.dumps(after, indent=0))
    if args.compare is None:
        print(f"{len(after['programs'])} programs; CPU " +
              ", ".join(f"{g} {t:.2f} s" for g, t in after["cpu_s"].items()))
        return 0
    return compare(json.loads(args.compare.read_text()), after)


if __name__ == "__main__":
    sys.exit(main())
