"""z3 on the linux-4.1 profile's findings, through the pipeline of the modern profile (`verifier.smt`:
the symbolic search, the counterexample, its replay on the interpreter). The 4.1 walk decides the
verdict by 4.1's rules alone; z3 only says what a finding means for runs: a run that faults (a
counterexample, replayed), or no run that does, so the finding is one of 4.1's load-time policies.

The question asked is the analysis' own obligation of the finding's kind at its instruction (so a
rule has one statement for runs, whichever kernel's verifier raised it)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..checker import Alarm
from ..obligations import POLICY
from ..smt import Judgement, judge
from ..symbolic.search import SearchLimits
from ..symbolic.violations import VIOLATIONS

if TYPE_CHECKING:
    from ..fixpoint import Analysis

# what a 4.1 finding no run breaks is, in the reports' words
NO_FAULTING_RUN = ("no run faults here (z3 followed every path to it): a rule of the Linux 4.1 verifier, which "
                   "refuses the program when it loads it")


def run_question(analysis: "Analysis", alarm: Alarm) -> Alarm | None:
    """The walk's alarm with the analysis' obligation of the same kind at its instruction (on the same
    register where both name one); the alarm itself for a load-time rule, which z3 is not asked about;
    None where a rule about runs has no such obligation (no question to ask)."""
    rule = alarm.obligation.rule
    if (rule.fault == POLICY and not rule.refutable) or alarm.kind not in VIOLATIONS:
        return alarm
    candidates = [ob for ob in analysis.obligations_at(alarm.pc) if ob.kind == alarm.kind]
    same_reg = [ob for ob in candidates if alarm.obligation.reg is None or ob.reg == alarm.obligation.reg]
    same_access = [ob for ob in same_reg if (ob.off, ob.size) == (alarm.obligation.off, alarm.obligation.size)]
    chosen = (same_access or same_reg or [None])[0]
    return None if chosen is None else replace(alarm, obligation=chosen)


def judge_findings(analysis: "Analysis", alarms: list[Alarm], ask: list[int], limits: SearchLimits,
                   judgements: dict[int, Judgement]) -> None:
    """Fill `judgements` (by index in `alarms`) for the alarms `ask`, as they come (a time limit may
    end the work: `ResourceLimit`)."""
    questions: list[Alarm] = []
    asking: list[int] = []  # the index in `alarms` of each question
    for n in ask:
        question = run_question(analysis, alarms[n])
        if question is None:
            judgements[n] = Judgement("unknown", "this analysis states no question about runs for this rule of "
                                                 "Linux 4.1 at this instruction")
        else:
            questions.append(question)
            asking.append(n)
    asked: dict[int, Judgement] = {}
    try:
        judge(analysis, questions, limits, asked)
    finally:
        for i, judgement in asked.items():
            if judgement.status == "refuted":  # (4.1 keeps the finding: its verifier cannot see the run is safe)
                judgement = Judgement("policy", NO_FAULTING_RUN, steps=judgement.steps, queries=judgement.queries)
            judgements[asking[i]] = judgement


__all__ = ["NO_FAULTING_RUN", "judge_findings", "run_question"]
