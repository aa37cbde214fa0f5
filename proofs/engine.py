"""Proving one claim about the domain code: on every path the code takes, a goal holds.

A claim is a function of the domain (`run`, executed on symbolic values by `symbolic.Explorer`)
with the assumptions on its inputs (well-formed abstract values, concrete values in them) and
the goals its result must meet (each a z3 formula, typically one per component of the result's
concretisation). Each goal is checked on each feasible path apart: z3 answers many small
questions faster than one conjunction, and a failing goal names the component that is wrong.

Every solver call has a resource limit (z3's `rlimit`, counted in z3's own work units), so that
what is proved does not depend on how busy the machine is; a goal that reaches it is `unknown`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import z3

from .symbolic import Explorer, PathLimit

PROVED, REFUTED, UNKNOWN = "proved", "refuted", "unknown"

Goals = Callable[[Any], Iterable[tuple[str, Any]]]


@dataclass
class Outcome:
    status: str  # proved | refuted | unknown
    seconds: float = 0.0  # CPU time
    paths: int = 0
    queries: int = 0
    failed_goal: str = ""  # the component that does not hold (refuted) or was not decided (unknown)
    model: dict[str, int] = field(default_factory=dict)  # a refutation's inputs: variable name -> value

    @property
    def ok(self) -> bool:
        return self.status == PROVED


def prove(assumptions: list[Any], run: Callable[[], Any], goals: Goals, *, rlimit: int,
          max_paths: int = 4096, polynomial: bool = False) -> Outcome:
    """Whether every goal of `run`'s result holds on every path under `assumptions`. `polynomial`:
    each query is first simplified with products expanded into sums of monomials, so that an
    identity of the ring of 64-bit integers (multiplication among them) is decided by
    normalisation instead of by bit-blasting multipliers."""
    started = time.process_time()
    explorer = Explorer(assumptions, max_paths=max_paths, rlimit=rlimit)
    outcome = Outcome(PROVED)
    try:
        for path, result in explorer.paths(run):
            outcome.paths += 1
            required = list(explorer.requirements)  # the preconditions of contracts the path used
            verdict = _check_path(assumptions + path, result, lambda r: [*required, *goals(r)], rlimit, outcome,
                                  polynomial)
            if verdict != PROVED:
                outcome.status = verdict
                break
    except PathLimit as limit:
        outcome.status, outcome.failed_goal = UNKNOWN, str(limit)
    outcome.seconds = time.process_time() - started
    return outcome


def _check_path(facts: list[Any], result: Any, goals: Goals, rlimit: int, outcome: Outcome,
                polynomial: bool = False) -> str:
    solver = z3.Then(z3.With("simplify", som=True), "smt").solver() if polynomial else z3.Solver()
    solver.set("rlimit", rlimit)
    solver.add(*facts)
    for label, goal in goals(result):
        outcome.queries += 1
        solver.push()
        solver.add(z3.Not(goal))
        answer = solver.check()
        if answer == z3.sat:
            outcome.failed_goal = label
            outcome.model = _model_values(solver.model())
            return REFUTED
        solver.pop()
        if answer == z3.unknown:
            outcome.failed_goal = f"{label} ({solver.reason_unknown()})"
            return UNKNOWN
    return PROVED


def _model_values(model: Any) -> dict[str, int]:
    values = {}
    for decl in model.decls():
        value = model[decl]
        if z3.is_bv_value(value):
            values[decl.name()] = value.as_long()
    return values


__all__ = ["Outcome", "PROVED", "REFUTED", "UNKNOWN", "prove"]
