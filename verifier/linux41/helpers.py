"""The helpers a Linux 4.1 kprobe program may call (kernel/trace/bpf_trace.c's
kprobe_prog_func_proto of 4.1) and their prototypes (struct bpf_func_proto: argument types,
return type, GPL-only), in the 4.1 verifier's own terms."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

FUNC_MAX_ID = 12  # 4.1's __BPF_FUNC_MAX_ID: ids past l4_csum_replace (11) are "invalid func"


class Arg(Enum):
    DONTCARE = "ARG_DONTCARE"
    ANYTHING = "ARG_ANYTHING"
    CONST_MAP_PTR = "ARG_CONST_MAP_PTR"
    PTR_TO_MAP_KEY = "ARG_PTR_TO_MAP_KEY"
    PTR_TO_MAP_VALUE = "ARG_PTR_TO_MAP_VALUE"
    PTR_TO_STACK = "ARG_PTR_TO_STACK"
    CONST_STACK_SIZE = "ARG_CONST_STACK_SIZE"


class Ret(Enum):
    INTEGER = "RET_INTEGER"
    MAP_VALUE_OR_NULL = "RET_PTR_TO_MAP_VALUE_OR_NULL"


@dataclass(frozen=True)
class Proto:
    name: str
    ret: Ret
    args: tuple[Arg, ...]  # r1, r2, ...; the rest DONTCARE
    gpl_only: bool


# exactly the ids kprobe_prog_func_proto (kernel/trace/bpf_trace.c of 4.1) answers: the three map helpers, whose
# prototypes are kernel/bpf/helpers.c's bpf_map_{lookup,update,delete}_elem_proto, and bpf_trace.c's own
# probe_read, ktime_get_ns and trace_printk (GPL-only all three). helpers.c of 4.1 also defines
# get_prandom_u32 (7) and get_smp_processor_id (8), but only socket filters and tc programs are offered them
# (net/core/filter.c): for a kprobe program check_call finds no prototype, "unknown func 7"
PROTOS: dict[int, Proto] = {
    1: Proto("map_lookup_elem", Ret.MAP_VALUE_OR_NULL, (Arg.CONST_MAP_PTR, Arg.PTR_TO_MAP_KEY), False),
    2: Proto("map_update_elem", Ret.INTEGER,
             (Arg.CONST_MAP_PTR, Arg.PTR_TO_MAP_KEY, Arg.PTR_TO_MAP_VALUE, Arg.ANYTHING), False),
    3: Proto("map_delete_elem", Ret.INTEGER, (Arg.CONST_MAP_PTR, Arg.PTR_TO_MAP_KEY), False),
    4: Proto("probe_read", Ret.INTEGER, (Arg.PTR_TO_STACK, Arg.CONST_STACK_SIZE, Arg.ANYTHING), True),
    5: Proto("ktime_get_ns", Ret.INTEGER, (), True),
    # the format is read from the stack: fmt and its size; r3-r5 are not checked
    6: Proto("trace_printk", Ret.INTEGER, (Arg.PTR_TO_STACK, Arg.CONST_STACK_SIZE), True),
}
NAMES = frozenset(p.name for p in PROTOS.values())
MAP_TYPES = {1: "hash", 2: "array"}  # the map types Linux 4.1 creates

# where later kernels' programs meet 4.1: the release that brought a helper to kprobe programs, or a map type
# (none of them is in 4.1's sources: the helpers past l4_csum_replace (11) and the map types past array (2) are
# not in its enums; get_prandom_u32 stayed a networking helper, "unknown func 7" to tracing programs, until 4.10)
HELPER_ARRIVED = {7: "4.10", 8: "4.2", 12: "4.2", 14: "4.2", 15: "4.2", 16: "4.2", 22: "4.3", 25: "4.4", 27: "4.6",
                  35: "4.8", 36: "4.8", 45: "4.11", 55: "4.15", 58: "4.16", 112: "5.5", 113: "5.5", 114: "5.5",
                  115: "5.5", 130: "5.8", 131: "5.8", 132: "5.8", 133: "5.8"}
MAP_TYPE_ARRIVED = {3: "4.2", 4: "4.3", 5: "4.6", 6: "4.6", 7: "4.6", 8: "4.8", 9: "4.10", 10: "4.10", 11: "4.11",
                    12: "4.12", 13: "4.12", 27: "5.8"}

__all__ = ["Arg", "FUNC_MAX_ID", "HELPER_ARRIVED", "MAP_TYPES", "MAP_TYPE_ARRIVED", "NAMES", "PROTOS", "Proto", "Ret"]
