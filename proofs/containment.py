"""State containment: every concrete run lies inside the analysis' invariants.

A program is checked once (`verifier.check.check_program`), then run on the kprobe runtime on
random inputs. Before each executed instruction the run's state is compared with the states the
analysis keeps for that pc in that calling context (`StatesView.paths`: the invariant is their
union), and must lie in one of them:

- each register of the running call, and r6-r9 of each caller (as they were at its call; the
  callee cannot change them): uninitialised only where the analysis says so; a number inside its scalar
  (tnum and the four intervals); a pointer of the kind the analysis names (the stack of the
  right frame, the context, a value of one of the named maps, a ring buffer record, NULL where
  it may be NULL, a map of the named ones), its offset from the region's start inside the
  offset scalar; registers the analysis links (one id) differ by their deltas;
- each frame's stack: bytes the analysis calls initialised were written on this run, bytes of
  known value hold it, spilled registers hold what the spill says.

For a rejected program a run is followed up to the first alarm it reaches (the analysis assumes
what the alarm asks and goes on, or ends the path there); warnings and alarms z3 refuted do not
stop it, unless the analysis ended its path there. An accepted program must also run without a
fault.

Stack bytes start each call filled with random bytes (what an uninitialised stack holds is
anything), so reads of unwritten bytes see arbitrary values. Stores and atomic operations mark
the bytes they write, a helper the whole buffer it is given to fill (the kernel's rule: a string
read leaves what follows its NUL unwritten, and a privileged program may read it); other writes
of helpers are seen as changed bytes, which misses a write of the byte already there, so a
breach of initialisation is believed only when a run with other filling bytes repeats it.

    outcome = check_runs(program, seed=1, runs=4)
    outcome.violations       # [Violation(pc, context, kind, message)]
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.faults import FaultKind
from interp.helpers import ArgType
from interp.image import map_index_of_handle
from interp.isa.opcodes import STACK_SIZE
from interp.isa.ops import Atomic, Call, Store
from interp.maps import MAP_AREA
from interp.memory import MAP_VALUE_BASE, RegionKind
from interp.program import Program
from verifier.check import ProgramResult, StatesView, check_program
from verifier.domains.regs import RegState, RegType
from verifier.fixpoint import Limits
from verifier.state import Frame, State

# the runs' inputs are drawn as the soundness tests draw them, from the repository's checkout
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "verifier"))
try:
    from random_inputs import random_context, random_session
except ImportError:
    raise ImportError("proofs.containment runs from a checkout of the repository (it draws its inputs with "
                      "tests/verifier/random_inputs.py, which an installed package does not have)") from None

M64 = (1 << 64) - 1
LIMITS = Limits(timeout_s=30, max_work=1_000_000, max_unroll_work=20_000, max_memory_mb=1024,
                solver_timeout_s=2.0)
RUN_BUDGET = 200_000  # instructions per run
OBSERVED = 20_000  # instructions checked per run (then the run goes on unchecked)
CALLEE_SAVED = (6, 7, 8, 9)
NOT_EMULATED = (FaultKind.UNSUPPORTED, FaultKind.BUDGET_EXHAUSTED)
SIZES = (ArgType.CONST_SIZE, ArgType.CONST_SIZE_OR_ZERO)
NULLABLE_OF = {RegType.PTR_TO_MAP_VALUE_OR_NULL: RegType.PTR_TO_MAP_VALUE,
               RegType.PTR_TO_MEM_OR_NULL: RegType.PTR_TO_MEM,
               RegType.CONST_PTR_TO_MAP_OR_NULL: RegType.CONST_PTR_TO_MAP}


@dataclass(frozen=True)
class Violation:
    pc: int
    context: tuple[int, ...]
    kind: str  # register, stack-value, stack-init, spill, link, unreachable, fault
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"pc": self.pc, "context": list(self.context), "kind": self.kind, "message": self.message}


@dataclass
class Outcome:
    verdict: str
    runs: int = 0
    checked: int = 0  # instructions checked, all runs together
    violations: list[Violation] = field(default_factory=list)
    skipped: str | None = None  # why no run was checked

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.verdict, "runs": self.runs, "checked": self.checked}
        if self.violations:
            out["violations"] = [v.to_json() for v in self.violations]
        if self.skipped:
            out["skipped"] = self.skipped
        return out


def stopping_points(result: ProgramResult, warnings: frozenset[str]) -> set[tuple[int, tuple[int, ...]]]:
    """(pc, context) of the alarms a run is not followed past: every alarm but a warning or one z3
    refuted, where the analysis went on past it."""
    stops = set()
    for n, alarm in enumerate(result.alarms):
        judged = result.judgements.get(n)
        tolerated = alarm.code in warnings or (judged is not None and judged.status == "refuted")
        if alarm.ends_path or not tolerated:
            stops.add((alarm.pc, alarm.context))
    return stops


class Observer:
    """Called before each instruction of one run: compares the run's state with the invariant."""

    def __init__(self, states: StatesView, stops: set[tuple[int, tuple[int, ...]]], poison: random.Random,
                 cache: dict[tuple[tuple[int, ...], int], list[State]]) -> None:
        self.states = states
        self.stops = stops
        self.poison = poison
        self.cache = cache
        self.session: Any = None
        self.machine: Any = None
        self.sites: list[int] = []
        self.callers: list[tuple] = []  # per caller frame: its registers at the call (r6-r9 outlive it)
        self.last_pc = -1
        self.last_regs: tuple = ()
        self.frames: list[tuple[Any, bytes, int] | None] = []  # per depth: (region, bytes seen, written mask)
        self.pending: tuple[Any, int, int] | None = None  # stack bytes the last instruction stored to
        self.stopped = False
        self.checked = 0
        self.violation: Violation | None = None

    def __call__(self, pc: int, depth: int, regs: tuple) -> None:
        if self.stopped:
            return
        sites = self.sites
        if depth > len(sites):
            sites.append(self.last_pc)  # the local call that made this frame
            self.callers.append(self.last_regs)
        while depth < len(sites):
            sites.pop()
            self.callers.pop()
        self.last_pc = pc
        self.last_regs = regs
        if self.machine is None:
            self.machine = self.session.image(0).machine
        self._track_stack(depth)
        self._note_store(pc, regs)
        context = tuple(sites)
        key = (context, pc)
        paths = self.cache.get(key)
        if paths is None:
            paths = self.cache[key] = [s for _, s in self.states.paths(pc, context)]
        self.checked += 1
        if not paths:
            self._violate(pc, context, "unreachable", "a run reaches this instruction in this calling context; "
                          "the analysis has no state for it")
            return
        best: list[tuple[str, str]] | None = None
        for state in paths:
            found = self._mismatches(state, regs, depth)
            if not found:
                best = None
                break
            if best is None or len(found) < len(best):
                best = found
        if best:
            kind, message = best[0]
            self._violate(pc, context, kind, "; ".join(m for _, m in best[:4]))
            return
        if key in self.stops or (pc, context) in self.stops or self.checked >= OBSERVED:
            self.stopped = True

    def _violate(self, pc: int, context: tuple[int, ...], kind: str, message: str) -> None:
        self.violation = Violation(pc, context, kind, message)
        self.stopped = True

    # -- the concrete stack ---------------------------------------------------------------------------
    def _note_store(self, pc: int, regs: tuple) -> None:
        """A store or atomic operation about to run: the stack bytes it writes count as written
        once it has run (seen at the next instruction), whatever value it writes."""
        if self.pending is not None:
            region, lo, hi = self.pending
            self.pending = None
            for d, seen in enumerate(self.frames):
                if seen is not None and seen[0] is region:
                    self.frames[d] = (region, seen[1], seen[2] | (((1 << (hi - lo)) - 1) << lo))
        op = self.machine.listing.ops[pc]
        address, size = None, 0
        if isinstance(op, (Store, Atomic)) and regs[op.base] is not None:
            address, size = (regs[op.base] + op.off) & M64, op.size
        elif isinstance(op, Call):
            # a helper's buffer counts as written whole, as the kernel counts it: a string read
            # writes up to its NUL and leaves the rest as it was
            helper = self.machine.helpers.get(op.helper)
            if (helper is not None and len(helper.args) >= 2 and helper.args[0] == ArgType.PTR_TO_UNINIT_MEM
                    and helper.args[1] in SIZES and regs[1] is not None and regs[2] is not None):
                address, size = regs[1], regs[2]
        if address is not None and size:
            region = self.machine.space.region_at(address)
            if region is not None and region.kind == RegionKind.STACK:
                lo = address - region.base
                self.pending = (region, lo, min(lo + size, STACK_SIZE))

    def _track_stack(self, depth: int) -> None:
        frames = self.frames
        while len(frames) <= depth:
            frames.append(None)
        for d in range(depth + 1):
            region = self.machine.stack_frame(d)
            seen = frames[d]
            if seen is None or seen[0] is not region:  # a new call: its stack holds anything
                region.data[:] = bytes(self.poison.randrange(1, 256) for _ in range(STACK_SIZE))  # a failed read writes 0s
                frames[d] = (region, bytes(region.data), 0)
                continue
            now = bytes(region.data)
            if now != seen[1]:
                written = seen[2]
                before = seen[1]
                for i in range(STACK_SIZE):
                    if now[i] != before[i]:
                        written |= 1 << i
                frames[d] = (region, now, written)

    # -- containment ------------------------------------------------------------------------------------
    def _mismatches(self, state: State, regs: tuple, depth: int) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if state.depth != depth:
            return [("unreachable", f"the analysis' state is {state.depth} calls deep, the run {depth}")]
        top = state.frames[-1]
        for r in range(11):
            why = self._outside(top.regs[r], regs[r])
            if why:
                found.append(("register", f"r{r} = {_show(regs[r])} is not in {top.regs[r].describe()}: {why}"))
        for f, (frame, saved) in enumerate(zip(state.frames, self.callers)):
            for r in CALLEE_SAVED:  # what a caller keeps across the call, which the callee cannot touch
                why = self._outside(frame.regs[r], saved[r])
                if why:
                    found.append(("register", f"frame {f}: r{r} = {_show(saved[r])} is not in "
                                  f"{frame.regs[r].describe()}: {why}"))
        for f, frame in enumerate(state.frames):
            found += self._stack_mismatches(f, frame)
        if not found:
            found += self._link_mismatches(top, regs, depth)
        return found

    def _stack_mismatches(self, f: int, frame: Frame) -> list[tuple[str, str]]:
        seen = self.frames[f]
        assert seen is not None
        data, written = seen[1], seen[2]
        found: list[tuple[str, str]] = []
        unwritten = frame.init & ~written
        if unwritten:
            offset = (unwritten & -unwritten).bit_length() - 1 - STACK_SIZE
            found.append(("stack-init", f"frame {f}: the analysis has stack byte {offset} initialised; "
                          "this run did not write it"))
        known = frame.known
        while known:
            low = known & -known
            i = low.bit_length() - 1
            if data[i] != frame.data[i]:
                found.append(("stack-value", f"frame {f}: stack byte {i - STACK_SIZE} holds {data[i]:#x}, "
                              f"the analysis knows it as {frame.data[i]:#x}"))
                break
            known ^= low
        for off, size, reg in frame.spills:
            value = int.from_bytes(data[off + STACK_SIZE : off + STACK_SIZE + size], "little")
            why = self._outside(reg, value)
            if why:
                found.append(("spill", f"frame {f}: the {size} bytes at {off} hold {value:#x}, not in the spill "
                              f"{reg.describe()}: {why}"))
        return found

    def _link_mismatches(self, top: Frame, regs: tuple, depth: int) -> list[tuple[str, str]]:
        """Scalars with one id hold one hidden value plus each its delta."""
        hidden: dict[int, tuple[str, int]] = {}
        data = self.frames[depth][1]  # type: ignore[index]
        values = [(f"r{r}", top.regs[r], regs[r]) for r in range(11)]
        values += [(f"spill {off}", reg, int.from_bytes(data[off + STACK_SIZE : off + STACK_SIZE + size], "little"))
                   for off, size, reg in top.spills if size == 8]
        for name, reg, value in values:
            if reg.type != RegType.SCALAR or not reg.id or value is None:
                continue
            h = (value - reg.delta) & M64
            first = hidden.setdefault(reg.id, (name, h))
            if first[1] != h:
                return [("link", f"{name} and {first[0]} share id {reg.id} but not one value "
                         f"({first[1]:#x} and {h:#x} less their deltas)")]
        return []

    def _outside(self, reg: RegState, value: int | None) -> str | None:
        """Why the concrete `value` is not in `reg` (None: it is)."""
        kind = reg.type
        if kind == RegType.NOT_INIT:
            return None
        if value is None:
            return "the register is uninitialised"
        if kind in (RegType.CONFLICT, RegType.POISONED):
            return None
        if kind == RegType.SCALAR:
            return None if reg.value.contains(value) else "outside the scalar"
        if kind in NULLABLE_OF:
            if value == 0:
                return None
            kind = NULLABLE_OF[kind]
        offset, why = self._pointer(kind, reg, value)
        if why:
            return why
        if offset is not None and not reg.value.contains(offset):
            return f"its offset {offset & M64:#x} is outside the offset scalar"
        return None

    def _pointer(self, kind: RegType, reg: RegState, value: int) -> tuple[int | None, str | None]:
        """(the offset of pointer `value` from the start of what `kind` points to, or why it is not one)."""
        if kind == RegType.PTR_TO_STACK:
            region = self.machine.stack_frame(reg.frame)
            if region is None:
                return None, f"frame {reg.frame} does not exist"
            return (value - region.end) & M64, None
        if kind == RegType.PTR_TO_CTX:
            base = self.session.context_address
            return (value - base) & M64, None
        if kind == RegType.CONST_PTR_TO_MAP:
            index = map_index_of_handle(value)
            return None, (None if index is not None and index in reg.maps else "not a handle of the maps named")
        if kind in (RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM):
            # the value or record the pointer was made from: one whose start is the pointer less
            # an offset the offset scalar allows
            candidates = [r for r in self.session.space.regions if r.kind == RegionKind.MAP_VALUE
                          and (kind == RegType.PTR_TO_MEM or (r.base - MAP_VALUE_BASE) // MAP_AREA in reg.maps)]
            for region in candidates:
                if reg.value.contains((value - region.base) & M64):
                    return None, None
            if not candidates:
                return None, "no value of the maps named exists"
            near = min(candidates, key=lambda r: abs(value - r.base))
            return (value - near.base) & M64, None
        return None, (None if value else "NULL")  # functions, BTF objects: any non-NULL address


def _show(value: int | None) -> str:
    return "uninitialised" if value is None else f"{value:#x}"


def check_runs(program: Program, seed: int, runs: int = 4, limits: Limits = LIMITS,
               result: ProgramResult | None = None) -> Outcome:
    """Check `program`, run it `runs` times on inputs drawn from `seed`, and compare every run with
    the analysis; at most one violation per run (its first)."""
    if result is None:
        result = check_program(program, limits=limits)
    outcome = Outcome(result.verdict)
    if not isinstance(result.states, StatesView) or not len(result.alarms) and not result.states:
        outcome.skipped = "not analysed"
        return outcome
    if result.verdict == "unknown" and (result.reason or "").startswith("the analysis"):
        outcome.skipped = "the analysis did not finish"  # its invariants are partial
        return outcome
    from verifier.profiles import PROFILES

    stops = stopping_points(result, PROFILES[result.profile].warnings)
    cache: dict[tuple[tuple[int, ...], int], list[State]] = {}
    rng = random.Random(seed)
    for _ in range(runs):
        run_seed = rng.randrange(1 << 32)
        violation, fault, checked = _run(program, result, stops, cache, run_seed, poison_seed=run_seed)
        if violation is not None and violation.kind == "stack-init":
            # a write of the byte that was there is unseen: believed when other bytes show it too
            again, _, _ = _run(program, result, stops, cache, run_seed, poison_seed=run_seed ^ 0x5A5A5A5A)
            if again != violation:
                violation = None
        outcome.runs += 1
        outcome.checked += checked
        if violation is not None:
            outcome.violations.append(violation)
        if fault is not None and result.verdict == "accepted" and fault.kind not in NOT_EMULATED:
            outcome.violations.append(Violation(fault.pc, (), "fault", f"an accepted program faulted: {fault.message}"))
    return outcome


def run_on_context(program: Program, result: ProgramResult, context: bytes, seed: int = 1) -> Violation | None:
    """The first place one run on the given pt_regs leaves the analysis' invariants, if any."""
    from verifier.profiles import PROFILES

    stops = stopping_points(result, PROFILES[result.profile].warnings)
    return _run(program, result, stops, {}, seed, poison_seed=seed, context=context)[0]


def _run(program: Program, result: ProgramResult, stops: set[tuple[int, tuple[int, ...]]],
         cache: dict[tuple[tuple[int, ...], int], list[State]], run_seed: int, poison_seed: int,
         context: bytes | None = None) -> tuple[Violation | None, Any, int]:
    assert isinstance(result.states, StatesView)
    observer = Observer(result.states, stops, random.Random(poison_seed), cache)
    inputs = random.Random(run_seed)
    session = random_session(program, inputs, budget=RUN_BUDGET, observe=observer)
    observer.session = session
    registers = random_context(inputs)
    outcome = session.run_program(0, context if context is not None else registers, cpu=inputs.randrange(2))
    return observer.violation, outcome.fault, observer.checked


__all__ = ["LIMITS", "Observer", "Outcome", "Violation", "check_runs", "run_on_context", "stopping_points"]
