"""Helper calls, symbolically, read from each helper's record (its prototype and result range).

A map lookup finds its key or not (an array always has the keys below its size); updates and
deletes may fail and change nothing the path can rely on (maps change under other CPUs anyway);
the probe_read family copies free bytes from kernel memory, or fails and zeroes its buffer;
string reads return a length within the buffer or an errno; a ring buffer reservation is a
fresh record or NULL. Every other helper's integer result is free within its record's range,
and the memory it may write holds free bytes afterwards. Everything the world gives is recorded
for the replay."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import z3

from interp.helpers import ArgType, Helper, RetType
from interp.isa.ops import Call, Op
from interp.maps import ARRAY, PERCPU_ARRAY

from ..helper_contracts import Arg, _buffer_of
from .execute import PathEnds, Successor, Unmodelled, store
from .state import Kind, Lookup, Region, Sym, SymState, const, load_bytes, scalar

if TYPE_CHECKING:
    from ..fixpoint import Analysis

ARRAY_MAPS = (ARRAY, PERCPU_ARRAY)
MAX_ERRNO = 4095
EFAULT = 14
MAX_WRITE = 4096  # bytes of a helper's output modelled one by one


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


def _write_bytes(env: "Analysis", state: SymState, pointer: Sym, data: list[Any]) -> None:
    for i, byte in enumerate(data):
        store(env, state, pointer, i, 1, scalar(z3.ZeroExt(56, byte)))


def map_lookup(env: "Analysis", state: SymState, pc: int) -> Sym:
    map_ptr = _arg(state, 1)
    if map_ptr.kind != Kind.MAP_PTR or map_ptr.region is None:
        raise PathEnds("r1 is not a map pointer")
    index = map_ptr.region.map_index
    mdef = env.maps[index]
    key_ptr = _memory(state, 2)
    key = _read(env, state, key_ptr, max(mdef.key_size, 1))
    if mdef.type in ARRAY_MAPS:
        low = z3.Extract(31, 0, key) if key.size() >= 32 else z3.ZeroExt(32 - key.size(), key)
        found = z3.ULT(low, mdef.max_entries)
    else:
        found = state.new_bool(f"found{index}")
    state.inputs.lookups.append(Lookup(pc, index, key, found))
    base = state.new_address(f"value{index}")
    region = Region(Kind.MAP_VALUE, map_index=index, lookup=len(state.inputs.lookups) - 1, size=mdef.value_size)
    return Sym(Kind.MAP_VALUE, z3.If(found, base, const(0)), region, const(0), null=z3.Not(found))


def _read(env: "Analysis", state: SymState, pointer: Sym, size: int) -> Any:
    """`size` bytes a helper reads from memory (as a `size` * 8-bit term)."""
    from .execute import load

    parts = [z3.Extract(7, 0, load(env, state, pointer, i, 1).value) for i in range(size)]
    return parts[0] if size == 1 else z3.Concat(*reversed(parts))


def probe_read(env: "Analysis", state: SymState, pc: int, helper: Helper) -> tuple[Sym, Any]:
    dst, src = _memory(state, 1), _arg(state, 3)
    size = _fixed(_arg(state, 2).value, "a probe_read size")
    copied = state.new_bytes("kernel")
    ok = state.new_bool("read_ok")
    if helper.ret_bounded_by_size:  # a string: up to a NUL or size - 1 bytes, then a NUL; the rest unchanged
        length = state.new("length")
        from .execute import load

        facts = [z3.Implies(ok, z3.And(length >= 1, length <= size))]
        written = []
        for i in range(min(size, MAX_WRITE)):
            old = z3.Extract(7, 0, load(env, state, dst, i, 1).value)
            byte = z3.Select(copied, i)
            facts.append(z3.Implies(z3.And(ok, length - 1 > i), byte != 0))
            written.append(z3.If(ok, z3.If(length - 1 > i, byte, z3.If(length - 1 == i, z3.BitVecVal(0, 8), old)),
                                 z3.BitVecVal(0, 8)))
        _write_bytes(env, state, dst, written)
        result = z3.If(ok, length, const(-EFAULT))
        state.inputs.reads.append((pc, src.value, result, copied, size, True))
        return scalar(result), z3.And(*facts)
    _write_bytes(env, state, dst, [z3.If(ok, z3.Select(copied, i), z3.BitVecVal(0, 8))
                                   for i in range(min(size, MAX_WRITE))])
    state.inputs.reads.append((pc, src.value, ok, copied, size, False))
    return scalar(z3.If(ok, const(0), const(-EFAULT))), z3.BoolVal(True)


def _havoc_outputs(env: "Analysis", state: SymState, helper: Helper, args: tuple[ArgType, ...]) -> None:
    """Memory the helper may write holds free bytes afterwards."""
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
        fresh = state.new_bytes(f"{helper.name}_out")
        _write_bytes(env, state, pointer, [z3.Select(fresh, j) for j in range(min(extent, MAX_WRITE))])


def _integer(state: SymState, helper: Helper, args: tuple[ArgType, ...]) -> tuple[Sym, Any]:
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


def call_helper(env: "Analysis", state: SymState, pc: int, op: Op, nxt: int) -> list[Successor]:
    if pc in env.unresolved or not isinstance(op, Call):
        raise Unmodelled("a call of a function outside the program")
    helper, args = env.contract(op.helper)
    name = helper.name
    condition: Any = None
    r0: Sym | None
    if name == "map_lookup_elem":
        r0 = map_lookup(env, state, pc)
    elif name in ("probe_read", "probe_read_kernel", "probe_read_user", "probe_read_str", "probe_read_kernel_str",
                  "probe_read_user_str"):
        r0, condition = probe_read(env, state, pc, helper)
    elif name == "tail_call":
        r0 = scalar(const(0))  # the call that returns is the one that found no program to run
    elif helper.ret == RetType.PTR_TO_MEM_OR_NULL:
        size = _fixed(_arg(state, 2).value, "a record's size")
        record = len(state.records) + 1
        state.records[record] = (state.new_bytes("record"), size)
        null = state.new_bool("reserve_failed")
        condition = z3.Implies(_arg(state, 3).value != 0, null)
        r0 = Sym(Kind.MEM, z3.If(null, const(0), state.new_address("record")), Region(Kind.MEM, record=record,
                                                                                      size=size), const(0), null=null)
    elif helper.ret == RetType.VOID:
        r0 = None
    elif helper.ret == RetType.INTEGER:
        _havoc_outputs(env, state, helper, args)
        r0, condition = _integer(state, helper, args)
    elif helper.ret in (RetType.PTR_TO_BTF_TASK, RetType.PTR_TO_BTF_PT_REGS):
        r0 = Sym(Kind.OTHER, state.new_address("task"), Region(Kind.OTHER), const(0))
    else:
        raise Unmodelled(f"{name}'s result")
    if r0 is not None and r0.kind == Kind.SCALAR:
        state.inputs.helpers.append((pc, name, r0.value))
    state.set_reg(0, r0)
    for r in range(1, 6):
        state.set_reg(r, None)
    return [Successor(nxt, state, condition)]


__all__ = ["call_helper", "load_bytes"]
