"""Discharging obligations: each one checked against the abstract state before its instruction.

`check_all(obligations, state, env)` evaluates every obligation of an instruction against the
same state (the invariant there) and returns the alarms (`Alarm`: the obligation, the facts that
break it, and whether it is broken on every path the state stands for) and the state in which
the instruction runs on: the state itself where nothing is broken for sure, refined where an
obligation says more (a pointer compared with NULL is not NULL), or None (bottom) where some
obligation is broken whatever the values (no run gets past the instruction), or where a
register that may not be read is read (`ALWAYS_ENDS_A_PATH`).

Within one access, a broken obligation hides the later ones about the same register (the kernel
names one cause per instruction), except where `NON_GATING` and `NEVER_HIDDEN` say otherwise. Reading uninitialised stack never ends a path: the
kernel lets privileged programs do it, so it may be a warning."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from interp.isa.opcodes import STACK_SIZE, AluOp
from interp.isa.ops import Alu, LoadMapRef, Reg, to_signed
from interp.maps import ARRAY
from interp.progtypes import AccessProblem, Violation

from .domains.regs import NULLABLE, RegState, RegType
from .domains.scalar import Scalar
from .domains.tnum import Tnum
from .obligations import Kind, Obligation
from .state import State

if TYPE_CHECKING:
    from .fixpoint import Analysis

MAX_VAR_OFF = 1 << 29  # the kernel's BPF_MAX_VAR_OFF: how far pointer arithmetic may reach
NEVER_NULL = (RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM)  # the kernel's reg_not_null, for these programs
DEREFERENCEABLE = (RegType.PTR_TO_CTX, RegType.PTR_TO_STACK, RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM)
# kinds whose breach does not hide the later obligations of the same access, and one that is never hidden
NON_GATING = frozenset({Kind.CTX_ONE_POINTER_KIND, Kind.STACK_ALIGNED, Kind.STACK_CONSTANT_OFFSET})
NEVER_HIDDEN = frozenset({Kind.CTX_ONE_POINTER_KIND})
# rules about what a register holds: after one is broken the state knows no one kind for it, and
# a later obligation on it the state passes is not known to hold (after any other rule, the state,
# refined as that rule's being kept makes it, decides the later ones)
KIND_RULES = frozenset({Kind.INITIALISED, Kind.CONSISTENT_KIND, Kind.DEREFERENCEABLE})
NEVER_ENDS_A_PATH = frozenset({Kind.STACK_INITIALISED, Kind.HELPER_MEMORY_INITIALISED})
# a register that may not be read ends the path: in a state whose paths agree on each live
# register's kind (see `paths`) it is unset or of mixed kinds on every one of them, and the
# analysis has no value to go on with that would stand for "set, of some kind"
ALWAYS_ENDS_A_PATH = frozenset({Kind.INITIALISED, Kind.CONSISTENT_KIND, Kind.R0_SET_AT_EXIT})
UNREADABLE = (RegType.NOT_INIT, RegType.CONFLICT)


@dataclass(frozen=True)
class Alarm:
    """An obligation the state does not discharge: at `pc`, in the calling context `context`
    (the pcs of the calls that led here, outermost first), with the facts of its breach."""

    obligation: Obligation
    pc: int
    context: tuple[int, ...]
    state: State | None  # the invariant before the instruction (None: a rule about the whole program)
    facts: dict[str, Any] = field(default_factory=dict)
    definite: bool = False  # broken on every path the state stands for
    ends_path: bool = False  # the analysis did not go past it on this path (see checker.check_all)
    # the obligation on the same register whose alarm came first and hides this one: it counts only
    # where z3 shows no run breaks that one (facts "unchecked": the state could not decide it then)
    behind: Obligation | None = None

    @property
    def kind(self) -> Kind:
        return self.obligation.kind

    @property
    def code(self) -> str:
        return self.obligation.rule.code


# A check: (obligation, state, env) -> None when discharged, else (facts, definite)
Breach = tuple[dict[str, Any], bool]
Check = Callable[[Obligation, State, "Analysis"], "Breach | None"]


# -- registers --------------------------------------------------------------------------------


def _initialised(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    if state.reg(ob.reg).type == RegType.NOT_INIT:
        return {"reg": ob.reg, "role": ob.detail}, False
    return None


def _consistent_kind(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    if state.reg(ob.reg).type == RegType.CONFLICT:
        return {"reg": ob.reg}, False
    return None


def _frame_pointer_read_only(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    return ({"reg": ob.reg}, True) if ob.reg == 10 else None


def _r0_set(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    return ({}, False) if state.reg(0).type == RegType.NOT_INIT else None


# -- arithmetic --------------------------------------------------------------------------------


def _valid_immediate(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    op: Alu = ob.detail
    return {"op": op.op, "width": op.width, "imm": op.src.value}, True  # generated only when broken


def insane_offset(value: Scalar) -> str | None:
    """Why the kernel refuses pointer arithmetic involving `value`, or None."""
    if value.is_const and not -MAX_VAR_OFF < to_signed(value.value, 64) < MAX_VAR_OFF:
        return f"is {to_signed(value.value, 64)}, beyond the +-2^29 the kernel allows"
    if value.smin == -(1 << 63):
        return "has no lower bound"
    if not -MAX_VAR_OFF < value.smin < MAX_VAR_OFF:
        return f"may be {value.smin}, beyond the +-2^29 the kernel allows"
    return None


def pointer_operands(op: Alu, state: State) -> tuple[RegState, RegState] | None:
    """(dst, src) of an ALU operation that involves a pointer (both readable), else None."""
    dst = state.reg(op.dst)
    src = state.reg(op.src.n) if isinstance(op.src, Reg) else RegState.const(op.src.value)
    if dst.type in UNREADABLE or src.type in UNREADABLE:
        return None
    if dst.is_scalar and src.is_scalar:
        return None
    return dst, src


def _pointer_arithmetic(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    op: Alu = ob.detail
    operands = pointer_operands(op, state)
    if operands is None:
        return None
    dst, src = operands
    wide = op.width == 64
    if op.op == AluOp.SUB and (dst.is_pointer and src.is_pointer or not wide):
        return None  # the kernel lets privileged programs compute numbers from pointers this way
    pointer, other = (dst, src) if dst.is_pointer else (src, dst)
    facts: dict[str, Any] = {"op": op.op, "pointer": pointer.describe(), "pointer_type": pointer.type}
    if not wide:
        return {**facts, "why": "32-bit"}, True
    if op.op not in (AluOp.ADD, AluOp.SUB) or (op.op == AluOp.SUB and not dst.is_pointer) or other.is_pointer:
        return {**facts, "why": "operation"}, True
    if pointer.type in NULLABLE:
        return {**facts, "why": "nullable"}, True
    if pointer.type in (RegType.CONST_PTR_TO_MAP, RegType.PTR_TO_FUNC):
        return {**facts, "why": "immovable"}, True
    offset = pointer.value.alu(Alu(op.op, 64, 0, Reg(1)), other.value)
    for what, value in (("the number added", other.value), ("the pointer's offset", pointer.value),
                        ("the resulting offset", offset)):
        problem = insane_offset(value)
        if problem:
            # a property of the state, not of every run it stands for: the path goes on (the
            # accesses through the pointer are checked there), and z3 may show no run comes near it
            return {**facts, "why": "offset", "other": other.describe(), "what": what, "problem": problem}, False
    return None


# -- memory ----------------------------------------------------------------------------------


def _base(ob: Obligation, state: State) -> RegState | None:
    """The base register of an access, where it can be checked (readable)."""
    base = state.reg(ob.reg)
    return None if base.type in UNREADABLE else base


def _dereferenceable(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = _base(ob, state)
    if base is None or base.type in DEREFERENCEABLE or base.type in NULLABLE:
        return None
    null = base.is_scalar and base.value.is_const and base.value.value == 0
    return {"reg": ob.reg, "size": ob.size, "write": ob.write, "scalar": base.is_scalar, "null": null,
            "value": str(base.value), "type": base.type}, True


def _not_null(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = _base(ob, state)
    if base is None or base.type not in NULLABLE:
        return None
    return {"reg": ob.reg, "size": ob.size, "write": ob.write, "type": base.type}, False


def _ctx(ob: Obligation, state: State) -> RegState | None:
    base = _base(ob, state)
    return base if base is not None and base.type == RegType.PTR_TO_CTX else None


def _ctx_one_pointer_kind(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = _base(ob, state)
    if base is None or not env.recording:
        return None
    kinds = env.access_kinds.setdefault(ob.pc, set())
    kinds.add(base.type)
    if RegType.PTR_TO_CTX in kinds and len(kinds) > 1:
        other = sorted(k.value for k in kinds if k != RegType.PTR_TO_CTX)[0]
        return {"reg": ob.reg, "other": other}, False
    return None


def _ctx_constant_offset(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = _ctx(ob, state)
    if base is None or base.value.is_const:
        return None
    return {"reg": ob.reg, "context": env.ops.context_name, "value": str(base.value)}, True


def _ctx_unmoved(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = _ctx(ob, state)
    if base is None or not base.value.is_const or base.value.value == 0:
        return None
    return {"reg": ob.reg, "moved": to_signed(base.value.value, 64), "off": ob.off}, True


def _ctx_rule(ob: Obligation, state: State, env: "Analysis") -> AccessProblem | None:
    base = _ctx(ob, state)
    if base is None or not base.value.is_const or base.value.value != 0:
        return None
    return env.ops.type.access(ob.off, ob.size, ob.write, env.arch)


def _ctx_breach(ob: Obligation, state: State, env: "Analysis", violations: tuple[Violation, ...]) -> Breach | None:
    problem = _ctx_rule(ob, state, env)
    if problem is None or problem.violation not in violations:
        return None
    return {"size": ob.size, "off": ob.off, "context": env.ops.context_name, "reason": problem.reason}, True


def _ctx_in_bounds(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    return _ctx_breach(ob, state, env, (Violation.BOUNDS, Violation.WIDTH))


def _ctx_aligned(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    return _ctx_breach(ob, state, env, (Violation.ALIGNMENT,))


def _ctx_read_only(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    return _ctx_breach(ob, state, env, (Violation.WRITE,))


def stack_range(base: RegState, off: int) -> tuple[int, int]:
    """The lowest and highest start offset (from the frame's top) of an access through `base`."""
    return base.value.smin + off, base.value.smax + off


def _stack(ob: Obligation, state: State) -> RegState | None:
    base = _base(ob, state)
    return base if base is not None and base.type == RegType.PTR_TO_STACK else None


def _stack_in_bounds(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = _stack(ob, state)
    if base is None:
        return None
    lo, hi = stack_range(base, ob.off)
    if lo >= -STACK_SIZE and hi + ob.size <= 0:
        return None
    definite = hi < -STACK_SIZE or lo + ob.size > 0
    return {"reg": ob.reg, "off": ob.off, "size": ob.size, "write": ob.write, "lo": lo, "hi": hi}, definite


def _stack_aligned(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = _stack(ob, state)
    if base is None:
        return None
    t = base.value.tnum
    if (t.value + ob.off) % ob.size == 0 and t.mask & (ob.size - 1) == 0:
        return None
    return {"size": ob.size, "write": ob.write, "lo": stack_range(base, ob.off)[0]}, base.value.is_const


def _stack_constant_offset(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = _stack(ob, state)
    if base is None or env.profile.variable_stack_access:
        return None
    lo, hi = stack_range(base, ob.off)
    if lo == hi:
        return None
    return {"size": ob.size, "write": ob.write, "lo": lo, "hi": hi, "profile": env.profile.name}, True


def _stack_initialised(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = _stack(ob, state)
    if base is None or ob.write:
        return None
    lo, hi = stack_range(base, ob.off)
    missing = state.frames[base.frame].first_uninitialised(lo, hi + ob.size)
    if missing is None:
        return None
    return {"size": ob.size, "lo": lo, "hi": hi, "missing": missing}, False


def _whole_pointer_fill(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = _stack(ob, state)
    if base is None or ob.write or not base.value.is_const:
        return None
    lo = stack_range(base, ob.off)[0]
    for slot, _, spilled in state.frames[base.frame].spills:
        if spilled.is_pointer and slot < lo + ob.size and lo < slot + 8 and (slot, ob.size) != (lo, 8):
            return {"size": ob.size, "lo": lo, "slot": slot}, True
    return None


def _whole_pointer_spill(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = state.reg(ob.detail)
    value = state.reg(ob.reg)
    if base.type != RegType.PTR_TO_STACK or not value.is_pointer or ob.size == 8:
        return None
    return {"reg": ob.reg, "size": ob.size, "value": value.describe()}, True


def _stack_pointer_stays(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = state.reg(ob.detail)
    value = state.reg(ob.reg)
    if base.type != RegType.PTR_TO_STACK or value.type != RegType.PTR_TO_STACK or base.frame == state.depth:
        return None
    return {"reg": ob.reg}, True


def smallest_map(env: "Analysis", maps: frozenset[int]) -> Any:
    """The map whose values are smallest: the one that bounds every access through a pointer that may
    point into any of `maps`."""
    return min((env.maps[i] for i in sorted(maps)), key=lambda m: m.value_size)


def _map_value(ob: Obligation, state: State) -> RegState | None:
    base = _base(ob, state)
    return base if base is not None and base.type == RegType.PTR_TO_MAP_VALUE else None


def _map_value_in_bounds(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = _map_value(ob, state)
    if base is None:
        return None
    mdef = smallest_map(env, base.maps)
    lo, hi = base.value.smin + ob.off, base.value.smax + ob.off + ob.size
    if lo >= 0 and hi <= mdef.value_size:
        return None
    definite = base.value.smax + ob.off + ob.size <= 0 or base.value.smin + ob.off >= mdef.value_size
    return {"reg": ob.reg, "off": ob.off, "size": ob.size, "write": ob.write, "lo": lo, "hi": hi,
            "map": mdef.name, "value_size": mdef.value_size}, definite


def _map_value_writable(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = _map_value(ob, state)
    if base is None or not ob.write:
        return None
    frozen = [env.maps[i] for i in sorted(base.maps) if env.maps[i].read_only_for_programs]
    if not frozen:
        return None
    return {"size": ob.size, "map": frozen[0].name}, len(frozen) == len(base.maps)


def _mem_in_bounds(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = _base(ob, state)
    if base is None or base.type != RegType.PTR_TO_MEM:
        return None
    lo, hi = base.value.smin + ob.off, base.value.smax + ob.off + ob.size
    if lo >= 0 and hi <= base.mem_size:
        return None
    return {"reg": ob.reg, "off": ob.off, "size": ob.size, "write": ob.write, "lo": lo, "hi": hi,
            "mem_size": base.mem_size}, False


def _atomic_aligned(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    base = state.reg(ob.detail)  # the base register (not `reg`: this check hides nothing)
    if base.type not in (RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM):
        return None
    offset = base.value.tnum.add(Tnum.const(ob.off))
    if not (offset.value & (ob.size - 1) or offset.mask & (ob.size - 1)):
        return None
    return {"reg": ob.detail, "off": ob.off, "size": ob.size, "base": base.describe()}, False


# -- instructions -------------------------------------------------------------------------------


def _valid_map_reference(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    op: LoadMapRef = ob.detail
    if op.index >= len(env.maps):
        return {"why": "index", "index": op.index, "count": len(env.maps)}, True
    if not op.by_value:
        return None
    mdef = env.maps[op.index]
    if mdef.type != ARRAY or mdef.max_entries != 1:  # one element, as global data has
        return {"why": "kind", "map": mdef.name, "type_name": mdef.type_name, "entries": mdef.max_entries}, True
    if op.offset >= mdef.value_size:
        return {"why": "offset", "map": mdef.name, "offset": op.offset, "value_size": mdef.value_size}, True
    return None


def _supported(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    return {"what": ob.detail, "profile": env.profile.name}, True  # generated only where it is not supported


# -- local calls and exits -----------------------------------------------------------------------


def _call_depth(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    depth = state.depth + 1
    if not env.profile.allow_local_calls or depth < env.profile.max_call_depth:
        return None
    return {"frames": depth + 1, "limit": env.profile.max_call_depth}, True


def calls_itself(env: "Analysis", state: State, pc: int, target: int) -> bool:
    callers = [f.callsite for f in state.frames]
    fn_entry = env.cf.function_of(pc)
    return target in fn_entry or any(env.cf.function_of(site) and target in env.cf.function_of(site)
                                     for site in callers if site >= 0)


def _no_recursion(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    if not env.profile.allow_local_calls or not calls_itself(env, state, ob.pc, ob.detail):
        return None
    return {"target": ob.detail}, True


def _references_released(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    return ({}, False) if state.depth == 0 and state.refs else None


def _no_stack_pointer_return(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    r0 = state.reg(0)
    if state.depth == 0 or r0.type != RegType.PTR_TO_STACK or r0.frame != state.depth:
        return None
    return {"function": env.cf.function_of(ob.pc)[0]}, False


CHECKS: dict[Kind, Check] = {
    Kind.INITIALISED: _initialised,
    Kind.CONSISTENT_KIND: _consistent_kind,
    Kind.FRAME_POINTER_READ_ONLY: _frame_pointer_read_only,
    Kind.R0_SET_AT_EXIT: _r0_set,
    Kind.VALID_IMMEDIATE: _valid_immediate,
    Kind.POINTER_ARITHMETIC: _pointer_arithmetic,
    Kind.DEREFERENCEABLE: _dereferenceable,
    Kind.NOT_NULL: _not_null,
    Kind.CTX_ONE_POINTER_KIND: _ctx_one_pointer_kind,
    Kind.CTX_CONSTANT_OFFSET: _ctx_constant_offset,
    Kind.CTX_UNMOVED: _ctx_unmoved,
    Kind.CTX_IN_BOUNDS: _ctx_in_bounds,
    Kind.CTX_ALIGNED: _ctx_aligned,
    Kind.CTX_READ_ONLY: _ctx_read_only,
    Kind.STACK_IN_BOUNDS: _stack_in_bounds,
    Kind.STACK_ALIGNED: _stack_aligned,
    Kind.STACK_CONSTANT_OFFSET: _stack_constant_offset,
    Kind.STACK_INITIALISED: _stack_initialised,
    Kind.WHOLE_POINTER_FILL: _whole_pointer_fill,
    Kind.WHOLE_POINTER_SPILL: _whole_pointer_spill,
    Kind.STACK_POINTER_STAYS: _stack_pointer_stays,
    Kind.MAP_VALUE_IN_BOUNDS: _map_value_in_bounds,
    Kind.MAP_VALUE_WRITABLE: _map_value_writable,
    Kind.MEM_IN_BOUNDS: _mem_in_bounds,
    Kind.ATOMIC_ALIGNED: _atomic_aligned,
    Kind.VALID_MAP_REFERENCE: _valid_map_reference,
    Kind.SUPPORTED: _supported,
    Kind.CALL_DEPTH: _call_depth,
    Kind.NO_RECURSION: _no_recursion,
    Kind.REFERENCES_RELEASED: _references_released,
    Kind.NO_STACK_POINTER_RETURN: _no_stack_pointer_return,
}


def register(kind: Kind, check: Check) -> None:
    """Add the check of a kind defined elsewhere (the helper contracts)."""
    CHECKS[kind] = check


def check_all(obligations: tuple[Obligation, ...], state: State, env: "Analysis",
              alarms: list[Alarm] | None) -> State | None:
    """Check every obligation against `state`; append the alarms to `alarms` (when given) and
    return the state the instruction runs on (None: no run gets past it).

    After one obligation on a register is broken, the others on it are checked on the state as it
    stands were that one kept (a pointer that may be NULL is not NULL), and their alarms are
    `behind` it: reports name the first cause only, unless z3 drops it; an obligation the state
    cannot decide then (its register of no one kind) is an alarm marked unchecked, for z3."""
    hiders: dict[int | None, Obligation] = {}  # register -> the obligation whose alarm came first
    ended: set[int | None] = set()  # registers with an alarm that ends the path
    blocked = False
    refined = state
    for ob in obligations:
        hidden = ob.kind not in NEVER_HIDDEN
        if hidden and ob.reg in ended:
            continue  # the path ends here (z3 dropping that alarm leaves the verdict unknown)
        behind = hiders.get(ob.reg) if hidden else None
        breach = CHECKS[ob.kind](ob, refined if behind is not None else state, env)
        if breach is None:
            if behind is None or behind.kind not in KIND_RULES:
                continue
            # the register is of no one kind here: the check had nothing to go on
            breach = ({"unchecked": behind.kind.value}, False)
        facts, definite = breach
        ends = ob.kind not in NEVER_ENDS_A_PATH and (definite or ob.kind in ALWAYS_ENDS_A_PATH)
        if alarms is not None:
            alarms.append(Alarm(ob, ob.pc, env.context_of(state), state, facts, definite, ends, behind))
        if ob.reg is not None and ob.kind not in NON_GATING:
            hiders.setdefault(ob.reg, ob)
            if ends:
                ended.add(ob.reg)
        if ends:
            blocked = True
        elif ob.kind == Kind.NOT_NULL:
            refined = mark_non_null(refined, refined.reg(ob.reg))
    return None if blocked else refined


def mark_non_null(state: State, pointer: RegState) -> State:
    """`pointer` and every copy of it (same id) are not NULL."""
    if not pointer.id:
        return state
    pointer_id = pointer.id

    def change(r: RegState) -> RegState:
        if r.id == pointer_id and r.is_nullable:
            return RegState(NULLABLE[r.type], r.value, r.maps, r.mem_size, r.frame, r.id, r.ref, r.delta)
        return r

    return state.map_regs(change)


__all__ = ["Alarm", "CHECKS", "check_all", "insane_offset", "mark_non_null", "register"]
