"""What a helper call does to the abstract state, its arguments assumed to meet the prototype
(`helper_contracts` checks them): the memory it writes loses what was known of it, a released
record is gone, and r0 holds what the helper returns (a map value or NULL, a record or NULL, a
number within the range the helper's record gives); r1-r5 are unset."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from interp.helpers import ArgType, Helper, RetType
from interp.isa.opcodes import STACK_SIZE
from interp.isa.ops import to_signed
from interp.maps import ARRAY, PERCPU_ARRAY

from .domains.regs import RegState, RegType
from .domains.scalar import Scalar
from .helper_contracts import (
    MAPS_OF_MAPS,
    MAX_HELD_PER_SITE,
    Arg,
    Buffer,
    _buffer_of,
    buffer_extent,
    buffer_range,
    held_from,
    map_set,
    reference_id,
    size_bound,
)
from .helper_kinds import MAYBE_NULL
from .state import State

if TYPE_CHECKING:
    from .fixpoint import Analysis

ARRAY_MAPS = (ARRAY, PERCPU_ARRAY)
MAX_ERRNO = 4095


def after_call(state: State, r0: RegState) -> State:
    """r0 set, r1-r5 unset, as every call leaves them."""
    frame = state.top
    regs = list(frame.regs)
    regs[0] = r0
    for r in range(1, 6):
        regs[r] = RegState.uninit()
    return replace(state, frames=state.frames[:-1] + (replace(frame, regs=tuple(regs)),))


def forget_id(state: State, pointer_id: int) -> State:
    """An older pointer from the same call site (an earlier loop iteration) can no longer be
    null-checked through the new one."""
    return state.map_regs(lambda r: replace(r, id=0) if r.id == pointer_id else r)


def _written(state: State, buffer: Buffer, env: "Analysis") -> State:
    """Every stack byte the helper may write loses what was known of it (spilled registers,
    constants), wherever in the range the pointer and the size put the write; the bytes it writes
    whatever the offset and the size are are initialised, the others only may be (the kernel
    initialises them all for privileged programs: a later read of one is the warning, not
    silence)."""
    reg = state.reg(buffer.reg)
    extent = buffer_extent(state, buffer, env)
    if reg.type != RegType.PTR_TO_STACK or not extent:
        return state
    lo, hi = buffer_range(reg, extent)
    lo, hi = max(lo, -STACK_SIZE), min(hi, 0)
    if lo >= hi:
        return state
    least = extent
    if buffer.size is None and buffer.map_arg is None and buffer.size_arg is not None:
        least = state.reg(buffer.size_arg + 1).value.umin  # (a valid size: its obligation holds here)
    sure_lo, sure_hi = max(reg.value.smax, -STACK_SIZE), min(reg.value.smin + least, 0)
    frame = state.frames[reg.frame]
    if (sure_lo, sure_hi) != (lo, hi):
        frame = frame.blur(lo, hi)
    if sure_lo < sure_hi:
        frame = frame.mark_initialised(sure_lo, sure_hi)
    return state.with_frame(reg.frame, frame)


def call_effect(env: "Analysis", pc: int, helper: Helper, args: tuple[ArgType, ...], state: State) -> State:
    """The state after `helper` returns."""
    map_arg = None
    released = 0
    const_key: bytes | None = None
    size_max = 0
    for i, kind in enumerate(args):
        arg = Arg(i, kind, helper, args, map_arg)
        if kind == ArgType.CONST_MAP_PTR:
            map_arg = i
        buffer = _buffer_of(arg)
        if buffer is not None and buffer.write:
            state = _written(state, buffer, env)
        if kind in (ArgType.CONST_SIZE, ArgType.CONST_SIZE_OR_ZERO, ArgType.CONST_STACK_SIZE):
            size_max = size_bound(state, i, args) or 0
        reg = state.reg(i + 1)
        if kind == ArgType.PTR_TO_MAP_KEY and buffer is not None and reg.type == RegType.PTR_TO_STACK \
                and reg.value.is_const:
            extent = buffer_extent(state, buffer, env)
            lo = to_signed(reg.value.value, 64)
            if extent and -STACK_SIZE <= lo and lo + extent <= 0:
                const_key = state.frames[reg.frame].known_bytes(lo, lo + extent)
        if kind == ArgType.PTR_TO_ALLOC_MEM and reg.type == RegType.PTR_TO_MEM and reg.ref:
            released = reg.ref
    if released:
        state = replace(state.map_regs(lambda r: RegState.scalar() if r.ref == released else r),
                        refs=state.refs - {released})
    maps = map_set(state, map_arg)
    return after_call(state, _result(env, pc, helper, args, state, maps, const_key, size_max))


def _result(env: "Analysis", pc: int, helper: Helper, args: tuple[ArgType, ...], state: State,
            maps: frozenset[int], const_key: bytes | None, size_max: int) -> RegState:
    ret = helper.ret
    if ret == RetType.PTR_TO_MAP_VALUE_OR_NULL and maps:
        defs = [env.maps[m] for m in maps]
        pointer_id = pc + 1
        if all(m.type in MAPS_OF_MAPS for m in defs):
            inner = frozenset(env.inner_of[m] for m in maps if m in env.inner_of)
            return RegState(RegType.CONST_PTR_TO_MAP_OR_NULL, Scalar.const(0), maps=inner, id=pointer_id)
        if (helper.name == "map_lookup_elem" and env.profile.array_lookup_non_null
                and all(m.type in ARRAY_MAPS for m in defs) and const_key is not None
                and all(int.from_bytes(const_key[:4], "little") < m.max_entries for m in defs)):
            return RegState(RegType.PTR_TO_MAP_VALUE, Scalar.const(0), maps=maps)
        return RegState(RegType.PTR_TO_MAP_VALUE_OR_NULL, Scalar.const(0), maps=maps, id=pointer_id)
    if ret == RetType.PTR_TO_MEM_OR_NULL:
        size_reg = state.reg(2) if len(args) > 1 else RegState.scalar()
        size = size_reg.value.value if size_reg.is_scalar and size_reg.value.is_const else 0
        held = held_from(state, pc)
        pointer_id = reference_id(pc, min(set(range(MAX_HELD_PER_SITE)) - set(held)))
        return RegState(RegType.PTR_TO_MEM_OR_NULL, Scalar.const(0), mem_size=size, id=pointer_id, ref=pointer_id)
    if ret == RetType.VOID:
        return RegState.uninit()
    if ret == RetType.PTR_TO_BTF_TASK:
        return RegState(RegType.PTR_TO_BTF_TASK, Scalar.const(0))
    if ret == RetType.PTR_TO_BTF_PT_REGS:
        return RegState(RegType.PTR_TO_BTF_PT_REGS, Scalar.const(0))
    return RegState.scalar(return_range(helper, size_max))


def return_range(helper: Helper, size_max: int) -> Scalar:
    """What the kernel knows of an integer result: string reads and stack walks return at most
    the buffer size or a negative errno; other bounds are the helper record's."""
    if helper.ret_bounded_by_size:
        return Scalar.srange(-MAX_ERRNO, min(size_max, (1 << 63) - 1))
    if helper.ret_range is not None:
        return Scalar.srange(*helper.ret_range)
    return Scalar.unknown()


def state_after(env: "Analysis", pc: int, helper: Helper, args: tuple[ArgType, ...], state: State) -> State:
    """The call's effect, with the ids a new result takes cleared from older copies."""
    new = call_effect(env, pc, helper, args, state)
    r0 = new.reg(0)
    if r0.id:
        # an older pointer from this call site is another value now; keep the new one's id
        cleared = forget_id(replace(new, frames=new.frames), r0.id)
        new = cleared.with_reg(0, r0)
    if r0.ref:
        new = replace(new, refs=new.refs | {r0.ref})
    return new


__all__ = ["after_call", "call_effect", "forget_id", "return_range", "state_after", "MAYBE_NULL"]
