"""A helper call's obligations, read from the helper's prototype (`interp.helpers.Helper`), and
their checks.

Each argument gets the obligations of its `ArgType`: what kind of value it must be
(`HELPER_ARGUMENTS`), and for memory the helper reads or writes, that the buffer holds the size
passed with it (`HELPER_MEMORY`), is initialised where the helper reads it, is writable where
it writes, and (linux-4.1) sits at a constant stack offset. A check reads the other arguments it
depends on (the map a key belongs to, the size of a buffer) from the same state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interp import bprintf
from interp.helper_ids import helper_name
from interp.helpers import (
    BPF_MAX_VAR_SIZ,
    MEMORY_ARGS,
    SIZE_RANGES,
    ArgType,
    Helper,
    RetType,
)
from interp.isa.opcodes import STACK_SIZE
from interp.isa.ops import to_signed
from interp.maps import ARRAY_OF_MAPS, HASH_OF_MAPS

from .checker import Breach, register
from .domains.regs import RegState, RegType
from .helper_kinds import (
    CALLBACK_HELPERS,
    LONG_SIZE,
    MAYBE_NULL,
    UNMODELLED,
    const_string,
)
from .obligations import Kind, Obligation
from .profiles import allowed, map_helper_mismatch
from .state import State

if TYPE_CHECKING:
    from .fixpoint import Analysis

MAX_SIZE = BPF_MAX_VAR_SIZ - 1  # a size argument's largest acceptable bound
MAX_HELD_PER_SITE = 16  # records one call site may hold at once: keeps the set of references finite
MAPS_OF_MAPS = (ARRAY_OF_MAPS, HASH_OF_MAPS)
MEMORY = (RegType.PTR_TO_STACK, RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM)
SIZES = tuple(SIZE_RANGES)
BUFFERS = tuple(MEMORY_ARGS)


@dataclass(frozen=True)
class Arg:
    """Argument `index` (0-based; in register index + 1) of a call, as its prototype has it."""

    index: int
    type: ArgType
    helper: Helper
    args: tuple[ArgType, ...]
    map_arg: int | None = None  # the map pointer argument a key or value belongs to

    @property
    def reg(self) -> int:
        return self.index + 1

    @property
    def base_type(self) -> ArgType:
        """The type a non-NULL value must have."""
        return MAYBE_NULL.get(self.type, self.type)


@dataclass(frozen=True)
class Buffer:
    """Memory argument `index` that the helper reads or writes: `size` bytes, or as many as
    argument `size_arg` says (at most)."""

    index: int
    helper: Helper
    args: tuple[ArgType, ...]
    write: bool
    need_init: bool
    what: str  # "buffer", "key", "value", "result", "map-value"
    size: int | None = None
    size_arg: int | None = None
    map_arg: int | None = None

    @property
    def reg(self) -> int:
        return self.index + 1


def reference_id(pc: int, k: int) -> int:
    """The id of the k-th record reserved at `pc` while the earlier ones are held (pointer ids are
    positive, one range of ids per call site)."""
    return pc + 1 + k * (1 << 32)


def held_from(state: State, pc: int) -> list[int]:
    """Which of the records the call at `pc` may reserve are held (their k)."""
    return [k for k in range(MAX_HELD_PER_SITE) if reference_id(pc, k) in state.refs]


# -- the obligations of a call -------------------------------------------------------------------


def call_obligations(pc: int, helper: Helper, args: tuple[ArgType, ...], gpl_required: bool) -> list[Obligation]:
    out: list[Obligation] = []
    if gpl_required:
        out.append(Obligation(Kind.GPL_COMPATIBLE, pc, detail=helper))
    for i in range(len(args)):
        role = f"read as argument {i + 1} of {helper.name}"
        out.append(Obligation(Kind.INITIALISED, pc, i + 1, detail=role))
        out.append(Obligation(Kind.CONSISTENT_KIND, pc, i + 1, detail=role))
    if helper.name == "tail_call":
        out.append(Obligation(Kind.TAIL_CALL_RELEASED, pc, detail=helper))
        out.append(Obligation(Kind.TAIL_CALL_FROM_MAIN, pc, detail=helper))
    map_arg = None
    for i, kind in enumerate(args):
        arg = Arg(i, kind, helper, args, map_arg)
        if kind == ArgType.CONST_MAP_PTR:
            map_arg = i
        if kind == ArgType.ANYTHING:
            continue
        if kind in UNMODELLED and not (kind == ArgType.PTR_TO_FUNC and helper.name in CALLBACK_HELPERS):
            out.append(Obligation(Kind.HELPER_MODELLED, pc, arg.reg, detail=arg))
            continue
        out.append(Obligation(Kind.HELPER_ARGUMENTS, pc, arg.reg, detail=arg))
        out.append(Obligation(Kind.HELPER_STATIC_ARGUMENTS, pc, arg.reg, detail=arg))
        if kind == ArgType.CONST_MAP_PTR:
            if helper.writes_map:
                out.append(Obligation(Kind.HELPER_MAP_WRITABLE, pc, arg.reg, detail=arg))
            out.append(Obligation(Kind.HELPER_ARGUMENTS, pc, arg.reg, detail=("map-use", arg)))
            out.append(Obligation(Kind.HELPER_STATIC_ARGUMENTS, pc, arg.reg, detail=("map-use", arg)))
        buffer = _buffer_of(arg)
        if buffer is not None:
            out += _buffer_obligations(pc, buffer)
    if helper.ret == RetType.PTR_TO_MEM_OR_NULL:
        out.append(Obligation(Kind.REFERENCES_BOUNDED, pc, detail=helper))
    if helper.name in CALLBACK_HELPERS:  # the callback runs in a frame of its own
        out.append(Obligation(Kind.CALL_DEPTH, pc, detail="callback"))
        out.append(Obligation(Kind.CALLBACK_RETURN, pc, detail=helper))
    if helper.name == "snprintf":
        out.append(Obligation(Kind.HELPER_STATIC_ARGUMENTS, pc, 5, detail=("format", Arg(4, args[4], helper, args))))
    return out


def _buffer_of(arg: Arg) -> Buffer | None:
    """The memory an argument stands for: its own (keys, values, results), or for a size the
    buffer argument before it."""
    kind = arg.base_type
    if kind in (ArgType.PTR_TO_MAP_KEY, ArgType.PTR_TO_MAP_VALUE) and arg.map_arg is not None:
        what = "key" if kind == ArgType.PTR_TO_MAP_KEY else "value"
        return Buffer(arg.index, arg.helper, arg.args, write=False, need_init=True, what=what, map_arg=arg.map_arg)
    if kind == ArgType.PTR_TO_UNINIT_MAP_VALUE and arg.map_arg is not None:
        return Buffer(arg.index, arg.helper, arg.args, write=True, need_init=False, what="map-value",
                      map_arg=arg.map_arg)
    if kind == ArgType.PTR_TO_LONG:
        return Buffer(arg.index, arg.helper, arg.args, write=True, need_init=False, what="result", size=LONG_SIZE)
    if kind in SIZES and kind != ArgType.CONST_ALLOC_SIZE_OR_ZERO and arg.index > 0:
        previous = MAYBE_NULL.get(arg.args[arg.index - 1], arg.args[arg.index - 1])
        if previous in BUFFERS:
            write = previous != ArgType.PTR_TO_MEM
            need_init = previous in (ArgType.PTR_TO_MEM, ArgType.PTR_TO_STACK)
            return Buffer(arg.index - 1, arg.helper, arg.args, write, need_init, "buffer", size_arg=arg.index)
    return None


def _buffer_obligations(pc: int, buffer: Buffer) -> list[Obligation]:
    out = [Obligation(Kind.HELPER_MEMORY, pc, buffer.reg, detail=buffer),
           Obligation(Kind.HELPER_STACK_CONSTANT_OFFSET, pc, buffer.reg, detail=buffer)]
    if buffer.need_init:
        out.append(Obligation(Kind.HELPER_MEMORY_INITIALISED, pc, buffer.reg, detail=buffer))
    if buffer.write:
        out.append(Obligation(Kind.HELPER_MEMORY_WRITABLE, pc, buffer.reg, detail=buffer))
    return out


# -- what the arguments hold ---------------------------------------------------------------------


def map_set(state: State, map_arg: int | None) -> frozenset[int]:
    """The maps a map pointer argument may be (empty unless it is one)."""
    if map_arg is None:
        return frozenset()
    reg = state.reg(map_arg + 1)
    return reg.maps if reg.type == RegType.CONST_PTR_TO_MAP else frozenset()


def size_bound(state: State, size_arg: int, args: tuple[ArgType, ...]) -> int | None:
    """The largest value of a size argument, where it is a valid size (else None: its own
    obligation reports it)."""
    reg = state.reg(size_arg + 1)
    if not reg.is_scalar or reg.value.smin < 0 or reg.value.umax > MAX_SIZE:
        return None
    if args[size_arg] == ArgType.CONST_ALLOC_SIZE_OR_ZERO:
        return None
    return reg.value.umax


def is_null(reg: RegState) -> bool:
    return reg.is_scalar and reg.value.is_const and reg.value.value == 0


def buffer_extent(state: State, buffer: Buffer, env: "Analysis") -> int | None:
    """How many bytes (at most) the helper may touch through the buffer; None where it touches none
    or the other arguments do not say (then their own obligations report)."""
    if buffer.size is not None:
        return buffer.size
    if buffer.map_arg is not None:
        maps = map_set(state, buffer.map_arg)
        if not maps:
            return None
        defs = [env.maps[m] for m in sorted(maps)]
        if buffer.what == "key":
            return max(m.key_size for m in defs)
        return max(m.value_size for m in defs)
    assert buffer.size_arg is not None
    if is_null(state.reg(buffer.reg)) and buffer.args[buffer.index] in MAYBE_NULL:
        return None
    return size_bound(state, buffer.size_arg, buffer.args)


def buffer_range(reg: RegState, extent: int) -> tuple[int, int]:
    """[lo, hi) of the bytes a buffer of `extent` bytes may cover, from the pointer's base."""
    return reg.value.smin, reg.value.smax + extent


# -- the checks ------------------------------------------------------------------------------


def _helper_allowed(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    helper = env.registry.get(ob.detail)
    prog_type = env.program.prog_type
    if helper is not None and allowed(env.profile, prog_type, helper):
        return None
    name = helper.name if helper else (helper_name(ob.detail) or f"#{ob.detail}")
    return {"id": ob.detail, "name": name, "profile": env.profile.name, "prog_type": prog_type,
            "allowed": ", ".join(sorted(env.ops.helpers)), "refused": env.ops.refused.get(name)}, True


def _gpl_compatible(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    if env.program.is_gpl_compatible:
        return None
    return {"helper": ob.detail.name, "license": env.program.license or "missing"}, True


def _tail_call_released(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    return ({"helper": "tail_call"}, False) if state.refs else None


def _tail_call_from_main(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    return ({"helper": "tail_call"}, True) if state.depth > 0 else None


def _references_bounded(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    if len(held_from(state, ob.pc)) < MAX_HELD_PER_SITE:
        return None
    return {"helper": ob.detail.name, "limit": MAX_HELD_PER_SITE}, True


def _helper_modelled(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    arg: Arg = ob.detail
    return {"helper": arg.helper.name, "reg": arg.reg, "what": UNMODELLED[arg.type]}, True


def _callback_return(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    from .callbacks import return_breach

    return return_breach(env, ob.pc, state)


def _case(arg: Arg, case: str, definite: bool = True, **facts: Any) -> Breach:
    return {"helper": arg.helper.name, "reg": arg.reg, "case": case, **facts}, definite


# the breaches of an argument's prototype that only the kernel's loader sees (a run does not break them)
STATIC_CASES = frozenset({"maybe-null", "stack-or-null", "func", "task", "const-str-kind", "const-str", "no-inner-map",
                          "size-const", "size-stack-const", "stack-only", "format-length-const",
                          "format-length-multiple", "format"})


def _runtime_arguments(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    breach = _argument_breach(ob, state, env)
    return None if breach is None or breach[0]["case"] in STATIC_CASES else breach


def _static_arguments(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    breach = _argument_breach(ob, state, env)
    return breach if breach is not None and breach[0]["case"] in STATIC_CASES else None


def _argument_breach(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    if isinstance(ob.detail, tuple):
        what, arg = ob.detail
        return _map_use(arg, state, env) if what == "map-use" else _format(arg, state, env)
    arg = ob.detail
    reg = state.reg(arg.reg)
    if reg.type in (RegType.NOT_INIT, RegType.CONFLICT):
        return None
    kind = arg.type
    if kind in MAYBE_NULL:
        if is_null(reg):
            return None
        if reg.is_nullable:
            return _case(arg, "maybe-null", False, value=reg.describe())
        kind = MAYBE_NULL[kind]
        if kind == ArgType.PTR_TO_STACK and reg.type != RegType.PTR_TO_STACK:
            return _case(arg, "stack-or-null", value=reg.describe())
    if kind == ArgType.PTR_TO_FUNC:
        if reg.type != RegType.PTR_TO_FUNC or not reg.value.is_const:
            return _case(arg, "func", value=reg.describe())
        return None
    if kind == ArgType.PTR_TO_BTF_TASK:
        if reg.type != RegType.PTR_TO_BTF_TASK or not (reg.value.is_const and reg.value.value == 0):
            return _case(arg, "task", value=reg.describe())
        return None
    if kind == ArgType.PTR_TO_CONST_STR:
        if reg.type != RegType.PTR_TO_MAP_VALUE or not reg.value.is_const:
            return _case(arg, "const-str-kind", value=reg.describe())
        problem = next((s for s in const_strings(reg, env) if isinstance(s, str)), None)
        return _case(arg, "const-str", problem=problem) if problem is not None else None
    if kind == ArgType.CONST_MAP_PTR:
        if reg.type != RegType.CONST_PTR_TO_MAP:
            return _case(arg, "not-map", value=reg.describe(), nullable=reg.is_nullable)
        return None
    if kind == ArgType.PTR_TO_CTX:
        if reg.type != RegType.PTR_TO_CTX or not (reg.value.is_const and reg.value.value == 0):
            return _case(arg, "ctx", value=reg.describe())
        return None
    if kind in SIZES:
        return _size(arg, kind, reg, state, env)
    if kind == ArgType.PTR_TO_ALLOC_MEM:
        if reg.type != RegType.PTR_TO_MEM or not reg.ref or not (reg.value.is_const and reg.value.value == 0):
            return _case(arg, "alloc", value=reg.describe())
        return None
    if kind == ArgType.PTR_TO_STACK and reg.type != RegType.PTR_TO_STACK:
        return _case(arg, "stack-only", value=reg.describe(), profile=env.profile.name)
    if kind in (*BUFFERS, ArgType.PTR_TO_LONG, ArgType.PTR_TO_MAP_KEY, ArgType.PTR_TO_MAP_VALUE,
                ArgType.PTR_TO_UNINIT_MAP_VALUE) and reg.type not in MEMORY:
        buffer = _buffer_of(arg)
        if kind in (ArgType.PTR_TO_MAP_KEY, ArgType.PTR_TO_MAP_VALUE, ArgType.PTR_TO_UNINIT_MAP_VALUE) and (
                buffer is None or not map_set(state, buffer.map_arg)):
            return None  # no map to say what the memory must be: the map argument is reported
        write = kind in (ArgType.PTR_TO_UNINIT_MEM, ArgType.PTR_TO_STACK, ArgType.PTR_TO_LONG,
                         ArgType.PTR_TO_UNINIT_MAP_VALUE)
        return _case(arg, "memory", write=write, what=describe_buffer(arg, buffer, state, env),
                     value="NULL" if is_null(reg) else reg.describe(), nullable=reg.is_nullable)
    return None


def describe_buffer(arg: Arg, buffer: Buffer | None, state: State, env: "Analysis") -> str:
    """What a memory argument stands for, as the messages name it."""
    kind = arg.base_type
    if kind == ArgType.PTR_TO_LONG:
        return "an 8-byte result"
    if buffer is not None and buffer.map_arg is not None:
        extent = buffer_extent(state, buffer, env)
        if buffer.what == "map-value":
            return f"a value of up to {extent} bytes"
        first = env.maps[sorted(map_set(state, buffer.map_arg))[0]]
        return f"{buffer.what} of map {first.name}, {extent} bytes"
    return "a buffer"


def _size(arg: Arg, kind: ArgType, reg: RegState, state: State, env: "Analysis") -> Breach | None:
    if not reg.is_scalar:
        return _case(arg, "size-kind", value=reg.describe())
    value = reg.value
    if kind == ArgType.CONST_ALLOC_SIZE_OR_ZERO:
        return None if value.is_const else _case(arg, "size-const", value=str(value))
    if kind == ArgType.CONST_STACK_SIZE and not value.is_const:
        return _case(arg, "size-stack-const", value=str(value), profile=env.profile.name)
    if value.smin < 0:
        return _case(arg, "size-negative", value.smax < 0, value=str(value))
    if kind in (ArgType.CONST_SIZE, ArgType.CONST_STACK_SIZE) and value.umin == 0:
        return _case(arg, "size-zero", value.umax == 0)
    if value.umax > MAX_SIZE:
        return _case(arg, "size-unbounded", value.umin > MAX_SIZE, value=str(value))
    previous = arg.args[arg.index - 1] if arg.index > 0 else None
    if previous in MAYBE_NULL and is_null(state.reg(arg.index)) and value.umax:
        return _case(arg, "size-with-null", value.umin > 0, umax=value.umax)
    return None


def _map_use(arg: Arg, state: State, env: "Analysis") -> Breach | None:
    """The maps fit the helper (check_map_func_compatibility), and a lookup in a map of maps has the
    inner map's template to check what it returns."""
    maps = map_set(state, arg.index)
    for m in sorted(maps):
        mismatch = map_helper_mismatch(env.maps[m].type, arg.helper.name)
        if mismatch:
            return _case(arg, "map-kind", map=env.maps[m].name, mismatch=mismatch)
    if (arg.helper.ret == RetType.PTR_TO_MAP_VALUE_OR_NULL and maps
            and all(env.maps[m].type in MAPS_OF_MAPS for m in maps) and not all(m in env.inner_of for m in maps)):
        return _case(arg, "no-inner-map")
    return None


def const_strings(reg: RegState, env: "Analysis") -> list[bytes | str]:
    return [const_string(env.maps[m], to_signed(reg.value.value, 64)) for m in sorted(reg.maps)]


def _format(arg: Arg, state: State, env: "Analysis") -> Breach | None:
    """bpf_snprintf's format is checked at load, as the kernel does: a constant data_len, a multiple
    of 8, and a format the kernel's bprintf accepts with that many arguments."""
    fmt_reg = state.reg(3)
    data_len = state.reg(5)
    if fmt_reg.type != RegType.PTR_TO_MAP_VALUE or not fmt_reg.value.is_const or not data_len.is_scalar:
        return None  # reported with its argument
    strings = const_strings(fmt_reg, env)
    if any(isinstance(s, str) for s in strings) or len(set(strings)) != 1:
        return None
    fmt = strings[0]
    assert isinstance(fmt, bytes)
    if not data_len.value.is_const:
        return _case(arg, "format-length-const", value=str(data_len.value))
    if data_len.value.value % 8:
        return _case(arg, "format-length-multiple", length=data_len.value.value)
    try:
        bprintf.parse(fmt, data_len.value.value // 8)
    except bprintf.FormatError as exc:
        return _case(arg, "format", format=fmt.decode("ascii", "replace"), problem=str(exc))
    return None


def _buffer(ob: Obligation, state: State, env: "Analysis") -> tuple[Buffer, RegState, int] | None:
    """The buffer, its register and its extent, where the obligation applies."""
    buffer: Buffer = ob.detail
    reg = state.reg(buffer.reg)
    if reg.type not in MEMORY:
        return None
    extent = buffer_extent(state, buffer, env)
    if not extent:
        return None
    return buffer, reg, extent


def _helper_memory(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    found = _buffer(ob, state, env)
    if found is None:
        return None
    buffer, reg, extent = found
    facts = {"helper": buffer.helper.name, "reg": buffer.reg}
    what = _what(ob, state, env)
    if buffer.what == "result" and (reg.value.tnum.value | reg.value.tnum.mask) % LONG_SIZE:
        return {**facts, "case": "long-aligned", "value": reg.describe(), "what": what}, False
    lo, hi = buffer_range(reg, extent)
    if reg.type == RegType.PTR_TO_STACK:
        if lo < -STACK_SIZE or hi > 0:
            return {**facts, "case": "stack", "lo": lo, "hi": hi, "what": what}, False
        return None
    if reg.type == RegType.PTR_TO_MAP_VALUE:
        mdef = min((env.maps[m] for m in reg.maps), key=lambda m: m.value_size)
        if lo < 0 or hi > mdef.value_size:
            return {**facts, "case": "map-value", "lo": lo, "hi": hi, "what": what, "map": mdef.name,
                    "value_size": mdef.value_size}, False
        return None
    if lo < 0 or hi > reg.mem_size:
        return {**facts, "case": "mem", "lo": lo, "hi": hi, "what": what, "mem_size": reg.mem_size}, False
    return None


def _helper_stack_constant_offset(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    found = _buffer(ob, state, env)
    if found is None or env.profile.variable_stack_access:
        return None
    buffer, reg, _ = found
    if reg.type != RegType.PTR_TO_STACK or reg.value.is_const:
        return None
    return {"helper": buffer.helper.name, "reg": buffer.reg, "what": _what(ob, state, env)}, True


def _helper_memory_initialised(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    found = _buffer(ob, state, env)
    if found is None:
        return None
    buffer, reg, extent = found
    if reg.type != RegType.PTR_TO_STACK:
        return None
    lo, hi = buffer_range(reg, extent)
    missing = state.frames[reg.frame].first_uninitialised(max(lo, -STACK_SIZE), min(hi, 0))
    if missing is None:
        return None
    return {"helper": buffer.helper.name, "reg": buffer.reg, "what": _what(ob, state, env), "extent": extent,
            "lo": lo, "missing": missing}, False


def _helper_map_writable(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    """A helper that changes its map (update, delete) is not given a read-only one."""
    arg: Arg = ob.detail
    maps = map_set(state, arg.index)
    frozen = [env.maps[m] for m in sorted(maps) if env.maps[m].read_only_for_programs]
    if not frozen:
        return None
    return {"helper": arg.helper.name, "reg": arg.reg, "case": "map", "map": frozen[0].name}, len(frozen) == len(maps)


def _helper_memory_writable(ob: Obligation, state: State, env: "Analysis") -> Breach | None:
    found = _buffer(ob, state, env)
    if found is None:
        return None
    buffer, reg, _ = found
    if reg.type != RegType.PTR_TO_MAP_VALUE:
        return None
    frozen = [env.maps[m] for m in sorted(reg.maps) if env.maps[m].read_only_for_programs]
    if not frozen:
        return None
    return {"helper": buffer.helper.name, "reg": buffer.reg, "case": "buffer", "what": _what(ob, state, env),
            "map": frozen[0].name}, len(frozen) == len(reg.maps)


def _what(ob: Obligation, state: State, env: "Analysis") -> str:
    buffer: Buffer = ob.detail
    extent = buffer_extent(state, buffer, env)
    if buffer.what == "result":
        return "an 8-byte result"
    if buffer.what == "map-value":
        return f"a value of up to {extent} bytes"
    if buffer.what in ("key", "value"):
        first = env.maps[sorted(map_set(state, buffer.map_arg))[0]]
        return f"{buffer.what} of map {first.name}, {extent} bytes"
    return f"a buffer of up to {extent} bytes"


for _kind, _check in ((Kind.HELPER_ALLOWED, _helper_allowed), (Kind.GPL_COMPATIBLE, _gpl_compatible), (Kind.TAIL_CALL_RELEASED, _tail_call_released),
                      (Kind.TAIL_CALL_FROM_MAIN, _tail_call_from_main), (Kind.REFERENCES_BOUNDED, _references_bounded),
                      (Kind.HELPER_MODELLED, _helper_modelled), (Kind.CALLBACK_RETURN, _callback_return), (Kind.HELPER_ARGUMENTS, _runtime_arguments),
                      (Kind.HELPER_STATIC_ARGUMENTS, _static_arguments),
                      (Kind.HELPER_MEMORY, _helper_memory),
                      (Kind.HELPER_STACK_CONSTANT_OFFSET, _helper_stack_constant_offset),
                      (Kind.HELPER_MEMORY_INITIALISED, _helper_memory_initialised),
                      (Kind.HELPER_MEMORY_WRITABLE, _helper_memory_writable),
                      (Kind.HELPER_MAP_WRITABLE, _helper_map_writable)):
    register(_kind, _check)

__all__ = ["Arg", "Buffer", "MAX_HELD_PER_SITE", "buffer_extent", "buffer_range", "call_obligations", "held_from",
           "is_null", "map_set", "reference_id", "size_bound"]
