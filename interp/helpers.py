"""Helper functions as data and code: one record per helper, like the kernel's `bpf_func_proto`.

The interpreter calls `impl`; the verifier reads `ret` and `args`. A registry maps helper ids
to records; each runtime (conformance, kprobe, ...) provides its own registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Protocol

from .faults import FaultKind, VmFault
from .memory import MemoryLimit

if TYPE_CHECKING:
    from .memory import AddressSpace


class HelperContext(Protocol):
    """What a helper may use of the run that calls it: the program's memory, and the runtime it
    acts on (maps, kernel memory, the environment: a `kprobe.KprobeSession`, ...)."""

    space: "AddressSpace"
    runtime: Any
    # (the interpreter's Machine also offers call_function(pc, entry, args) -> r0, for a helper
    # that calls a function of the program back, as bpf_loop does)


class ArgType(str, Enum):
    """What a helper argument must be (the kernel's `enum bpf_arg_type`)."""

    ANYTHING = "ARG_ANYTHING"
    CONST_MAP_PTR = "ARG_CONST_MAP_PTR"
    PTR_TO_MAP_KEY = "ARG_PTR_TO_MAP_KEY"
    PTR_TO_MAP_VALUE = "ARG_PTR_TO_MAP_VALUE"
    PTR_TO_STACK = "ARG_PTR_TO_STACK"
    PTR_TO_MEM = "ARG_PTR_TO_MEM"
    PTR_TO_UNINIT_MEM = "ARG_PTR_TO_UNINIT_MEM"
    CONST_STACK_SIZE = "ARG_CONST_STACK_SIZE"
    CONST_SIZE = "ARG_CONST_SIZE"
    CONST_SIZE_OR_ZERO = "ARG_CONST_SIZE_OR_ZERO"
    PTR_TO_CTX = "ARG_PTR_TO_CTX"
    CONST_ALLOC_SIZE_OR_ZERO = "ARG_CONST_ALLOC_SIZE_OR_ZERO"
    PTR_TO_ALLOC_MEM = "ARG_PTR_TO_ALLOC_MEM"
    # memory that may also be NULL, with a size of 0 then (ARG_PTR_TO_MEM | PTR_MAYBE_NULL)
    PTR_TO_MEM_OR_NULL = "ARG_PTR_TO_MEM_OR_NULL"  # read
    PTR_TO_UNINIT_MEM_OR_NULL = "ARG_PTR_TO_UNINIT_MEM_OR_NULL"  # written
    # 8 writable bytes, 8-byte aligned, for a result (ARG_PTR_TO_FIXED_SIZE_MEM | MEM_ALIGNED, once ARG_PTR_TO_LONG)
    PTR_TO_LONG = "ARG_PTR_TO_LONG"
    # a NUL-terminated string at a constant offset in a frozen, read-only map value (.rodata)
    PTR_TO_CONST_STR = "ARG_PTR_TO_CONST_STR"
    PTR_TO_UNINIT_MAP_VALUE = "ARG_PTR_TO_UNINIT_MAP_VALUE"  # value_size bytes the helper writes
    PTR_TO_MAP_VALUE_OR_NULL = "ARG_PTR_TO_MAP_VALUE_OR_NULL"
    # BTF-typed kernel objects, as only get_current_task_btf hands them to kprobe programs
    PTR_TO_BTF_TASK = "ARG_PTR_TO_BTF_ID(task_struct)"
    PTR_TO_BTF_TASK_OR_NULL = "ARG_PTR_TO_BTF_ID_OR_NULL(task_struct)"
    PTR_TO_BTF_CGROUP = "ARG_PTR_TO_BTF_ID(cgroup)"
    PTR_TO_BTF_ID_OR_NULL_RELEASE = "ARG_PTR_TO_BTF_ID_OR_NULL | OBJ_RELEASE"
    PTR_TO_PERCPU_BTF_ID = "ARG_PTR_TO_PERCPU_BTF_ID"
    PTR_TO_FUNC = "ARG_PTR_TO_FUNC"  # a callback: a function of the program the helper calls
    PTR_TO_STACK_OR_NULL = "ARG_PTR_TO_STACK_OR_NULL"  # the callback's context
    # special fields of BTF-described map values
    PTR_TO_SPIN_LOCK = "ARG_PTR_TO_SPIN_LOCK"
    PTR_TO_TIMER = "ARG_PTR_TO_TIMER"
    KPTR_XCHG_DEST = "ARG_KPTR_XCHG_DEST"
    PTR_TO_DYNPTR = "ARG_PTR_TO_DYNPTR"
    PTR_TO_UNINIT_DYNPTR = "ARG_PTR_TO_DYNPTR | MEM_UNINIT"


BPF_MAX_VAR_SIZ = 1 << 29  # the verifier's bound on a size argument
MAX_BPF_STACK = 512

# size argument -> (smallest, largest) value the helper's contract allows
SIZE_RANGES = {
    ArgType.CONST_SIZE: (1, BPF_MAX_VAR_SIZ - 1),
    ArgType.CONST_SIZE_OR_ZERO: (0, BPF_MAX_VAR_SIZ - 1),
    ArgType.CONST_STACK_SIZE: (1, MAX_BPF_STACK),
    ArgType.CONST_ALLOC_SIZE_OR_ZERO: (0, BPF_MAX_VAR_SIZ - 1),
}
# memory argument -> whether the helper writes it; its size is the argument after it
MEMORY_ARGS = {ArgType.PTR_TO_MEM: False, ArgType.PTR_TO_UNINIT_MEM: True, ArgType.PTR_TO_STACK: True}


class RetType(str, Enum):
    INTEGER = "RET_INTEGER"
    VOID = "RET_VOID"
    PTR_TO_MAP_VALUE_OR_NULL = "RET_PTR_TO_MAP_VALUE_OR_NULL"
    PTR_TO_MEM_OR_NULL = "RET_PTR_TO_MEM_OR_NULL"  # ring buffer records
    PTR_TO_BTF_TASK = "RET_PTR_TO_BTF_ID_TRUSTED(task_struct)"
    PTR_TO_BTF_PT_REGS = "RET_PTR_TO_BTF_ID_TRUSTED(pt_regs)"
    PTR_TO_BTF_ID_OR_NULL = "RET_PTR_TO_BTF_ID_OR_NULL"
    PTR_TO_MEM_OR_BTF_ID = "RET_PTR_TO_MEM_OR_BTF_ID"
    PTR_TO_DYNPTR_MEM_OR_NULL = "RET_PTR_TO_DYNPTR_MEM_OR_NULL"


class HelperExit(Exception):
    """Raised by a helper that ends the program (the conformance suite's `unwind`)."""

    def __init__(self, r0: int) -> None:
        super().__init__(r0)
        self.r0 = r0
        self.pc: int | None = None
        self.executed: int | None = None


HelperImpl = Callable[[HelperContext, int, list], int]  # (context, pc, [r1..r5]) -> r0


@dataclass(frozen=True)
class Helper:
    id: int
    name: str
    impl: HelperImpl  # (context, pc, args) -> r0
    ret: RetType = RetType.INTEGER
    args: tuple[ArgType, ...] = ()
    gpl_only: bool = False
    writes_map: bool = False  # changes the map of its ARG_CONST_MAP_PTR (refused on read-only maps)
    ret_range: tuple[int, int] | None = None  # signed bounds of an integer result, where they are known
    # the integer result is at most the size argument, or a negative errno (string reads, stack walks)
    ret_bounded_by_size: bool = False

    @property
    def nargs(self) -> int:
        return len(self.args)


@dataclass
class HelperRegistry:
    name: str
    helpers: dict[int, Helper] = field(default_factory=dict)

    def add(self, helper: Helper) -> Helper:
        self.helpers[helper.id] = helper
        return helper

    def get(self, helper_id: int) -> Helper | None:
        return self.helpers.get(helper_id)

    def call(self, machine: HelperContext, pc: int, helper_id: int, regs: list) -> int:
        helper = self.helpers.get(helper_id)
        if helper is None:
            raise VmFault(
                pc,
                FaultKind.UNKNOWN_HELPER,
                f"call to unknown helper {helper_id}; the {self.name} runtime provides "
                f"{', '.join(str(i) for i in sorted(self.helpers)) or 'none'}",
            )
        for i, value in enumerate(regs[: helper.nargs], start=1):
            if value is None:
                raise VmFault(
                    pc,
                    FaultKind.UNINITIALISED_REGISTER,
                    f"helper {helper.name} reads argument r{i}, which is not initialised; "
                    f"set r{i} before the call",
                )
        problem = argument_problem(helper, regs, getattr(machine.runtime, "context_address", None))
        if problem is not None:
            raise VmFault(pc, FaultKind.HELPER_ARGUMENT, f"{helper.name}: {problem}")
        check_memory(machine, pc, helper, regs)
        try:
            # all five argument registers are passed: some helpers read more than they declare
            return helper.impl(machine, pc, regs) & 0xFFFF_FFFF_FFFF_FFFF
        except MemoryLimit as exc:
            raise VmFault(pc, FaultKind.MEMORY_LIMIT, f"{helper.name}: {exc}") from None


def check_memory(machine: HelperContext, pc: int, helper: Helper, regs: list) -> None:
    """The memory before a size argument holds that many bytes, checked before the helper touches
    anything (the verifier proves it of every call)."""
    for i, kind in enumerate(helper.args):
        if kind not in SIZE_RANGES or not i:
            continue
        writes = MEMORY_ARGS.get(helper.args[i - 1])
        size = regs[i]
        if writes is not None and size:
            try:
                machine.space.span(pc, regs[i - 1], size, writes)
            except VmFault as exc:
                verb = "writable" if writes else "readable"
                raise VmFault(pc, FaultKind.HELPER_ARGUMENT,
                              f"{helper.name}: r{i} = {regs[i - 1]:#x} must point to {size} {verb} bytes: "
                              f"{exc.message}") from None


def argument_problem(helper: Helper, regs: list, context: int | None) -> str | None:
    """What in the argument values breaks the helper's prototype as a run can see it (sizes out of
    range, a context argument that is not the context), or None. Memory, maps and records are
    checked where the helper uses them."""
    for i, kind in enumerate(helper.args):
        value = regs[i]
        bounds = SIZE_RANGES.get(kind)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            shown = value - (1 << 64) if value >> 63 else value
            return (f"size r{i + 1} = {shown} is outside the helper's range {bounds[0]}..{bounds[1]}; "
                    "pass the size of the buffer")
        if kind == ArgType.PTR_TO_CTX and context is not None and value != context:
            return f"r{i + 1} = {value:#x} is not the context the program received in r1"
    return None


def _unwind(machine: HelperContext, pc: int, args: list) -> int:
    # The conformance suite's helper: returns its argument and ends the program when it is 0.
    if args[0] == 0:
        raise HelperExit(0)
    return int(args[0])


def conformance_helpers() -> HelperRegistry:
    """The helpers the eBPF conformance suite's programs call."""
    registry = HelperRegistry("conformance")
    registry.add(Helper(5, "unwind", _unwind, args=(ArgType.ANYTHING,)))
    return registry
