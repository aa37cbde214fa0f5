"""The analysis: a forward fixpoint per function over its CFG, then a pass that checks every
obligation against the invariants found.

Each function is analysed for each state it is entered with (the program's entry, and every
call), iterating its blocks in weak topological order: at a loop head, states are joined three
times, then widened, and narrowed once when the loop is stable. A program point holds the paths
reaching it (`paths.Paths`, kept apart where their register kinds differ). At each instruction
the checker first applies the obligations (`checker.check_all`: a path ends where one is broken
for sure), then the transfer function gives the state after it.

Lattice conventions: a register's top is NOT_INIT (nothing known, not even that it was written),
CONFLICT is a register holding different kinds on joined paths; a state's bottom is None (no path
reaches). Ids link values: pointer ids are positive (the pc of the call that made the pointer,
+ k * 2^32 for the k-th record held from one call site), scalar ids negative (-(pc + 1) of the
copy that linked them).

The invariants (`invariants[(context, block)]`, the paths entering each block in a calling
context: the pcs of the calls that led there) and the alarms are the result; the state before
any instruction is recomputed from its block's invariant on demand."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from interp.helpers import ArgType, Helper, HelperRegistry
from interp.isa.ops import Call, LoadBtfRef, Op
from interp.program import Program

from . import (
    clock,
    helper_contracts,  # noqa: F401 - registers the checks of helper calls
)
from .cfg import (
    EXIT_NODE,
    ControlFlow,
    FunctionGraph,
    build_cfg,
    weak_topological_order,
)
from .checker import Alarm, check_all
from .domains.regs import RegState, RegType
from .domains.scalar import Scalar
from .errors import ResourceLimit
from .liveness import live_in
from .obligations import Obligation, obligations
from .paths import Paths
from .profiles import Profile, ProgramTypeOps, allowed
from .state import Frame, State
from .transfer import Transfer

WIDEN_AFTER = 3  # plain joins at a loop head before widening
R0_ONLY = 1  # what a function's exit reads
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def process_memory() -> tuple[int, int]:
    """The process's (address space, resident memory) in bytes; zeros where /proc is missing."""
    try:
        with open("/proc/self/statm") as statm:
            size, resident = statm.read().split()[:2]
        return int(size) * PAGE_SIZE, int(resident) * PAGE_SIZE
    except (OSError, ValueError):
        return 0, 0


@dataclass
class Limits:
    timeout_s: float = 60.0
    max_work: int = 5_000_000  # instruction transfers
    max_unroll_work: int = 60_000  # transfers spent proving loops terminate
    max_memory_mb: int | None = None  # memory the analysis may add to what the process used before it
    deadline: float | None = None  # clock.now() when the whole command must end (then timeout_s is ignored)
    solver: bool = True  # ask z3 about the alarms a run could break
    solver_rlimit: int = 2_000_000  # z3 resource units per query: the bound that decides (the same everywhere)
    solver_timeout_s: float = 5.0  # per query, a safety net behind the resource units
    solver_steps: int = 200_000  # instructions followed symbolically per alarm


@dataclass
class Analysis:
    """One program under one profile: the rules the checker and the transfer functions read, the
    fixpoint's bookkeeping, and its results."""

    program: Program
    profile: Profile
    arch: str
    ops: ProgramTypeOps
    registry: HelperRegistry
    limits: Limits = field(default_factory=Limits)
    cf: ControlFlow = field(init=False)
    alarms: list[Alarm] = field(default_factory=list)
    invariants: dict[tuple[tuple[int, ...], int], Paths] = field(default_factory=dict)
    work: int = 0
    unroll_work: int = 0
    stack_use: dict[int, int] = field(default_factory=dict)  # function entry -> deepest stack offset used
    access_kinds: dict[int, set[RegType]] = field(default_factory=dict)  # pc -> kinds of pointer it dereferenced
    loop_bounds: dict[tuple[int, int], Any] = field(default_factory=dict)  # (function, head) -> termination.LoopBound
    loop_runs: dict[tuple[tuple[int, ...], int], Any] = field(default_factory=dict)  # loops without a bound: their run
    loop_judgements: dict[tuple[tuple[int, ...], int], Any] = field(default_factory=dict)  # their smt.Judgement
    callback_fixpoints: dict[tuple[int, State], Any] = field(default_factory=dict)  # callbacks.Iterations
    # bpf_loop calls: pc -> (function, callback entry, most iterations)
    callback_bounds: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    recording: bool = False  # in the check pass: alarms are kept
    deadline: float = 0.0  # clock.now() when the check must end
    _memo: dict[tuple[int, State], State | None] = field(default_factory=dict)
    _checking: set[tuple[int, State]] = field(default_factory=set)
    _orders: dict[int, tuple[list[Any], dict[int, int]]] = field(default_factory=dict)
    _obligations: dict[int, tuple[Obligation, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # calls the loader could not resolve (externs) are reported as such, not followed
        self.unresolved = self.program.unresolved_pcs
        self.deadline = self.limits.deadline or clock.now() + self.limits.timeout_s
        self.cf = build_cfg(self.program.insns, dict(self.program.functions), self.unresolved, self.deadline)
        self._memory_base = process_memory()[1]
        self.transfer = Transfer(self)
        # the object's maps, plus the inner-map templates of BTF maps of maps
        self.maps = list(self.program.maps)
        self.inner_of: dict[int, int] = {}
        for index, mdef in enumerate(self.program.maps):
            if mdef.inner_idx is not None and mdef.inner_idx < len(self.program.maps):
                self.inner_of[index] = mdef.inner_idx
            elif mdef.inner is not None:
                self.inner_of[index] = len(self.maps)
                self.maps.append(mdef.inner)

    # -- the rules, per instruction ------------------------------------------------------------
    def contract(self, helper_id: int) -> tuple[Helper, tuple[ArgType, ...]]:
        """A helper's record and its argument types under the profile (the seed's own prototypes
        under linux-4.1)."""
        helper = self.registry.get(helper_id)
        assert helper is not None
        return helper, self.profile.helper_args.get(helper.name, helper.args)

    def obligations_at(self, pc: int) -> tuple[Obligation, ...]:
        found = self._obligations.get(pc)
        if found is None:
            found = self._obligations[pc] = self._make_obligations(pc)
        return found

    def _make_obligations(self, pc: int) -> tuple[Obligation, ...]:
        from .helper_contracts import call_obligations

        if pc in self.unresolved:
            return ()
        op: Op = self.cf.listing.ops[pc]
        unsupported = self.profile.unsupported(op)
        if unsupported is None and isinstance(op, LoadBtfRef):
            unsupported = op
        found = list(obligations(op, pc, unsupported))
        if isinstance(op, Call):
            helper = self.registry.get(op.helper)
            if helper is not None and allowed(self.profile, self.program.prog_type, helper):
                _, args = self.contract(op.helper)
                found += call_obligations(pc, helper, args, helper.gpl_only)
        return tuple(found)

    def context_of(self, state: State) -> tuple[int, ...]:
        """The calling context of a state: the pcs of the calls that made its frames."""
        return tuple(frame.callsite for frame in state.frames[1:])

    def note_stack_use(self, fn_entry: int, offset: int) -> None:
        if offset < self.stack_use.get(fn_entry, 0):
            self.stack_use[fn_entry] = offset

    # -- bounds ------------------------------------------------------------------------------------
    def tick(self, amount: int = 1) -> None:
        self.work += amount
        if self.work > self.limits.max_work:
            raise ResourceLimit(f"the analysis did {self.limits.max_work} instruction steps without finishing "
                                "(raise --max-work)")
        if self.work % 512 == 0:
            if clock.now() > self.deadline:
                raise ResourceLimit(f"the analysis ran past its {self.limits.timeout_s:g} s time limit (raise --timeout)")
            budget = self.limits.max_memory_mb
            if budget is not None and process_memory()[1] - self._memory_base > budget << 20:
                raise ResourceLimit(f"the analysis used more than its {budget} MB of memory (raise --max-memory)")

    # -- entry ---------------------------------------------------------------------------------------
    def run(self) -> None:
        ctx = RegState(RegType.PTR_TO_CTX, Scalar.const(0))
        state = State((Frame.entry({1: ctx}, 0),))
        self.analyse_function(0, state, check=True)

    def analyse_function(self, entry: int, state: State, check: bool) -> State | None:
        """The join of the states at the function's exits, or None when no exit is reachable."""
        from .termination import check_termination

        key = (entry, state)
        if not check and key in self._memo:
            return self._memo[key]
        if check and key in self._checking:
            return self._memo.get(key)
        fn = self.cf.functions[entry]
        if entry not in self._orders:  # each function's block order and liveness, for all its entry states
            self._orders[entry] = (weak_topological_order(fn), live_in(self.cf.listing, fn))
        run = FunctionRun(self, fn, state, *self._orders[entry])
        run.fixpoint()
        result = run.exit_state
        self._memo[key] = result
        if check:
            self._checking.add(key)
            run.check_pass()
            if self.profile.allow_loops:
                check_termination(run)
        return result


class FunctionRun:
    """The fixpoint over one function's blocks for one entry state. Each program point holds the
    paths reaching it, kept apart where their register kinds differ (see `paths`)."""

    def __init__(self, analysis: Analysis, fn: FunctionGraph, entry_state: State, wto: list[Any],
                 live: dict[int, int]) -> None:
        self.a = analysis
        self.fn = fn
        self.entry_state = entry_state
        self.edges: dict[tuple[int, Any], Paths] = {}  # (block, successor) -> the paths along the edge
        self.inputs: dict[int, Paths] = {}
        self.wto = wto
        self.live = live
        self.exit_state: State | None = None

    def live_at(self, node: Any) -> int:
        return R0_ONLY if node == EXIT_NODE else self.live[node]

    # -- one block ----------------------------------------------------------------------------------
    def run_block(self, block: int, state: State | None, record: bool = False) -> list[tuple[Any, State | None]]:
        """The states leaving `block` along each of its edges, entered with `state`; with `record`,
        the obligations' alarms are kept."""
        a = self.a
        listing = a.cf.listing
        pcs = self.fn.blocks[block].pcs
        alarms = a.alarms if record else None
        for pc in pcs:
            a.tick()
            state = check_all(a.obligations_at(pc), state, a, alarms)
            if state is None:
                return []
            op = listing.ops[pc]
            if pc == pcs[-1]:
                successors = list(self.fn.graph.successors(block))
                return a.transfer.terminator(pc, op, state, successors, self.fn.entry, record)
            state = a.transfer.step(pc, op, state, self.fn.entry, record)
            if state is None:
                return []
        raise AssertionError("unreachable: a block ends with its last pc")

    def process(self, block: int, paths: Paths | None, record: bool = False) -> None:
        for succ in self.fn.graph.successors(block):
            self.edges.pop((block, succ), None)
        if paths is None:
            return
        for state in paths:
            for succ, out in self.run_block(block, state, record):
                if out is None:
                    continue
                key = (block, succ)
                found = Paths.of(out)
                self.edges[key] = self.edges[key].join(found, self.live_at(succ)) if key in self.edges else found

    # -- the fixpoint -------------------------------------------------------------------------------
    def block_input(self, block: int) -> Paths | None:
        incoming = [self.edges[(src, block)] for src in self.fn.graph.predecessors(block) if (src, block) in self.edges]
        if block == self.fn.entry:
            incoming.append(Paths.of(self.entry_state))
        if not incoming:
            return None
        result = incoming[0]
        for paths in incoming[1:]:
            result = result.join(paths, self.live_at(block))
        return result

    def run_elements(self, elements: list[Any]) -> None:
        for element in elements:
            if isinstance(element, list):
                self.component(element)
            else:
                paths = self.block_input(element)
                if paths is not None:
                    self.inputs[element] = paths
                self.process(element, paths)

    def component(self, component: list[Any]) -> None:
        head, body = component[0], component[1:]
        live = self.live_at(head)
        current = self.block_input(head)
        iterations = 0
        while True:
            if current is not None:
                self.inputs[head] = current
            self.process(head, current)
            self.run_elements(body)
            incoming = self.block_input(head)
            if incoming is None or current is None:
                new = incoming if current is None else current
            else:
                new = current.join(incoming, live, widen=iterations >= WIDEN_AFTER)
            iterations += 1
            if new == current:
                break
            current = new
        # one narrowing step: the state the loop actually feeds back is a sound, smaller invariant
        narrowed = self.block_input(head)
        if narrowed is not None and narrowed != current:
            self.inputs[head] = narrowed
            self.process(head, narrowed)
            self.run_elements(body)

    def fixpoint(self) -> None:
        self.run_elements(self.wto)
        self.exit_state = None
        for src in self.fn.graph.predecessors(EXIT_NODE):
            for s in self.edges.get((src, EXIT_NODE), ()):
                self.exit_state = s if self.exit_state is None else self.exit_state.join(s)

    def check_pass(self) -> None:
        """Every obligation checked against the invariants the fixpoint found; the invariants kept."""
        a = self.a
        context = a.context_of(self.entry_state)
        recording, a.recording = a.recording, True
        try:
            for block in sorted(self.fn.blocks):
                paths = self.inputs.get(block)
                if paths is None:
                    continue
                key = (context, block)
                a.invariants[key] = a.invariants[key].join(paths, (1 << 11) - 1) if key in a.invariants else paths
                for state in paths:
                    self.run_block(block, state, record=True)
        finally:
            a.recording = recording


__all__ = ["Analysis", "FunctionRun", "Limits", "process_memory"]
