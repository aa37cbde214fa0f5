"""What z3 does to the verifier's alarms, and what it costs.

    python -m papers.solver_effect [-o papers/measurements/solver_effect.json] [--random N]

Each program of the rule suite and of the shared corpus's tracing programs (the sets of
papers/verdict_snapshot.py; --random adds programs of the general mix) is checked twice, side by
side in one run: without z3 (`check --no-solver`) and with it. Per group it prints the error
findings before z3, those z3 dropped, those it exposed (behind a dropped one), what became of
the rest (confirmed by a replayed counterexample, or not confirmed and why), the verdicts that
changed, and the CPU time (process time) of both runs: total, and the median extra per program."""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from verifier.check import ProgramResult
from verifier.errors import Finding
from verifier.fixpoint import Limits

from .verdict_snapshot import Subject, random_programs, rule_suite, tracing_corpus


def outcome(finding: Finding) -> str:
    """What z3 made of a finding, in a few words that group alike findings."""
    proof = finding.proof
    if proof is None:
        return "not asked (a kernel load-time rule)"
    if proof.get("confirmed"):
        return "confirmed"
    status = proof["status"]
    if status == "policy":
        return "not confirmed: policy (a rule no run can break)"
    if status == "refuted":  # a profile that keeps what z3 refutes (linux-4.1: its kernel rejects it)
        return "refuted, kept by the profile"
    reason = proof.get("reason") or proof.get("replay", {}).get("reason") or "?"
    reason = re.sub(r"insn \d+:? ?", "", reason)
    reason = re.sub(r"0x[0-9a-f]+|\b\d+\b", "N", reason)
    return f"not confirmed: {status}: {reason}"


def _timed(subject: Subject, limits: Limits) -> tuple[ProgramResult, float]:
    start = time.process_time()
    result = subject.check(limits)
    return result, time.process_time() - start


def measure(subjects: dict[str, Subject]) -> dict[str, Any]:
    before_total = after_total = 0
    dropped = exposed = 0
    outcomes: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    times_without: list[float] = []
    times_with: list[float] = []
    for subject in subjects.values():
        limits = subject.limits or Limits()
        plain, t_plain = _timed(subject, replace(limits, solver=False))
        solved, t_solved = _timed(subject, replace(limits, solver=True))
        times_without.append(t_plain)
        times_with.append(t_solved)
        before = {(f.pc, f.code) for f in plain.errors}
        after = {(f.pc, f.code) for f in solved.errors}
        before_total += len(before)
        after_total += len(after)
        dropped += len(before - after)
        exposed += len(after - before)
        outcomes.update(outcome(f) for f in solved.errors)
        if plain.verdict != solved.verdict:
            verdicts[f"{plain.verdict} -> {solved.verdict}"] += 1
    extra = [w - p for p, w in zip(times_without, times_with)]
    return {
        "programs": len(subjects), "findings_before": before_total, "dropped": dropped, "exposed": exposed,
        "findings_after": after_total, "outcomes": dict(outcomes.most_common()), "verdict_changes": dict(verdicts),
        "cpu_s": {"without_z3": round(sum(times_without), 3), "with_z3": round(sum(times_with), 3),
                  "median_without": round(statistics.median(times_without), 4) if extra else 0.0,
                  "median_with": round(statistics.median(times_with), 4) if extra else 0.0,
                  "median_extra": round(statistics.median(extra), 4) if extra else 0.0},
    }


def render(group: str, m: dict[str, Any]) -> str:
    cpu = m["cpu_s"]
    lines = [f"{group}: {m['programs']} programs",
             f"  error findings without z3 {m['findings_before']}; z3 dropped {m['dropped']}, exposed "
             f"{m['exposed']} behind them; {m['findings_after']} remain"]
    lines += [f"    {count:4} {what}" for what, count in m["outcomes"].items()]
    if m["verdict_changes"]:
        lines.append("  verdicts: " + ", ".join(f"{k} {v}" for k, v in m["verdict_changes"].items()))
    ratio = cpu["with_z3"] / cpu["without_z3"] if cpu["without_z3"] else float("nan")
    lines.append(f"  CPU total {cpu['without_z3']:.2f} s without z3, {cpu['with_z3']:.2f} s with (x{ratio:.2f}); "
                 f"median per program {cpu['median_without'] * 1000:.1f} ms -> {cpu['median_with'] * 1000:.1f} ms "
                 f"(extra {cpu['median_extra'] * 1000:.1f} ms)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, help="write the figures as JSON here")
    parser.add_argument("--random", type=int, default=0, help="programs of the general mix to add (default 0)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.random < 0:
        parser.error("--random must be >= 0")
    groups = {"rules": rule_suite(), "corpus": tracing_corpus()}
    if args.random:
        groups["random"] = random_programs(args.random, args.seed)
    figures = {group: measure(subjects) for group, subjects in groups.items() if subjects}
    for group, m in figures.items():
        print(render(group, m))
    if args.output:
        args.output.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
