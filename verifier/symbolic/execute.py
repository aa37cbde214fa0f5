"""One step of a path, symbolically: the z3 reading of each typed operation.

Arithmetic, comparisons, load extension, store truncation and atomics are `interp.semantics`
read through its z3 backend, the definitions the interpreter runs. Memory goes through the
pointer's region (see `state`). A step returns its successors, each with the condition under
which the path takes it; where a real run cannot get past the step (an access outside its
region, a NULL dereference) the condition is that it does not happen, as a run that goes on has
met it. Where the model has no exact answer (a spilled pointer that may have been overwritten,
a helper size the path does not fix) the step raises `Unmodelled`, and the search cannot conclude."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import z3

from interp import semantics
from interp.isa.opcodes import MAY_GOTO_BUDGET, STACK_SIZE, AluOp
from interp.isa.ops import (
    Alu,
    Atomic,
    Branch,
    Call,
    Exit,
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
)

from .state import (
    MEMORY,
    Frame,
    Inputs,
    Kind,
    Region,
    Sym,
    SymState,
    Unmodelled,
    const,
    load_bytes,
    scalar,
    store_bytes,
)

if TYPE_CHECKING:
    from ..fixpoint import Analysis

Z3 = semantics.Z3Backend()


class PathEnds(Exception):
    """No run gets past this step (it faults, or reads an unset register)."""


@dataclass
class Successor:
    pc: int | None  # None: the program returned
    state: SymState
    condition: Any = None  # z3 Bool the path takes this edge under (None: always)


def new_frame(state: SymState, depth: int, callsite: int, entry: int, return_pc: int) -> Frame:
    base = state.new_address(f"fp{depth}")
    instance = state.fresh
    regs: list[Sym | None] = [None] * 11
    regs[10] = Sym(Kind.STACK, base, Region(Kind.STACK, frame=depth, instance=instance), const(0))
    return Frame(regs, state.new_bytes(f"stack{depth}"), {}, callsite, entry, base, return_pc, instance)


def entry_state(env: "Analysis") -> SymState:
    """The program's entry: r1 the context, r10 the stack, the rest unset; the world free."""
    ctx = z3.Array("ctx", z3.BitVecSort(64), z3.BitVecSort(8))
    state = SymState([], ctx, {}, Inputs(ctx))
    frame = new_frame(state, 0, -1, 0, -1)
    frame.regs[1] = Sym(Kind.CTX, state.new_address("ctx"), Region(Kind.CTX), const(0))
    state.frames.append(frame)
    return state


# -- values ---------------------------------------------------------------------------------------


def value_of(state: SymState, reg: int) -> Sym:
    found = state.reg(reg)
    if found is None:
        raise PathEnds(f"r{reg} is unset")
    return found


def operand(state: SymState, src: Any) -> Sym:
    return value_of(state, src.n) if isinstance(src, Reg) else scalar(const(src.value))


def alu(state: SymState, op: Alu | Neg | Swap) -> None:
    if not isinstance(op, Alu):
        state.set_reg(op.dst, scalar(semantics.alu(Z3, op, value_of(state, op.dst).value)))
        return
    src = operand(state, op.src)
    if op.op == AluOp.MOV:
        if src.is_pointer and not op.extend and op.width == 64:
            state.set_reg(op.dst, src)
        else:
            state.set_reg(op.dst, scalar(semantics.alu(Z3, op, const(0), src.value)))
        return
    dst = value_of(state, op.dst)
    result = semantics.alu(Z3, op, dst.value, src.value)
    if op.width == 64 and dst.is_pointer and not src.is_pointer and op.op in (AluOp.ADD, AluOp.SUB):
        offset = dst.offset + src.value if op.op == AluOp.ADD else dst.offset - src.value
        state.set_reg(op.dst, dst.moved(offset, result))
    elif op.width == 64 and src.is_pointer and not dst.is_pointer and op.op == AluOp.ADD:
        state.set_reg(op.dst, src.moved(src.offset + dst.value, result))
    else:
        state.set_reg(op.dst, scalar(result))


def immediate(env: "Analysis", state: SymState, op: LoadImm64 | LoadMapRef | LoadFuncRef) -> Sym:
    if isinstance(op, LoadImm64):
        return scalar(const(op.value))
    if isinstance(op, LoadFuncRef):
        return Sym(Kind.FUNC, state.new_address("func"), Region(Kind.FUNC), const(0))
    if not op.by_value:
        return Sym(Kind.MAP_PTR, state.new_address("map"), Region(Kind.MAP_PTR, map_index=op.index), const(0))
    base = state.new_address("global")
    mdef = env.maps[op.index]
    return Sym(Kind.MAP_VALUE, base + op.offset, Region(Kind.MAP_VALUE, map_index=op.index, size=mdef.value_size),
               const(op.offset))


# -- memory -----------------------------------------------------------------------------------------


def access_safe(env: "Analysis", base: Sym, off: int, size: int, write: bool) -> Any:
    """The condition under which an access of `size` bytes at base + off is one a run gets past."""
    offset = base.offset + off
    ok = [] if base.null is None else [z3.Not(base.null)]
    region = base.region
    if region is None or base.kind not in MEMORY:
        return z3.BoolVal(False)
    if region.kind == Kind.STACK:
        ok += [offset >= -STACK_SIZE, offset + size <= 0]
    elif region.kind == Kind.CTX:
        if write:
            return z3.BoolVal(False)
        ok += [offset >= 0, offset + size <= env.ops.type.size(env.arch), offset & (size - 1) == 0]
    else:
        ok += [offset >= 0, offset + size <= region.size]
    return z3.And(*ok)


def _constant(term: Any) -> int | None:
    simplified = z3.simplify(term)
    return simplified.as_signed_long() if z3.is_bv_value(simplified) else None


def load(env: "Analysis", state: SymState, base: Sym, off: int, size: int) -> Sym:
    """What `size` bytes at base + off read: a spilled pointer, or a number (zero-extended to 64 bits)."""
    region = base.region
    assert region is not None
    offset = base.offset + off
    if region.kind == Kind.STACK:
        frame = state.frame_of(region)
        at = _constant(offset)
        if at is not None and size == 8 and at in frame.spills:
            spilled = frame.spills[at]
            if spilled is None:
                raise Unmodelled("a spilled pointer that may have been overwritten")
            return spilled
        if frame.spills and (at is None or any(s < at + size and at < s + 8 for s in frame.spills)):
            raise Unmodelled("a read of part of a spilled pointer")
        raw = load_bytes(frame.stack, offset, size)
    elif region.kind == Kind.CTX:
        raw = load_bytes(state.ctx, offset, size)
    elif region.kind == Kind.MEM:
        raw = load_bytes(state.records[region.record][0], offset, size)
    else:  # a map value: another CPU may change it at any time, so each read is read afresh
        mdef = env.maps[region.map_index]
        initial = mdef.initial_element(0) if mdef.frozen and mdef.max_entries == 1 else None
        at = _constant(offset)
        if initial is not None and at is not None and 0 <= at and at + size <= len(initial):
            raw = z3.BitVecVal(int.from_bytes(initial[at:at + size], "little"), 8 * size)
        else:
            raw = state.new(f"value{region.map_index}", 8 * size)
            if region.lookup is not None:
                state.inputs.lookups[region.lookup].reads.append((offset, size, raw))
    return scalar(raw if size == 8 else z3.ZeroExt(64 - 8 * size, raw))


def spill_splits(state: SymState, base: Sym, start: Any, length: int) -> list[tuple[SymState, Any, dict[int, bool]]]:
    """A write of `length` bytes from offset `start` of `base`'s frame may or may not land on a
    spilled pointer: the cases, each a state, the condition of the case and which spills the write
    hits (the first undecided spill splits the path; any further one is left uncertain)."""
    if base.region is None or base.region.kind != Kind.STACK:
        return [(state, None, {})]
    frame = state.frame_of(base.region)
    overlaps = {slot: z3.simplify(z3.And(start < slot + 8, start + length > slot)) for slot in frame.spills}
    decided = {slot: z3.is_true(c) for slot, c in overlaps.items() if z3.is_true(c) or z3.is_false(c)}
    undecided = [slot for slot in overlaps if slot not in decided]
    if not undecided:
        return [(state, None, decided)]
    slot = undecided[0]
    other = state.copy()
    return [(other, overlaps[slot], {**decided, slot: True}), (state, z3.Not(overlaps[slot]), {**decided, slot: False})]


def store(env: "Analysis", state: SymState, base: Sym, off: int, size: int, value: Sym,
          hits: dict[int, bool] | None = None) -> None:
    """Store `size` bytes of `value` at base + off; `hits`: which spills the write is known to land on."""
    region = base.region
    assert region is not None
    offset = base.offset + off
    stored = semantics.store_value(Z3, value.value, size)
    if region.kind == Kind.STACK:
        frame = state.frame_of(region)
        at = _constant(offset)
        for slot in list(frame.spills):
            hit = (hits or {}).get(slot)
            if hit is None and at is not None:
                hit = slot < at + size and at < slot + 8
            if hit is None:
                frame.spills[slot] = None  # type: ignore[assignment] - may or may not have been hit
            elif hit:
                del frame.spills[slot]
        if at is not None and size == 8 and value.is_pointer:
            frame.spills[at] = value
        frame.stack = store_bytes(frame.stack, offset, stored, size)
    elif region.kind == Kind.MEM:
        array, record_size = state.records[region.record]
        state.records[region.record] = (store_bytes(array, offset, stored, size), record_size)
    # a map value's bytes are read afresh each time; the context is not written by a run that goes on


def memory_base(state: SymState, reg: int) -> Sym:
    base = value_of(state, reg)
    if base.kind not in MEMORY or base.region is None:
        raise PathEnds(f"r{reg} may not be dereferenced")
    return base


# -- one operation -------------------------------------------------------------------------------------


def step(env: "Analysis", state: SymState, pc: int, op: Op) -> list[Successor]:
    """The successors of `op` at `pc`; PathEnds where no run gets past it."""
    nxt = pc + env.cf.listing.by_pc[pc].slots
    if isinstance(op, (Alu, Neg, Swap)):
        alu(state, op)
        return [Successor(nxt, state)]
    if isinstance(op, (LoadImm64, LoadMapRef, LoadFuncRef)):
        state.set_reg(op.dst, immediate(env, state, op))
        return [Successor(nxt, state)]
    if isinstance(op, Load):
        base = memory_base(state, op.base)
        safe = access_safe(env, base, op.off, op.size, write=False)
        loaded = load(env, state, base, op.off, op.size)
        if op.signed and not loaded.is_pointer:
            loaded = scalar(semantics.load_extend(Z3, loaded.value, op.size, True))
        state.set_reg(op.dst, loaded)
        return [Successor(nxt, state, safe)]
    if isinstance(op, Store):
        base = memory_base(state, op.base)
        safe = access_safe(env, base, op.off, op.size, write=True)
        value = operand(state, op.src)
        out = []
        for case, condition, hits in spill_splits(state, base, base.offset + op.off, op.size):
            store(env, case, case.reg(op.base), op.off, op.size, value, hits)
            out.append(Successor(nxt, case, safe if condition is None else z3.And(safe, condition)))
        return out
    if isinstance(op, Atomic):
        base = memory_base(state, op.base)
        safe = z3.And(access_safe(env, base, op.off, op.size, write=True), (base.offset + op.off) & (op.size - 1) == 0)
        old = load(env, state, base, op.off, op.size)
        r0 = state.reg(0).value if op.result_reg == 0 and state.reg(0) is not None else const(0)
        stored, fetched = semantics.atomic(Z3, op, old.value, value_of(state, op.src).value, r0)
        store(env, state, base, op.off, op.size, scalar(stored))
        if op.result_reg is not None:
            state.set_reg(op.result_reg, old if old.is_pointer else scalar(fetched))
        return [Successor(nxt, state, safe)]
    if isinstance(op, Jump):
        return [Successor(op.target, state)]
    if isinstance(op, Branch):
        left = value_of(state, op.left).value
        right = operand(state, op.right).value
        taken = semantics.branch_taken(Z3, op, left, right)
        return [Successor(op.target, state.copy(), taken), Successor(nxt, state, z3.Not(taken))]
    if isinstance(op, MayGoto):
        left = state.may_goto.get(state.depth, MAY_GOTO_BUDGET)
        if left == 0:
            return [Successor(op.target, state)]
        state.may_goto[state.depth] = left - 1
        return [Successor(nxt, state)]
    if isinstance(op, Exit):
        return [exit_function(state)]
    if isinstance(op, LocalCall):
        frame = new_frame(state, state.depth + 1, pc, op.target, nxt)
        for r in range(1, 6):
            frame.regs[r] = state.reg(r)
        state.frames.append(frame)
        return [Successor(op.target, state)]
    if isinstance(op, Call) or pc in env.unresolved:
        from .helpers import call_helper

        return call_helper(env, state, pc, op, nxt)
    raise Unmodelled(f"{type(op).__name__} is not modelled")


def exit_function(state: SymState) -> Successor:
    if state.depth == 0:
        if state.reg(0) is None:
            raise PathEnds("r0 is unset at exit")
        return Successor(None, state)
    frame = state.frames.pop()
    state.set_reg(0, frame.regs[0])
    for r in range(1, 6):
        state.set_reg(r, None)
    return Successor(frame.return_pc, state)


__all__ = ["PathEnds", "Successor", "Unmodelled", "access_safe", "entry_state", "load", "step", "store",
           "value_of"]
