"""The verifier's findings: one code per rule, each message naming one cause, the instruction,
and what would make it safe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Code:
    """Stable error codes, one per rule."""

    CTX_WRITE = "ctx-write"
    CTX_MISALIGNED = "ctx-misaligned"
    CTX_OUT_OF_BOUNDS = "ctx-out-of-bounds"
    CTX_VARIABLE_OFFSET = "ctx-variable-offset"
    CTX_MODIFIED_POINTER = "ctx-modified-pointer"
    STACK_OUT_OF_BOUNDS = "stack-out-of-bounds"
    STACK_MISALIGNED = "stack-misaligned"
    STACK_UNINITIALISED = "stack-uninitialised-read"
    STACK_VARIABLE_OFFSET = "stack-variable-offset"
    MAP_VALUE_OUT_OF_BOUNDS = "map-value-out-of-bounds"
    MAP_VALUE_READ_ONLY = "map-value-read-only"
    MEM_OUT_OF_BOUNDS = "mem-out-of-bounds"
    NULL_DEREFERENCE = "possible-null-dereference"
    INVALID_DEREFERENCE = "invalid-dereference"
    UNINITIALISED_REGISTER = "uninitialised-register"
    FRAME_POINTER_WRITE = "frame-pointer-write"
    POINTER_ARITHMETIC = "pointer-arithmetic"
    TYPE_CONFLICT = "type-conflict"
    UNKNOWN_HELPER = "unknown-helper"
    HELPER_ARGUMENT = "helper-argument"
    HELPER_MEMORY = "helper-memory"
    GPL_ONLY_HELPER = "gpl-only-helper"
    R0_UNINITIALISED = "r0-uninitialised-at-exit"
    RETURN_STACK_POINTER = "return-stack-pointer"
    UNRELEASED_REFERENCE = "unreleased-reference"
    BACK_EDGE = "back-edge"
    UNBOUNDED_LOOP = "unbounded-loop"
    UNREACHABLE = "unreachable-instruction"
    PROGRAM_TOO_LARGE = "program-too-large"
    KERN_VERSION = "kern-version-mismatch"
    UNSUPPORTED_INSTRUCTION = "unsupported-instruction"
    CALL_DEPTH = "call-depth"
    RECURSION = "recursion"
    STACK_DEPTH = "combined-stack-too-large"
    PROGRAM_TYPE = "program-type"
    UNRESOLVED_RELOCATION = "unresolved-relocation"


@dataclass(frozen=True)
class Finding:
    pc: int
    code: str
    message: str
    source: str | None = None  # "file:line" where the object has line info

    def to_json(self) -> dict[str, Any]:
        return {"pc": self.pc, "code": self.code, "message": self.message, "source": self.source}

    def __str__(self) -> str:
        where = f" ({self.source})" if self.source else ""
        return f"insn {self.pc}{where}: {self.code}: {self.message}"


class ResourceLimit(Exception):
    """The analysis reached its time, memory or work bound: the verdict is unknown."""
