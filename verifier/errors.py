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
    MAP_VALUE_MISALIGNED = "map-value-misaligned"
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
    UNSUPPORTED_HELPER = "unsupported-helper"
    CALLBACK_RETURN = "callback-return"
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
    INVALID_JUMP = "invalid-jump"
    INVALID_IMMEDIATE = "invalid-immediate"
    INVALID_MAP_REFERENCE = "invalid-map-reference"
    PARTIAL_POINTER_FILL = "partial-pointer-fill"
    INVALID_INSTRUCTION = "invalid-instruction"
    PARTIAL_POINTER_SPILL = "partial-pointer-spill"
    STACK_POINTER_ESCAPE = "stack-pointer-escape"
    TAIL_CALL_IN_SUBPROGRAM = "tail-call-in-subprogram"
    MISALIGNED_ATOMIC = "misaligned-atomic"
    TOO_COMPLEX = "too-complex"


RULES: dict[str, str] = {
    Code.TOO_COMPLEX: "A run may execute at most the kernel's limit of processed instructions (1M), loops included.",
    Code.CTX_WRITE: "The context (struct pt_regs) is read-only.",
    Code.CTX_MISALIGNED: "Context loads must be aligned to their size.",
    Code.CTX_OUT_OF_BOUNDS: "Context loads must stay within the context structure.",
    Code.CTX_VARIABLE_OFFSET: "Context loads must use a constant offset.",
    Code.CTX_MODIFIED_POINTER: "The context pointer may not be moved before it is dereferenced.",
    Code.STACK_OUT_OF_BOUNDS: "Stack accesses must stay within the 512-byte frame.",
    Code.STACK_MISALIGNED: "Stack accesses must be aligned to their size.",
    Code.STACK_UNINITIALISED: "Stack bytes must be written before they are read.",
    Code.STACK_VARIABLE_OFFSET: "Stack accesses must use a constant offset in this profile.",
    Code.MAP_VALUE_OUT_OF_BOUNDS: "Map value accesses must stay within the map's value size.",
    Code.MAP_VALUE_MISALIGNED: "Map value accesses must be aligned to their size (linux-4.1).",
    Code.MAP_VALUE_READ_ONLY: "Read-only map values may not be written.",
    Code.MEM_OUT_OF_BOUNDS: "Ring buffer record accesses must stay within the record.",
    Code.NULL_DEREFERENCE: "A pointer that may be NULL must be compared with 0 before use.",
    Code.INVALID_DEREFERENCE: "Only pointers to the stack, context, map values and records may be dereferenced.",
    Code.UNINITIALISED_REGISTER: "Registers must be written before they are read.",
    Code.FRAME_POINTER_WRITE: "r10, the frame pointer, is read-only.",
    Code.POINTER_ARITHMETIC: "Pointer arithmetic is limited to what the kernel allows.",
    Code.TYPE_CONFLICT: "A register must hold the same kind of value on every path where it is used.",
    Code.UNKNOWN_HELPER: "Only the helpers of the profile's program type may be called.",
    Code.HELPER_ARGUMENT: "Helper arguments must have the types of the helper's prototype.",
    Code.HELPER_MEMORY: "Memory passed to a helper must be valid for the size passed with it.",
    Code.UNSUPPORTED_HELPER: "A helper argument of a kind the verifier does not model (callbacks, dynptrs, timers, "
                             "spin locks, kptrs, per-CPU kernel variables, cgroup objects) is refused.",
    Code.CALLBACK_RETURN: "A bpf_loop callback must return 0 (go on) or 1 (stop).",
    Code.GPL_ONLY_HELPER: "GPL-only helpers need a GPL-compatible license.",
    Code.R0_UNINITIALISED: "r0 must be set before exit.",
    Code.RETURN_STACK_POINTER: "A function may not return a pointer into its own stack frame.",
    Code.UNRELEASED_REFERENCE: "Acquired references (ring buffer records) must be released on every path.",
    Code.BACK_EDGE: "The profile's kernel rejects every back-edge.",
    Code.UNBOUNDED_LOOP: "Every loop must have a bound the analysis can prove.",
    Code.UNREACHABLE: "Every instruction must be reachable.",
    Code.PROGRAM_TOO_LARGE: "The program must fit the profile's instruction limit.",
    Code.KERN_VERSION: "The program's kern_version must match the target kernel.",
    Code.UNSUPPORTED_INSTRUCTION: "Only instructions the profile's kernel knows may be used.",
    Code.CALL_DEPTH: "Local calls may nest at most as deep as the profile allows.",
    Code.RECURSION: "Local functions may not call themselves, directly or not.",
    Code.STACK_DEPTH: "The stack frames of a call chain must fit the combined stack limit.",
    Code.PROGRAM_TYPE: "The profile must load programs of this type.",
    Code.UNRESOLVED_RELOCATION: "Every relocation must be resolved before loading.",
    Code.INVALID_JUMP: "Jumps and calls must land on an instruction of the program.",
    Code.INVALID_IMMEDIATE: "Division by an immediate 0 and shifts by an immediate outside the width are refused.",
    Code.INVALID_MAP_REFERENCE: "A direct map value load needs a one-element array map and an offset inside its value.",
    Code.PARTIAL_POINTER_FILL: "A spilled pointer must be read back whole, as 8 bytes.",
    Code.PARTIAL_POINTER_SPILL: "A pointer must be stored to the stack whole, as 8 bytes.",
    Code.STACK_POINTER_ESCAPE: "A pointer into a stack frame may not be stored into a calling function's stack.",
    Code.TAIL_CALL_IN_SUBPROGRAM: "Without BTF function information, only the main function may make tail calls.",
    Code.MISALIGNED_ATOMIC: "Atomic operations on map values and records must be aligned to their size.",
    Code.INVALID_INSTRUCTION: "Every instruction must be a valid encoding (known opcode, reserved fields zero).",
}


ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    pc: int
    code: str
    message: str
    source: str | None = None  # "file:line" where the object has line info
    severity: str = ERROR  # a warning does not make the program unsafe under the profile's rules
    proof: dict[str, Any] | None = None  # what z3 made of it (verifier.smt.Judgement.to_json), where asked
    kernel_message: str | None = None  # the profile's kernel's own words for it (linux-4.1), to match its log

    def to_json(self) -> dict[str, Any]:
        out = {"pc": self.pc, "code": self.code, "message": self.message, "source": self.source,
               "severity": self.severity}
        if self.kernel_message is not None:
            out["kernel_message"] = self.kernel_message
        if self.proof is not None:
            out["proof"] = self.proof
        return out

    def __str__(self) -> str:
        where = f" ({self.source})" if self.source else ""
        level = "warning: " if self.severity == WARNING else ""
        return f"insn {self.pc}{where}: {level}{self.code}: {self.message}"


class ResourceLimit(Exception):
    """The analysis reached its time, memory or work bound: the verdict is unknown."""
