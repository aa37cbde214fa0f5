"""The most instructions one run of a program can execute: the longest path through each
function's blocks, where a loop is one node weighing its bound (visits per entry) times the
longest path through one iteration of its body (inner loops again as nodes), a call weighs
its callee's own count, and a bpf_loop call its callback's count times the most iterations it
runs (once each, for `walked`: the kernel verifies a callback, not each of its iterations). A function without a bound for one of its loops, an irreducible region
or recursion has no count (None). Without back-edges (linux-4.1) the count is the longest path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx

from interp.isa.ops import Call, LocalCall

from .cfg import FunctionGraph

if TYPE_CHECKING:
    from .fixpoint import Analysis


class _NoCount(Exception):
    pass


def worst_case(analysis: "Analysis", walked: bool = False) -> int | None:
    """The program's worst-case number of executed instructions, or None when some loop (or
    callee) has no bound; with `walked`, each bpf_loop callback counted once."""
    try:
        return _Counter(analysis, walked).function(0)
    except _NoCount:
        return None


class _Counter:
    def __init__(self, analysis: "Analysis", walked: bool = False) -> None:
        self.a = analysis
        self.walked = walked
        self.functions: dict[int, int] = {}
        self.active: set[int] = set()

    def function(self, entry: int) -> int:
        if entry in self.functions:
            return self.functions[entry]
        if entry in self.active:  # recursion: refused elsewhere, and no count
            raise _NoCount()
        self.active.add(entry)
        fn = self.a.cf.functions[entry]
        cost = self.paths(fn, set(fn.blocks), fn.entry, None)[1]
        self.active.discard(entry)
        self.functions[entry] = cost
        return cost

    def block(self, fn: FunctionGraph, block: int) -> int:
        ops = self.a.cf.listing.ops
        cost = 0
        for pc in fn.blocks[block].pcs:
            cost += 1
            op = ops[pc]
            if isinstance(op, LocalCall) and pc not in self.a.unresolved and op.target in self.a.cf.functions:
                cost += self.function(op.target)
            elif isinstance(op, Call) and pc in self.a.callback_bounds:
                _, callback, most = self.a.callback_bounds[pc]
                cost += (1 if self.walked else most) * self.function(callback)
        return cost

    def loop(self, fn: FunctionGraph, head: int) -> int:
        bound = self.a.loop_bounds.get((fn.entry, head))
        if bound is None:
            return 0  # no analysed state reaches the loop
        if bound.visits is None:
            raise _NoCount()
        if bound.visits == 0:
            return 0
        # every visit but the last goes round; the last leaves the loop
        rounds, last = self.paths(fn, fn.loops[head], head, head)
        return (bound.visits - 1) * rounds + last

    def paths(self, fn: FunctionGraph, blocks: set[int], root: int, head: Any) -> tuple[int, int]:
        """The longest paths from `root` through `blocks` (a loop's body when `head` is its head):
        the one that goes back to the head, and the one that leaves `blocks` (or returns)."""
        inner = {h: body for h, body in fn.loops.items() if h in blocks and h != head}
        outermost = {h: body for h, body in inner.items()
                     if not any(h in other and body < other for g, other in inner.items() if g != h)}
        rep = {b: b for b in blocks}
        for h, body in outermost.items():
            for b in body:
                rep[b] = h
        dag = nx.DiGraph()
        dag.add_nodes_from(set(rep.values()))
        for b in blocks:
            for succ in fn.graph.successors(b):
                if succ not in blocks or succ == head or rep[succ] == rep[b]:
                    continue
                if rep[succ] != succ:  # an inner loop entered other than through its head
                    raise _NoCount()
                dag.add_edge(rep[b], succ)
        if not nx.is_directed_acyclic_graph(dag):
            raise _NoCount()
        longest: dict[Any, int] = {}
        rounds, leaves = 0, 0
        for node in nx.topological_sort(dag):
            before = [longest[p] for p in dag.predecessors(node) if p in longest]
            if node != root and not before:
                continue
            weight = self.loop(fn, node) if node in outermost else self.block(fn, node)
            longest[node] = max(before, default=0) + weight
            members = outermost.get(node, {node})
            targets = {s for b in members for s in fn.graph.successors(b)}
            if head is not None and head in targets:
                rounds = max(rounds, longest[node])
            if any(s not in blocks for s in targets):  # (EXIT_NODE is in no set of blocks)
                leaves = max(leaves, longest[node])
        return rounds, leaves


__all__ = ["worst_case"]
