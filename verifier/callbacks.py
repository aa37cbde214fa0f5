"""bpf_loop (helper 181): a helper that calls a function of the program back.

`bpf_loop(nr_loops, callback_fn, callback_ctx, flags)` calls `callback_fn(index, callback_ctx)`
for index = 0, 1, ... until the callback returns 1 or nr_loops (a u32) calls are made; with more
than BPF_MAX_LOOPS iterations asked, or flags other than 0, it returns an error without calling.
The callback is analysed as a function of the program entered with r1 = the index (a number
below the most iterations the call can run) and r2 = the caller's r3 (a pointer to the caller's
stack, or NULL), one frame deeper than the caller. Through r2 it may write the caller's stack,
so the caller goes on in the join of its states after 0, 1, 2, ... iterations: a fixpoint over
the iterations, widened as at a loop head (the kernel, too, verifies the callback until the
caller's states after it converge). The callback must return 0 or 1 (the kernel's callback return
range), a rule of the kernel's loader. A run executes the callback at most BPF_MAX_LOOPS times per
call: the worst-case count weighs it so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interp.helpers import Helper

from .domains.regs import RegState, RegType
from .domains.scalar import Scalar
from .helper_effects import after_call
from .helper_kinds import CALLBACK_HELPERS
from .state import Frame, State

if TYPE_CHECKING:
    from .fixpoint import Analysis

BPF_MAX_LOOPS = 1 << 23
WIDEN_AFTER = 3  # plain joins of the caller's state before widening, as at a loop head


def calls_back(helper: Helper) -> bool:
    return helper.name in CALLBACK_HELPERS


def callback_entry(reg: RegState) -> int | None:
    """The function a callback argument names (a function reference keeps its target as its
    value), or None when it is no single function."""
    if reg.type != RegType.PTR_TO_FUNC or not reg.value.is_const:
        return None
    return reg.value.value


def most_iterations(nr_loops: RegState) -> int:
    """The most calls of the callback: nr_loops is a u32, and above BPF_MAX_LOOPS none is made."""
    if not nr_loops.is_scalar:
        return BPF_MAX_LOOPS
    return min(nr_loops.value.u32max, BPF_MAX_LOOPS)


@dataclass(frozen=True)
class Iterations:
    """The callback of one call in one state: its function, the caller's state once no more
    iterations change it (the join over 0, 1, 2, ... iterations), the callback's entry state from
    it, and its state at exit (None: it never returns)."""

    entry: int
    most: int
    caller: State
    callback_state: State | None
    exit_state: State | None


def callback_state(state: State, pc: int, most: int) -> State:
    """The callback's entry: r1 the index, r2 the caller's r3, in a new frame."""
    index = RegState.scalar(Scalar.urange(0, most - 1))
    frame = Frame.entry({1: index, 2: state.reg(3)}, state.depth + 1, callsite=pc)
    return State(state.frames + (frame,), state.refs)


def iterations(env: "Analysis", pc: int, state: State) -> Iterations | None:
    """The fixpoint of the call at `pc` made in `state` (None: the callback is no single function
    of the program, which its argument's check reports). Memoised per call and state."""
    key = (pc, state)
    if key in env.callback_fixpoints:
        return env.callback_fixpoints[key]
    entry = callback_entry(state.reg(2))
    found: Iterations | None = None
    if entry is not None and entry in env.cf.functions:
        most = most_iterations(state.reg(1))
        current, inner, result = state, None, None
        joins = 0
        while most:
            inner = callback_state(current, pc, most)
            result = env.analyse_function(entry, inner, check=False)
            if result is None:
                break  # no iteration returns: the caller goes on only where none is made
            back = State(result.frames[:-1], result.refs)
            joined = current.join(back, widen=joins >= WIDEN_AFTER)
            joins += 1
            if joined == current:
                break
            current = joined
        found = Iterations(entry, most, current, inner, result)
    env.callback_fixpoints[key] = found
    return found


def state_after_loop(env: "Analysis", pc: int, state: State, record: bool) -> State:
    """The caller's state after bpf_loop returns: r0 a number (the calls made, or an error)."""
    found = iterations(env, pc, state)
    if found is None:
        return after_call(state, RegState.scalar())
    if found.callback_state is not None:
        env.analyse_function(found.entry, found.callback_state, check=record)
    fn_entry = min(env.cf.function_of(pc), default=0)
    known = env.callback_bounds.get(pc)
    env.callback_bounds[pc] = (fn_entry, found.entry, max(found.most, known[2] if known else 0))
    return after_call(found.caller, RegState.scalar())


def return_breach(env: "Analysis", pc: int, state: State) -> tuple[dict[str, Any], bool] | None:
    """Where the callback may return other than 0 or 1: what it returns."""
    found = iterations(env, pc, state)
    if found is None or found.exit_state is None:
        return None
    r0 = found.exit_state.reg(0)
    if r0.type in (RegType.NOT_INIT, RegType.CONFLICT):
        return None  # (reported at the callback's exit)
    if r0.is_scalar and 0 <= r0.value.smin and r0.value.smax <= 1:
        return None
    never = not r0.is_scalar or r0.value.smin > 1 or r0.value.smax < 0
    return {"helper": "loop", "callback": found.entry, "value": r0.describe()}, never


__all__ = ["BPF_MAX_LOOPS", "CALLBACK_HELPERS", "Iterations", "callback_entry", "calls_back", "iterations",
           "most_iterations", "return_breach", "state_after_loop"]
