"""Facts about helper argument kinds that the checks of `HelperCall` read: which kinds are not
modelled (and so refused), which may be NULL and what they are otherwise, and the constant
strings of frozen maps."""

from __future__ import annotations

from interp.helpers import ArgType
from interp.program import MapDef

# Kinds whose rules need state this verifier does not keep: a call passing one is refused.
UNMODELLED: dict[ArgType, str] = {
    ArgType.PTR_TO_FUNC: "a callback, which the helper calls with arguments and effects on the caller's "
                         "stack that this verifier does not analyse",
    ArgType.PTR_TO_SPIN_LOCK: "a struct bpf_spin_lock in a BTF-described map value (the kernel refuses such maps "
                              "in tracing programs)",
    ArgType.PTR_TO_TIMER: "a struct bpf_timer in a BTF-described map value, whose callback and lifetime this "
                          "verifier does not model",
    ArgType.KPTR_XCHG_DEST: "a referenced kernel pointer (kptr) field of a BTF-described map value",
    ArgType.PTR_TO_BTF_ID_OR_NULL_RELEASE: "a referenced kernel object, whose ownership this verifier does not track",
    ArgType.PTR_TO_DYNPTR: "a dynptr, whose state on the stack this verifier does not track",
    ArgType.PTR_TO_UNINIT_DYNPTR: "a dynptr, whose state on the stack this verifier does not track",
    ArgType.PTR_TO_PERCPU_BTF_ID: "a per-CPU kernel variable (a __ksym loaded by BTF id), which this verifier does "
                                  "not model",
    ArgType.PTR_TO_BTF_CGROUP: "a BTF pointer to a struct cgroup, which only kfuncs and BTF field reads give; "
                               "this verifier models neither",
}

# helpers whose callback (ARG_PTR_TO_FUNC) is analysed (`verifier.callbacks`); the others are refused
CALLBACK_HELPERS = frozenset({"loop"})

# kinds that accept NULL (a known 0), and what a non-NULL argument must be
MAYBE_NULL: dict[ArgType, ArgType] = {
    ArgType.PTR_TO_MEM_OR_NULL: ArgType.PTR_TO_MEM,
    ArgType.PTR_TO_UNINIT_MEM_OR_NULL: ArgType.PTR_TO_UNINIT_MEM,
    ArgType.PTR_TO_MAP_VALUE_OR_NULL: ArgType.PTR_TO_MAP_VALUE,
    ArgType.PTR_TO_STACK_OR_NULL: ArgType.PTR_TO_STACK,
    ArgType.PTR_TO_BTF_TASK_OR_NULL: ArgType.PTR_TO_BTF_TASK,
}

LONG_SIZE = 8


def const_string(mdef: MapDef, offset: int) -> bytes | str:
    """The NUL-terminated string at `offset` of a frozen map's value, or why there is none."""
    if not mdef.frozen or mdef.initial_value is None:
        return f"map {mdef.name} is not a frozen read-only map (.rodata), so its contents may change"
    if not 0 <= offset < mdef.value_size:
        return f"offset {offset} is outside the {mdef.value_size}-byte value of map {mdef.name}"
    tail = mdef.initial_value.ljust(mdef.value_size, b"\0")[offset:]
    if b"\0" not in tail:
        return f"the bytes from offset {offset} of map {mdef.name} hold no NUL: the string is not terminated"
    return tail.split(b"\0", 1)[0]
