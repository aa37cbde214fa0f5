"""Counterexamples: a model of a path's condition turned into the interpreter's inputs, and the
run that replays it.

The inputs have the shapes `bpfverify run` takes: the context's registers by name (`--regs`),
map contents (`--maps`), kernel memory (`--kmem`) and the environment (`--env`). A counterexample
is confirmed only when the kprobe runtime, given them, faults at the alarm's instruction with the
fault its obligation names; otherwise it is reported as not confirmed, with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable

import z3

from interp.faults import FaultKind
from interp.kprobe import KprobeSession
from interp.kprobe_helpers import READ_SPACES
from interp.maps import ARRAY, PERCPU_ARRAY
from interp.program import Program
from interp.pt_regs import layout_for
from interp.world import Environment, KernelMemory

if TYPE_CHECKING:
    from .fixpoint import Analysis
    from .symbolic.search import Found

PROBE_READS = frozenset(READ_SPACES)
# helpers whose results a replay can fix through the environment: name -> how
SETTABLE = {"get_current_pid_tgid", "get_current_uid_gid", "ktime_get_ns", "ktime_get_boot_ns", "jiffies64",
            "get_smp_processor_id", "get_numa_node_id", "get_current_cgroup_id", "get_func_ip", "get_attach_cookie"}


@dataclass
class Counterexample:
    """Concrete inputs that take the program to the alarm and break the obligation there."""

    regs: dict[str, int]  # the context's registers by name (all of them)
    maps: list[dict[str, Any]]  # [{"index", "name", "entries": [{"key", "value"}]}], as `run --maps`
    kmem: list[dict[str, Any]]  # [{"address", "hex"}], as `run --kmem`
    env: dict[str, Any]  # as `run --env`
    cpu: int = 0
    path: list[int] = field(default_factory=list)  # the instructions the run executes, up to the alarm
    unset: list[str] = field(default_factory=list)  # what the run depends on that no input fixes
    # keys the run looks up and must not find: [{"index", "name", "key"}] (left out of `maps`, so absent)
    absent: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"regs": self.regs, "maps": self.maps, "kmem": self.kmem, "env": self.env, "cpu": self.cpu,
                "path": self.path, "unset": self.unset, "absent": self.absent}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Counterexample":
        return cls(dict(data["regs"]), list(data["maps"]), list(data["kmem"]), dict(data["env"]),
                   int(data.get("cpu", 0)), list(data.get("path", [])), list(data.get("unset", [])),
                   list(data.get("absent", [])))

    def regs_argument(self) -> str:
        """The registers as `run --regs` takes them (the non-zero ones)."""
        return ",".join(f"{name}={value:#x}" for name, value in self.regs.items() if value)


@dataclass
class Replay:
    confirmed: bool
    fault: dict[str, Any] | None  # the fault the run reached (VmFault.to_json), or None
    reason: str | None = None  # why not confirmed

    def to_json(self) -> dict[str, Any]:
        return {"confirmed": self.confirmed, "fault": self.fault, "reason": self.reason}


def _int(model: Any, term: Any) -> int:
    return model.eval(term, model_completion=True).as_long()


def _bytes(model: Any, array: Any, start: Any, size: int) -> bytes:
    return bytes(_int(model, z3.Select(array, start + i)) for i in range(size))


def _named_bytes(model: Any, array: Any, size: int) -> bytes:
    """The bytes of `array` that the model names one by one, 0 elsewhere: z3 gives the rest one
    default value (often not 0), which only some constraints may need."""
    named: dict[int, int] = {}
    term = model.eval(array, model_completion=True)
    while z3.is_store(term):
        index, value = term.arg(1), term.arg(2)
        if z3.is_bv_value(index) and z3.is_bv_value(value):
            named.setdefault(index.as_long(), value.as_long())
        term = term.arg(0)
    return bytes(named.get(i, 0) for i in range(size))


def counterexample(env: "Analysis", found: "Found", tidy: bool = False) -> Counterexample:
    """The model's inputs; `tidy`: the context's bytes that the model does not name are 0 (easier
    to read, but they may no longer satisfy the path: replay to know)."""
    model, inputs = found.model, found.state.inputs
    layout = layout_for(env.arch)
    size = env.ops.type.size(env.arch)
    ctx = _named_bytes(model, inputs.ctx, size) if tidy else _bytes(model, inputs.ctx, z3.BitVecVal(0, 64), size)
    regs = {name: int.from_bytes(ctx[off:off + width], "little") for name, off, width in layout.fields
            if off + width <= len(ctx)}
    maps: dict[int, dict[bytes, bytearray]] = {}
    missed: list[tuple[int, int, bytes]] = []  # (call number, map, key) of lookups that found nothing
    for number, lookup in enumerate(inputs.lookups):
        mdef = env.maps[lookup.map_index]
        key = _int(model, lookup.key).to_bytes(max(mdef.key_size, 1), "little")[:mdef.key_size]
        if not z3.is_true(model.eval(lookup.found, model_completion=True)):
            missed.append((number, lookup.map_index, key))
            continue
        value = maps.setdefault(lookup.map_index, {}).setdefault(key, bytearray(mdef.value_size))
        for offset, width, raw in lookup.reads:
            at = model.eval(offset, model_completion=True).as_signed_long()
            if 0 <= at and at + width <= mdef.value_size:
                value[at:at + width] = _int(model, raw).to_bytes(width, "little")
    kmem = []
    for _, source, result, copied, length, string in inputs.reads:
        address = _int(model, source)
        if string:
            n = model.eval(result, model_completion=True).as_signed_long()
            if n > 0:
                kmem.append({"address": address, "hex": (_bytes(model, copied, z3.BitVecVal(0, 64), n - 1)
                                                          + b"\0").hex()})
        elif z3.is_true(model.eval(result, model_completion=True)):
            kmem.append({"address": address, "hex": _bytes(model, copied, z3.BitVecVal(0, 64), length).hex()})
    env_json: dict[str, Any] = {}
    unset = []
    cpu = 0
    for _, name, term in inputs.helpers:
        value = _int(model, term)
        if name == "get_current_pid_tgid":
            env_json.setdefault("pid", value & 0xFFFFFFFF)
            env_json.setdefault("tgid", value >> 32)
        elif name == "get_current_uid_gid":
            env_json.setdefault("uid", value & 0xFFFFFFFF)
            env_json.setdefault("gid", value >> 32)
        elif name == "ktime_get_ns":
            env_json.setdefault("ktime_ns", value)
        elif name == "ktime_get_boot_ns":
            env_json.setdefault("boot_ns", value)
        elif name == "jiffies64":
            env_json.setdefault("jiffies", value)
        elif name == "get_smp_processor_id":
            cpu = value
        elif name == "get_numa_node_id":
            env_json.setdefault("numa_node", value)
        elif name == "get_current_cgroup_id":
            env_json.setdefault("cgroup_id", value)
        elif name == "get_func_ip":
            env_json.setdefault("func_ip", value)
        elif name == "get_attach_cookie":
            env_json.setdefault("attach_cookie", value)
        elif name not in PROBE_READS:  # (a probe read's result follows from the kernel memory given)
            unset.append(f"the result of {name} ({value:#x})")
    failing: dict[str, list[int]] = {}
    for helper, number, failed in inputs.failures:
        if z3.is_true(model.eval(failed, model_completion=True)):
            failing.setdefault(helper, []).append(number)
    for number, index, key in missed:
        if key in maps.get(index, {}):  # the key is there for another lookup: this one misses by the world's doing
            failing.setdefault("map_lookup_elem", []).append(number)
    if failing:
        env_json["failing_calls"] = failing
    for what, chosen in inputs.choices:
        if z3.is_true(model.eval(chosen, model_completion=True)):
            unset.append(what)
    map_docs = []
    for index, entries in sorted(maps.items()):
        mdef = env.maps[index]
        if mdef.type not in (ARRAY, PERCPU_ARRAY) and len(entries) > mdef.max_entries:
            unset.append(f"more keys of map {mdef.name} than it holds")
        map_docs.append({"index": index, "name": mdef.name,
                         "entries": [{"key": k.hex(), "value": bytes(v).hex()} for k, v in sorted(entries.items())]})
    missing = [{"index": index, "name": env.maps[index].name, "key": key.hex()}
               for index, key in sorted({(index, key) for _, index, key in missed if key not in maps.get(index, {})})]
    return Counterexample(regs, map_docs, kmem, env_json, cpu, list(found.path), unset, missing)


def replay(program: Program, cx: Counterexample, pc: int, fault: FaultKind | str, arch: str = "x86_64",
           budget: int = 1_000_000, trace: Callable[[int, tuple], None] | None = None,
           within: frozenset[int] | None = None) -> Replay:
    """Run the program on the counterexample's inputs; confirmed when it faults at `pc` (or at one
    of the pcs `within`: a loop that uses up the budget may stop anywhere in it) with `fault`.
    `trace(pc, registers)` is called after each executed instruction (the interpreter's trace hook)."""
    try:
        environment = Environment.from_json(cx.env) if cx.env else Environment()
        kmem = KernelMemory.from_json(cx.kmem) if cx.kmem else KernelMemory()
        session = KprobeSession([program], arch=arch, kmem=kmem, env=environment,
                                ncpus=max(cx.cpu + 1, 1), budget=budget, trace=trace)
        for doc in cx.maps:
            session.maps[doc["index"]].load_entries(doc["entries"])
        ctx = session.context(cx.regs)
        outcome = session.run_program(0, ctx, cpu=cx.cpu)
    except Exception as exc:  # noqa: BLE001 - inputs the runtime refuses make an unconfirmed replay, with why
        return Replay(False, None, f"the runtime refused the inputs: {exc}")
    got = outcome.fault
    if got is None:
        why = "the run ended without a fault"
        if cx.unset:
            why += f"; it depends on {', '.join(cx.unset)}, which the replay cannot fix"
        return Replay(False, None, why)
    if (got.pc == pc or (within is not None and got.pc in within)) and got.kind == fault:
        return Replay(True, got.to_json())
    return Replay(False, got.to_json(), f"the run faulted at insn {got.pc} ({got.kind.value}) instead")


def fewer_registers(program: Program, cx: Counterexample, pc: int, fault: FaultKind | str, arch: str,
                    run: Replay) -> tuple[Counterexample, Replay]:
    """`cx` with each register the fault does not need set to 0, and the others to a smaller value
    where one does (1, or the low byte, as replays show), so that a report names only the inputs
    that matter, readably; `run` is `cx`'s confirmed replay."""
    for name, value in cx.regs.items():
        for smaller in sorted({0, 1, value & 0xFF, value & 0xFFFF_FFFF}):
            if smaller >= value:
                break
            fewer = replace(cx, regs={**cx.regs, name: smaller})
            again = replay(program, fewer, pc, fault, arch)
            if again.confirmed:
                cx, run = fewer, again
                break
    return cx, run


__all__ = ["Counterexample", "Replay", "counterexample", "fewer_registers", "replay"]
