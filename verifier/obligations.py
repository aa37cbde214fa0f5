"""Proof obligations: every safety question an instruction raises, as data.

`obligations(op, pc, rules)` is a pure function of a typed operation (`interp.isa.ops`) and the
rules it is checked under (program type, profile, helper contracts): it lists what must hold
before the operation runs. It does not look at any abstract state; `checker` discharges each
obligation against the state at the instruction (Proved, or an Alarm), and `transfer` computes
the state after the operation assuming its obligations hold.

Each `Kind` names one rule with its error code and what a concrete run does when the rule is
broken: the interpreter fault it reaches (`FaultKind`), or `POLICY` for rules no run can break
by itself (the kernel refuses such programs at load: a moved context pointer, pointer
arithmetic beyond its limits, an instruction the profile's kernel does not know). A code may be
the verdict of several kinds (reading uninitialised stack directly or through a helper)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from interp.faults import FaultKind
from interp.isa.opcodes import AluOp
from interp.isa.ops import (
    Alu,
    Atomic,
    Branch,
    Call,
    CallIndirect,
    Exit,
    Imm,
    KfuncCall,
    Load,
    LoadBtfRef,
    LoadFuncRef,
    LoadImm64,
    LoadMapRef,
    LocalCall,
    Neg,
    Op,
    PacketLoad,
    Reg,
    Store,
    Swap,
)

from .errors import Code

POLICY = "policy"  # a rule the kernel enforces at load; no concrete run breaks it by itself


class Kind(str, Enum):
    """One rule. The value is its name in reports and JSON."""

    # registers
    INITIALISED = "initialised"
    CONSISTENT_KIND = "consistent-kind"
    FRAME_POINTER_READ_ONLY = "frame-pointer-read-only"
    R0_SET_AT_EXIT = "r0-set-at-exit"
    # arithmetic
    VALID_IMMEDIATE = "valid-immediate"
    POINTER_ARITHMETIC = "pointer-arithmetic"
    # memory access through a pointer
    DEREFERENCEABLE = "dereferenceable"
    NOT_NULL = "not-null"
    CTX_CONSTANT_OFFSET = "ctx-constant-offset"
    CTX_UNMOVED = "ctx-unmoved"
    CTX_IN_BOUNDS = "ctx-in-bounds"
    CTX_ALIGNED = "ctx-aligned"
    CTX_READ_ONLY = "ctx-read-only"
    CTX_ONE_POINTER_KIND = "ctx-one-pointer-kind"
    STACK_IN_BOUNDS = "stack-in-bounds"
    STACK_ALIGNED = "stack-aligned"
    STACK_CONSTANT_OFFSET = "stack-constant-offset"
    STACK_INITIALISED = "stack-initialised"
    WHOLE_POINTER_FILL = "whole-pointer-fill"
    WHOLE_POINTER_SPILL = "whole-pointer-spill"
    STACK_POINTER_STAYS = "stack-pointer-stays"
    MAP_VALUE_IN_BOUNDS = "map-value-in-bounds"
    MAP_VALUE_WRITABLE = "map-value-writable"
    MAP_VALUE_ALIGNED = "map-value-aligned"  # linux-4.1 only
    MEM_IN_BOUNDS = "mem-in-bounds"
    ATOMIC_ALIGNED = "atomic-aligned"
    # 64-bit immediates and instructions
    VALID_MAP_REFERENCE = "valid-map-reference"
    SUPPORTED = "supported"
    # calls
    HELPER_ALLOWED = "helper-allowed"
    GPL_COMPATIBLE = "gpl-compatible"
    HELPER_ARGUMENTS = "helper-arguments"
    HELPER_STATIC_ARGUMENTS = "helper-static-arguments"
    HELPER_MEMORY = "helper-memory"
    HELPER_MEMORY_INITIALISED = "helper-memory-initialised"
    HELPER_MEMORY_WRITABLE = "helper-memory-writable"
    HELPER_MAP_WRITABLE = "helper-map-writable"
    HELPER_STACK_CONSTANT_OFFSET = "helper-stack-constant-offset"
    HELPER_MODELLED = "helper-modelled"
    CALLBACK_RETURN = "callback-return"
    REFERENCES_BOUNDED = "references-bounded"
    TAIL_CALL_RELEASED = "tail-call-released"
    TAIL_CALL_FROM_MAIN = "tail-call-from-main"
    CALL_DEPTH = "call-depth"
    NO_RECURSION = "no-recursion"
    # function and program exit
    REFERENCES_RELEASED = "references-released"
    NO_STACK_POINTER_RETURN = "no-stack-pointer-return"
    # the whole program (verifier.structure, verifier.termination)
    TERMINATES = "terminates"
    NO_BACK_EDGE = "no-back-edge"
    REACHABLE = "reachable"
    PROGRAM_SIZE = "program-size"
    KERN_VERSION = "kern-version"
    PROGRAM_TYPE = "program-type"
    RELOCATIONS_RESOLVED = "relocations-resolved"
    VALID_CONTROL_FLOW = "valid-control-flow"
    VALID_ENCODING = "valid-encoding"
    COMBINED_STACK = "combined-stack"
    COMPLEXITY = "complexity"


@dataclass(frozen=True)
class Rule:
    code: str
    fault: FaultKind | str  # the fault a concrete run reaches when the rule is broken, or POLICY
    safe: str  # what makes the program safe, in general terms (reports give the specific fix)
    # a POLICY about the kernel's abstract state that has a reading over runs (pointer arithmetic:
    # the numbers stay within +-2^29): z3 may show no run comes near it and drop its alarm, but a
    # run that does faults nowhere, so nothing confirms it
    refutable: bool = False


RULES: dict[Kind, Rule] = {
    Kind.INITIALISED: Rule(Code.UNINITIALISED_REGISTER, FaultKind.UNINITIALISED_REGISTER,
                           "write the register before reading it"),
    Kind.CONSISTENT_KIND: Rule(Code.TYPE_CONFLICT, POLICY, "keep one kind of value in the register on every path"),
    Kind.FRAME_POINTER_READ_ONLY: Rule(Code.FRAME_POINTER_WRITE, FaultKind.FRAME_POINTER_WRITE,
                                       "write another register than r10"),
    Kind.R0_SET_AT_EXIT: Rule(Code.R0_UNINITIALISED, FaultKind.UNINITIALISED_REGISTER, "set r0 before exit"),
    Kind.VALID_IMMEDIATE: Rule(Code.INVALID_IMMEDIATE, POLICY, "divide by a register, shift within the width"),
    Kind.POINTER_ARITHMETIC: Rule(Code.POINTER_ARITHMETIC, POLICY,
                                  "move pointers only by adding or subtracting bounded numbers", refutable=True),
    Kind.DEREFERENCEABLE: Rule(Code.INVALID_DEREFERENCE, FaultKind.OUT_OF_BOUNDS,
                               "dereference only pointers to the stack, the context, map values and records"),
    Kind.NOT_NULL: Rule(Code.NULL_DEREFERENCE, FaultKind.OUT_OF_BOUNDS, "compare the pointer with 0 first"),
    Kind.CTX_CONSTANT_OFFSET: Rule(Code.CTX_VARIABLE_OFFSET, POLICY, "read context fields at constant offsets"),
    Kind.CTX_UNMOVED: Rule(Code.CTX_MODIFIED_POINTER, POLICY, "dereference the context pointer unmoved"),
    Kind.CTX_IN_BOUNDS: Rule(Code.CTX_OUT_OF_BOUNDS, FaultKind.OUT_OF_BOUNDS, "read within the context"),
    Kind.CTX_ALIGNED: Rule(Code.CTX_MISALIGNED, FaultKind.MISALIGNED, "read context fields at aligned offsets"),
    Kind.CTX_READ_ONLY: Rule(Code.CTX_WRITE, FaultKind.READ_ONLY, "copy the context to the stack to change it"),
    Kind.CTX_ONE_POINTER_KIND: Rule(Code.TYPE_CONFLICT, POLICY, "read the context with its own instructions"),
    Kind.STACK_IN_BOUNDS: Rule(Code.STACK_OUT_OF_BOUNDS, FaultKind.OUT_OF_BOUNDS, "stay within the 512-byte stack"),
    Kind.STACK_ALIGNED: Rule(Code.STACK_MISALIGNED, POLICY, "access the stack at offsets aligned to the size"),
    Kind.STACK_CONSTANT_OFFSET: Rule(Code.STACK_VARIABLE_OFFSET, POLICY, "access the stack at constant offsets"),
    Kind.STACK_INITIALISED: Rule(Code.STACK_UNINITIALISED, POLICY, "write stack bytes before reading them"),
    Kind.WHOLE_POINTER_FILL: Rule(Code.PARTIAL_POINTER_FILL, POLICY, "read a spilled pointer back whole"),
    Kind.WHOLE_POINTER_SPILL: Rule(Code.PARTIAL_POINTER_SPILL, POLICY, "spill pointers whole, as 8-byte stores"),
    Kind.STACK_POINTER_STAYS: Rule(Code.STACK_POINTER_ESCAPE, POLICY, "keep pointers to a frame out of its callers"),
    Kind.MAP_VALUE_IN_BOUNDS: Rule(Code.MAP_VALUE_OUT_OF_BOUNDS, FaultKind.OUT_OF_BOUNDS,
                                   "check the offset against the value size"),
    Kind.MAP_VALUE_WRITABLE: Rule(Code.MAP_VALUE_READ_ONLY, FaultKind.READ_ONLY, "write only writable maps"),
    Kind.MAP_VALUE_ALIGNED: Rule(Code.MAP_VALUE_MISALIGNED, POLICY, "access map values at offsets aligned to the size"),
    Kind.MEM_IN_BOUNDS: Rule(Code.MEM_OUT_OF_BOUNDS, FaultKind.OUT_OF_BOUNDS, "stay within the record"),
    Kind.ATOMIC_ALIGNED: Rule(Code.MISALIGNED_ATOMIC, FaultKind.MISALIGNED, "align atomic operations to their size"),
    Kind.VALID_MAP_REFERENCE: Rule(Code.INVALID_MAP_REFERENCE, POLICY, "refer to a map of the program"),
    Kind.SUPPORTED: Rule(Code.UNSUPPORTED_INSTRUCTION, POLICY, "use instructions the profile's kernel knows"),
    Kind.HELPER_ALLOWED: Rule(Code.UNKNOWN_HELPER, POLICY, "call the helpers of the program type"),
    Kind.GPL_COMPATIBLE: Rule(Code.GPL_ONLY_HELPER, POLICY, "declare a GPL-compatible license"),
    Kind.HELPER_ARGUMENTS: Rule(Code.HELPER_ARGUMENT, FaultKind.HELPER_ARGUMENT,
                                "pass arguments of the helper's prototype"),
    Kind.HELPER_STATIC_ARGUMENTS: Rule(Code.HELPER_ARGUMENT, POLICY,
                                       "pass constants and kinds of pointer where the kernel wants them at load"),
    Kind.HELPER_MEMORY: Rule(Code.HELPER_MEMORY, FaultKind.HELPER_ARGUMENT,
                             "pass buffers that hold the size passed with them"),
    Kind.HELPER_MEMORY_INITIALISED: Rule(Code.STACK_UNINITIALISED, POLICY, "initialise buffers helpers read"),
    Kind.HELPER_MEMORY_WRITABLE: Rule(Code.MAP_VALUE_READ_ONLY, FaultKind.HELPER_ARGUMENT,
                                      "pass writable buffers to helpers that write"),
    Kind.HELPER_MAP_WRITABLE: Rule(Code.MAP_VALUE_READ_ONLY, POLICY, "change read-only maps from user space only"),
    Kind.HELPER_STACK_CONSTANT_OFFSET: Rule(Code.STACK_VARIABLE_OFFSET, POLICY,
                                            "pass stack buffers at constant offsets"),
    Kind.CALLBACK_RETURN: Rule(Code.CALLBACK_RETURN, POLICY, "return 0 or 1 from a bpf_loop callback"),
    Kind.HELPER_MODELLED: Rule(Code.UNSUPPORTED_HELPER, POLICY, "use helpers whose arguments the verifier models"),
    Kind.REFERENCES_BOUNDED: Rule(Code.UNRELEASED_REFERENCE, POLICY, "release each record before the next"),
    Kind.TAIL_CALL_RELEASED: Rule(Code.UNRELEASED_REFERENCE, POLICY, "release records before a tail call"),
    Kind.TAIL_CALL_FROM_MAIN: Rule(Code.TAIL_CALL_IN_SUBPROGRAM, POLICY, "tail-call from the main function"),
    Kind.CALL_DEPTH: Rule(Code.CALL_DEPTH, FaultKind.CALL_DEPTH, "nest calls at most 8 deep"),
    Kind.NO_RECURSION: Rule(Code.RECURSION, POLICY, "turn recursion into a bounded loop"),
    Kind.REFERENCES_RELEASED: Rule(Code.UNRELEASED_REFERENCE, POLICY, "release every record on every path"),
    Kind.NO_STACK_POINTER_RETURN: Rule(Code.RETURN_STACK_POINTER, POLICY,
                                       "return values, not pointers into the returning frame"),
    Kind.TERMINATES: Rule(Code.UNBOUNDED_LOOP, FaultKind.BUDGET_EXHAUSTED, "bound every loop"),
    Kind.NO_BACK_EDGE: Rule(Code.BACK_EDGE, POLICY, "unroll loops"),
    Kind.REACHABLE: Rule(Code.UNREACHABLE, POLICY, "remove dead code"),
    Kind.PROGRAM_SIZE: Rule(Code.PROGRAM_TOO_LARGE, POLICY, "split the program"),
    Kind.KERN_VERSION: Rule(Code.KERN_VERSION, POLICY, "declare the target's kern_version"),
    Kind.PROGRAM_TYPE: Rule(Code.PROGRAM_TYPE, POLICY, "choose a profile that loads the program type"),
    Kind.RELOCATIONS_RESOLVED: Rule(Code.UNRESOLVED_RELOCATION, POLICY, "resolve every relocation"),
    Kind.VALID_CONTROL_FLOW: Rule(Code.INVALID_JUMP, POLICY, "land jumps inside their function"),
    Kind.VALID_ENCODING: Rule(Code.INVALID_INSTRUCTION, POLICY, "encode instructions as RFC 9669 defines"),
    Kind.COMBINED_STACK: Rule(Code.STACK_DEPTH, POLICY, "keep a chain of calls within 512 bytes of stack"),
    Kind.COMPLEXITY: Rule(Code.TOO_COMPLEX, POLICY, "run fewer iterations, or use bpf_loop"),
}


@dataclass(slots=True, unsafe_hash=True)
class Obligation:
    """What must hold before the instruction at `pc` runs. `reg` is the register it is about (a
    base pointer, an operand, a helper argument), `off`/`size` an access, `detail` anything
    else the kind needs (the role of a register read, a helper argument's type, ...).
    Never changed once made (it is a key of alarms and judgements); not declared frozen, as a
    frozen dataclass takes four times as long to make, and a program makes ~10 per instruction."""

    kind: Kind
    pc: int
    reg: int | None = None
    off: int = 0
    size: int = 0
    write: bool = False
    detail: Any = None

    @property
    def rule(self) -> Rule:
        return RULES[self.kind]


# the obligations of an access through `base`, checked in this order
_ACCESS = (Kind.CTX_ONE_POINTER_KIND, Kind.DEREFERENCEABLE, Kind.NOT_NULL, Kind.CTX_CONSTANT_OFFSET, Kind.CTX_UNMOVED,
           Kind.CTX_READ_ONLY, Kind.CTX_IN_BOUNDS, Kind.CTX_ALIGNED, Kind.STACK_IN_BOUNDS, Kind.STACK_ALIGNED,
           Kind.STACK_CONSTANT_OFFSET, Kind.STACK_INITIALISED, Kind.WHOLE_POINTER_FILL, Kind.MAP_VALUE_IN_BOUNDS,
           Kind.MAP_VALUE_WRITABLE, Kind.MEM_IN_BOUNDS)
_READ_ONLY_KINDS = frozenset({Kind.STACK_INITIALISED, Kind.WHOLE_POINTER_FILL})
_WRITE_ONLY_KINDS = frozenset({Kind.CTX_READ_ONLY, Kind.MAP_VALUE_WRITABLE})


def _reads(pc: int, *regs: tuple[int, str]) -> list[Obligation]:
    out = []
    for reg, role in regs:
        out.append(Obligation(Kind.INITIALISED, pc, reg, detail=role))
        out.append(Obligation(Kind.CONSISTENT_KIND, pc, reg, detail=role))
    return out


def _access(pc: int, base: int, off: int, size: int, write: bool, src: int | None = None,
            reads: bool = False) -> list[Obligation]:
    """An access through `base`; `reads`: a write that reads first (an atomic operation)."""
    skip = (set() if reads else _READ_ONLY_KINDS) if write else _WRITE_ONLY_KINDS
    out = [Obligation(kind, pc, base, off, size, write and kind not in _READ_ONLY_KINDS)
           for kind in _ACCESS if kind not in skip]
    if write and src is not None:
        out.append(Obligation(Kind.WHOLE_POINTER_SPILL, pc, src, off, size, True, detail=base))
        out.append(Obligation(Kind.STACK_POINTER_STAYS, pc, src, off, size, True, detail=base))
    return out


def obligations(op: Op, pc: int, unsupported: str | None = None) -> tuple[Obligation, ...]:
    """What must hold before `op` (at `pc`) runs. `unsupported`: why the profile's kernel does
    not know the instruction, if it does not."""
    out: list[Obligation] = []
    if unsupported is not None:
        out.append(Obligation(Kind.SUPPORTED, pc, detail=unsupported))
    if isinstance(op, Alu):
        if isinstance(op.src, Imm) and (op.op in (AluOp.DIV, AluOp.MOD) and op.src.value == 0
                                        or op.op in (AluOp.LSH, AluOp.RSH, AluOp.ARSH)
                                        and not 0 <= op.src.value < op.width):
            out.append(Obligation(Kind.VALID_IMMEDIATE, pc, detail=op))
        if isinstance(op.src, Reg):
            out += _reads(pc, (op.src.n, "read"))
        if op.op != AluOp.MOV:
            out += _reads(pc, (op.dst, "read"))
            out.append(Obligation(Kind.POINTER_ARITHMETIC, pc, op.dst, detail=op))
        out.append(Obligation(Kind.FRAME_POINTER_READ_ONLY, pc, op.dst))
    elif isinstance(op, (Neg, Swap)):
        out += _reads(pc, (op.dst, "read"))
        out.append(Obligation(Kind.FRAME_POINTER_READ_ONLY, pc, op.dst))
    elif isinstance(op, (LoadImm64, LoadMapRef, LoadFuncRef, LoadBtfRef)):
        if isinstance(op, LoadMapRef):
            out.append(Obligation(Kind.VALID_MAP_REFERENCE, pc, detail=op))
        out.append(Obligation(Kind.FRAME_POINTER_READ_ONLY, pc, op.dst))
    elif isinstance(op, Load):
        out += _reads(pc, (op.base, "read"))
        out += _access(pc, op.base, op.off, op.size, write=False)
        out.append(Obligation(Kind.FRAME_POINTER_READ_ONLY, pc, op.dst))
    elif isinstance(op, Store):
        src = op.src.n if isinstance(op.src, Reg) else None
        out += _reads(pc, *(((src, "read"),) if src is not None else ()), (op.base, "read"))
        out += _access(pc, op.base, op.off, op.size, write=True, src=src)
    elif isinstance(op, Atomic):
        out += _reads(pc, (op.src, "read"), (op.base, "read"))
        out += _access(pc, op.base, op.off, op.size, write=True, reads=True)
        out.append(Obligation(Kind.ATOMIC_ALIGNED, pc, None, op.off, op.size, detail=op.base))
        if op.result_reg == 0:
            out += _reads(pc, (0, "read"))
    elif isinstance(op, Branch):
        right = ((op.right.n, "read"),) if isinstance(op.right, Reg) else ()
        out += _reads(pc, (op.left, "read"), *right)
    elif isinstance(op, Exit):
        out.append(Obligation(Kind.R0_SET_AT_EXIT, pc, 0))
        out.append(Obligation(Kind.CONSISTENT_KIND, pc, 0, detail="returned by exit"))
        out.append(Obligation(Kind.REFERENCES_RELEASED, pc))
        out.append(Obligation(Kind.NO_STACK_POINTER_RETURN, pc, 0))
    elif isinstance(op, LocalCall):
        out.append(Obligation(Kind.CALL_DEPTH, pc, detail=op.target))
        out.append(Obligation(Kind.NO_RECURSION, pc, detail=op.target))
    elif isinstance(op, Call):
        out.append(Obligation(Kind.HELPER_ALLOWED, pc, detail=op.helper))
    elif isinstance(op, (CallIndirect, KfuncCall, PacketLoad)):
        out.append(Obligation(Kind.SUPPORTED, pc, detail=op))
    return tuple(out)


def kinds_of_code(code: str) -> list[Kind]:
    """The rules whose breach carries `code`."""
    return [kind for kind, rule in RULES.items() if rule.code == code]


__all__ = ["POLICY", "RULES", "Kind", "Obligation", "Rule", "kinds_of_code", "obligations"]
