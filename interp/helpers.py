"""Helper functions as data and code: one record per helper, like the kernel's `bpf_func_proto`.

The interpreter calls `impl`; the verifier reads `ret` and `args`. A registry maps helper ids
to records; each runtime (conformance, kprobe, ...) provides its own registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Callable

from .faults import FaultKind, VmFault

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
    writes_map: bool = False  # changes the map of its ARG_CONST_MAP_PTR (refused on read-only maps)

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
        # all five argument registers are passed: some helpers read more than they declare
        return helper.impl(machine, pc, regs) & 0xFFFF_FFFF_FFFF_FFFF


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
