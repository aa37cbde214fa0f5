"""Abstract interpretation of a program over its CFG.

Each function is analysed by a forward fixpoint in weak topological order, widening at loop
heads (after a few plain iterations) and narrowing once after; local calls analyse the callee
with the caller's arguments (memoised per entry state). A final pass over the stable states
checks every rule and records the state before each instruction. Under a profile with loops,
each loop must also be shown to terminate: its body is run iteration by iteration from the
state on entry (no join at the head) until no iteration can go round again."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from interp.asm.kernel_syntax import format_insn
from interp.helpers import ArgType, Helper, HelperRegistry, RetType
from interp.isa.insn import Insn
from interp.isa.opcodes import (
    CLASS_MASK,
    OP_MASK,
    SRC_X,
    STACK_SIZE,
    AluOp,
    AtomicOp,
    Cls,
    JmpOp,
    Mode,
    PseudoSrc,
)
from interp.maps import ARRAY, ARRAY_OF_MAPS, HASH_OF_MAPS, PERCPU_ARRAY
from interp.program import Program

from .cfg import (
    EXIT_NODE,
    ControlFlow,
    FunctionGraph,
    build_cfg,
    weak_topological_order,
)
from .domains.regs import NULLABLE, POISONED_REG, RegState, RegType
from .domains.scalar import Scalar
from .errors import Code, Finding, ResourceLimit
from .liveness import live_in
from .paths import Paths
from .profiles import Profile, ProgramTypeOps, allowed, map_helper_mismatch
from .state import Frame, State

WIDEN_AFTER = 3  # plain joins at a loop head before widening
ARRAY_MAPS = (ARRAY, PERCPU_ARRAY)
MAPS_OF_MAPS = (ARRAY_OF_MAPS, HASH_OF_MAPS)
Report = Callable[[int, str, str], None]
BOUNDED_BY_SIZE = frozenset({"probe_read_str", "probe_read_kernel_str", "probe_read_user_str", "get_stack"})
MAX_ERRNO = 4095
R0_ONLY = 1  # what a function's exit reads
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MAX_CPUS = 8192  # the largest CONFIG_NR_CPUS of x86_64 and arm64: a bound that holds on every machine


def _no_report(pc: int, code: str, message: str) -> None:
    pass


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
    deadline: float | None = None  # time.monotonic() when the whole command must end (then timeout_s is ignored)


@dataclass
class Analysis:
    program: Program
    profile: Profile
    arch: str
    ops: ProgramTypeOps
    registry: HelperRegistry
    limits: Limits = field(default_factory=Limits)
    cf: ControlFlow = field(init=False)
    findings: dict[tuple[int, str], Finding] = field(default_factory=dict)
    states: dict[int, State] = field(default_factory=dict)  # the state before each checked instruction
    work: int = 0
    unroll_work: int = 0
    stack_use: dict[int, int] = field(default_factory=dict)  # function entry -> deepest stack offset used
    access_kinds: dict[int, set[RegType]] = field(default_factory=dict)  # pc -> kinds of pointer it dereferenced
    _deadline: float = 0.0
    _memo: dict[tuple[int, State], State | None] = field(default_factory=dict)
    _checking: set[tuple[int, State]] = field(default_factory=set)
    _orders: dict[int, tuple[list[Any], dict[int, int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # calls the loader could not resolve (externs) are reported as such, not followed
        self.unresolved = self.program.unresolved_pcs
        self._deadline = self.limits.deadline or time.monotonic() + self.limits.timeout_s
        self.cf = build_cfg(self.program.insns, dict(self.program.functions), self.unresolved, self._deadline)
        self._memory_base = process_memory()[1]
        # the object's maps, plus the inner-map templates of BTF maps of maps
        self.maps = list(self.program.maps)
        self.inner_of: dict[int, int] = {}
        for index, mdef in enumerate(self.program.maps):
            if mdef.inner_idx is not None and mdef.inner_idx < len(self.program.maps):
                self.inner_of[index] = mdef.inner_idx
            elif mdef.inner is not None:
                self.inner_of[index] = len(self.maps)
                self.maps.append(mdef.inner)

    # -- reporting ---------------------------------------------------------------------
    def report(self, pc: int, code: str, message: str) -> None:
        key = (pc, code)
        if key not in self.findings:
            line = self.program.source_lines.get(pc)
            self.findings[key] = Finding(pc, code, message, str(line) if line and line.line else None)

    def _tick(self, amount: int = 1) -> None:
        self.work += amount
        if self.work > self.limits.max_work:
            raise ResourceLimit(f"the analysis did {self.limits.max_work} instruction steps without finishing "
                                "(raise --max-work)")
        if self.work % 512 == 0:
            if time.monotonic() > self._deadline:
                raise ResourceLimit(f"the analysis ran past its {self.limits.timeout_s:g} s time limit (raise --timeout)")
            budget = self.limits.max_memory_mb
            if budget is not None and process_memory()[1] - self._memory_base > budget << 20:
                raise ResourceLimit(f"the analysis used more than its {budget} MB of memory (raise --max-memory)")

    # -- entry ---------------------------------------------------------------------------
    def run(self) -> None:
        ctx = RegState(RegType.PTR_TO_CTX, Scalar.const(0))
        state = State((Frame.entry({1: ctx}, 0),))
        self.analyse_function(0, state, check=True)

    def analyse_function(self, entry: int, state: State, check: bool) -> State | None:
        """The join of the states at the function's exits, or None when no exit is reachable."""
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
                run.check_termination()
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

    def _live(self, node: Any) -> int:
        return R0_ONLY if node == EXIT_NODE else self.live[node]

    # -- the fixpoint ------------------------------------------------------------------
    def block_input(self, block: int) -> Paths | None:
        incoming = [self.edges[(src, block)] for src in self.fn.graph.predecessors(block) if (src, block) in self.edges]
        if block == self.fn.entry:
            incoming.append(Paths.of(self.entry_state))
        if not incoming:
            return None
        result = incoming[0]
        for paths in incoming[1:]:
            result = result.join(paths, self._live(block))
        return result

    def process(self, block: int, paths: Paths | None, report: Report = _no_report, record: bool = False) -> None:
        for succ in self.fn.graph.successors(block):
            self.edges.pop((block, succ), None)
        if paths is None:
            return
        for state in paths:
            outputs = Transfer(self.a, self.fn, report, record).run_block(self.fn.blocks[block], state)
            for succ, out in outputs:
                if out is None:
                    continue
                key = (block, succ)
                found = Paths.of(out)
                self.edges[key] = self.edges[key].join(found, self._live(succ)) if key in self.edges else found

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
        live = self._live(head)
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
        for block in sorted(self.fn.blocks):
            for state in self.inputs.get(block, ()):
                Transfer(self.a, self.fn, self.a.report, record=True).run_block(self.fn.blocks[block], state)

    # -- termination --------------------------------------------------------------------
    def check_termination(self) -> None:
        for head in sorted(self.fn.loops):
            if self.inputs.get(head) is None:
                continue
            reason = self.loop_bound(head)
            if reason is not None:
                back = [tail for tail, h in self.fn.back_edges if h == head]
                jump_pc = self.fn.blocks[back[0]].end if back else head
                self.a.report(jump_pc, Code.UNBOUNDED_LOOP, f"the loop at insn {head} may not terminate: {reason}; "
                              "bound it with a counter that the loop condition checks against a constant")

    def loop_bound(self, head: int) -> str | None:
        """None when every path leaves the loop after finitely many iterations, else why not."""
        loop = self.fn.loops[head]
        live = self._live(head)
        component = _find_component(self.wto, head)
        if component is None:
            return "its blocks do not form a loop the analysis can follow"
        entry: Paths | None = None
        for (src, dst), paths in self.edges.items():
            if dst == head and src not in loop:
                entry = paths if entry is None else entry.join(paths, live)
        if head == self.fn.entry:
            entry = Paths.of(self.entry_state) if entry is None else entry.join(Paths.of(self.entry_state), live)
        if entry is None:
            return None
        current = entry
        seen: set[Paths] = set()
        outside = {k: v for k, v in self.edges.items() if k[0] not in loop and k[1] in loop and k[1] != head}
        iterations = 0
        while True:
            trial = FunctionRun(self.a, self.fn, self.entry_state, self.wto, self.live)
            trial.edges = dict(outside)
            trial.inputs[head] = current
            before = self.a.work
            trial.process(head, current)
            trial.run_elements(component[1:])
            self.a.unroll_work += self.a.work - before
            back: Paths | None = None
            for (src, dst), paths in trial.edges.items():
                if dst == head and src in loop:
                    back = paths if back is None else back.join(paths, live)
            iterations += 1
            if back is None:
                return None
            seen.add(current)
            if back in seen:
                return (f"iteration {iterations} comes back to the loop head in a state it had before, so "
                        "nothing in the state bounds the number of iterations")
            if self.a.unroll_work > self.a.limits.max_unroll_work:
                return (f"no exit was found within {iterations} iterations ({self.a.limits.max_unroll_work} "
                        f"instruction steps; --max-unroll follows longer loops){self.explain_progress(loop, current, back)}")
            current = back


    def explain_progress(self, loop: set[int], before: Paths, after: Paths) -> str:
        """What changes from one iteration to the next, and what the exits test: the user's clue
        to why no bound was found."""
        old, new = before.single().top, after.single().top
        changing = []
        for reg in range(10):
            a, b = old.regs[reg], new.regs[reg]
            if a != b and a.is_scalar and b.is_scalar and a.value.is_const and b.value.is_const:
                step = _signed((b.value.value - a.value.value) & ((1 << 64) - 1))
                changing.append(f"r{reg} steps by {step:+d} (now {b.value})")
        listing = self.a.cf.listing
        exits = []
        for block in sorted(loop):
            end = self.fn.blocks[block].end
            insn = listing.by_pc[end]
            leaves = any(succ == EXIT_NODE or succ not in loop for succ in self.fn.graph.successors(block))
            if leaves and insn.is_conditional_jump:
                operands = [insn.dst] + ([insn.src] if insn.opcode & SRC_X else [])
                values = ", ".join(f"r{r} is {new.regs[r].describe()}" for r in operands)
                exits.append(f"insn {end} `{format_insn(insn, end)}` ({values})")
        parts = []
        if changing:
            parts.append("; ".join(changing))
        if exits:
            parts.append("the loop leaves only through " + " or ".join(exits))
        return ": " + "; ".join(parts) if parts else ""


def _find_component(elements: list[Any], head: int) -> list[Any] | None:
    for element in elements:
        if isinstance(element, list):
            if element[0] == head:
                return element
            found = _find_component(element[1:], head)
            if found is not None:
                return found
    return None


# ---------------------------------------------------------------------------
# One instruction at a time
# ---------------------------------------------------------------------------


class Transfer:
    def __init__(self, analysis: Analysis, fn: FunctionGraph, report: Report, record: bool) -> None:
        self.a = analysis
        self.fn = fn
        self.report = report
        self.record = record

    def run_block(self, block: Any, state: State) -> list[tuple[Any, State | None]]:
        listing = self.a.cf.listing
        for pc in block.pcs:
            self.a._tick()
            if self.record:
                previous = self.a.states.get(pc)
                if previous is None:
                    self.a.states[pc] = state
                elif previous.depth == state.depth:
                    self.a.states[pc] = previous.join(state)
            insn = listing.by_pc[pc]
            problem = self.a.profile.unsupported(insn) if self.record else None  # reported by the check pass
            if problem:
                self.report(pc, Code.UNSUPPORTED_INSTRUCTION, f"{insn} is not supported by {self.a.profile.name}: "
                            f"{problem}; use an older form or the linux-6.18 profile")
            if pc == block.end:
                return self.terminator(pc, insn, state)
            new_state = self.step(pc, insn, state)
            if new_state is None:
                return []
            state = new_state
        raise AssertionError("unreachable: a block ends with its last pc")

    # -- helpers ------------------------------------------------------------------------
    def read(self, state: State, pc: int, reg: int, what: str = "read") -> RegState:
        value = state.reg(reg)
        if value.type == RegType.NOT_INIT:
            self.report(pc, Code.UNINITIALISED_REGISTER,
                        f"r{reg} is {what} before it is written on some path to here; initialise r{reg} first")
            return RegState.scalar()
        if value.type == RegType.CONFLICT:
            self.report(pc, Code.TYPE_CONFLICT,
                        f"r{reg} holds different kinds of values (pointers of different kinds, or a pointer and "
                        "a number) on different paths to here; keep one kind of value in it on every path")
            return RegState.scalar()
        return value

    def link(self, pc: int, reg: int, value: RegState, state: State) -> tuple[RegState, State]:
        """Give scalar `reg` an id, so that its copies share what branches learn about it."""
        link = -(pc + 1)  # scalar ids are negative (pointer ids positive); one per instruction
        state = _forget_id(state, link)  # a copy made here in an earlier iteration is another value
        value = replace(value, id=link, delta=0)
        return value, state.with_reg(reg, value)

    def write_reg(self, state: State, pc: int, reg: int, value: RegState) -> State:
        if reg == 10:
            self.report(pc, Code.FRAME_POINTER_WRITE, "r10 is the read-only frame pointer; write another register")
            return state
        return state.with_reg(reg, value)

    # -- non-terminators ----------------------------------------------------------------
    def step(self, pc: int, insn: Insn, state: State) -> State | None:
        cls = insn.opcode & CLASS_MASK
        if cls in (Cls.ALU, Cls.ALU64):
            return self.alu(pc, insn, state)
        if insn.is_lddw:
            return self.lddw(pc, insn, state)
        if cls == Cls.LDX:
            loaded, state = self.memory(pc, insn, state, insn.src, insn.off, insn.size_bytes, write=False)
            if loaded is not None and insn.mode == Mode.MEMSX and loaded.is_scalar:
                loaded = RegState.scalar(loaded.value.alu(Cls.ALU64 | AluOp.MOV | SRC_X, loaded.value, insn.size_bytes * 8))
            return self.write_reg(state, pc, insn.dst, loaded if loaded is not None else RegState.scalar())
        if cls == Cls.ST:
            value = RegState.const(insn.imm)
            _, state = self.memory(pc, insn, state, insn.dst, insn.off, insn.size_bytes, write=True, value=value)
            return state
        if cls == Cls.STX:
            value = self.read(state, pc, insn.src)
            if insn.mode == Mode.ATOMIC:
                return self.atomic(pc, insn, state, value)
            if (insn.size_bytes == 8 and value.is_scalar and not value.value.is_const and not value.id
                    and state.reg(insn.dst).type == RegType.PTR_TO_STACK):
                # a spill keeps its register's value: link them, as a copy would
                value, state = self.link(pc, insn.src, value, state)
            _, state = self.memory(pc, insn, state, insn.dst, insn.off, insn.size_bytes, write=True, value=value)
            return state
        if insn.is_call:
            return self.call(pc, insn, state)
        if cls == Cls.LD:
            self.report(pc, Code.UNSUPPORTED_INSTRUCTION, f"{insn} is a legacy packet load, which needs a socket "
                        f"buffer; {self.a.program.prog_type} programs have none: read memory with ldx instead")
            return self.write_reg(state, pc, 0, RegState.scalar())
        raise AssertionError(f"unexpected non-terminator {insn}")

    def lddw(self, pc: int, insn: Insn, state: State) -> State:
        src, lo, hi = insn.src, insn.imm & 0xFFFFFFFF, insn.imm >> 32
        maps = self.a.maps
        if src == PseudoSrc.IMM64:
            return self.write_reg(state, pc, insn.dst, RegState.const(insn.imm))
        if src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX, PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE):
            if lo >= len(maps):
                self.report(pc, Code.INVALID_MAP_REFERENCE, f"lddw refers to map {lo}, but the program has "
                            f"{len(maps)} maps; refer to one of them")
                return self.write_reg(state, pc, insn.dst, POISONED_REG)
            if src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX):
                return self.write_reg(state, pc, insn.dst, RegState(RegType.CONST_PTR_TO_MAP, Scalar.const(0), maps=frozenset({lo})))
            mdef = maps[lo]
            if mdef.type != ARRAY or mdef.max_entries != 1:  # one element, as global data has
                self.report(pc, Code.INVALID_MAP_REFERENCE, f"lddw takes the address of a value of map {mdef.name} "
                            f"({mdef.type_name}, {mdef.max_entries} elements); only the value of a "
                            "one-element array map is directly addressable")
                return self.write_reg(state, pc, insn.dst, POISONED_REG)
            if hi >= mdef.value_size:
                self.report(pc, Code.INVALID_MAP_REFERENCE, f"lddw takes the address of byte {hi} of map {mdef.name}'s "
                            f"{mdef.value_size}-byte value; the offset must be below {mdef.value_size}")
                return self.write_reg(state, pc, insn.dst, POISONED_REG)
            return self.write_reg(state, pc, insn.dst, RegState(RegType.PTR_TO_MAP_VALUE, Scalar.const(hi), maps=frozenset({lo})))
        if src == PseudoSrc.FUNC:
            return self.write_reg(state, pc, insn.dst, RegState(RegType.PTR_TO_FUNC, Scalar.const(0)))
        self.report(pc, Code.UNSUPPORTED_INSTRUCTION, f"{insn} loads a kernel symbol by BTF id, which this verifier "
                    "does not model; read kernel memory with bpf_probe_read_kernel instead")
        return self.write_reg(state, pc, insn.dst, RegState.scalar())

    # -- ALU -------------------------------------------------------------------------------
    def alu(self, pc: int, insn: Insn, state: State) -> State:
        op = insn.opcode & OP_MASK
        wide = insn.opcode & CLASS_MASK == Cls.ALU64
        x = bool(insn.opcode & SRC_X)
        if not x and op in (AluOp.DIV, AluOp.MOD) and insn.imm == 0:
            self.report(pc, Code.INVALID_IMMEDIATE, "division by the constant 0; the kernel refuses it at load "
                        "(divide by a register to get the instruction set's x / 0 = 0)")
        if not x and op in (AluOp.LSH, AluOp.RSH, AluOp.ARSH) and not 0 <= insn.imm < (64 if wide else 32):
            self.report(pc, Code.INVALID_IMMEDIATE, f"shift by {insn.imm}: a {64 if wide else 32}-bit shift count "
                        f"must be 0..{63 if wide else 31}")
        src = self.read(state, pc, insn.src) if x and op != AluOp.END else RegState.const(insn.imm)
        if src.type == RegType.POISONED or (op != AluOp.MOV and state.reg(insn.dst).type == RegType.POISONED):
            return self.write_reg(state, pc, insn.dst, POISONED_REG)
        if op == AluOp.MOV:
            if src.is_pointer and (insn.off or not wide):
                # a privileged program may turn a pointer into a number (sign-extended or truncated)
                return self.write_reg(state, pc, insn.dst, RegState.scalar(
                    Scalar.unknown() if insn.off else Scalar.urange(0, 0xFFFFFFFF)))
            if src.is_pointer:
                return self.write_reg(state, pc, insn.dst, src)
            if wide and x and not insn.off and src.is_scalar and not src.value.is_const and insn.src != insn.dst:
                # a copy: both registers now hold one value, so a bound learnt on one holds for the other
                if not src.id:
                    src, state = self.link(pc, insn.src, src, state)
                return self.write_reg(state, pc, insn.dst, src)
            return self.write_reg(state, pc, insn.dst, RegState.scalar(Scalar.const(0).alu(insn.opcode, src.value, insn.off, insn.imm)))
        dst = self.read(state, pc, insn.dst)
        if dst.is_scalar and src.is_scalar:
            value = dst.value.alu(insn.opcode, src.value, insn.off, insn.imm)
            result = RegState.scalar(value)
            if wide and dst.id and op in (AluOp.ADD, AluOp.SUB) and src.value.is_const and insn.src != insn.dst:
                step = src.value.value if op == AluOp.ADD else -src.value.value
                result = replace(result, id=dst.id, delta=(dst.delta + step) & ((1 << 64) - 1))
            return self.write_reg(state, pc, insn.dst, result)
        if op in (AluOp.NEG, AluOp.END) or (op == AluOp.SUB and dst.is_pointer and src.is_pointer) or (
                op == AluOp.SUB and not wide):
            # the kernel lets privileged programs compute numbers from pointers this way
            return self.write_reg(state, pc, insn.dst, RegState.scalar())
        name = {AluOp.ADD: "+=", AluOp.SUB: "-="}.get(AluOp(op), f"{AluOp(op).name.lower()}")
        pointer, other = (dst, src) if dst.is_pointer else (src, dst)
        if not wide:
            self.report(pc, Code.POINTER_ARITHMETIC, f"32-bit arithmetic on pointer {pointer.describe()} is "
                        "prohibited; use 64-bit registers for pointers")
            return self.write_reg(state, pc, insn.dst, RegState.scalar())
        if op not in (AluOp.ADD, AluOp.SUB) or (op == AluOp.SUB and not dst.is_pointer) or other.is_pointer:
            self.report(pc, Code.POINTER_ARITHMETIC, f"operation {name} on pointer {pointer.describe()} is "
                        "prohibited; only adding or subtracting a number moves a pointer")
            return self.write_reg(state, pc, insn.dst, RegState.scalar())
        if pointer.type in NULLABLE:
            self.report(pc, Code.POINTER_ARITHMETIC, f"arithmetic on {pointer.type.value} pointer prohibited; "
                        "compare it with 0 first")
            return self.write_reg(state, pc, insn.dst, RegState.scalar())
        if pointer.type in (RegType.CONST_PTR_TO_MAP, RegType.PTR_TO_FUNC):
            self.report(pc, Code.POINTER_ARITHMETIC, f"arithmetic on a {pointer.type.value} pointer is prohibited; "
                        "pass it to helpers unchanged")
            return self.write_reg(state, pc, insn.dst, RegState.scalar())
        offset = pointer.value.alu(Cls.ALU64 | op | SRC_X, other.value)
        for what, value in (("the number added", other.value), ("the pointer's offset", pointer.value),
                            ("the resulting offset", offset)):
            problem = _insane_offset(value)
            if problem:
                self.report(pc, Code.POINTER_ARITHMETIC, f"{pointer.type.value} pointer {name} {other.describe()}: "
                            f"{what} {problem}; bound the number (e.g. `if rN > LIMIT goto`) before adding it")
                return self.write_reg(state, pc, insn.dst, POISONED_REG)
        return self.write_reg(state, pc, insn.dst, pointer.with_value(offset))

    # -- memory ----------------------------------------------------------------------------
    def memory(self, pc: int, insn: Insn, state: State, base_reg: int, off: int, size: int, write: bool,
               value: RegState | None = None) -> tuple[RegState | None, State]:
        if state.reg(base_reg).type in (RegType.NOT_INIT, RegType.CONFLICT, RegType.POISONED):
            self.read(state, pc, base_reg)  # reports the one cause, unless it was reported where it arose
            return None, state
        base = self.read(state, pc, base_reg)
        verb = "write" if write else "read"
        kind = base.type
        if self.record:
            self.note_access_kind(pc, base_reg, kind)
        if kind == RegType.SCALAR and base_reg != 10:
            if base.value.is_const and base.value.value == 0:
                what = "r%d is NULL (0)" % base_reg
            else:
                what = f"r{base_reg} is a number ({base.value}), not a pointer"
            self.report(pc, Code.INVALID_DEREFERENCE, f"{size}-byte {verb} through r{base_reg}: {what}; only pointers "
                        "to the stack, the context, map values and ring buffer records may be dereferenced")
            return None, state
        if kind in NULLABLE:
            self.report(pc, Code.NULL_DEREFERENCE, f"{size}-byte {verb} through r{base_reg}, which may be NULL "
                        f"({kind.value}); compare r{base_reg} with 0 before dereferencing it")
            return None, state
        if kind == RegType.PTR_TO_CTX:
            return self.ctx_access(pc, base, base_reg, off, size, write), state
        if kind == RegType.PTR_TO_STACK:
            return self.stack_access(pc, insn, state, base, base_reg, off, size, write, value)
        if kind == RegType.PTR_TO_MAP_VALUE:
            return self.map_value_access(pc, base, base_reg, off, size, write), state
        if kind == RegType.PTR_TO_MEM:
            lo, hi = base.value.smin + off, base.value.smax + off + size
            if lo < 0 or hi > base.mem_size:
                self.report(pc, Code.MEM_OUT_OF_BOUNDS, f"{size}-byte {verb} at r{base_reg}{off:+d} may reach bytes "
                            f"[{lo}, {hi}) of a {base.mem_size}-byte ring buffer record; keep it within [0, {base.mem_size})")
            return (RegState.scalar(_sized(size)) if not write else None), state
        self.report(pc, Code.INVALID_DEREFERENCE, f"{size}-byte {verb} through r{base_reg}, a {kind.value} pointer, "
                    "which may not be dereferenced; pass it to map helpers instead")
        return None, state

    def note_access_kind(self, pc: int, base_reg: int, kind: RegType) -> None:
        """The kernel translates an instruction that reads the context for one kind of pointer
        only, so it refuses one that meets the context on one path and another pointer on another."""
        kinds = self.a.access_kinds.setdefault(pc, set())
        kinds.add(kind)
        if RegType.PTR_TO_CTX in kinds and len(kinds) > 1:
            other = sorted(k.value for k in kinds if k != RegType.PTR_TO_CTX)[0]
            self.report(pc, Code.TYPE_CONFLICT, f"r{base_reg} points into the context on one path and is {other} on "
                        "another; the kernel needs one kind of pointer at an instruction that reads the context, so "
                        "use separate loads for each")

    def ctx_access(self, pc: int, base: RegState, base_reg: int, off: int, size: int, write: bool) -> RegState | None:
        ops = self.a.ops
        if not base.value.is_const:
            self.report(pc, Code.CTX_VARIABLE_OFFSET, f"r{base_reg} points into {ops.context_name} at a variable "
                        f"offset ({base.value}); the context is read at constant offsets only; read each field with its own constant offset")
            return RegState.scalar()
        if base.value.value != 0:
            moved = _signed(base.value.value)
            self.report(pc, Code.CTX_MODIFIED_POINTER, f"r{base_reg} is the context pointer moved by {moved}; the "
                        f"kernel dereferences only the unmodified pointer: use *(r1 {moved + off:+d}) instead")
            return RegState.scalar()
        offset = off
        reason = ops.context(offset, size, write, self.a.arch)
        if reason is not None:
            if write:
                code = Code.CTX_WRITE
                message = f"{size}-byte write to {ops.context_name} at offset {offset}: {reason}; copy the value to the stack first"
            elif "aligned" in reason:
                code = Code.CTX_MISALIGNED
                message = f"{size}-byte read of {ops.context_name} at offset {offset}: {reason}"
            else:
                code = Code.CTX_OUT_OF_BOUNDS
                message = f"{size}-byte read of {ops.context_name} at offset {offset} is out of bounds: {reason}"
            self.report(pc, code, message)
            return RegState.scalar()
        return None if write else RegState.scalar(_sized(size))

    def stack_access(self, pc: int, insn: Insn, state: State, base: RegState, base_reg: int, off: int, size: int,
                     write: bool, value: RegState | None) -> tuple[RegState | None, State]:
        frame_index = base.frame
        frame = state.frames[frame_index]
        lo, hi = base.value.smin + off, base.value.smax + off
        verb = "write" if write else "read"
        if lo < -STACK_SIZE or hi + size > 0:
            self.report(pc, Code.STACK_OUT_OF_BOUNDS, f"{size}-byte {verb} at stack offset [{lo}, {hi}] (r{base_reg}{off:+d}) "
                        f"leaves the {STACK_SIZE}-byte stack; offsets must stay within [-{STACK_SIZE}, -{size}]")
            return (RegState.scalar() if not write else None), state
        fn_entry = self.fn.entry
        self.a.stack_use[fn_entry] = min(self.a.stack_use.get(fn_entry, 0), lo)
        aligned = (base.value.tnum.value + off) % size == 0 and base.value.tnum.mask & (size - 1) == 0
        if not aligned:
            self.report(pc, Code.STACK_MISALIGNED, f"{size}-byte {verb} at stack offset {lo} is misaligned; the stack "
                        f"is accessed at offsets that are multiples of the access size")
        variable = lo != hi
        if variable and not self.a.profile.variable_stack_access:
            self.report(pc, Code.STACK_VARIABLE_OFFSET, f"{size}-byte {verb} at a variable stack offset [{lo}, {hi}]: "
                        f"{self.a.profile.name} accesses the stack at constant offsets only")
        if write:
            assert value is not None
            if variable:
                new_frame = frame.blur(lo, hi + size)
            else:
                stored = value if size == 8 or not value.is_pointer else RegState.scalar()
                new_frame = frame.store_stack(lo, size, stored)
            return None, state.with_frame(frame_index, new_frame)
        missing = frame.first_uninitialised(lo, hi + size)
        if missing is not None:
            self.report(pc, Code.STACK_UNINITIALISED, f"{size}-byte read at stack offset {lo}{'..' + str(hi) if variable else ''} "
                        f"reads byte {missing}, which is not initialised on some path to here; write it first")
            return RegState.scalar(_sized(size)), state
        if variable:
            return RegState.scalar(_sized(size)), state
        for slot, spilled in frame.spills:
            if spilled.is_pointer and slot < lo + size and lo < slot + 8 and (slot, size) != (lo, 8):
                self.report(pc, Code.PARTIAL_POINTER_FILL, f"{size}-byte read at stack offset {lo} takes part of the "
                            f"pointer spilled at offset {slot}; read the whole 8-byte slot")
                return RegState.scalar(_sized(size)), state
        return frame.load_stack(lo, size), state

    def map_value_access(self, pc: int, base: RegState, base_reg: int, off: int, size: int, write: bool) -> RegState | None:
        defs = [self.a.maps[i] for i in sorted(base.maps)]
        mdef = min(defs, key=lambda m: m.value_size)  # the smallest value bounds every access
        lo, hi = base.value.smin + off, base.value.smax + off + size
        verb = "write" if write else "read"
        if lo < 0 or hi > mdef.value_size:
            self.report(pc, Code.MAP_VALUE_OUT_OF_BOUNDS, f"{size}-byte {verb} at r{base_reg}{off:+d} may reach bytes "
                        f"[{lo}, {hi}) of a value of map {mdef.name}, which has {mdef.value_size} bytes; "
                        f"check the offset so that it stays within [0, {mdef.value_size - size}]")
            return RegState.scalar()
        if write:
            frozen = [m for m in defs if m.read_only_for_programs]
            if frozen:
                mdef = frozen[0]
                self.report(pc, Code.MAP_VALUE_READ_ONLY, f"{size}-byte write to map {mdef.name}, which is read-only "
                            "for programs (.rodata or BPF_F_RDONLY_PROG); write to a writable map or to the stack")
            return None
        if len(defs) == 1 and mdef.frozen and mdef.initial_value is not None and lo + size == hi:
            return RegState.const(int.from_bytes(mdef.initial_value[lo:hi], "little"))
        return RegState.scalar(_sized(size))

    def atomic(self, pc: int, insn: Insn, state: State, value: RegState) -> State:
        size = insn.size_bytes
        loaded, state = self.memory(pc, insn, state, insn.dst, insn.off, size, write=False)
        _, state = self.memory(pc, insn, state, insn.dst, insn.off, size, write=True, value=RegState.scalar())
        if insn.imm == AtomicOp.CMPXCHG:
            self.read(state, pc, 0)
            return self.write_reg(state, pc, 0, RegState.scalar(_sized(size)))
        if insn.imm & AtomicOp.FETCH:
            return self.write_reg(state, pc, insn.src, RegState.scalar(_sized(size)))
        return state

    # -- calls -------------------------------------------------------------------------------
    def call(self, pc: int, insn: Insn, state: State) -> State | None:
        if pc in self.a.unresolved:
            return _after_call(state, RegState.scalar())
        if insn.is_local_call:
            return self.local_call(pc, insn, state)
        if insn.opcode & SRC_X:
            self.report(pc, Code.UNSUPPORTED_INSTRUCTION, f"{insn}: indirect calls are not part of the kernel's "
                        "instruction set; call a helper by its id")
            return _after_call(state, RegState.scalar())
        if insn.src == 2:
            self.report(pc, Code.UNSUPPORTED_INSTRUCTION, f"{insn} calls a kernel function (kfunc), which this "
                        "verifier does not model; use helpers")
            return _after_call(state, RegState.scalar())
        helper = self.a.registry.get(insn.imm)
        prog_type = self.a.program.prog_type
        if helper is None or not allowed(self.a.profile, prog_type, helper):
            from interp.helper_ids import helper_name

            name = helper.name if helper else (helper_name(insn.imm) or f"#{insn.imm}")
            allowed_names = ", ".join(sorted(self.a.ops.helpers))
            self.report(pc, Code.UNKNOWN_HELPER, f"call to helper {insn.imm} ({name}), which {self.a.profile.name} "
                        f"{prog_type} programs may not call; they may call: {allowed_names}")
            return _after_call(state, RegState.scalar())
        if helper.gpl_only and not self.a.program.is_gpl_compatible:
            self.report(pc, Code.GPL_ONLY_HELPER, f"helper {helper.name} is GPL-only and the program's license is "
                        f"{self.a.program.license or 'missing'}; declare a GPL-compatible license")
        return HelperCall(self, pc, helper, state).run()

    def local_call(self, pc: int, insn: Insn, state: State) -> State | None:
        target = insn.call_target(pc)
        depth = state.depth + 1
        if not self.a.profile.allow_local_calls:
            return _after_call(state, RegState.scalar())  # the call itself is reported as unsupported
        if depth >= self.a.profile.max_call_depth:
            self.report(pc, Code.CALL_DEPTH, f"calls nest {depth + 1} frames deep; at most "
                        f"{self.a.profile.max_call_depth} frames are allowed; inline a function of the chain")
            return _after_call(state, RegState.scalar())
        callers = [f.callsite for f in state.frames]
        if any(self.a.cf.function_of(site) and target in self.a.cf.function_of(site) for site in callers if site >= 0) \
                or target == self.fn.entry:
            self.report(pc, Code.RECURSION, f"the call at insn {pc} makes function {target} call itself; recursion "
                        "is not allowed")
            return _after_call(state, RegState.scalar())
        args = {r: state.reg(r) for r in range(1, 6)}
        callee_frame = Frame.entry(args, depth, callsite=pc)
        callee_state = State(state.frames + (callee_frame,), state.refs)
        result = self.a.analyse_function(target, callee_state, check=self.record)
        if result is None:
            return None  # the callee never returns
        r0 = result.reg(0)
        if r0.type == RegType.PTR_TO_STACK and r0.frame == depth:
            self.report(pc, Code.RETURN_STACK_POINTER, f"function {target} returns a pointer to its own stack, which "
                        "is gone after the return; return a value or a pointer the caller owns")
            r0 = RegState.scalar()
        caller = State(result.frames[:-1], result.refs)
        return _after_call(caller, r0)

    # -- terminators ----------------------------------------------------------------------------
    def terminator(self, pc: int, insn: Insn, state: State) -> list[tuple[Any, State | None]]:
        succ = list(self.fn.graph.successors(self.fn.block_of[pc]))
        if insn.is_exit:
            if state.reg(0).type == RegType.NOT_INIT:
                self.report(pc, Code.R0_UNINITIALISED, "exit returns r0, which is not set on some path to here; set "
                            "r0 before exit")
            else:
                self.read(state, pc, 0, "returned by exit")  # a type conflict is still reported
            if state.depth == 0 and state.refs:
                self.report(pc, Code.UNRELEASED_REFERENCE, "the program exits while holding a ring buffer record from "
                            "bpf_ringbuf_reserve; submit or discard it on every path")
            return [(EXIT_NODE, state)]
        if insn.is_unconditional_jump:
            return [(insn.jump_target(pc), state)]
        if insn.is_conditional_jump:
            taken, fallthrough = self.branch(pc, insn, state)
            return [(insn.jump_target(pc), taken), (pc + 1, fallthrough)]
        new_state = self.step(pc, insn, state)
        return [(s, new_state) for s in succ if s != EXIT_NODE]

    def branch(self, pc: int, insn: Insn, state: State) -> tuple[State | None, State | None]:
        op = insn.opcode & OP_MASK
        wide = insn.opcode & CLASS_MASK == Cls.JMP
        x = bool(insn.opcode & SRC_X)
        a = self.read(state, pc, insn.dst)
        b = self.read(state, pc, insn.src) if x else RegState.const(insn.imm)
        if a.is_scalar and b.is_scalar:
            outcomes: list[State | None] = []
            for taken in (True, False):
                refined = a.value.refine(op, b.value, taken, wide)
                if refined is None:
                    outcomes.append(None)
                    continue
                s: State | None = state
                if insn.dst != 10:
                    s = _sync_linked(state.with_reg(insn.dst, a.with_value(refined[0])), a, refined[0])
                if s is not None and x and insn.src != 10:
                    s = _sync_linked(s.with_reg(insn.src, b.with_value(refined[1])), b, refined[1])
                outcomes.append(s)
            return outcomes[0], outcomes[1]
        pointer, other, preg = (a, b, insn.dst) if a.is_pointer else (b, a, insn.src)
        if not wide:
            return state, state  # allowed for privileged programs, but it proves nothing about the pointer
        is_zero = other.is_scalar and other.value.is_const and other.value.value == 0
        if pointer.is_pointer and is_zero and op in (JmpOp.JEQ, JmpOp.JNE):
            if pointer.is_nullable:
                null_state = _mark_null(state, pointer)
                ok_state = _mark_non_null(state, pointer)
                return (null_state, ok_state) if op == JmpOp.JEQ else (ok_state, null_state)
            if pointer.type in NEVER_NULL:
                # the kernel decides this comparison for these pointers only, and walks both ways otherwise
                return (None, state) if op == JmpOp.JEQ else (state, None)
        return state, state


class HelperCall:
    """Checking one helper call's arguments against its prototype, and its effect."""

    def __init__(self, transfer: Transfer, pc: int, helper: Helper, state: State) -> None:
        self.t = transfer
        self.pc = pc
        self.helper = helper
        self.state = state
        self.args = transfer.a.profile.helper_args.get(helper.name, helper.args)
        self.map_set: frozenset[int] = frozenset()
        self.const_key: bytes | None = None
        self.released: int = 0
        self.size_max = 0  # the largest value the size argument may have

    def report(self, code: str, message: str) -> None:
        self.t.report(self.pc, code, f"{self.helper.name}: {message}")

    def run(self) -> State:
        regs = [self.t.read(self.state, self.pc, i + 1, f"read as argument {i + 1} of {self.helper.name}")
                for i in range(len(self.args))]
        for i, arg in enumerate(self.args):
            self.check(i, arg, regs)
        return self.result(regs)

    def _region(self, i: int, reg: RegState, size_hi: int, write: bool, need_init: bool, what: str) -> None:
        """Arg i points to `size_hi` bytes (at most) of memory that can be read (or written)."""
        regno = i + 1
        if size_hi == 0:
            return
        if reg.type == RegType.PTR_TO_STACK:
            frame = self.state.frames[reg.frame]
            lo, hi = reg.value.smin, reg.value.smax + size_hi
            if lo < -STACK_SIZE or hi > 0:
                self.report(Code.HELPER_MEMORY, f"r{regno} ({what}) points to stack bytes [{lo}, {hi}), outside "
                            f"the {STACK_SIZE}-byte stack; make the buffer fit")
                return
            if not reg.value.is_const and not self.t.a.profile.variable_stack_access:
                self.report(Code.STACK_VARIABLE_OFFSET, f"r{regno} ({what}) points into the stack at a variable offset")
            if need_init:
                missing = frame.first_uninitialised(lo, hi)
                if missing is not None:
                    self.report(Code.STACK_UNINITIALISED, f"r{regno} ({what}) points to {size_hi} bytes of stack at "
                                f"offset {lo}, and byte {missing} is not initialised; initialise the whole buffer first")
            if write:
                self.state = self.state.with_frame(reg.frame, frame.mark_initialised(lo, hi)) if reg.value.is_const else self.state
            return
        if reg.type == RegType.PTR_TO_MAP_VALUE:
            mdef = min((self.t.a.maps[m] for m in reg.maps), key=lambda m: m.value_size)
            lo, hi = reg.value.smin, reg.value.smax + size_hi
            if lo < 0 or hi > mdef.value_size:
                self.report(Code.HELPER_MEMORY, f"r{regno} ({what}) may cover bytes [{lo}, {hi}) of a "
                            f"{mdef.value_size}-byte value of map {mdef.name}; make it fit")
            elif write and mdef.read_only_for_programs:
                self.report(Code.MAP_VALUE_READ_ONLY, f"r{regno} ({what}) points into read-only map {mdef.name}; pass a writable buffer")
            return
        if reg.type == RegType.PTR_TO_MEM:
            lo, hi = reg.value.smin, reg.value.smax + size_hi
            if lo < 0 or hi > reg.mem_size:
                self.report(Code.HELPER_MEMORY, f"r{regno} ({what}) may cover bytes [{lo}, {hi}) of a "
                            f"{reg.mem_size}-byte ring buffer record; make it fit")
            return
        kind = "NULL" if reg.is_scalar and reg.value.is_const and reg.value.value == 0 else reg.describe()
        nullable = " (compare it with 0 first)" if reg.is_nullable else ""
        self.report(Code.HELPER_ARGUMENT, f"r{regno} ({what}) must point to {'writable' if write else 'readable'} memory "
                    f"(the stack, a map value or a ring buffer record), but it is {kind}{nullable}")

    def check(self, i: int, arg: ArgType, regs: list[RegState]) -> None:
        reg = regs[i]
        regno = i + 1
        maps = self.t.a.maps
        if arg == ArgType.ANYTHING or reg.type == RegType.POISONED:
            return
        if arg == ArgType.CONST_MAP_PTR:
            if reg.type != RegType.CONST_PTR_TO_MAP:
                extra = " (compare it with 0 first)" if reg.is_nullable else ""
                self.report(Code.HELPER_ARGUMENT, f"r{regno} must be a map pointer (lddw of a map), but it is "
                            f"{reg.describe()}{extra}")
                return
            self.map_set = reg.maps
            for m in sorted(reg.maps):
                mismatch = map_helper_mismatch(self.t.a.maps[m].type, self.helper.name)
                if mismatch:
                    self.report(Code.HELPER_ARGUMENT, f"r{regno} is map {self.t.a.maps[m].name}, but {mismatch}; "
                                "pass a map of the kind the helper works on")
                    break
            return
        if arg in (ArgType.PTR_TO_MAP_KEY, ArgType.PTR_TO_MAP_VALUE):
            if not self.map_set:
                return
            defs = [maps[m] for m in sorted(self.map_set)]
            size = max(m.key_size if arg == ArgType.PTR_TO_MAP_KEY else m.value_size for m in defs)
            mdef = defs[0]
            what = f"{'key' if arg == ArgType.PTR_TO_MAP_KEY else 'value'} of map {mdef.name}, {size} bytes"
            self._region(i, reg, size, write=False, need_init=True, what=what)
            if arg == ArgType.PTR_TO_MAP_KEY and reg.type == RegType.PTR_TO_STACK and reg.value.is_const:
                lo = _signed(reg.value.value)
                self.const_key = self.state.frames[reg.frame].known_bytes(lo, lo + size)
            return
        if arg == ArgType.PTR_TO_CTX:
            if reg.type != RegType.PTR_TO_CTX or not (reg.value.is_const and reg.value.value == 0):
                self.report(Code.HELPER_ARGUMENT, f"r{regno} must be the context pointer the program received in r1 "
                            f"(unchanged), but it is {reg.describe()}")
            return
        if arg in (ArgType.CONST_SIZE, ArgType.CONST_SIZE_OR_ZERO, ArgType.CONST_STACK_SIZE, ArgType.CONST_ALLOC_SIZE_OR_ZERO):
            if not reg.is_scalar:
                self.report(Code.HELPER_ARGUMENT, f"r{regno} must be a size (a number), but it is {reg.describe()}")
                return
            if arg == ArgType.CONST_ALLOC_SIZE_OR_ZERO:
                if not reg.value.is_const:
                    self.report(Code.HELPER_ARGUMENT, f"r{regno} must be a constant size, but it is {reg.value}")
                return
            if arg == ArgType.CONST_STACK_SIZE and not reg.value.is_const:
                self.report(Code.HELPER_ARGUMENT, f"r{regno} must be a constant size in {self.t.a.profile.name}, "
                            f"but it is {reg.value}")
            if reg.value.smin < 0:
                self.report(Code.HELPER_ARGUMENT, f"r{regno} (a size) may be negative ({reg.value}); bound it "
                            "with a check such as `if rN > SIZE goto`")
                return
            if arg in (ArgType.CONST_SIZE, ArgType.CONST_STACK_SIZE) and reg.value.umin == 0:
                self.report(Code.HELPER_ARGUMENT, f"r{regno} (a size) may be 0, which {self.helper.name} does not "
                            "accept; make it at least 1")
            if reg.value.umax > 1 << 29:
                self.report(Code.HELPER_ARGUMENT, f"r{regno} (a size) is unbounded ({reg.value}); bound it with a "
                            "check against the buffer size before the call")
                return
            self.size_max = reg.value.umax
            previous = self.args[i - 1] if i > 0 else None
            if previous in (ArgType.PTR_TO_MEM, ArgType.PTR_TO_UNINIT_MEM, ArgType.PTR_TO_STACK):
                write = previous != ArgType.PTR_TO_MEM
                need_init = previous == ArgType.PTR_TO_MEM or (previous == ArgType.PTR_TO_STACK)
                self._region(i - 1, regs[i - 1], reg.value.umax, write=write, need_init=need_init,
                             what=f"a buffer of up to {reg.value.umax} bytes")
            return
        if arg in (ArgType.PTR_TO_MEM, ArgType.PTR_TO_UNINIT_MEM, ArgType.PTR_TO_STACK):
            if arg == ArgType.PTR_TO_STACK and reg.type != RegType.PTR_TO_STACK:
                self.report(Code.HELPER_ARGUMENT, f"r{regno} must point to the stack in {self.t.a.profile.name}, but it "
                            f"is {reg.describe()}")
            elif reg.type not in (RegType.PTR_TO_STACK, RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM):
                self._region(i, reg, 1, write=arg != ArgType.PTR_TO_MEM, need_init=False, what="a buffer")
            return  # the size argument that follows checks the extent
        if arg == ArgType.PTR_TO_ALLOC_MEM:
            if reg.type != RegType.PTR_TO_MEM or not reg.ref or not (reg.value.is_const and reg.value.value == 0):
                self.report(Code.HELPER_ARGUMENT, f"r{regno} must be a record from bpf_ringbuf_reserve (non-NULL, "
                            f"unmoved), but it is {reg.describe()}")
                return
            self.released = reg.ref
            return

    def result(self, regs: list[RegState]) -> State:
        state = self.state
        if self.released:
            ref = self.released
            state = replace(state.map_regs(lambda r: RegState.scalar() if r.ref == ref else r),
                            refs=state.refs - {ref})
        ret = self.helper.ret
        if ret == RetType.PTR_TO_MAP_VALUE_OR_NULL and self.map_set:
            defs = [self.t.a.maps[m] for m in self.map_set]
            pointer_id = self.pc + 1
            if all(m.type in MAPS_OF_MAPS for m in defs):
                if not all(m in self.t.a.inner_of for m in self.map_set):
                    self.report(Code.HELPER_ARGUMENT, "the map of maps has no inner map template to check the "
                                "inner map's uses against")
                    return _after_call(state, RegState.scalar())
                inner = frozenset(self.t.a.inner_of[m] for m in self.map_set)
                state = _forget_id(state, pointer_id)
                return _after_call(state, RegState(RegType.CONST_PTR_TO_MAP_OR_NULL, Scalar.const(0), maps=inner,
                                                   id=pointer_id))
            if (self.t.a.profile.array_lookup_non_null and all(m.type in ARRAY_MAPS for m in defs)
                    and self.const_key is not None
                    and all(int.from_bytes(self.const_key[:4], "little") < m.max_entries for m in defs)):
                return _after_call(state, RegState(RegType.PTR_TO_MAP_VALUE, Scalar.const(0), maps=self.map_set))
            state = _forget_id(state, pointer_id)
            return _after_call(state, RegState(RegType.PTR_TO_MAP_VALUE_OR_NULL, Scalar.const(0),
                                               maps=self.map_set, id=pointer_id))
        if ret == RetType.PTR_TO_MEM_OR_NULL:
            size_reg = regs[1] if len(regs) > 1 else RegState.scalar()
            size = size_reg.value.value if size_reg.is_scalar and size_reg.value.is_const else 0
            pointer_id = self.pc + 1
            state = _forget_id(state, pointer_id)
            state = replace(state, refs=state.refs | {pointer_id})
            return _after_call(state, RegState(RegType.PTR_TO_MEM_OR_NULL, Scalar.const(0), mem_size=size,
                                               id=pointer_id, ref=pointer_id))
        if ret == RetType.VOID:
            return _after_call(state, RegState.uninit())
        return _after_call(state, RegState(RegType.SCALAR, self.return_range()))

    def return_range(self) -> Scalar:
        """What the kernel knows of an integer result: string reads and stack walks return at most
        the buffer size or a negative errno, and a CPU number is below the number of CPUs."""
        if self.helper.name in BOUNDED_BY_SIZE:
            return Scalar.srange(-MAX_ERRNO, min(self.size_max, (1 << 63) - 1))
        if self.helper.name == "get_smp_processor_id":
            return Scalar.urange(0, MAX_CPUS - 1)
        return Scalar.unknown()


# -- small pieces -----------------------------------------------------------------------------


def _signed(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


NEVER_NULL = (RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM)  # the kernel's reg_not_null, for these programs
MAX_VAR_OFF = 1 << 29  # the kernel's BPF_MAX_VAR_OFF: how far pointer arithmetic may reach


def _insane_offset(value: Scalar) -> str | None:
    """Why the kernel refuses pointer arithmetic involving `value`, or None."""
    if value.is_const and not -MAX_VAR_OFF < _signed(value.value) < MAX_VAR_OFF:
        return f"is {_signed(value.value)}, beyond the +-2^29 the kernel allows"
    if value.smin == -(1 << 63):
        return "has no lower bound"
    if not -MAX_VAR_OFF < value.smin < MAX_VAR_OFF:
        return f"may be {value.smin}, beyond the +-2^29 the kernel allows"
    return None


def _sized(size: int) -> Scalar:
    return Scalar.urange(0, (1 << (8 * size)) - 1) if size < 8 else Scalar.unknown()


def _after_call(state: State, r0: RegState) -> State:
    frame = state.top
    regs = list(frame.regs)
    regs[0] = r0
    for r in range(1, 6):
        regs[r] = RegState.uninit()
    return replace(state, frames=state.frames[:-1] + (replace(frame, regs=tuple(regs)),))


def _sync_linked(state: State, reg: RegState, value: Scalar) -> State | None:
    """Carry what a branch learnt about `reg` (now `value`) to every scalar linked to it: each
    holds the same hidden value plus its own delta. None when one of them can hold nothing."""
    if not reg.id:
        return state
    infeasible = False

    def narrow(other: RegState) -> RegState:
        nonlocal infeasible
        if other.id != reg.id or not other.is_scalar:
            return other
        shift = Scalar.const((other.delta - reg.delta) & ((1 << 64) - 1))
        narrowed = other.value.meet(value.alu(Cls.ALU64 | AluOp.ADD | SRC_X, shift))
        if narrowed is None:
            infeasible = True
            return other
        return other.with_value(narrowed)

    synced = state.map_regs(narrow)
    return None if infeasible else synced


def _forget_id(state: State, pointer_id: int) -> State:
    """An older pointer from the same call site (an earlier loop iteration) can no longer be
    null-checked through the new one."""
    return state.map_regs(lambda r: replace(r, id=0) if r.id == pointer_id else r)


def _mark_null(state: State, pointer: RegState) -> State:
    if not pointer.id:
        return state
    pointer_id = pointer.id
    state = state.map_regs(lambda r: RegState.const(0) if r.id == pointer_id and r.is_nullable else r)
    if pointer.ref:
        state = replace(state, refs=state.refs - {pointer.ref})
    return state


def _mark_non_null(state: State, pointer: RegState) -> State:
    if not pointer.id:
        return state
    pointer_id = pointer.id
    return state.map_regs(lambda r: replace(r, type=NULLABLE[r.type]) if r.id == pointer_id and r.is_nullable else r)


__all__ = ["Analysis", "Limits"]
