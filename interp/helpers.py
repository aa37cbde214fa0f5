"""Helper functions as data and code: one record per helper, like the kernel's `bpf_func_proto`.

The interpreter calls `impl`; the verifier reads `ret` and `args`. A registry maps helper ids
to records; each runtime (conformance, kprobe, ...) provides its own registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Callable

from .faults import FaultKind, VmFault
from .memory import MemoryLimit

if TYPE_CHECKING:
    from .vm import Machine


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


class HelperExit(Exception):
    """Raised by a helper that ends the program (the conformance suite's `unwind`)."""

    def __init__(self, r0: int) -> None:
        super().__init__(r0)
        self.r0 = r0
        self.pc: int | None = None
        self.executed: int | None = None


HelperImpl = Callable[["Machine", int, list], int]  # (machine, pc, [r1..r5]) -> r0


@dataclass(frozen=True)
class Helper:
    id: int
    name: str
    impl: HelperImpl  # (machine, pc, args) -> r0
    ret: RetType = RetType.INTEGER
    args: tuple[ArgType, ...] = ()
    gpl_only: bool = False

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

    def call(self, machine: "Machine", pc: int, helper_id: int, regs: list) -> int:
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
        check_sizes(machine, pc, helper, regs)
        try:
            # all five argument registers are passed: some helpers read more than they declare
            return helper.impl(machine, pc, regs) & 0xFFFF_FFFF_FFFF_FFFF
        except MemoryLimit as exc:
            raise VmFault(pc, FaultKind.MEMORY_LIMIT, f"{helper.name}: {exc}") from None


def check_sizes(machine: "Machine", pc: int, helper: Helper, regs: list) -> None:
    """What the verifier proves of a size argument and the memory before it, checked before the
    helper touches anything: the size is within the contract's range and the memory holds it."""
    for i, kind in enumerate(helper.args):
        bounds = SIZE_RANGES.get(kind)
        if bounds is None:
            continue
        size = regs[i]
        low, high = bounds
        if not low <= size <= high:
            shown = size - (1 << 64) if size >> 63 else size
            raise VmFault(pc, FaultKind.HELPER_ARGUMENT,
                          f"{helper.name}: size r{i + 1} = {shown} is outside the helper's range {low}..{high}; "
                          "pass the size of the buffer")
        writes = MEMORY_ARGS.get(helper.args[i - 1]) if i else None
        if writes is not None and size:
            try:
                machine.space.span(pc, regs[i - 1], size, writes)
            except VmFault as exc:
                verb = "writable" if writes else "readable"
                raise VmFault(pc, FaultKind.HELPER_ARGUMENT,
                              f"{helper.name}: r{i} = {regs[i - 1]:#x} must point to {size} {verb} bytes: "
                              f"{exc.message}") from None


def _unwind(machine: "Machine", pc: int, args: list) -> int:
    # The conformance suite's helper: returns its argument and ends the program when it is 0.
    if args[0] == 0:
        raise HelperExit(0)
    return int(args[0])


def conformance_helpers() -> HelperRegistry:
    """The helpers the eBPF conformance suite's programs call."""
    registry = HelperRegistry("conformance")
    registry.add(Helper(5, "unwind", _unwind, args=(ArgType.ANYTHING,)))
    return registry
