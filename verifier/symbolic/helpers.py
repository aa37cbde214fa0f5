"""Helper calls, symbolically, read from each helper's record (its prototype and result range).

A map lookup finds its key or not (an array always has the keys below its size); updates and
deletes may fail and change nothing the path can rely on (maps change under other CPUs anyway);
the probe_read family copies free bytes from kernel memory, or fails and zeroes its buffer;
string reads copy up to a NUL and return the length or an errno; a ring buffer reservation is a
fresh record or NULL, and a submitted record is closed. Every other helper's integer result is
free within its record's range, and the memory it may write holds free bytes afterwards.
Everything the world gives is recorded for the replay."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import z3

from interp.helpers import ArgType, Helper, RetType
from interp.isa.ops import Call, Op
from interp.kprobe_helpers import READ_SPACES
from interp.maps import ARRAY, PERCPU_ARRAY
from interp.world import FAILABLE_CALLS, USER_SPACE_END

from ..helper_contracts import Arg, _buffer_of
from .execute import PathEnds, Successor, Unmodelled, load, spill_splits, store
from .state import Kind, Lookup, Region, Sym, SymState, const, scalar

if TYPE_CHECKING:
    from ..fixpoint import Analysis

ARRAY_MAPS = (ARRAY, PERCPU_ARRAY)
MAX_ERRNO = 4095
EFAULT = 14
MAX_WRITE = 4096  # bytes of a helper's output modelled one by one
PROBE_READS = frozenset(READ_SPACES)
Hits = dict[int, bool]


def _arg(state: SymState, n: int) -> Sym:
    found = state.reg(n)
    if found is None:
        raise PathEnds(f"r{n} is unset")
    return found


def _fixed(term: Any, what: str) -> int:
    simplified = z3.simplify(term)
    if not z3.is_bv_value(simplified):
        raise Unmodelled(f"{what} the path does not fix")
    return simplified.as_long()


def _memory(state: SymState, n: int) -> Sym:
    pointer = _arg(state, n)
    if pointer.kind not in (Kind.STACK, Kind.MAP_VALUE, Kind.MEM) or pointer.region is None:
        raise PathEnds(f"r{n} is not memory")
    return pointer


def _write_bytes(env: "Analysis", state: SymState, pointer: Sym, data: list[Any], hits: Hits) -> None:
    for i, byte in enumerate(data):
        store(env, state, pointer, i, 1, scalar(z3.ZeroExt(56, byte)), hits)


def _read(env: "Analysis", state: SymState, pointer: Sym, size: int) -> Any:
    """`size` bytes a helper reads from memory (as a `size` * 8-bit term)."""
    parts = [z3.Extract(7, 0, load(env, state, pointer, i, 1).value) for i in range(size)]
    return parts[0] if size == 1 else z3.Concat(*reversed(parts))


def writes(env: "Analysis", state: SymState, helper: Helper, args: tuple[ArgType, ...]) -> list[tuple[Sym, int]]:
    """The memory the helper may write: (pointer, bytes), as its prototype has it."""
    out = []
    map_arg = None
    for i, kind in enumerate(args):
        arg = Arg(i, kind, helper, args, map_arg)
        if kind == ArgType.CONST_MAP_PTR:
            map_arg = i
        buffer = _buffer_of(arg)
        if buffer is None or not buffer.write:
            continue
        pointer = state.reg(buffer.reg)
        if pointer is None or pointer.kind not in (Kind.STACK, Kind.MAP_VALUE, Kind.MEM):
            continue
        if buffer.size is not None:
            extent = buffer.size
        elif buffer.size_arg is not None:
            extent = _fixed(_arg(state, buffer.size_arg + 1).value, f"the size of what {helper.name} writes")
        else:
            raise Unmodelled(f"what {helper.name} writes")
        out.append((pointer, min(extent, MAX_WRITE)))
    return out


# -- the models --------------------------------------------------------------------------------------


def map_lookup(env: "Analysis", state: SymState, pc: int) -> Sym:
    map_ptr = _arg(state, 1)
    if map_ptr.kind != Kind.MAP_PTR or map_ptr.region is None:
        raise PathEnds("r1 is not a map pointer")
    index = map_ptr.region.map_index
    mdef = env.maps[index]
    key = _read(env, state, _memory(state, 2), max(mdef.key_size, 1))
    if mdef.type in ARRAY_MAPS:
        low = z3.Extract(31, 0, key) if key.size() >= 32 else z3.ZeroExt(32 - key.size(), key)
        found = z3.ULT(low, mdef.max_entries)
    else:
        found = state.new_bool(f"found{index}")
    state.inputs.lookups.append(Lookup(pc, index, key, found))
    base = state.new_address(f"value{index}")
    region = Region(Kind.MAP_VALUE, map_index=index, lookup=len(state.inputs.lookups) - 1, size=mdef.value_size)
    return Sym(Kind.MAP_VALUE, z3.If(found, base, const(0)), region, const(0), null=z3.Not(found))


def probe_read(env: "Analysis", state: SymState, pc: int, helper: Helper, hits: Hits) -> tuple[Sym, Any]:
    dst, src = _memory(state, 1), _arg(state, 3)
    size = min(_fixed(_arg(state, 2).value, "a probe_read size"), MAX_WRITE)
    copied = state.new_bytes("kernel")
    ok = state.new_bool("read_ok")
    space = READ_SPACES[helper.name]
    if space != "any":  # a read from the other side of the address-space split fails
        user = z3.ULT(src.value, USER_SPACE_END)
        ok = z3.And(ok, user if space == "user" else z3.Not(user))
    if helper.ret_bounded_by_size:  # a string: up to a NUL or size - 1 bytes, then a NUL; the rest unchanged
        length = state.new("length")
        facts = [z3.Implies(ok, z3.And(length >= 1, length <= size))]
        written = []
        for i in range(size):
            old = z3.Extract(7, 0, load(env, state, dst, i, 1).value)
            byte = z3.Select(copied, i)
            facts.append(z3.Implies(z3.And(ok, length - 1 > i), byte != 0))
            written.append(z3.If(ok, z3.If(length - 1 > i, byte, z3.If(length - 1 == i, z3.BitVecVal(0, 8), old)),
                                 z3.BitVecVal(0, 8)))
        _write_bytes(env, state, dst, written, hits)
        result = z3.If(ok, length, const(-EFAULT))
        state.inputs.reads.append((pc, src.value, result, copied, size, True))
        return scalar(result), z3.And(*facts)
    _write_bytes(env, state, dst, [z3.If(ok, z3.Select(copied, i), z3.BitVecVal(0, 8)) for i in range(size)], hits)
    state.inputs.reads.append((pc, src.value, ok, copied, size, False))
    return scalar(z3.If(ok, const(0), const(-EFAULT))), None


def reserve(state: SymState, pc: int, name: str) -> tuple[Sym, Any]:
    size = _fixed(_arg(state, 2).value, "a record's size")
    record = len(state.records) + 1
    state.records[record] = (state.new_bytes("record"), size)
    null = state.new_bool("reserve_failed")
    if name in FAILABLE_CALLS:  # the replay's environment orders the failure
        made = sum(1 for helper, _, _ in state.inputs.failures if helper == name)
        state.inputs.failures.append((name, made, null))
    else:
        state.inputs.choices.append((f"{name} at insn {pc} failing (a full ring buffer)", null))
    value = z3.If(null, const(0), state.new_address("record"))
    return (Sym(Kind.MEM, value, Region(Kind.MEM, record=record, size=size), const(0), null=null),
            z3.Implies(_arg(state, 3).value != 0, null))


def integer(env: "Analysis", state: SymState, helper: Helper, args: tuple[ArgType, ...], hits: Hits) -> tuple[Sym, Any]:
    for pointer, extent in writes(env, state, helper, args):
        fresh = state.new_bytes(f"{helper.name}_out")
        _write_bytes(env, state, pointer, [z3.Select(fresh, j) for j in range(extent)], hits)
    result = state.new(helper.name)
    if helper.ret_bounded_by_size:
        size = next((state.reg(i + 1) for i, k in enumerate(args)
                     if k in (ArgType.CONST_SIZE, ArgType.CONST_SIZE_OR_ZERO)), None)
        if size is not None:
            return scalar(result), z3.And(result >= -MAX_ERRNO, result <= size.value)
    if helper.ret_range is not None:
        lo, hi = helper.ret_range
        return scalar(result), z3.And(result >= lo, result <= hi)
    return scalar(result), None


def _call(env: "Analysis", state: SymState, pc: int, helper: Helper, args: tuple[ArgType, ...],
          hits: Hits) -> tuple[Sym | None, Any]:
    name = helper.name
    if name == "map_lookup_elem":
        return map_lookup(env, state, pc), None
    if name in PROBE_READS:
        return probe_read(env, state, pc, helper, hits)
    if name in ("ringbuf_submit", "ringbuf_discard"):
        record = _arg(state, 1)
        if record.kind != Kind.MEM or record.region is None:
            raise PathEnds("r1 is not a record")
        state.closed.add(record.region.record)
        return None, None
    if name == "tail_call":
        return scalar(const(0)), None  # the call that returns is the one that found no program to run
    if helper.ret == RetType.PTR_TO_MEM_OR_NULL:
        return reserve(state, pc, name)
    if helper.ret == RetType.VOID:
        return None, None
    if helper.ret == RetType.INTEGER:
        return integer(env, state, helper, args, hits)
    if helper.ret in (RetType.PTR_TO_BTF_TASK, RetType.PTR_TO_BTF_PT_REGS):
        return Sym(Kind.OTHER, state.new_address("task"), Region(Kind.OTHER), const(0)), None
    raise Unmodelled(f"{name}'s result")


def call_helper(env: "Analysis", state: SymState, pc: int, op: Op, nxt: int) -> list[Successor]:
    if pc in env.unresolved or not isinstance(op, Call):
        raise Unmodelled("a call of a function outside the program")
    helper, args = env.contract(op.helper)
    if ArgType.PTR_TO_FUNC in args:  # (its callback's effects on the caller's stack are not read here)
        raise Unmodelled(f"{helper.name} runs a callback")
    written = writes(env, state, helper, args) if helper.name not in ("map_lookup_elem",) else []
    stack = [(p, n) for p, n in written if p.kind == Kind.STACK]
    cases = spill_splits(state, stack[0][0], stack[0][0].offset, stack[0][1]) if stack else [(state, None, {})]
    out = []
    for case, split, hits in cases:
        r0, condition = _call(env, case, pc, helper, args, hits)
        if r0 is not None and r0.kind == Kind.SCALAR:
            case.inputs.helpers.append((pc, helper.name, r0.value))
        case.set_reg(0, r0)
        for r in range(1, 6):
            case.set_reg(r, None)
        conditions = [c for c in (split, condition) if c is not None]
        out.append(Successor(nxt, case, z3.And(*conditions) if conditions else None))
    return out


__all__ = ["call_helper", "writes"]
