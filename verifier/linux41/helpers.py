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

__all__ = ["Arg", "FUNC_MAX_ID", "MAP_TYPES", "NAMES", "PROTOS", "Proto", "Ret"]
