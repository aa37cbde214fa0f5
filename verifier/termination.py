"""Termination (profiles with loops): each loop of a function is followed iteration by iteration
from the state on entry, without joining at its head, until no path can go round again; a loop
is refused when an iteration comes back in a state it had before (nothing bounds it) or when
following it costs more than the budget. A loop whose every cycle passes a may_goto ends by the
kernel's own budget."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx

from interp.isa.ops import Branch, Reg, to_signed

from .cfg import EXIT_NODE
from .checker import Alarm
from .obligations import Kind, Obligation
from .paths import Paths

if TYPE_CHECKING:
    from .fixpoint import FunctionRun


def check_termination(run: "FunctionRun") -> None:
    fn = run.fn
    for head in sorted(fn.loops):
        if run.inputs.get(head) is None or bounded_by_may_goto(run, head):
            continue
        facts = loop_bound(run, head)
        if facts is not None:
            back = [tail for tail, h in fn.back_edges if h == head]
            jump_pc = fn.blocks[back[0]].end if back else head
            ob = Obligation(Kind.TERMINATES, jump_pc, detail=head)
            state = run.inputs[head].single()
            run.a.alarms.append(Alarm(ob, jump_pc, run.a.context_of(run.entry_state), state,
                                      {"head": head, **facts}, definite=False))


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


def loop_bound(run: "FunctionRun", head: int) -> dict[str, Any] | None:
    """None when every path leaves the loop after finitely many iterations, else why not (facts)."""
    from .fixpoint import FunctionRun

    a, fn = run.a, run.fn
    loop = fn.loops[head]
    live = run.live_at(head)
    component = _find_component(run.wto, head)
    if component is None:
        return {"why": "shape"}
    entry: Paths | None = None
    for (src, dst), paths in run.edges.items():
        if dst == head and src not in loop:
            entry = paths if entry is None else entry.join(paths, live)
    if head == fn.entry:
        entry = Paths.of(run.entry_state) if entry is None else entry.join(Paths.of(run.entry_state), live)
    if entry is None:
        return None
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
            return None
        seen.add(current)
        if back in seen:
            return {"why": "repeat", "iterations": iterations}
        if a.unroll_work > a.limits.max_unroll_work:
            return {"why": "budget", "iterations": iterations, "budget": a.limits.max_unroll_work,
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


__all__ = ["bounded_by_may_goto", "check_termination", "loop_bound"]
