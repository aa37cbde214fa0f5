"""When an obligation is broken, as a z3 condition over a path's symbolic state before the
instruction: the question z3 answers for an alarm. Only rules a concrete run can break (those
with an interpreter fault) have one; a policy of the kernel's loader is not a property of runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import z3

from interp.helpers import SIZE_RANGES, ArgType
from interp.isa.opcodes import STACK_SIZE, AluOp
from interp.isa.ops import Reg
from interp.map_kinds import map_helper_mismatch

from ..helper_contracts import Arg, Buffer
from ..helper_kinds import MAYBE_NULL
from ..obligations import Kind, Obligation
from .state import Kind as V
from .state import Sym, SymState, Unmodelled, const, scalar

if TYPE_CHECKING:
    from ..fixpoint import Analysis

TRUE, FALSE = z3.BoolVal(True), z3.BoolVal(False)
Violation = Callable[[Obligation, SymState, "Analysis"], Any]


def _reg(state: SymState, n: int | None) -> Sym | None:
    found = None if n is None else state.reg(n)
    if found is not None and found.kind == V.STACK and found.region is not None:
        state.frame_of(found.region)  # a pointer into a returned frame is not judged
    return found


def _initialised(ob: Obligation, state: SymState, env: "Analysis") -> Any:
    return TRUE if state.reg(ob.reg) is None else FALSE


def _frame_pointer(ob: Obligation, state: SymState, env: "Analysis") -> Any:
    return TRUE if ob.reg == 10 else FALSE


def _pointer(ob: Obligation, state: SymState) -> Sym | None:
    return _reg(state, ob.reg)


def _dereferenceable(ob: Obligation, state: SymState, env: "Analysis") -> Any:
    base = _pointer(ob, state)
    if base is None:
        return FALSE
    if base.kind not in (V.CTX, V.STACK, V.MAP_VALUE, V.MEM):
        return TRUE
    return base.null if base.null is not None else FALSE  # a NULL pointer is no pointer to memory


def _not_null(ob: Obligation, state: SymState, env: "Analysis") -> Any:
    base = _pointer(ob, state)
    return base.null if base is not None and base.null is not None else FALSE


def _offset(base: Sym, off: int) -> Any:
    return base.offset + off


def _ctx(ob: Obligation, state: SymState, env: "Analysis", kinds: tuple[str, ...]) -> Any:
    base = _pointer(ob, state)
    if base is None or base.kind != V.CTX:
        return FALSE
    offset = z3.simplify(base.offset)
    if not z3.is_bv_value(offset) or offset.as_long() != 0:
        return FALSE  # a moved or variable context pointer: the kernel's rule, not a run's
    problem = env.ops.type.access(ob.off, ob.size, ob.write, env.arch)
    return TRUE if problem is not None and problem.violation.value in kinds else FALSE


def _stack_in_bounds(ob: Obligation, state: SymState, env: "Analysis") -> Any:
    base = _pointer(ob, state)
    if base is None or base.kind != V.STACK:
        return FALSE
    offset = _offset(base, ob.off)
    return z3.Or(offset < -STACK_SIZE, offset + ob.size > 0)


def _region_bounds(ob: Obligation, state: SymState, kind: str) -> Any:
    base = _pointer(ob, state)
    if base is None or base.kind != kind or base.region is None:
        return FALSE
    offset = _offset(base, ob.off)
    out = z3.Or(offset < 0, offset + ob.size > base.region.size)
    return out if base.null is None else z3.And(z3.Not(base.null), out)


def _map_value_writable(ob: Obligation, state: SymState, env: "Analysis") -> Any:
    base = _pointer(ob, state)
    if base is None or base.kind != V.MAP_VALUE or not ob.write or base.region is None:
        return FALSE
    mdef = env.maps[base.region.map_index]
    return TRUE if mdef.read_only_for_programs else FALSE


def _atomic_aligned(ob: Obligation, state: SymState, env: "Analysis") -> Any:
    base = _reg(state, ob.detail)
    if base is None or base.kind not in (V.MAP_VALUE, V.MEM):
        return FALSE
    return (_offset(base, ob.off) & (ob.size - 1)) != 0


MAX_VAR_OFF = 1 << 29  # how far the kernel lets pointer arithmetic reach (checker.MAX_VAR_OFF)


def _pointer_arithmetic(ob: Obligation, state: SymState, env: "Analysis") -> Any:
    """The kernel's limits on moving a pointer, read over one run: a 64-bit add or subtract of a
    number, to a pointer that is not NULL and may move, every offset within +-2^29."""
    op = ob.detail
    dst = state.reg(op.dst)
    src = state.reg(op.src.n) if isinstance(op.src, Reg) else scalar(const(op.src.value))
    if dst is None or src is None or not (dst.is_pointer or src.is_pointer):
        return FALSE
    if op.op == AluOp.SUB and ((dst.is_pointer and src.is_pointer) or op.width != 64):
        return FALSE  # numbers computed from pointers, which privileged programs may
    if dst.is_pointer and src.is_pointer:
        return TRUE
    pointer, number = (dst, src) if dst.is_pointer else (src, dst)
    if op.width != 64 or op.op not in (AluOp.ADD, AluOp.SUB) or (op.op == AluOp.SUB and not dst.is_pointer):
        return TRUE
    if pointer.kind in (V.MAP_PTR, V.FUNC, V.OTHER) or pointer.offset is None:
        return TRUE
    moved = pointer.offset + number.value if op.op == AluOp.ADD else pointer.offset - number.value
    far = [z3.Or(v <= -MAX_VAR_OFF, v >= MAX_VAR_OFF) for v in (number.value, pointer.offset, moved)]
    return z3.Or(*far, *([pointer.null] if pointer.null is not None else []))


def _size_value(state: SymState, index: int) -> Any:
    found = state.reg(index + 1)
    return None if found is None else found.value


def _helper_arguments(ob: Obligation, state: SymState, env: "Analysis") -> Any:
    """The argument breaches a run sees (what the interpreter checks, as the kernel's prototypes say):
    not a map pointer, a map of a kind the helper does not take, not the context, a size out of
    range, not memory (or NULL) where a buffer is wanted, not an open record."""
    if isinstance(ob.detail, tuple):
        what, arg = ob.detail
        if what != "map-use":
            return None
        value = state.reg(arg.reg)
        if value is None or value.kind != V.MAP_PTR or value.region is None:
            return FALSE
        mismatch = map_helper_mismatch(env.maps[value.region.map_index].type, arg.helper.name)
        return TRUE if mismatch else FALSE
    arg: Arg = ob.detail
    value = state.reg(arg.reg)
    if value is None:
        return FALSE
    kind = arg.base_type
    if kind == ArgType.CONST_MAP_PTR:
        return FALSE if value.kind == V.MAP_PTR else TRUE
    if kind == ArgType.PTR_TO_CTX:
        return TRUE if value.kind != V.CTX else value.offset != 0
    if kind in SIZE_RANGES:
        if value.kind != V.SCALAR:
            return TRUE
        low, high = SIZE_RANGES[kind]
        breaches = [z3.UGT(value.value, high), z3.ULT(value.value, low)]
        previous = state.reg(arg.index) if arg.index > 0 else None
        if arg.index > 0 and arg.args[arg.index - 1] in MAYBE_NULL and previous is not None \
                and previous.kind == V.SCALAR:
            breaches.append(z3.And(previous.value == 0, value.value != 0))
        return z3.Or(*breaches)
    if kind == ArgType.PTR_TO_ALLOC_MEM:
        if value.kind != V.MEM or value.region is None or value.region.record in state.closed:
            return TRUE
        return z3.Or(value.offset != 0, value.null if value.null is not None else FALSE)
    if kind in (ArgType.PTR_TO_MEM, ArgType.PTR_TO_UNINIT_MEM, ArgType.PTR_TO_MAP_KEY, ArgType.PTR_TO_MAP_VALUE,
                ArgType.PTR_TO_LONG, ArgType.PTR_TO_UNINIT_MAP_VALUE):
        if arg.type in MAYBE_NULL and value.kind == V.SCALAR:
            return value.value != 0  # NULL is allowed; another number is no memory
        if value.kind not in (V.STACK, V.MAP_VALUE, V.MEM):
            return TRUE
        return value.null if value.null is not None else FALSE
    return None


def _buffer_violation(ob: Obligation, state: SymState, env: "Analysis") -> Any:
    buffer: Buffer = ob.detail
    pointer = _reg(state, buffer.reg)
    if pointer is None or pointer.kind not in (V.STACK, V.MAP_VALUE, V.MEM) or pointer.region is None:
        return FALSE
    if buffer.size is not None:
        extent: Any = z3.BitVecVal(buffer.size, 64)
    elif buffer.size_arg is not None:
        size = _size_value(state, buffer.size_arg)
        if size is None:
            return FALSE
        extent = size
    else:
        maps = state.reg(buffer.map_arg + 1) if buffer.map_arg is not None else None
        if maps is None or maps.region is None or maps.region.map_index is None:
            return FALSE
        mdef = env.maps[maps.region.map_index]
        extent = z3.BitVecVal(mdef.key_size if buffer.what == "key" else mdef.value_size, 64)
    start = pointer.offset
    nonempty = extent != 0
    if pointer.kind == V.STACK:
        outside = z3.And(nonempty, z3.Or(start < -STACK_SIZE, start + extent > 0))
    else:
        outside = z3.And(nonempty, z3.Or(start < 0, start + extent > pointer.region.size))
    if buffer.what == "result":  # an 8-byte result is written to an 8-byte aligned slot
        return z3.Or(outside, start & 7 != 0)
    return outside


def _buffer_writable(ob: Obligation, state: SymState, env: "Analysis") -> Any:
    buffer: Buffer = ob.detail
    pointer = _reg(state, buffer.reg)
    if pointer is None or pointer.kind != V.MAP_VALUE or pointer.region is None:
        return FALSE
    return TRUE if env.maps[pointer.region.map_index].read_only_for_programs else FALSE


def _call_depth(ob: Obligation, state: SymState, env: "Analysis") -> Any:
    return TRUE if state.depth + 1 >= 8 else FALSE

def _goes_round_for_ever(ob: Obligation, state: SymState, env: "Analysis") -> Any:
    """At a loop's head (`ob.detail`): the loop's registers are a state from which it goes round
    for ever, as far as its z3 reading goes (`loop_bounds.forever`)."""
    from ..loop_bounds import NREGS, NotModelled, forever

    run = env.loop_runs.get((tuple(f.callsite for f in state.frames[1:]), ob.detail))
    if run is None:
        return None
    regs = []
    for n in range(NREGS):
        found = state.reg(n)
        regs.append(found.value if found is not None else state.new(f"unset{n}"))
    try:
        return forever(run, ob.detail, regs, env.limits.solver_rlimit)
    except NotModelled as exc:
        raise Unmodelled(str(exc)) from None


VIOLATIONS: dict[Kind, Violation] = {
    Kind.TERMINATES: _goes_round_for_ever,
    Kind.INITIALISED: _initialised,
    Kind.POINTER_ARITHMETIC: _pointer_arithmetic,
    Kind.R0_SET_AT_EXIT: lambda ob, s, e: TRUE if s.reg(0) is None else FALSE,
    Kind.FRAME_POINTER_READ_ONLY: _frame_pointer,
    Kind.DEREFERENCEABLE: _dereferenceable,
    Kind.NOT_NULL: _not_null,
    Kind.CTX_IN_BOUNDS: lambda ob, s, e: _ctx(ob, s, e, ("bounds", "width")),
    Kind.CTX_ALIGNED: lambda ob, s, e: _ctx(ob, s, e, ("alignment",)),
    Kind.CTX_READ_ONLY: lambda ob, s, e: _ctx(ob, s, e, ("write",)),
    Kind.STACK_IN_BOUNDS: _stack_in_bounds,
    Kind.MAP_VALUE_IN_BOUNDS: lambda ob, s, e: _region_bounds(ob, s, V.MAP_VALUE),
    Kind.MAP_VALUE_WRITABLE: _map_value_writable,
    Kind.MEM_IN_BOUNDS: lambda ob, s, e: _region_bounds(ob, s, V.MEM),
    Kind.ATOMIC_ALIGNED: _atomic_aligned,
    Kind.HELPER_ARGUMENTS: _helper_arguments,
    Kind.HELPER_MEMORY: _buffer_violation,
    Kind.HELPER_MEMORY_WRITABLE: _buffer_writable,
    Kind.CALL_DEPTH: _call_depth,
}

__all__ = ["VIOLATIONS"]
