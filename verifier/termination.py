"""Termination (profiles with loops). Each loop is first given a bound by proof
(`loop_bounds.prove_bound`: z3 on one iteration, from the fixpoint's invariant at its head); the
safety checks already hold for every iteration, as the fixpoint widened at the head, so a proved
loop is not walked. Only a loop without a proof is followed iteration by iteration from the state
on entry, without joining at its head, until no path can go round again (the number of
iterations followed is then its bound); it is refused when an iteration comes back in a state it
had before (nothing bounds it) or when following it costs more than the budget. A loop whose
every cycle passes a may_goto ends by the kernel's own budget.

Each loop's bound (the head's visits per entry to the loop, at most) and how it was found are
kept in `Analysis.loop_bounds`, by (function entry, head), the largest over calling contexts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx

from interp.isa.opcodes import MAY_GOTO_BUDGET
from interp.isa.ops import Branch, Reg, to_signed

from .cfg import EXIT_NODE
from .checker import Alarm
from .obligations import Kind, Obligation
from .paths import Paths

if TYPE_CHECKING:
    from .fixpoint import FunctionRun
    from .smt import Judgement


@dataclass
class LoopBound:
    """A loop's bound: the most times its head is reached per entry to the loop (None: no bound),
    and how it was found: `proved` (z3, from one iteration), `followed` (iteration by iteration),
    `searched` (z3 followed every path of the program to its end: the most visits on one path),
    `may_goto`."""

    head: int
    function: int
    visits: int | None
    how: str

    def to_json(self) -> dict[str, Any]:
        return {"head": self.head, "function": self.function, "bound": self.visits, "how": self.how}


def note_bound(run: "FunctionRun", head: int, visits: int | None, how: str) -> None:
    key = (run.fn.entry, head)
    known = run.a.loop_bounds.get(key)
    if known is not None:
        if known.visits is None or visits is None:
            visits, how = None, "unbounded"
        else:
            how = known.how if known.how == how else "followed"
            visits = max(visits, known.visits)
    run.a.loop_bounds[key] = LoopBound(head, run.fn.entry, visits, how)


def check_termination(run: "FunctionRun") -> None:
    fn = run.fn
    context = run.a.context_of(run.entry_state)
    for head in sorted(fn.loops):
        if run.inputs.get(head) is None:
            continue
        if bounded_by_may_goto(run, head):
            note_bound(run, head, MAY_GOTO_BUDGET + 1, "may_goto")
            continue
        # (z3: loaded only for a program with a loop)
        from .loop_bounds import prove_bound

        proved = prove_bound(run, head, run.a.limits.solver_rlimit)
        if proved is not None:
            note_bound(run, head, proved.visits, "proved")
            continue
        back = [tail for tail, h in fn.back_edges if h == head]
        jump_pc = fn.blocks[back[0]].end if back else head
        ob = Obligation(Kind.TERMINATES, jump_pc, detail=head)
        run.a.loop_runs[(context, head)] = run
        judgement = endless(run, ob, context)
        if judgement is not None and judgement.confirmed:  # a run that goes round for ever: no need to follow
            iterations, facts = 0, {"why": "forever"}
        else:
            iterations, facts = loop_bound(run, head)
        if facts is None:
            note_bound(run, head, iterations, "followed")
        elif judgement is not None and judgement.status == "refuted" and judgement.visits is not None:
            # z3 followed every path of the program to its end, none passing the head more often
            note_bound(run, head, judgement.visits, "searched")
        else:
            note_bound(run, head, None, "unbounded")
            state = run.inputs[head].single()
            run.a.alarms.append(Alarm(ob, jump_pc, run.a.context_of(run.entry_state), state,
                                      {"head": head, **facts}, definite=False))


def endless(run: "FunctionRun", ob: Obligation, context: tuple[int, ...]) -> "Judgement | None":
    """What z3 makes of the loop (None without the solver): a run that reaches it in a state from
    which it goes round for ever, confirmed when the interpreter's budget runs out in the loop; or
    refuted, every path of the program followed to its end, with the most visits of the head on
    one path. The judgement is kept for the report."""
    from .smt import loop_witness
    from .symbolic.limits import SearchLimits

    a = run.a
    if not a.limits.solver:
        return None
    limits = SearchLimits(steps=a.limits.solver_steps, rlimit=a.limits.solver_rlimit,
                          timeout_ms=int(a.limits.solver_timeout_s * 1000), deadline=a.deadline)
    judgement = loop_witness(a, ob, context, limits)
    a.loop_judgements[(context, ob.detail)] = judgement
    return judgement


def bounded_by_may_goto(run: "FunctionRun", head: int) -> bool:
    """Whether every way round the loop passes a may_goto, whose frame budget then ends it."""
    from interp.isa.ops import MayGoto

    ops = run.a.cf.listing.ops
    loop = run.fn.loops[head]
    gates = {b for b in loop if isinstance(ops[run.fn.blocks[b].end], MayGoto)}
    return bool(gates) and nx.is_directed_acyclic_graph(run.fn.graph.subgraph(loop - gates))


def _find_component(elements: list[Any], head: int) -> list[Any] | None:
    for element in elements:
        if isinstance(element, list):
            if element[0] == head:
                return element
            found = _find_component(element[1:], head)
            if found is not None:
                return found
    return None


def loop_bound(run: "FunctionRun", head: int) -> tuple[int, dict[str, Any] | None]:
    """The iterations followed, and None when every path then left the loop, else why not (facts)."""
    from .fixpoint import FunctionRun

    a, fn = run.a, run.fn
    loop = fn.loops[head]
    live = run.live_at(head)
    component = _find_component(run.wto, head)
    if component is None:
        return 0, {"why": "shape"}
    entry: Paths | None = None
    for (src, dst), paths in run.edges.items():
        if dst == head and src not in loop:
            entry = paths if entry is None else entry.join(paths, live)
    if head == fn.entry:
        entry = Paths.of(run.entry_state) if entry is None else entry.join(Paths.of(run.entry_state), live)
    if entry is None:
        return 0, None
    current = entry
    seen: set[Paths] = set()
    outside = {k: v for k, v in run.edges.items() if k[0] not in loop and k[1] in loop and k[1] != head}
    iterations = 0
    while True:
        trial = FunctionRun(a, fn, run.entry_state, run.wto, run.live)
        trial.edges = dict(outside)
        trial.inputs[head] = current
        before = a.work
        trial.process(head, current)
        trial.run_elements(component[1:])
        a.unroll_work += a.work - before
        back: Paths | None = None
        for (src, dst), paths in trial.edges.items():
            if dst == head and src in loop:
                back = paths if back is None else back.join(paths, live)
        iterations += 1
        if back is None:
            return iterations, None
        seen.add(current)
        if back in seen:
            return iterations, {"why": "repeat", "iterations": iterations}
        if a.unroll_work > a.limits.max_unroll_work:
            return iterations, {"why": "budget", "iterations": iterations, "budget": a.limits.max_unroll_work,
                                **progress(run, loop, current, back)}
        current = back


def progress(run: "FunctionRun", loop: set[int], before: Paths, after: Paths) -> dict[str, Any]:
    """What changes from one iteration to the next, and what the exits test: the user's clue to
    why no bound was found."""
    old, new = before.single().top, after.single().top
    steps = []
    for reg in range(10):
        a, b = old.regs[reg], new.regs[reg]
        if a != b and a.is_scalar and b.is_scalar and a.value.is_const and b.value.is_const:
            steps.append((reg, to_signed(b.value.value - a.value.value, 64), str(b.value)))
    exits = []
    ops = run.a.cf.listing.ops
    for block in sorted(loop):
        end = run.fn.blocks[block].end
        op = ops[end]
        leaves = any(succ == EXIT_NODE or succ not in loop for succ in run.fn.graph.successors(block))
        if leaves and isinstance(op, Branch):
            operands = [op.left] + ([op.right.n] if isinstance(op.right, Reg) else [])
            exits.append((end, [(r, new.regs[r].describe()) for r in operands]))
    return {"steps": steps, "exits": exits}


__all__ = ["LoopBound", "bounded_by_may_goto", "check_termination", "loop_bound", "note_bound"]
