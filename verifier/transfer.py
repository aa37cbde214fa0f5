"""The abstract effect of each typed operation: the state after it, assuming its obligations
hold (`checker` has refined the state, or ended the path, where they do not). Nothing here
reports: a register that may not be read (its obligation reported elsewhere) reads as an unknown
number, so that what follows is still analysed."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from interp.isa.opcodes import STACK_SIZE, AluOp, JmpOp
from interp.isa.ops import (
    Alu,
    Atomic,
    Branch,
    Call,
    Exit,
    Imm,
    Jump,
    Load,
    LoadFuncRef,
    LoadImm64,
    LoadMapRef,
    LocalCall,
    MayGoto,
    Neg,
    Op,
    Reg,
    Store,
    Swap,
    to_signed,
)

from .callbacks import calls_back, state_after_loop
from .cfg import EXIT_NODE
from .domains.regs import NULLABLE, RegState, RegType
from .domains.scalar import Scalar
from .helper_effects import after_call, forget_id, state_after
from .state import State

if TYPE_CHECKING:
    from .fixpoint import Analysis

NEVER_NULL = (RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM)  # the kernel's reg_not_null, for these programs
_ADD64 = Alu(AluOp.ADD, 64, 0, Reg(1))
Successors = list[tuple[Any, "State | None"]]


def read(state: State, reg: int) -> RegState:
    """A register's value; one that may not be read is an unknown number."""
    value = state.reg(reg)
    return RegState.scalar() if value.type in (RegType.NOT_INIT, RegType.CONFLICT) else value


def sized(size: int) -> Scalar:
    """Any value of `size` bytes, zero-extended."""
    return Scalar.urange(0, (1 << (8 * size)) - 1) if size < 8 else Scalar.unknown()


def link(pc: int, reg: int, value: RegState, state: State) -> tuple[RegState, State]:
    """Give scalar `reg` an id, so that its copies share what branches learn about it. Ids: one
    per instruction, negative for scalars (pointer ids are positive)."""
    ident = -(pc + 1)
    state = forget_id(state, ident)  # a copy made here in an earlier iteration is another value
    value = replace(value, id=ident, delta=0)
    return value, state.with_reg(reg, value)


class Transfer:
    """The transfer functions of one analysis (`env`): its maps, profile and calls."""

    def __init__(self, env: "Analysis") -> None:
        self.env = env

    # -- one operation ------------------------------------------------------------------------
    def step(self, pc: int, op: Op, state: State, fn_entry: int, record: bool) -> State | None:
        """The state after a non-terminating operation (None: no path continues)."""
        if isinstance(op, (Alu, Neg, Swap)):
            return self.alu(pc, op, state)
        if isinstance(op, (LoadImm64, LoadMapRef, LoadFuncRef)):
            return state.with_reg(op.dst, self.immediate(op))
        if isinstance(op, Load):
            self.note_stack(state.reg(op.base), op.off, op.size, fn_entry)
            loaded = self.load(op.base, op.off, op.size, state)
            if op.signed and loaded.is_scalar:
                loaded = RegState.scalar(loaded.value.alu(Alu(AluOp.MOV, 64, 0, Reg(1), extend=op.size * 8),
                                                          loaded.value))
            return state.with_reg(op.dst, loaded)
        if isinstance(op, Store):
            return self.store(pc, op, state, fn_entry)
        if isinstance(op, Atomic):
            return self.atomic(op, state, fn_entry)
        if isinstance(op, (Call, LocalCall)) or pc in self.env.unresolved:
            return self.call(pc, op, state, record)
        return state.with_reg(op.dst, RegState.scalar()) if hasattr(op, "dst") else after_call(
            state, RegState.scalar())

    def terminator(self, pc: int, op: Op, state: State, successors: list[Any], fn_entry: int,
                   record: bool) -> Successors:
        if isinstance(op, Exit):
            return [(EXIT_NODE, state)]
        if isinstance(op, Jump):
            return [(op.target, state)]
        if isinstance(op, MayGoto):
            return [(op.target, state), (pc + 1, state)]  # either way: a budget the program cannot see
        if isinstance(op, Branch):
            taken, fallthrough = self.branch(op, state)
            return [(op.target, taken), (pc + 1, fallthrough)]
        new_state = self.step(pc, op, state, fn_entry, record)
        return [(s, new_state) for s in successors if s != EXIT_NODE]

    # -- ALU ------------------------------------------------------------------------------------
    def alu(self, pc: int, op: Alu | Neg | Swap, state: State) -> State:
        if not isinstance(op, Alu):
            dst = read(state, op.dst)
            # a privileged program may turn a pointer into a number this way
            value = dst.value.alu(op) if dst.is_scalar else Scalar.unknown()
            return state.with_reg(op.dst, RegState.scalar(value))
        register_src = isinstance(op.src, Reg)
        src = read(state, op.src.n) if isinstance(op.src, Reg) else RegState.const(op.src.value)
        if op.op == AluOp.MOV:
            if src.is_pointer and (op.extend or op.width == 32):
                # a privileged program may turn a pointer into a number (sign-extended or truncated)
                return state.with_reg(op.dst, RegState.scalar(
                    Scalar.unknown() if op.extend else Scalar.urange(0, 0xFFFFFFFF)))
            if src.is_pointer:
                return state.with_reg(op.dst, src)
            if op.width == 64 and register_src and not op.extend and not src.value.is_const \
                    and op.src.n != op.dst:
                # a copy: both registers now hold one value, so a bound learnt on one holds for the other
                if not src.id:
                    src, state = link(pc, op.src.n, src, state)
                return state.with_reg(op.dst, src)
            return state.with_reg(op.dst, RegState.scalar(Scalar.const(0).alu(op, src.value)))
        dst = read(state, op.dst)
        if dst.is_scalar and src.is_scalar:
            result = RegState.scalar(dst.value.alu(op, src.value))
            if op.width == 64 and dst.id and op.op in (AluOp.ADD, AluOp.SUB) and src.value.is_const \
                    and (not register_src or op.src.n != op.dst):
                step = src.value.value if op.op == AluOp.ADD else -src.value.value
                result = replace(result, id=dst.id, delta=(dst.delta + step) & ((1 << 64) - 1))
            return state.with_reg(op.dst, result)
        if op.op == AluOp.SUB and (dst.is_pointer and src.is_pointer or op.width == 32):
            return state.with_reg(op.dst, RegState.scalar())  # a number computed from pointers
        pointer, other = (dst, src) if dst.is_pointer else (src, dst)
        offset = pointer.value.alu(Alu(op.op, 64, 0, Reg(1)), other.value)
        return state.with_reg(op.dst, pointer.with_value(offset))

    def immediate(self, op: LoadImm64 | LoadMapRef | LoadFuncRef) -> RegState:
        if isinstance(op, LoadImm64):
            return RegState.const(op.value)
        if isinstance(op, LoadFuncRef):
            # (its value: the function's pc, so that a helper calling it back knows which it is)
            return RegState(RegType.PTR_TO_FUNC, Scalar.const(op.target))
        if op.by_value:
            return RegState(RegType.PTR_TO_MAP_VALUE, Scalar.const(op.offset), maps=frozenset({op.index}))
        return RegState(RegType.CONST_PTR_TO_MAP, Scalar.const(0), maps=frozenset({op.index}))

    # -- memory -----------------------------------------------------------------------------------
    def load(self, base_reg: int, off: int, size: int, state: State) -> RegState:
        base = state.reg(base_reg)
        if base.type == RegType.PTR_TO_STACK:
            lo, hi = base.value.smin + off, base.value.smax + off
            frame = state.frames[base.frame]
            if lo != hi or lo < -STACK_SIZE or lo + size > 0 or frame.first_uninitialised(lo, lo + size) is not None:
                return RegState.scalar(sized(size))
            return frame.load_stack(lo, size)
        if base.type == RegType.PTR_TO_MAP_VALUE:
            defs = [self.env.maps[i] for i in sorted(base.maps)]
            mdef = min(defs, key=lambda m: m.value_size)
            lo = base.value.smin + off
            initial = mdef.initial_element(0) if len(defs) == 1 and mdef.max_entries == 1 else None
            if initial is not None and mdef.frozen and base.value.is_const and 0 <= lo and lo + size <= len(initial):
                # a frozen map's contents are constants; the pointer can only be to its one element
                return RegState.const(int.from_bytes(initial[lo:lo + size], "little"))
        return RegState.scalar(sized(size))

    def store(self, pc: int, op: Store, state: State, fn_entry: int) -> State:
        value = read(state, op.src.n) if isinstance(op.src, Reg) else RegState.const(op.src.value)
        base = state.reg(op.base)
        if base.type != RegType.PTR_TO_STACK:
            return state
        if isinstance(op.src, Reg) and value.is_scalar and not value.value.is_const and not value.id \
                and value.value.umax >> (8 * op.size) == 0:
            # a spill keeps its register's value (whole, if it fits): link them, as a copy would
            value, state = link(pc, op.src.n, value, state)
        if value.is_pointer and (op.size != 8 or value.type == RegType.PTR_TO_STACK and base.frame != state.depth):
            value = RegState.scalar()
        return self.stack_write(base, op.off, op.size, value, state, fn_entry)

    def stack_write(self, base: RegState, off: int, size: int, value: RegState, state: State, fn_entry: int) -> State:
        if not self.note_stack(base, off, size, fn_entry):
            return state  # (reported) no run writes outside the frame and gets further
        lo, hi = base.value.smin + off, base.value.smax + off
        frame = state.frames[base.frame]
        new_frame = frame.blur(lo, hi + size) if lo != hi else frame.store_stack(lo, size, value)
        return state.with_frame(base.frame, new_frame)

    def atomic(self, op: Atomic, state: State, fn_entry: int) -> State:
        self.note_stack(state.reg(op.base), op.off, op.size, fn_entry)
        loaded = self.load(op.base, op.off, op.size, state)
        base = state.reg(op.base)
        if base.type == RegType.PTR_TO_STACK:
            state = self.stack_write(base, op.off, op.size, RegState.scalar(), state, fn_entry)
        # a fetch returns what the memory held: a spilled pointer comes back as that pointer
        if op.result_reg is not None:
            state = state.with_reg(op.result_reg, loaded)
        return state

    def note_stack(self, base: RegState, off: int, size: int, fn_entry: int) -> bool:
        """Count an access within the frame towards the function's stack use; False when `base` is no
        stack pointer or the access may leave the frame."""
        if base.type != RegType.PTR_TO_STACK:
            return False
        lo, hi = base.value.smin + off, base.value.smax + off
        if lo < -STACK_SIZE or hi + size > 0:
            return False
        self.env.note_stack_use(fn_entry, lo)
        return True

    # -- calls ---------------------------------------------------------------------------------------
    def call(self, pc: int, op: Op, state: State, record: bool) -> State | None:
        env = self.env
        if pc in env.unresolved:
            return after_call(state, RegState.scalar())
        if isinstance(op, LocalCall):
            return self.local_call(pc, op, state, record)
        assert isinstance(op, Call)
        helper, args = env.contract(op.helper)
        if calls_back(helper):
            return state_after_loop(env, pc, state, record)
        return state_after(env, pc, helper, args, state)

    def local_call(self, pc: int, op: LocalCall, state: State, record: bool) -> State | None:
        from .state import Frame

        depth = state.depth + 1
        args = {r: state.reg(r) for r in range(1, 6)}
        callee_state = State(state.frames + (Frame.entry(args, depth, callsite=pc),), state.refs)
        result = self.env.analyse_function(op.target, callee_state, check=record)
        if result is None:
            return None  # the callee never returns
        r0 = result.reg(0)
        if r0.type == RegType.PTR_TO_STACK and r0.frame == depth:
            r0 = RegState.scalar()  # its frame is gone (reported at the callee's exit)
        return after_call(State(result.frames[:-1], result.refs), r0)

    # -- branches --------------------------------------------------------------------------------------
    def branch(self, op: Branch, state: State) -> tuple[State | None, State | None]:
        wide = op.width == 64
        a = read(state, op.left)
        b = read(state, op.right.n) if isinstance(op.right, Reg) else RegState.const(op.right.value)
        if a.is_scalar and b.is_scalar:
            outcomes: list[State | None] = []
            for taken in (True, False):
                refined = a.value.refine(op.cond, b.value, taken, wide)
                if refined is None:
                    outcomes.append(None)
                    continue
                s: State | None = state
                if op.left != 10:
                    s = sync_linked(state.with_reg(op.left, a.with_value(refined[0])), a, refined[0])
                if s is not None and isinstance(op.right, Reg) and op.right.n != 10:
                    s = sync_linked(s.with_reg(op.right.n, b.with_value(refined[1])), b, refined[1])
                outcomes.append(s)
            return outcomes[0], outcomes[1]
        if not wide:
            return state, state  # allowed for privileged programs, but it proves nothing about the pointer
        if isinstance(op.right, Reg) and a.is_pointer and b.is_pointer and op.cond in (JmpOp.JEQ, JmpOp.JNE) \
                and a.is_nullable != b.is_nullable:
            # equal to a pointer that cannot be NULL: not NULL either
            from .checker import mark_non_null

            equal = mark_non_null(state, a if a.is_nullable else b)
            return (equal, state) if op.cond == JmpOp.JEQ else (state, equal)
        pointer, other = (a, b) if a.is_pointer else (b, a)
        is_zero = other.is_scalar and other.value.is_const and other.value.value == 0
        if pointer.is_pointer and is_zero and op.cond in (JmpOp.JEQ, JmpOp.JNE):
            if pointer.is_nullable:
                from .checker import mark_non_null

                null_state = mark_null(state, pointer)
                ok_state = mark_non_null(state, pointer)
                return (null_state, ok_state) if op.cond == JmpOp.JEQ else (ok_state, null_state)
            if pointer.type in NEVER_NULL:
                # the kernel decides this comparison for these pointers only, and walks both ways otherwise
                return (None, state) if op.cond == JmpOp.JEQ else (state, None)
        return state, state


def sync_linked(state: State, reg: RegState, value: Scalar) -> State | None:
    """Carry what a branch learnt about `reg` (now `value`) to every scalar linked to it: each
    holds the same hidden value plus its own delta. None when one of them can hold nothing.

    `value` is the whole 64-bit state of `reg` after the test, and copies differ by a 64-bit delta, so
    the shift is exact. A 32-bit test narrows the 64-bit bounds in `value` only where its reduction
    (`Scalar.sync`) allows, e.g. where the upper half is known: w7 <= 4 bounds r6 = r7 - 4 when r7 is
    below 2^32, and nothing of it when r7 may lie above (tests/verifier/test_linked_scalars.py)."""
    if not reg.id:
        return state
    infeasible = False

    def narrow(other: RegState) -> RegState:
        nonlocal infeasible
        if other.id != reg.id or not other.is_scalar:
            return other
        shift = Scalar.const((other.delta - reg.delta) & ((1 << 64) - 1))
        narrowed = other.value.meet(value.alu(_ADD64, shift))
        if narrowed is None:
            infeasible = True
            return other
        return other.with_value(narrowed)

    synced = state.map_regs(narrow)
    return None if infeasible else synced


def mark_null(state: State, pointer: RegState) -> State:
    if not pointer.id:
        return state
    pointer_id = pointer.id
    state = state.map_regs(lambda r: RegState.const(0) if r.id == pointer_id and r.is_nullable else r)
    if pointer.ref:
        state = replace(state, refs=state.refs - {pointer.ref})
    return state


__all__ = ["Transfer", "link", "mark_null", "read", "sized", "sync_linked", "to_signed", "Imm", "NULLABLE"]
