"""Typed faults: every way a run can stop abnormally carries the pc, the instruction and a reason."""

from __future__ import annotations

from enum import Enum
from typing import Any


class FaultKind(str, Enum):
    OUT_OF_BOUNDS = "out-of-bounds"
    MISALIGNED = "misaligned"
    READ_ONLY = "read-only"
    UNINITIALISED_REGISTER = "uninitialised-register"
    FRAME_POINTER_WRITE = "frame-pointer-write"
    UNKNOWN_HELPER = "unknown-helper"
    HELPER_ARGUMENT = "helper-argument"
    BUDGET_EXHAUSTED = "budget-exhausted"
    MEMORY_LIMIT = "memory-limit"
    CALL_DEPTH = "call-depth"
    UNSUPPORTED = "unsupported"


class VmFault(Exception):
    """A run stopped at `pc` for `kind`; `message` says why and what would avoid it."""

    def __init__(self, pc: int, kind: FaultKind, message: str) -> None:
        super().__init__(f"insn {pc}: {message}")
        self.pc = pc
        self.kind = kind
        self.message = message
        self.insn: Any = None  # the faulting Insn, filled in by the VM
        self.executed: int | None = None  # instructions executed, filled in by the VM

    def to_json(self) -> dict[str, Any]:
        return {
            "pc": self.pc,
            "kind": self.kind.value,
            "message": self.message,
            "insn": str(self.insn) if self.insn is not None else None,
        }


class ProgramError(ValueError):
    """A program that cannot be run at all (bad control flow, unresolvable reference)."""

    def __init__(self, pc: int | None, reason: str) -> None:
        super().__init__(f"insn {pc}: {reason}" if pc is not None else reason)
        self.pc = pc
        self.reason = reason
