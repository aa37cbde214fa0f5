"""Paths to an alarm: a depth-first walk of the program's paths from its entry, each path's
condition in an incremental z3 solver, looking for a run that reaches the alarm's instruction in
its calling context and breaks the obligation there.

A breach found is a witness (the model is the run's inputs). When every path was followed to its
end or to where no run goes on, and none breaks the obligation, the alarm is refuted. Bounds keep
the walk finite and its outcome the same on any machine: how often a path may pass one
instruction (loops), how many steps and paths in all, and z3's resource units per query; reaching
one leaves the alarm unknown, with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import z3

from .. import clock
from ..errors import ResourceLimit
from ..obligations import Kind, Obligation
from .execute import PathEnds, Unmodelled, entry_state, step
from .limits import SearchLimits
from .state import SymState
from .violations import VIOLATIONS

if TYPE_CHECKING:
    from ..fixpoint import Analysis


@dataclass
class Found:
    """A run that breaks the obligation: the model of its condition, its symbolic state at the
    alarm's instruction, and the pcs it executed."""

    model: Any
    state: SymState
    path: list[int]


@dataclass
class Outcome:
    status: str  # "witness", "refuted", "unknown"
    found: Found | None = None
    reason: str | None = None  # why unknown
    steps: int = 0
    queries: int = 0
    target_visits: int = 0  # the most times one path reached the alarm's pc (in any calling context)


@dataclass
class _Search:
    env: "Analysis"
    pc: int
    context: tuple[int, ...]
    obligation: Obligation
    limits: SearchLimits
    solver: Any = field(init=False)
    level: int = 0
    steps: int = 0
    queries: int = 0
    paths: int = 0
    target_visits: int = 0
    incomplete: str | None = None

    def __post_init__(self) -> None:
        self.solver = z3.Solver()
        self.solver.set("rlimit", self.limits.rlimit)
        self.solver.set("timeout", self.limits.timeout_ms)

    def check(self) -> Any:
        self.queries += 1
        return self.solver.check()

    def restore(self, level: int) -> None:
        while self.level > level:
            self.solver.pop()
            self.level -= 1

    def assume(self, condition: Any) -> bool:
        """Add `condition` to the path; False when it cannot hold (the path ends)."""
        simplified = z3.simplify(condition)
        if z3.is_true(simplified):
            return True
        if z3.is_false(simplified):
            return False
        self.solver.push()
        self.level += 1
        self.solver.add(simplified)
        return True

    def feasible(self) -> bool:
        result = self.check()
        if result == z3.unknown:
            self.incomplete = f"z3 gave no answer within its budget ({self.solver.reason_unknown()})"
        return result == z3.sat

    def at_target(self, state: SymState) -> Found | None:
        rule = VIOLATIONS.get(self.obligation.kind)
        try:
            violation = None if rule is None else rule(self.obligation, state, self.env)
        except Unmodelled as exc:
            self.incomplete = f"insn {self.pc}: {exc}"
            return None
        if violation is None:
            self.incomplete = "the breach is not one z3 can state for this path"
            return None
        simplified = z3.simplify(violation)
        if z3.is_false(simplified):
            return None
        self.solver.push()
        self.solver.add(simplified)
        result = self.check()
        found = Found(self.solver.model(), state, list(state.path)) if result == z3.sat else None
        if result == z3.unknown:
            self.incomplete = f"z3 gave no answer within its budget ({self.solver.reason_unknown()})"
        self.solver.pop()
        return found

    def run(self) -> Outcome:
        ops = self.env.cf.listing.ops
        start = entry_state(self.env)
        work: list[tuple[int, SymState, int, Any]] = [(0, start, 0, z3.And(*start.assumptions))]
        while work:
            pc, state, level, condition = work.pop()
            self.restore(level)
            if condition is not None and (not self.assume(condition) or not self.feasible()):
                continue
            while True:
                self.steps += 1
                if self.steps & 255 == 0 and self.limits.deadline is not None \
                        and clock.now() > self.limits.deadline:
                    raise ResourceLimit("z3 was still looking for runs that break the alarms at the time limit "
                                        "(raise --timeout)")
                if self.steps > self.limits.steps:
                    return self.outcome(f"the search took more than {self.limits.steps} steps")
                key = (pc, state.depth)
                state.visits[key] = state.visits.get(key, 0) + 1
                if state.visits[key] > self.limits.unroll:
                    self.incomplete = f"a path passes insn {pc} more than {self.limits.unroll} times (a loop)"
                    break
                state.path.append(pc)
                if pc == self.pc:
                    self.target_visits = max(self.target_visits, state.visits[key])
                if pc == self.pc and tuple(f.callsite for f in state.frames[1:]) == self.context:
                    before = self.incomplete
                    found = self.at_target(state)
                    if found is not None:
                        return Outcome("witness", found, steps=self.steps, queries=self.queries)
                    if self.incomplete != before and self.obligation.kind == Kind.TERMINATES:
                        # a loop whose reading cannot state "for ever" here cannot on any path
                        return self.outcome(None)
                known = len(state.assumptions)
                try:
                    successors = step(self.env, state, pc, ops[pc])
                except PathEnds:
                    break
                except Unmodelled as exc:
                    self.incomplete = f"insn {pc}: {exc}"
                    break
                fresh = successors[0].state.assumptions[known:]
                if fresh and not self.assume(z3.And(*fresh)):
                    break
                if len(successors) == 1:
                    nxt = successors[0]
                    if nxt.condition is not None and not self.assume(nxt.condition):
                        break
                    if nxt.pc is None:
                        self.paths += 1
                        break
                    pc, state = nxt.pc, nxt.state
                    continue
                for nxt in reversed(successors):
                    work.append((nxt.pc, nxt.state, self.level, nxt.condition))
                break
            if self.paths > self.limits.paths:
                return self.outcome(f"the program has more than {self.limits.paths} paths")
        return self.outcome(None)

    def outcome(self, stopped: str | None) -> Outcome:
        reason = stopped or self.incomplete
        status = "unknown" if reason else "refuted"
        return Outcome(status, reason=reason, steps=self.steps, queries=self.queries,
                       target_visits=self.target_visits)


def search(env: "Analysis", pc: int, context: tuple[int, ...], obligation: Obligation,
           limits: SearchLimits | None = None) -> Outcome:
    """Look for a run of the program that reaches `pc` in `context` and breaks `obligation` there."""
    return _Search(env, pc, context, obligation, limits or SearchLimits()).run()


__all__ = ["Found", "Outcome", "SearchLimits", "search"]
