"""False alarms before and after z3, and what became of the findings z3 kept (confirmed by a
replayed counterexample, or not confirmed and why): the rule suite and the corpus's tracing programs."""

from __future__ import annotations

import itertools

from ..runner import Context
from ..solver_effect import measure
from ..verdict_snapshot import rule_suite, tracing_corpus

QUICK_PROGRAMS = 25  # per group in a --quick run


def run(context: Context) -> None:
    groups = {"rule suite": rule_suite(), "corpus tracing programs": tracing_corpus()}
    summary, outcomes = [], []
    for group, subjects in groups.items():
        if not subjects:
            context.note(f"{group}: not available here")
            continue
        if context.quick:
            subjects = dict(itertools.islice(subjects.items(), QUICK_PROGRAMS))
        m = measure(subjects)
        cpu = m["cpu_s"]
        summary.append([group, m["programs"], m["findings_before"], m["dropped"], m["exposed"], m["findings_after"],
                        ", ".join(f"{k} {v}" for k, v in m["verdict_changes"].items()) or "none",
                        f"{cpu['without_z3']:.2f}", f"{cpu['with_z3']:.2f}",
                        f"{cpu['with_z3'] / cpu['without_z3']:.2f}" if cpu["without_z3"] else "",
                        f"{cpu['median_extra'] * 1000:.1f}"])
        outcomes += [[group, what, count] for what, count in m["outcomes"].items()]
    context.table("solver_alarms", "Error findings without z3 and with it, verdict changes, CPU seconds",
                  ["programs", "count", "findings without z3", "dropped by z3", "exposed behind them",
                   "findings with z3", "verdict changes", "CPU without z3", "CPU with z3", "ratio",
                   "median extra ms"], summary)
    context.table("solver_outcomes", "What became of each finding z3 kept", ["programs", "outcome", "findings"],
                  outcomes)
