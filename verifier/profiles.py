"""Profiles: the rules of one kernel. A profile names the instructions it supports, its limits,
and its program types, each an ops table like the seed's `bpf_verifier_ops`: the helpers the
type may call and which context accesses are valid."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from interp.helper_ids import HELPER_IDS, HELPER_NAMES
from interp.helper_sets import linux_6_18
from interp.helpers import ArgType, Helper, HelperRegistry
from interp.isa.opcodes import JmpOp, PseudoSrc
from interp.isa.ops import (
    Alu,
    Atomic,
    AtomicKind,
    Branch,
    Jump,
    Load,
    LoadBtfRef,
    LoadFuncRef,
    LoadMapRef,
    LocalCall,
    MayGoto,
    Op,
    Swap,
    SwapKind,
)
from interp.kprobe_helpers import SEED_ARGS, kprobe_helpers
from interp.program import MAP_TYPE_NAMES
from interp.pt_regs import layout_for

# valid_access(offset, size, write, arch) -> None when valid, else the reason
ContextRule = Callable[[int, int, bool, str], "str | None"]


def _window(what: str, lo: int, hi: Callable[[str], int], bounds: str) -> ContextRule:
    """A read-only context whose bytes [lo, hi(arch)) may be loaded at aligned offsets."""

    def rule(off: int, size: int, write: bool, arch: str) -> str | None:
        if write:
            return f"{what} is read-only"
        if off < lo or off + size > hi(arch):
            return bounds.format(size=hi(arch), arch=arch) + "; read only within it"
        if off % size:
            return f"context loads must be aligned: offset {off} is not a multiple of {size}; read the field at its own offset and size"
        return None

    return rule


_pt_regs_access = _window("the context (struct pt_regs)", 0, lambda arch: layout_for(arch).size,
                          "sizeof(struct pt_regs) is {size} on {arch}")
_tracepoint_access = _window("the tracepoint record", 8, lambda arch: 2048,
                             "a tracepoint program reads its record from offset 8 (after the common fields) to 2048")
_raw_tracepoint_access = _window("the raw tracepoint arguments", 0, lambda arch: 96,
                                 "a raw tracepoint program reads at most 12 eight-byte arguments (96 bytes)")


_perf_event_window = _window("struct bpf_perf_event_data", 0, lambda arch: layout_for(arch).size + 16,
                             "sizeof(struct bpf_perf_event_data) is {size} on {arch}")


def _perf_event_access(off: int, size: int, write: bool, arch: str) -> str | None:
    reason = _perf_event_window(off, size, write, arch)
    if reason is None and off < layout_for(arch).size and size != 8:
        return "registers in struct bpf_perf_event_data are read 8 bytes at a time"
    return reason


@dataclass(frozen=True)
class ProgramTypeOps:
    name: str
    helpers: frozenset[str]
    context: ContextRule
    context_name: str
    gpl_only: frozenset[str] | None = None  # the type's GPL-only helpers; None: as the helper records say
    refused: dict[str, str] = field(default_factory=dict)  # offered, but refused whatever the arguments: why


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    max_insns: int
    program_types: dict[str, ProgramTypeOps]
    allow_loops: bool
    allow_local_calls: bool
    v4_instructions: bool  # sdiv/smod, movsx, sign-extending loads, bswap, gotol (Linux 6.6)
    jmp32: bool  # the JMP32 class (Linux 5.1)
    extra_jumps: bool  # jlt, jle, jslt, jsle (Linux 4.14)
    fetch_atomics: bool  # atomics other than add, and fetch forms (Linux 5.12)
    variable_stack_access: bool
    check_kern_version: bool
    array_lookup_non_null: bool  # a constant in-range key into an array map cannot miss
    may_goto: bool = False  # the may_goto instruction (Linux 6.9)
    helper_args: dict[str, tuple[ArgType, ...]] = field(default_factory=dict)  # overrides
    max_call_depth: int = 8
    # findings that are warnings for the privileged programs the profile verifies (errors under --strict,
    # the rules for unprivileged programs): the kernel lets such programs read stack they did not write
    warnings: frozenset[str] = frozenset()

    def unsupported(self, op: Op) -> str | None:
        """Why the profile's kernel does not know the operation `op`, or None."""
        if isinstance(op, Jump) and op.long and not self.jmp32:
            return "the JMP32 instruction class arrived in Linux 5.1"
        if isinstance(op, Branch):
            if op.width == 32 and not self.jmp32:
                return "the JMP32 instruction class arrived in Linux 5.1"
            if op.cond in (JmpOp.JLT, JmpOp.JLE, JmpOp.JSLT, JmpOp.JSLE) and not self.extra_jumps:
                return "jlt, jle, jslt and jsle arrived in Linux 4.14"
        if isinstance(op, LocalCall) and not self.allow_local_calls:
            return "calls of local functions (bpf-to-bpf calls) arrived in Linux 4.16"
        if not self.v4_instructions:
            if isinstance(op, Alu) and op.signed:
                return "signed division and modulo arrived in Linux 6.6"
            if isinstance(op, Alu) and op.extend:
                return "sign-extending moves arrived in Linux 6.6"
            if isinstance(op, Load) and op.signed:
                return "sign-extending loads arrived in Linux 6.6"
            if isinstance(op, Swap) and op.kind == SwapKind.SWAP:
                return "unconditional byte swaps arrived in Linux 6.6"
            if isinstance(op, Jump) and op.long:
                return "gotol arrived in Linux 6.6"
        if isinstance(op, MayGoto) and not self.may_goto:
            return "may_goto arrived in Linux 6.9"
        if isinstance(op, Atomic) and (op.kind != AtomicKind.ADD or op.fetch) and not self.fetch_atomics:
            return "atomic operations other than add arrived in Linux 5.12"
        if isinstance(op, (LoadMapRef, LoadFuncRef, LoadBtfRef)) and self.name == "linux-4.1" and (
                not isinstance(op, LoadMapRef) or op.pseudo != PseudoSrc.MAP_FD):
            return "only map-fd pseudo loads existed in Linux 4.1"
        return None


def _probed(name: str, context: ContextRule, context_name: str) -> "ProgramTypeOps":
    """A program type of the running kernel, its helpers as probed (interp/data/linux-6.18-helpers.json)."""
    helpers = linux_6_18().types[name]
    return ProgramTypeOps(name, helpers.names(), context, context_name,
                          gpl_only=frozenset(HELPER_NAMES[i] for i, gpl in helpers.allowed.items() if gpl),
                          refused={HELPER_NAMES[i]: reason for i, reason in helpers.refused.items()})


LINUX_6_18 = Profile(
    name="linux-6.18",
    description="the running kernel (Linux 6.18): its kprobe helper set, bounded loops, 1M instructions",
    max_insns=1_000_000,
    program_types={
        # the helper sets are the running kernel's, probed (it refuses probe_write_user and override_return:
        # "program of this type cannot use helper" for both, from lockdown and CONFIG_BPF_KPROBE_OVERRIDE)
        "kprobe": _probed("kprobe", _pt_regs_access, "struct pt_regs"),
        "tracepoint": _probed("tracepoint", _tracepoint_access, "the tracepoint record"),
        "raw_tracepoint": _probed("raw_tracepoint", _raw_tracepoint_access, "struct bpf_raw_tracepoint_args"),
        "perf_event": _probed("perf_event", _perf_event_access, "struct bpf_perf_event_data"),
    },
    allow_loops=True,
    allow_local_calls=True,
    v4_instructions=True,
    jmp32=True,
    extra_jumps=True,
    fetch_atomics=True,
    variable_stack_access=True,
    check_kern_version=False,
    array_lookup_non_null=True,
    may_goto=True,
    warnings=frozenset({"stack-uninitialised-read"}),
)

LINUX_4_1 = Profile(
    name="linux-4.1",
    description="the seed (Linux 4.1): four helpers, no back-edges, 4096 instructions, kern_version must match",
    max_insns=4096,
    program_types={
        "kprobe": ProgramTypeOps("kprobe", frozenset({"map_lookup_elem", "map_update_elem", "map_delete_elem",
                                                      "probe_read"}), _pt_regs_access, "struct pt_regs"),
    },
    allow_loops=False,
    allow_local_calls=False,
    v4_instructions=False,
    jmp32=False,
    extra_jumps=False,
    fetch_atomics=False,
    variable_stack_access=False,
    check_kern_version=True,
    array_lookup_non_null=False,
    helper_args=dict(SEED_ARGS),
    max_call_depth=1,
)

# Which maps which helpers take, as the kernel's check_map_func_compatibility has it: some map
# types serve only their own helpers, and those helpers take only their own map type.
_TYPE = {name: number for number, name in MAP_TYPE_NAMES.items()}
_PERF_HELPERS = frozenset({"perf_event_read", "perf_event_output", "perf_event_read_value", "skb_output", "xdp_output"})
_RINGBUF_HELPERS = frozenset({"ringbuf_output", "ringbuf_reserve", "ringbuf_query", "ringbuf_reserve_dynptr"})
_QUEUE_HELPERS = frozenset({"map_peek_elem", "map_pop_elem", "map_push_elem"})
MAP_SERVES_ONLY: dict[int, frozenset[str]] = {
    _TYPE["prog_array"]: frozenset({"tail_call"}),
    _TYPE["perf_event_array"]: _PERF_HELPERS,
    _TYPE["stack_trace"]: frozenset({"get_stackid"}),
    _TYPE["cgroup_array"]: frozenset({"skb_under_cgroup", "current_task_under_cgroup"}),
    _TYPE["array_of_maps"]: frozenset({"map_lookup_elem"}),
    _TYPE["hash_of_maps"]: frozenset({"map_lookup_elem"}),
    _TYPE["queue"]: _QUEUE_HELPERS,
    _TYPE["stack"]: _QUEUE_HELPERS,
    _TYPE["ringbuf"]: _RINGBUF_HELPERS,
    _TYPE["task_storage"]: frozenset({"task_storage_get", "task_storage_delete"}),
    _TYPE["cgrp_storage"]: frozenset({"cgrp_storage_get", "cgrp_storage_delete"}),
    _TYPE["user_ringbuf"]: frozenset({"user_ringbuf_drain"}),
}
# those helpers (map_lookup_elem aside, which every other map serves too) take only those maps
HELPER_TAKES_ONLY: dict[str, frozenset[int]] = {
    helper: frozenset(t for t, served in MAP_SERVES_ONLY.items() if helper in served)
    for helper in frozenset().union(*MAP_SERVES_ONLY.values()) - {"map_lookup_elem"}
}
# helpers that take only some of the maps that serve everyone
HELPER_TAKES_ONLY["map_lookup_percpu_elem"] = frozenset({_TYPE["percpu_array"], _TYPE["percpu_hash"],
                                                         _TYPE["lru_percpu_hash"]})


def map_type_name(map_type: int) -> str:
    return MAP_TYPE_NAMES.get(map_type, f"type {map_type}")


def map_helper_mismatch(map_type: int, helper: str) -> str | None:
    """Why `helper` may not be given a map of `map_type`, or None."""
    serves = MAP_SERVES_ONLY.get(map_type)
    if serves is not None and helper not in serves:
        return f"a {map_type_name(map_type)} map serves only {', '.join(sorted(serves))}"
    takes = HELPER_TAKES_ONLY.get(helper)
    if takes is not None and map_type not in takes:
        return f"{helper} takes only a {' or '.join(map_type_name(t) for t in sorted(takes))} map"
    return None


PROFILES = {p.name: p for p in (LINUX_6_18, LINUX_4_1)}
DEFAULT_PROFILE = LINUX_6_18.name


def helper_registry(ops: ProgramTypeOps | None = None) -> HelperRegistry:
    """The helper records; with `ops`, each GPL-only exactly where that program type's helper is."""
    registry = kprobe_helpers()
    if ops is not None and ops.gpl_only is not None:
        for helper_id, helper in list(registry.helpers.items()):
            registry.helpers[helper_id] = replace(helper, gpl_only=helper.name in ops.gpl_only)
    return registry


def allowed(profile: Profile, prog_type: str, helper: Helper) -> bool:
    ops = profile.program_types.get(prog_type)
    return ops is not None and helper.name in ops.helpers


__all__ = ["DEFAULT_PROFILE", "HELPER_IDS", "HELPER_TAKES_ONLY", "LINUX_4_1", "LINUX_6_18", "MAP_SERVES_ONLY",
           "PROFILES", "Profile", "ProgramTypeOps", "allowed", "helper_registry", "map_helper_mismatch", "map_type_name"]
