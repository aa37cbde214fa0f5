"""The verifier's entry point: program -> structure -> CFG -> fixpoint (invariants) ->
obligations checked (alarms) -> findings, and a verdict.

    from interp.sources import read_program
    from verifier.check import check_program
    result = check_program(read_program(path).select("kprobe/sys_write"), profile="linux-6.18")
    result.verdict            # "accepted", "rejected" or "unknown"
    result.findings           # [Finding(pc, code, message, source, severity)]
    result.alarms             # [Alarm(obligation, pc, context, state, facts, definite)]
    result.states[pc]         # the abstract State before instruction pc (all paths and contexts joined)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from interp.faults import ProgramError
from interp.flow import Listing
from interp.program import Program

from . import clock
from .checker import Alarm, check_all
from .errors import ERROR, WARNING, Finding, ResourceLimit
from .fixpoint import Analysis, Limits
from .obligations import Kind, Obligation
from .profiles import PROFILES, Profile, helper_registry
from .report import finding
from .state import State
from .structure import (
    BLOCKING,
    control_flow_error,
    flow_alarms,
    program_alarms,
    stack_alarms,
)
from .symbolic.limits import SearchLimits
from .termination import LoopBound
from .worst_case import worst_case

if TYPE_CHECKING:
    from .smt import Judgement

SEED_KERNEL_VERSION = (4 << 16) | (1 << 8)  # LINUX_VERSION_CODE of 4.1.0


class StatesView(Mapping[int, State]):
    """The state before each instruction, recomputed from the invariant at its block's entry
    (the join over paths and calling contexts of the same call depth as the first)."""

    def __init__(self, analysis: Analysis | None) -> None:
        self._analysis = analysis
        self._cache: dict[int, State | None] = {}

    def _compute(self, pc: int) -> State | None:
        joined: State | None = None
        for _, state in self.paths(pc):
            if joined is None:
                joined = state
            elif joined.depth == state.depth:
                joined = joined.join(state)
        return joined

    def paths(self, pc: int, context: tuple[int, ...] | None = None) -> list[tuple[tuple[int, ...], State]]:
        """The states before instruction pc, one per path the invariant keeps, with their calling
        context (only `context`'s, when given): the invariant before pc is their union."""
        a = self._analysis
        if a is None:
            return []
        fn = next((f for f in a.cf.functions.values() if pc in f.block_of), None)
        if fn is None:
            return []
        block = fn.block_of[pc]
        found = []
        for (ctx, start), paths in a.invariants.items():
            if start != block or (context is not None and ctx != context):
                continue
            for state in paths:
                current: State | None = state
                for at in fn.blocks[block].pcs:
                    if current is None or at == pc:
                        break
                    current = check_all(a.obligations_at(at), current, a, None)
                    if current is not None:
                        current = a.transfer.step(at, a.cf.listing.ops[at], current, fn.entry, record=False)
                if current is not None:
                    found.append((ctx, current))
        return found

    def __getitem__(self, pc: int) -> State:
        if pc not in self._cache:
            self._cache[pc] = self._compute(pc)
        found = self._cache[pc]
        if found is None:
            raise KeyError(pc)
        return found

    def __iter__(self) -> Iterator[int]:
        a = self._analysis
        if a is None:
            return iter(())
        pcs = sorted({pc for fn in a.cf.functions.values() for (_, start) in a.invariants
                      if start in fn.blocks for pc in fn.blocks[start].pcs})
        return iter([pc for pc in pcs if self.get(pc) is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class ProgramResult:
    program: Program
    profile: str
    verdict: str  # "accepted", "rejected", "unknown"
    findings: list[Finding] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    judgements: dict[int, Any] = field(default_factory=dict)  # alarm index -> what z3 made of it (smt.Judgement)
    states: Mapping[int, State] = field(default_factory=dict)
    time_s: float = 0.0
    work: int = 0
    reason: str | None = None  # why the verdict is unknown
    loops: list[LoopBound] = field(default_factory=list)  # each loop's bound and how it was found
    worst_case: int | None = None  # the most instructions a run executes (None: some loop has no bound)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "section": self.program.section, "name": self.program.name, "prog_type": self.program.prog_type,
            "verdict": self.verdict, "errors": [f.to_json() for f in self.errors],
            "warnings": [f.to_json() for f in self.warnings],
            "stats": {"insns": self.program.slots, "time_s": round(self.time_s, 4), "steps": self.work,
                      "worst_case_insns": self.worst_case},
            "loops": [loop.to_json() for loop in self.loops],
        }
        if self.reason:
            out["reason"] = self.reason
        return out


def check_program(program: Program, profile: str | Profile = "linux-6.18", arch: str = "x86_64",
                  kern_version: int | None = None, limits: Limits | None = None, strict: bool = False) -> ProgramResult:
    """`strict`: the rules for unprivileged programs, where the profile's warnings are errors."""
    start = clock.now()
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    result = ProgramResult(program, prof.name, "rejected")
    alarms = program_alarms(program, prof, kern_version)
    ops = prof.program_types.get(program.prog_type)
    analysis = None
    if ops is not None and program.slots <= prof.max_insns and not alarms_of(alarms, "valid-encoding"):
        try:
            analysis = Analysis(program, prof, arch, ops, helper_registry(ops), limits or Limits())
        except ResourceLimit as exc:  # the deadline passed while the CFG was built
            result.verdict, result.reason = "unknown", str(exc)
        except ProgramError as exc:
            alarms.append(control_flow_error(exc))
        if analysis is not None:
            alarms += flow_alarms(analysis.cf, program, prof)
            if prof.analysis == "linux-4.1":
                # (its own analysis: loaded for its profile only)
                from .linux41 import walk as linux41_walk

                if not alarms:  # 4.1 walks the program only once loading and its control-flow check pass
                    try:
                        linux41_walk.run(analysis)
                        result.worst_case = worst_case(analysis)  # no loops under 4.1: the longest path
                    except ResourceLimit as exc:
                        result.verdict, result.reason = "unknown", str(exc)
                    alarms += analysis.alarms
                    result.work = analysis.work
            elif not any(a.kind in BLOCKING for a in alarms):
                try:
                    analysis.run()
                    analysis.alarms += stack_alarms(analysis)
                    loops = list(analysis.loop_bounds.values()) + [
                        LoopBound(pc, fn, most, "bpf_loop") for pc, (fn, _, most) in analysis.callback_bounds.items()]
                    result.loops = sorted(loops, key=lambda b: (b.function, b.head))
                    result.worst_case = worst_case(analysis)
                    walked = worst_case(analysis, walked=True) if analysis.callback_bounds else result.worst_case
                    analysis.alarms += complexity_alarms(result.loops, walked, prof)
                except ResourceLimit as exc:
                    result.verdict, result.reason = "unknown", str(exc)
                except (MemoryError, RecursionError):
                    result.verdict, result.reason = "unknown", "the analysis ran out of memory (raise --max-memory)"
                alarms += analysis.alarms
                result.states = StatesView(analysis)
                result.work = analysis.work
    if prof.analysis == "linux-4.1":  # the refusals made before 4.1's walk, in its words too
        from .linux41 import walk as linux41_walk

        for alarm in alarms:
            alarm.facts.setdefault("kernel", linux41_walk.kernel_words(alarm))
    limits = limits or Limits()
    warnings = frozenset() if strict else prof.warnings
    judgements: dict[int, Judgement] = {}
    exposed = _exposed(alarms, judgements, warnings, prof.solver_refutes)
    cut_short = None  # why z3 could not judge every alarm (the time limit)
    search_limits = SearchLimits(steps=limits.solver_steps, rlimit=limits.solver_rlimit,
                                 timeout_ms=int(limits.solver_timeout_s * 1000),
                                 deadline=analysis.deadline if analysis is not None else None)  # (the analysis' own)
    if analysis is not None and limits.solver and result.verdict != "unknown" and prof.analysis == "linux-4.1":
        # the walk decided by 4.1's own rules alone; z3 says only what each finding means for runs
        # (z3 and the search: loaded for this profile's findings only)
        from .linux41 import judge as linux41_judge

        try:
            linux41_judge.judge_findings(analysis, alarms, exposed, search_limits, judgements)
        except ResourceLimit:
            pass  # the findings z3 had no time for stand without its answer; no verdict rests on it
    elif analysis is not None and limits.solver and result.verdict != "unknown" \
            and any(alarms[n].code not in warnings for n in exposed):
        # (judged only where there is an alarm to judge; z3 itself is loaded by a search)
        from .smt import judge

        try:
            while True:  # an alarm behind one z3 drops is judged in its turn
                ask = [n for n in exposed if n not in judgements and alarms[n].code not in warnings]
                if not ask:
                    break
                asked: dict[int, Judgement] = {}
                try:
                    judge(analysis, [alarms[n] for n in ask], search_limits, asked)
                finally:
                    judgements.update({ask[i]: j for i, j in asked.items()})
                exposed = _exposed(alarms, judgements, warnings, prof.solver_refutes)
        except ResourceLimit as exc:
            cut_short = str(exc)
    listing = analysis.cf.listing if analysis is not None else None
    found, unfollowed = _findings(alarms, exposed, judgements if prof.solver_refutes else {}, program, judgements,
                                  listing)
    found = [replace(f, severity=WARNING) if f.code in warnings else f for f in found]
    result.alarms = alarms
    result.judgements = judgements
    result.findings = sorted(found, key=lambda f: (f.pc, f.code))
    if cut_short is not None and not any(f.proof and f.proof.get("confirmed") for f in result.errors):
        # what z3 had yet to judge might have been dropped: no verdict rests on how fast it went
        result.verdict, result.reason = "unknown", cut_short
    elif result.verdict != "unknown":
        result.verdict = "rejected" if result.errors else "accepted"
        if result.verdict == "accepted" and unfollowed:
            result.verdict = "unknown"
            result.reason = (f"z3 shows that insn {unfollowed[0].pc} cannot break its rule, but the analysis did not "
                             "follow that path past it")
    elif result.errors:
        result.verdict = "rejected"  # what was found is found, whatever else is unknown
    result.time_s = clock.now() - start
    return result


def _exposed(alarms: list[Alarm], judgements: dict[int, "Judgement"], warnings: frozenset[str],
             refutes: bool) -> list[int]:
    """The alarms that count: each first on its register, and each behind one that does not stop
    the program (a warning, or an alarm z3 refuted, where the profile drops those)."""
    by_key: dict[tuple[Any, ...], list[int]] = {}
    for n, alarm in enumerate(alarms):
        by_key.setdefault((alarm.pc, alarm.context, alarm.obligation), []).append(n)

    def lets_through(alarm: Alarm) -> bool:
        assert alarm.behind is not None
        hiders = by_key.get((alarm.pc, alarm.context, alarm.behind), [])
        return all(alarms[m].code in warnings or (refutes and m in judgements and judgements[m].status == "refuted")
                   for m in hiders)

    exposed = {n for n, alarm in enumerate(alarms) if alarm.behind is None}
    while True:  # (an alarm may stand behind one that stands behind another)
        more = {n for n, alarm in enumerate(alarms) if n not in exposed and alarm.behind is not None
                and all(m in exposed for m in by_key.get((alarm.pc, alarm.context, alarm.behind), []))
                and lets_through(alarm)}
        if not more:
            return sorted(exposed)
        exposed |= more


def _findings(alarms: list[Alarm], exposed: list[int], judgements: dict[int, "Judgement"], program: Program,
              proofs: dict[int, "Judgement"], listing: Listing | None) -> tuple[list[Finding], list[Alarm]]:
    """One finding per (pc, code) of the `exposed` alarms, unless z3 refuted (in `judgements`) every
    alarm behind it, with what z3 made of it (`proofs`); and the refuted alarms the analysis did not
    go past (so that their paths' continuations were never analysed)."""
    groups: dict[tuple[int, str], list[int]] = {}
    for n in exposed:
        groups.setdefault((alarms[n].pc, alarms[n].code), []).append(n)
    found: list[Finding] = []
    unfollowed: list[Alarm] = []
    for members in groups.values():
        judged = [judgements.get(n) for n in members]
        if all(j is not None and j.status == "refuted" for j in judged):
            # a path the analysis ended here was never followed further, whether the alarm looked
            # certain or not: z3 shows the rule holds, not that what comes after is safe
            unfollowed += [alarms[n] for n in members if alarms[n].ends_path]
            continue
        first = next(n for n, j in zip(members, judged) if j is None or j.status != "refuted")
        proof = proofs.get(first)
        if proof is not None:
            # (what z3 found is shown: without a proof there is no slice to compute)
            from .evidence import proof_json
        found.append(replace(finding(alarms[first], program),
                             proof=None if proof is None or listing is None
                             else proof_json(proof, alarms[first], program, listing)))
    return found, unfollowed


def complexity_alarms(loops: list[LoopBound], worst: int | None, profile: Profile) -> list[Alarm]:
    """`too-complex` where a run may execute more instructions than the profile's kernel processes:
    it walks every iteration of a counted loop (not of a may_goto loop, whose states it joins, nor a
    bpf_loop callback's, which `worst` counts once)."""
    limit = profile.complexity_limit
    if limit is None or worst is None or worst <= limit or any(loop.how == "may_goto" for loop in loops):
        return []
    biggest = sorted((b for b in loops if b.visits and b.visits > 1 and b.how != "bpf_loop"),
                     key=lambda b: -(b.visits or 0))[:3]
    pc = biggest[0].head if biggest else 0
    return [Alarm(Obligation(Kind.COMPLEXITY, pc), pc, (), None,
                  {"worst": worst, "limit": limit, "profile": profile.name,
                   "loops": [(b.head, b.visits) for b in biggest]}, definite=True)]


def alarms_of(alarms: list[Alarm], kind: str) -> list[Alarm]:
    return [a for a in alarms if a.kind.value == kind]


__all__ = ["ProgramResult", "SEED_KERNEL_VERSION", "StatesView", "check_program"]
