"""z3 on alarms: each alarm a run could break (a rule with an interpreter fault) is looked for
along the program's paths (`symbolic.search`). A run that breaks it becomes a counterexample,
replayed on the interpreter (`witness`); when no path can break it, it is refuted and dropped. A
kernel load-time rule (`policy`) is not a property of runs and stays as the analysis found it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .checker import Alarm
from .obligations import POLICY, Kind, Obligation
from .symbolic.limits import SearchLimits

if TYPE_CHECKING:
    from .fixpoint import Analysis
    from .witness import Counterexample, Replay

# (the search and the replay, z3 and the kprobe runtime, are imported where an alarm is searched:
# a program whose alarms are all the kernel's load-time rules is judged without them)


@dataclass
class Judgement:
    """What z3 made of one alarm: refuted (no run breaks it), witnessed (a counterexample, replayed),
    unknown (the search could not conclude: why), or policy (not a property of runs)."""

    status: str  # "refuted", "witnessed", "unknown", "policy"
    reason: str | None = None
    counterexample: Counterexample | None = None
    replay: Replay | None = None
    steps: int = 0
    queries: int = 0
    visits: int | None = None  # a loop refuted: the most times one path reached its head

    @property
    def confirmed(self) -> bool:
        return self.replay is not None and self.replay.confirmed

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "confirmed": self.confirmed}
        if self.reason:
            out["reason"] = self.reason
        if self.counterexample is not None:
            out["counterexample"] = self.counterexample.to_json()
        if self.replay is not None:
            out["replay"] = self.replay.to_json()
        return out


def judge(analysis: "Analysis", alarms: list[Alarm], limits: SearchLimits,
          judgements: dict[int, Judgement] | None = None) -> dict[int, Judgement]:
    """A judgement for each alarm (by its index in `alarms`), filled into `judgements` as they come
    (a time limit may end the work); alarms of one obligation at one pc in one calling context
    share it."""
    judgements = {} if judgements is None else judgements
    done: dict[tuple[Any, ...], Judgement] = {}
    for n, alarm in enumerate(alarms):
        rule = alarm.obligation.rule
        if rule.fault == POLICY and not rule.refutable:
            judgements[n] = Judgement("policy")
            continue
        if alarm.state is None:
            # an alarm without a state is about the whole program unless it is one a run can break:
            # those of the linux-4.1 walk, which keeps no state of ours (the formulas are z3's)
            from .symbolic.violations import VIOLATIONS

            if alarm.kind not in VIOLATIONS:
                judgements[n] = Judgement("policy" if rule.fault == POLICY else "unknown")
                continue
        key = (alarm.pc, alarm.obligation, alarm.context)
        if key not in done:
            done[key] = _judge(analysis, alarm, limits)
        judgements[n] = done[key]
    return judgements


def _judge_loop(analysis: "Analysis", alarm: Alarm, limits: SearchLimits) -> Judgement:
    known = analysis.loop_judgements.get((alarm.context, alarm.facts["head"]))
    judgement = known if known is not None else loop_witness(analysis, alarm.obligation, alarm.context, limits)
    if judgement.status == "refuted":
        # termination turns a refuted search into the loop's bound before any alarm is raised; one
        # refuted only now has no bound in the worst case, and dropping its alarm would accept a
        # loop no bound was recorded for
        return Judgement("unknown", "every run leaves the loop, but its bound was not recorded",
                         steps=judgement.steps, queries=judgement.queries)
    return judgement


def loop_witness(analysis: "Analysis", obligation: Obligation, context: tuple[int, ...],
                 limits: SearchLimits) -> Judgement:
    """A loop without a bound (its head is `obligation.detail`): a run that reaches its head in a
    state from which it goes round for ever, replayed until the interpreter's budget runs out
    inside the loop. No such run is no proof of termination: the loop stays refused (unknown), as
    nothing bounds it."""
    from .symbolic.search import search
    from .witness import counterexample, replay

    head = obligation.detail
    outcome = search(analysis, head, context, obligation, limits)
    if outcome.status == "refuted":  # every path was followed to its end: every run leaves the loop
        return Judgement("refuted", None, steps=outcome.steps, queries=outcome.queries,
                         visits=outcome.target_visits)
    if outcome.status != "witness":
        reason = outcome.reason or "no run reaches the loop in a state from which it goes round for ever"
        return Judgement("unknown", reason, steps=outcome.steps, queries=outcome.queries)
    assert outcome.found is not None
    fn = next(f for f in analysis.cf.functions.values() if head in f.loops)
    pcs = frozenset(pc for block in fn.loops[head] for pc in fn.blocks[block].pcs)
    fault = obligation.rule.fault
    run = None
    for tidy in (True, False):
        cx = counterexample(analysis, outcome.found, tidy=tidy)
        run = replay(analysis.program, cx, obligation.pc, fault, analysis.arch, within=pcs)
        if run.confirmed:
            break
    return Judgement("witnessed", None, cx, run, outcome.steps, outcome.queries)


def _judge(analysis: "Analysis", alarm: Alarm, limits: SearchLimits) -> Judgement:
    if alarm.kind == Kind.TERMINATES:
        return _judge_loop(analysis, alarm, limits)
    from .symbolic.search import search
    from .witness import counterexample, fewer_registers, replay

    outcome = search(analysis, alarm.pc, alarm.context, alarm.obligation, limits)
    if outcome.status != "witness":
        return Judgement(outcome.status, outcome.reason, steps=outcome.steps, queries=outcome.queries)
    assert outcome.found is not None
    cx = counterexample(analysis, outcome.found)
    fault = alarm.obligation.rule.fault
    if fault == POLICY:  # a run comes near the kernel's rule, and faults nowhere for it
        return Judgement("policy", "a run breaks the kernel's rule (the counterexample), without a fault", cx,
                         steps=outcome.steps, queries=outcome.queries)
    # the registers the model leaves to z3's default are shown as 0 where the fault still follows
    tidy = counterexample(analysis, outcome.found, tidy=True)
    run = replay(analysis.program, tidy, alarm.pc, fault, analysis.arch)
    if run.confirmed or tidy == cx:
        return Judgement("witnessed", None, tidy, run, outcome.steps, outcome.queries)
    run = replay(analysis.program, cx, alarm.pc, fault, analysis.arch)
    if run.confirmed:
        cx, run = fewer_registers(analysis.program, cx, alarm.pc, fault, analysis.arch, run)
    return Judgement("witnessed", None, cx, run, outcome.steps, outcome.queries)


__all__ = ["Judgement", "judge", "loop_witness"]
