"""Loop bounds proved with z3, and the states from which a loop goes round for ever.

One iteration of a natural loop is read as a z3 relation between the registers at its head (X)
and the registers when it comes back to the head (X'): each instruction through
`interp.semantics`' z3 backend, each branch's condition, the paths of the body merged. What the
relation does not model is left free, so it holds of every real iteration: a load, a call or a
map reference gives its register a fresh value; an inner loop gives the registers it writes fresh
values on each of its exits, bounded by the analysis' invariant on that exit. The abstract
invariant at the head (the fixpoint's, sound for every visit) constrains X and X'.

A bound: for an exit test `x op y`, f = y - x (or x - y), read as an integer of w + 2 bits,
decreases by at least d on every iteration that goes round, perhaps under a candidate invariant
(x < y, x <= y, ... at the branch's signedness) that holds on entry and that the iteration keeps.
Then, with F0 the largest f on entry and m the smallest f from which the loop goes round, the head
is reached at most (F0 - m) // d + 2 times per entry to the loop: that count is the bound."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import networkx as nx
import z3

from interp import semantics
from interp.isa.ops import (
    Alu,
    Atomic,
    Branch,
    Call,
    CallIndirect,
    Exit,
    Jump,
    KfuncCall,
    Load,
    LoadBtfRef,
    LoadFuncRef,
    LoadImm64,
    LoadMapRef,
    LocalCall,
    MayGoto,
    Neg,
    PacketLoad,
    Reg,
    Store,
    Swap,
)

from .cfg import EXIT_NODE
from .domains.scalar import Scalar
from .paths import Paths

if TYPE_CHECKING:
    from .fixpoint import FunctionRun

Z3 = semantics.Z3Backend()
NREGS = 10  # r0..r9; r10 never changes
CALL_CLOBBERS = range(0, 6)


class NotModelled(Exception):
    """The loop has a shape the encoding does not read (an irreducible region, an invalid op)."""


@dataclass
class Iteration:
    """One iteration of a loop from head registers `before`: it goes round (`round`) to `after`
    under `facts` (what bounds its fresh values), or leaves the loop (`leaves`)."""

    before: list[Any]
    after: list[Any]
    round: Any
    leaves: Any
    facts: list[Any] = field(default_factory=list)
    # the loop's exit tests: (left, right, width) as terms over `before` (a constant right as a constant)
    tests: list[tuple[Any, Any, int]] = field(default_factory=list)
    fresh: frozenset[str] = frozenset()  # the names of the values the reading leaves free

    def depends_on_free_values(self, term: Any) -> bool:
        """Whether `term` mentions a value the reading leaves free: it then holds of some value the
        load or call could give, which says nothing of the value it does give."""
        return not self.fresh.isdisjoint(_names(term))


_NAMES = itertools.count()  # every fresh value its own name, also across copies of an iteration


def _fresh(names: dict[str, int], prefix: str) -> Any:
    """A value the reading leaves free (a load, a call's result), its name kept in `names`."""
    name = f"{prefix}!{next(_NAMES)}"
    names[name] = 0
    return z3.BitVec(name, 64)


def scalar_facts(x: Any, value: Scalar) -> list[Any]:
    """What the abstract value says of the 64-bit term x."""
    facts = []
    if value.tnum.mask != (1 << 64) - 1:
        keep = ~value.tnum.mask & ((1 << 64) - 1)
        facts.append(x & keep == value.tnum.value & keep)
    if value.umin > 0:
        facts.append(z3.UGE(x, value.umin))
    if value.umax < (1 << 64) - 1:
        facts.append(z3.ULE(x, value.umax))
    if value.smin > -(1 << 63):
        facts.append(x >= value.smin)
    if value.smax < (1 << 63) - 1:
        facts.append(x <= value.smax)
    low = z3.Extract(31, 0, x)
    if value.u32min > 0:
        facts.append(z3.UGE(low, value.u32min))
    if value.u32max < (1 << 32) - 1:
        facts.append(z3.ULE(low, value.u32max))
    if value.s32min > -(1 << 31):
        facts.append(low >= value.s32min)
    if value.s32max < (1 << 31) - 1:
        facts.append(low <= value.s32max)
    return facts


def paths_facts(regs: list[Any], paths: Paths | None, only: set[int] | None = None) -> Any:
    """The disjunction over the paths of what each says of the top frame's scalar registers (those
    in `only`, where given: fewer facts make smaller queries, and leaving facts out is sound)."""
    if paths is None:
        return z3.BoolVal(False)
    cases = []
    for state in paths:
        frame = state.frames[-1]
        facts: list[Any] = []
        linked: dict[int, tuple[int, int]] = {}
        for n in range(NREGS):
            reg = frame.regs[n]
            if not reg.is_scalar or (only is not None and n not in only):
                continue
            facts += scalar_facts(regs[n], reg.value)
            if reg.id:
                if reg.id in linked:  # copies of one value: their difference is their deltas'
                    other, delta = linked[reg.id]
                    facts.append(regs[n] - regs[other] == (reg.delta - delta) & ((1 << 64) - 1))
                else:
                    linked[reg.id] = (n, reg.delta)
        cases.append(z3.And(*facts) if facts else z3.BoolVal(True))
    return z3.Or(*cases) if cases else z3.BoolVal(False)


def inner_loops(run: "FunctionRun", head: int) -> dict[int, set[int]]:
    """The loops directly inside the loop at `head`."""
    loops = run.fn.loops
    inside = {h: body for h, body in loops.items() if h != head and h in loops[head]}
    return {h: body for h, body in inside.items()
            if not any(h in other and body < other for g, other in inside.items() if g != h)}


def written(run: "FunctionRun", blocks: set[int]) -> set[int]:
    """Registers an instruction of `blocks` may write."""
    ops = run.a.cf.listing.ops
    regs: set[int] = set()
    for block in blocks:
        for pc in run.fn.blocks[block].pcs:
            op = ops[pc]
            if isinstance(op, (Alu, Neg, Swap, Load, LoadImm64, LoadMapRef, LoadFuncRef, LoadBtfRef)):
                regs.add(op.dst)
            elif isinstance(op, (Call, LocalCall, KfuncCall, CallIndirect, PacketLoad)):
                regs.update(CALL_CLOBBERS)
            elif isinstance(op, Atomic):
                regs.update((op.src, 0))
    return regs


def iteration(run: "FunctionRun", head: int, before: list[Any] | None = None) -> Iteration:
    """The z3 reading of one iteration of the loop at `head` (see the module's docstring)."""
    fn, ops = run.fn, run.a.cf.listing.ops
    loop = fn.loops[head]
    inner = inner_loops(run, head)
    rep = {b: b for b in loop}
    for h, body in inner.items():
        for b in body:
            rep[b] = h
    for b in loop:
        if b != head and any(p not in loop for p in fn.graph.predecessors(b)):
            raise NotModelled("a loop entered other than through its head")  # its entry states would be missed
    names: dict[str, int] = {}
    dag = nx.DiGraph()
    dag.add_nodes_from(set(rep.values()))
    for b in loop:
        for succ in fn.graph.successors(b):
            if succ in loop and succ != head and rep[succ] != rep[b]:
                if rep[succ] != succ:  # into an inner loop other than through its head
                    raise NotModelled("an inner loop entered other than through its head")
                dag.add_edge(rep[b], succ)
    if not nx.is_directed_acyclic_graph(dag):
        raise NotModelled("an irreducible loop")
    if before is None:
        before = [z3.BitVec(f"head{n}", 64) for n in range(NREGS)]
    before = list(before[:NREGS]) + [z3.BitVec("fp", 64)]  # r10: a frame's address, the same all along
    facts: list[Any] = []
    incoming: dict[int, list[tuple[Any, list[Any]]]] = {head: [(z3.BoolVal(True), list(before))]}
    rounds: list[tuple[Any, list[Any]]] = []
    leaves: list[Any] = []
    tests: list[tuple[Any, Any, int]] = []

    def send(cond: Any, values: list[Any], succ: Any) -> None:
        if succ == head:
            rounds.append((cond, values))
        elif succ == EXIT_NODE or succ not in loop:
            leaves.append(cond)
        else:
            incoming.setdefault(succ, []).append((cond, values))

    for node in nx.topological_sort(dag):
        arriving = incoming.get(node)
        if not arriving:
            continue
        reach, values = _merge(arriving)
        if node in inner and node != head:
            _inner_loop(run, node, inner[node], reach, values, facts, names, send)
            continue
        block = fn.blocks[node]
        values = list(values)
        for pc in block.pcs[:-1]:
            _step(ops[pc], values, names)
        end = block.end
        op = ops[end]
        successors = list(fn.graph.successors(node))
        if isinstance(op, Branch):
            right = values[op.right.n] if isinstance(op.right, Reg) else None
            taken = semantics.branch_taken(Z3, op, values[op.left], right)
            if any(s == EXIT_NODE or s not in loop for s in successors):
                other = right if right is not None else z3.BitVecVal(op.right.value & ((1 << 64) - 1), 64)
                tests.append((values[op.left], other, op.width))
            for succ in successors:
                if succ == op.target and len(successors) == 2:
                    send(z3.And(reach, taken), values, succ)
                elif len(successors) == 2:
                    send(z3.And(reach, z3.Not(taken)), values, succ)
                else:
                    send(reach, values, succ)
        elif isinstance(op, MayGoto):
            choice = z3.Bool(f"may_goto{end}!{next(_NAMES)}")
            names[str(choice)] = 0  # (which way it goes is not the program's to decide)
            for succ in successors:
                send(z3.And(reach, choice if succ == op.target else z3.Not(choice)), values, succ)
        else:
            if not isinstance(op, (Jump, Exit)):
                _step(op, values, names)
            for succ in successors:
                send(reach, values, succ)
    if rounds:
        round_cond, after = _merge(rounds)
    else:
        round_cond, after = z3.BoolVal(False), list(before)
    return Iteration(before, after, round_cond, z3.Or(*leaves) if leaves else z3.BoolVal(False), facts, tests,
                     frozenset(names))


def _merge(arriving: list[tuple[Any, list[Any]]]) -> tuple[Any, list[Any]]:
    reach = z3.Or(*[c for c, _ in arriving]) if len(arriving) > 1 else arriving[0][0]
    values = list(arriving[-1][1])
    for cond, vals in reversed(arriving[:-1]):
        values = [v if v is w else z3.If(cond, v, w) for v, w in zip(vals, values)]
    return reach, values


def _inner_loop(run: "FunctionRun", head: int, body: set[int], reach: Any, values: list[Any], facts: list[Any],
                names: dict[str, int], send: Callable[[Any, list[Any], Any], None]) -> None:
    """An inner loop as a summary: on each of its exits, the registers it writes are fresh,
    bounded by the analysis' state on that exit edge."""
    changed = written(run, body)
    exits = [(b, succ) for b in body for succ in run.fn.graph.successors(b) if succ not in body]
    choices = []
    for b, succ in exits:
        paths = run.edges.get((b, succ))
        if paths is None:
            continue  # no run leaves the inner loop this way
        out = [_fresh(names, f"inner{head}r{n}") if n in changed else values[n] for n in range(NREGS)]
        out.append(values[NREGS])  # r10
        if changed:
            facts.append(z3.Implies(reach, paths_facts(out, paths)))
        choice = z3.Bool(f"exit{b}to{succ}!{next(_NAMES)}")
        choices.append(choice)
        send(z3.And(reach, choice), out, succ)
    if len(choices) > 1:
        facts.append(z3.AtMost(*choices, 1))


def _step(op: Any, values: list[Any], names: dict[str, int]) -> None:
    """`values` after the straight-line instruction `op`."""
    if isinstance(op, Alu):
        src = values[op.src.n] if isinstance(op.src, Reg) else None
        if op.dst < NREGS:
            values[op.dst] = semantics.alu(Z3, op, values[op.dst], src)
    elif isinstance(op, (Neg, Swap)):
        if op.dst < NREGS:
            values[op.dst] = semantics.alu(Z3, op, values[op.dst])
    elif isinstance(op, LoadImm64):
        values[op.dst] = z3.BitVecVal(op.value, 64)
    elif isinstance(op, (Load, LoadMapRef, LoadFuncRef, LoadBtfRef)):
        values[op.dst] = _fresh(names, f"r{op.dst}")
    elif isinstance(op, (Call, LocalCall, KfuncCall, CallIndirect, PacketLoad)):
        for n in CALL_CLOBBERS:
            values[n] = _fresh(names, f"r{n}")
    elif isinstance(op, Atomic):
        for n in (op.src, 0):
            if n < NREGS:
                values[n] = _fresh(names, f"r{n}")
    elif isinstance(op, (Store, Jump, MayGoto, Exit)):
        pass
    else:
        raise NotModelled(f"{type(op).__name__} in a loop")


# -- bounds ----------------------------------------------------------------------------------------


@dataclass
class Bound:
    visits: int  # times the head is reached per entry to the loop, at most
    counter: str  # the term that the exit test compares, over the head's registers (head<n>: rn)
    limit: str  # what it is compared with


def entry_paths(run: "FunctionRun", head: int) -> list[Paths]:
    loop = run.fn.loops[head]
    found = [paths for (src, dst), paths in run.edges.items() if dst == head and src not in loop]
    if head == run.fn.entry:
        found.append(Paths.of(run.entry_state))
    return found


class _Prover:
    def __init__(self, run: "FunctionRun", head: int, it: Iteration, rlimit: int) -> None:
        self.rlimit = rlimit
        self.it = it
        inv = run.inputs[head]
        relevant = deciding_registers(run, head)
        self.inv = paths_facts(it.before, inv, relevant)
        self.inv_after = paths_facts(it.after, inv, relevant)
        self.entry = z3.Or(*[paths_facts(it.before, p, relevant) for p in entry_paths(run, head)])
        self.going_round = z3.And(self.inv, it.round, self.inv_after, *it.facts)
        # the next iteration goes round too: only then must the invariant and the decrease hold
        # (the last state of the sequence leaves, whatever it is)
        again = iteration(run, head, it.after)
        self.again = z3.And(again.round, paths_facts(again.after, inv, relevant), *again.facts)

    def unsat(self, *formulas: Any) -> bool:
        solver = z3.Solver()
        solver.set("rlimit", self.rlimit)
        solver.add(*formulas)
        return solver.check() == z3.unsat

    def extreme(self, term: Any, constraints: list[Any], bits: int, maximise: bool) -> int | None:
        """The largest (smallest) value of the signed `bits`-bit `term` under `constraints`."""
        # first a model and whether any other does better: most often none does (a constant)
        solver = z3.Solver()
        solver.set("rlimit", self.rlimit)
        solver.add(*constraints)
        if solver.check() != z3.sat:
            return None
        value = solver.model().eval(term, model_completion=True)
        if not z3.is_bv_value(value):
            return None
        found = value.as_signed_long()
        solver.push()
        solver.add(term > value if maximise else term < value)
        better = solver.check()
        solver.pop()
        if better == z3.unsat:
            return found
        return self._bisect(solver, term, bits, found, maximise)

    def _bisect(self, solver: Any, term: Any, bits: int, found: int, maximise: bool) -> int | None:
        """The extreme by halving the range between a value reached (`found`) and the range's end,
        one query per bit at most (z3's optimiser runs out of resources on a remainder)."""
        reached, beyond = found, ((1 << (bits - 1)) if maximise else -(1 << (bits - 1)) - 1)
        while abs(beyond - reached) > 1:
            middle = (reached + beyond) // 2
            solver.push()
            solver.add(term >= middle if maximise else term <= middle)
            answer = solver.check()
            value = solver.model().eval(term, model_completion=True) if answer == z3.sat else None
            solver.pop()
            if answer == z3.unknown or (value is not None and not z3.is_bv_value(value)):
                return None
            if value is not None:
                reached = value.as_signed_long()  # at least as far as the middle
            else:
                beyond = middle
        return reached


# A bound above this many visits may come from reading the test across the sign boundary (a
# counter entering below 0, read unsigned as 2^64 - n): the same test read with the other
# signedness is tried for a tighter one. A bound at most this is kept as found (each reading
# costs several z3 queries).
TIGHT_ENOUGH = 1 << 20


def prove_bound(run: "FunctionRun", head: int, rlimit: int = 2_000_000) -> Bound | None:
    """A proved bound on the head's visits per entry to the loop at `head`, or None."""
    try:
        it = iteration(run, head)
        prover = _Prover(run, head, it, rlimit)
    except NotModelled:
        return None
    if prover.unsat(prover.going_round):
        return Bound(1, "", "no iteration goes round")
    if prover.unsat(prover.going_round, prover.again):
        # no iteration goes round to one that goes round again: the loop goes round once at most
        return Bound(2, "", "no two iterations go round in a row")
    best: Bound | None = None
    heads = set(map(str, it.before))
    for left, right, width in it.tests:
        for x, y in ((left, right), (right, left)):
            if not _over(x, heads) or not _over(y, heads) or z3.is_bv_value(z3.simplify(x)):
                continue  # a test on a fresh value (a load, a call) says nothing of the next iteration
            bound = _first_bound(prover, x, y, width)
            if bound is not None and (best is None or bound < best.visits):
                best = Bound(bound, str(z3.simplify(x)), str(z3.simplify(y)))
    return best


def _first_bound(prover: _Prover, x: Any, y: Any, width: int) -> int | None:
    """The bound of the first reading of the test that gives one (unsigned, then signed; counting
    up, then down), or of the same test read with the other signedness where that is tighter."""
    for signed, up in ((False, True), (False, False), (True, True), (True, False)):
        bound = _try(prover, x, y, width, signed, up)
        if bound is None:
            continue
        if bound > TIGHT_ENOUGH:
            other = _try(prover, x, y, width, not signed, up)
            if other is not None:
                bound = min(bound, other)
        return bound
    return None


def _over(term: Any, heads: set[str]) -> bool:
    """Whether `term` is a function of the head's registers alone."""
    return _names(term) <= heads


def _names(term: Any) -> set[str]:
    """The names of the free constants in `term` (each shared subterm looked at once)."""
    todo, seen, names = [term], set(), set()
    while todo:
        t = todo.pop()
        if t.get_id() in seen:
            continue
        seen.add(t.get_id())
        if z3.is_const(t) and not z3.is_bv_value(t):
            names.add(str(t))
        todo.extend(t.children())
    return names


def _try(prover: _Prover, x: Any, y: Any, width: int, signed: bool, up: bool) -> int | None:
    """The bound from f = y - x (up) or x - y, at `width` bits extended by two, if it decreases."""
    it = prover.it
    bits = width + 2

    def at(term: Any, values: list[Any]) -> Any:
        narrow = z3.Extract(width - 1, 0, z3.substitute(term, *zip(it.before, values)))
        return z3.SignExt(2, narrow) if signed else z3.ZeroExt(2, narrow)

    x0, y0, x1, y1 = at(x, it.before), at(y, it.before), at(x, it.after), at(y, it.after)
    f0 = y0 - x0 if up else x0 - y0
    f1 = y1 - x1 if up else x1 - y1
    invariants: list[tuple[Any, Any]] = [(z3.BoolVal(True), z3.BoolVal(True))]
    invariants += [(x0 < y0, x1 < y1), (x0 <= y0, x1 <= y1)] if up else [(x0 > y0, x1 > y1), (x0 >= y0, x1 >= y1)]
    raw = z3.simplify(z3.substitute(x, *zip(it.before, it.after)) - x)  # the counter's step, modulo 2^64
    step = abs(raw.as_signed_long()) if z3.is_bv_value(raw) else None
    if step is not None and step > 1 and step & (step - 1) == 0:
        # a counter that must meet its limit exactly (an exit on != or ==) by steps of a power of two
        mask = step - 1
        invariants.append((z3.And(f0 >= 0, f0 & mask == 0), z3.And(f1 >= 0, f1 & mask == 0)))
    elif step is not None and step > 1:
        # the same by other steps (3, 6, ...): where the distance is not a multiple of the step the
        # counter passes its limit and wraps, this fails on entry and no bound comes from it
        invariants.append((z3.And(f0 >= 0, z3.URem(f0, step) == 0), z3.And(f1 >= 0, z3.URem(f1, step) == 0)))
    for before, after in invariants:
        if not prover.unsat(prover.entry, z3.Not(before)):
            continue
        if not prover.unsat(prover.going_round, prover.again, before, z3.Not(after)):
            continue
        twice = [prover.going_round, prover.again, before, after]
        if not prover.unsat(*twice, f1 > f0 - 1):
            continue
        top = prover.extreme(f0, [prover.entry, before], bits, maximise=True)
        low = prover.extreme(f0, [prover.going_round, before], bits, maximise=False)
        step = prover.extreme(f0 - f1, twice, bits, maximise=False)
        if top is None or low is None or step is None or step < 1:
            continue
        back_edges = 0 if top < low else (top - low) // step + 1
        return back_edges + 1
    return None


# -- going round for ever ----------------------------------------------------------------------------


def deciding_registers(run: "FunctionRun", head: int) -> set[int]:
    """The registers at the head that the loop's branches depend on (a flow-insensitive slice)."""
    ops = run.a.cf.listing.ops
    loop = run.fn.loops[head]
    pcs = [pc for b in loop for pc in run.fn.blocks[b].pcs]
    wanted: set[int] = set()
    for pc in pcs:
        op = ops[pc]
        if isinstance(op, Branch):
            wanted.add(op.left)
            if isinstance(op.right, Reg):
                wanted.add(op.right.n)
    while True:
        more = set(wanted)
        for pc in pcs:
            op = ops[pc]
            if isinstance(op, Alu) and op.dst in wanted:
                if isinstance(op.src, Reg):
                    more.add(op.src.n)
                if op.op.name != "MOV":
                    more.add(op.dst)
        if more == wanted:
            return {r for r in wanted if r < NREGS}
        wanted = more


def closed(run: "FunctionRun", head: int, rlimit: int) -> bool:
    """Whether no state of the head's invariant leaves the loop in one iteration. Asked of the
    invariant's own free registers: a given state that does not leave now may leave later."""
    it = iteration(run, head)
    solver = z3.Solver()
    solver.set("rlimit", rlimit)
    solver.add(paths_facts(it.before, run.inputs[head]), it.leaves, *it.facts)
    return solver.check() == z3.unsat


def forever(run: "FunctionRun", head: int, before: list[Any], rlimit: int = 2_000_000) -> Any:
    """A condition on the head's registers `before` under which the loop goes round for ever:
    either no state of the head's invariant leaves the loop, or one iteration comes back with every
    register the branches depend on unchanged. NotModelled (saying why) where the reading cannot
    state it."""
    it = iteration(run, head, before)
    if closed(run, head, rlimit):
        return paths_facts(before, run.inputs[head])
    inv = paths_facts(before, run.inputs[head])
    same = [it.after[r] == before[r] for r in sorted(deciding_registers(run, head))]
    if it.depends_on_free_values(z3.And(it.round, *same)):
        # "comes back unchanged" must hold of the iteration the program runs, not of one whose
        # loads or calls z3 may choose: a counter spilled and filled again would come back
        # "unchanged" by a fill z3 picks, and a loop that ends would be called endless
        raise NotModelled("whether the loop comes back unchanged depends on what its loads or calls give, "
                          "which z3's reading of one iteration leaves free")
    return z3.And(inv, it.round, *it.facts, *same)


__all__ = ["Bound", "Iteration", "NotModelled", "deciding_registers", "forever", "iteration", "prove_bound"]
