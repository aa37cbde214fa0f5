"""Which maps which helpers take, as the kernel's `check_map_func_compatibility` has it: some map
types serve only their own helpers, and those helpers take only their own map types. The
verifier refuses a call that breaks these rules; they are facts about helpers and maps, kept
here beside the map types (`program.MAP_TYPE_NAMES`)."""

from __future__ import annotations

from .program import MAP_TYPE_NAMES

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



__all__ = ["HELPER_TAKES_ONLY", "MAP_SERVES_ONLY", "map_helper_mismatch", "map_type_name"]
