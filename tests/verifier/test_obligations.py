"""Obligations as data: every error code is the verdict of named rules (obligation kinds), each
either reached by a concrete run as an interpreter fault or a policy of the kernel's loader; and
every kind with a fault really makes the interpreter fault, with that kind, at the instruction
where the verifier raises the alarm."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from interp.asm.kernel_syntax import assemble
from interp.faults import FaultKind
from interp.kprobe import KprobeSession
from interp.program import MapDef, Program
from verifier.check import check_program
from verifier.errors import RULES as CODES
from verifier.obligations import POLICY, RULES, Kind, kinds_of_code, obligations

F = FaultKind
EXPECTED: dict[str, dict[Kind, FaultKind | str]] = {
    "ctx-write": {Kind.CTX_READ_ONLY: F.READ_ONLY},
    "ctx-misaligned": {Kind.CTX_ALIGNED: F.MISALIGNED},
    "ctx-out-of-bounds": {Kind.CTX_IN_BOUNDS: F.OUT_OF_BOUNDS},
    "ctx-variable-offset": {Kind.CTX_CONSTANT_OFFSET: POLICY},
    "ctx-modified-pointer": {Kind.CTX_UNMOVED: POLICY},
    "stack-out-of-bounds": {Kind.STACK_IN_BOUNDS: F.OUT_OF_BOUNDS},
    "stack-misaligned": {Kind.STACK_ALIGNED: POLICY},
    "stack-uninitialised-read": {Kind.STACK_INITIALISED: POLICY, Kind.HELPER_MEMORY_INITIALISED: POLICY},
    "stack-variable-offset": {Kind.STACK_CONSTANT_OFFSET: POLICY, Kind.HELPER_STACK_CONSTANT_OFFSET: POLICY},
    "map-value-out-of-bounds": {Kind.MAP_VALUE_IN_BOUNDS: F.OUT_OF_BOUNDS},
    "map-value-misaligned": {Kind.MAP_VALUE_ALIGNED: POLICY},
    "map-value-read-only": {Kind.MAP_VALUE_WRITABLE: F.READ_ONLY, Kind.HELPER_MEMORY_WRITABLE: F.HELPER_ARGUMENT,
                            Kind.HELPER_MAP_WRITABLE: POLICY},
    "mem-out-of-bounds": {Kind.MEM_IN_BOUNDS: F.OUT_OF_BOUNDS},
    "possible-null-dereference": {Kind.NOT_NULL: F.OUT_OF_BOUNDS},
    "invalid-dereference": {Kind.DEREFERENCEABLE: F.OUT_OF_BOUNDS},
    "uninitialised-register": {Kind.INITIALISED: F.UNINITIALISED_REGISTER},
    "frame-pointer-write": {Kind.FRAME_POINTER_READ_ONLY: F.FRAME_POINTER_WRITE},
    "pointer-arithmetic": {Kind.POINTER_ARITHMETIC: POLICY},
    "type-conflict": {Kind.CONSISTENT_KIND: POLICY, Kind.CTX_ONE_POINTER_KIND: POLICY},
    "unknown-helper": {Kind.HELPER_ALLOWED: POLICY},
    "helper-argument": {Kind.HELPER_ARGUMENTS: F.HELPER_ARGUMENT, Kind.HELPER_STATIC_ARGUMENTS: POLICY},
    "helper-memory": {Kind.HELPER_MEMORY: F.HELPER_ARGUMENT},
    "unsupported-helper": {Kind.HELPER_MODELLED: POLICY},
    "callback-return": {Kind.CALLBACK_RETURN: POLICY},
    "gpl-only-helper": {Kind.GPL_COMPATIBLE: POLICY},
    "r0-uninitialised-at-exit": {Kind.R0_SET_AT_EXIT: F.UNINITIALISED_REGISTER},
    "return-stack-pointer": {Kind.NO_STACK_POINTER_RETURN: POLICY},
    "unreleased-reference": {Kind.REFERENCES_RELEASED: POLICY, Kind.REFERENCES_BOUNDED: POLICY,
                             Kind.TAIL_CALL_RELEASED: POLICY},
    "back-edge": {Kind.NO_BACK_EDGE: POLICY},
    "unbounded-loop": {Kind.TERMINATES: F.BUDGET_EXHAUSTED},
    "too-complex": {Kind.COMPLEXITY: POLICY},
    "unreachable-instruction": {Kind.REACHABLE: POLICY},
    "program-too-large": {Kind.PROGRAM_SIZE: POLICY},
    "kern-version-mismatch": {Kind.KERN_VERSION: POLICY},
    "unsupported-instruction": {Kind.SUPPORTED: POLICY},
    "call-depth": {Kind.CALL_DEPTH: F.CALL_DEPTH},
    "recursion": {Kind.NO_RECURSION: POLICY},
    "combined-stack-too-large": {Kind.COMBINED_STACK: POLICY},
    "program-type": {Kind.PROGRAM_TYPE: POLICY},
    "unresolved-relocation": {Kind.RELOCATIONS_RESOLVED: POLICY},
    "invalid-jump": {Kind.VALID_CONTROL_FLOW: POLICY},
    "invalid-immediate": {Kind.VALID_IMMEDIATE: POLICY},
    "invalid-map-reference": {Kind.VALID_MAP_REFERENCE: POLICY},
    "partial-pointer-fill": {Kind.WHOLE_POINTER_FILL: POLICY},
    "partial-pointer-spill": {Kind.WHOLE_POINTER_SPILL: POLICY},
    "stack-pointer-escape": {Kind.STACK_POINTER_STAYS: POLICY},
    "tail-call-in-subprogram": {Kind.TAIL_CALL_FROM_MAIN: POLICY},
    "misaligned-atomic": {Kind.ATOMIC_ALIGNED: F.MISALIGNED},
    "invalid-instruction": {Kind.VALID_ENCODING: POLICY},
}


def test_every_code_has_its_rules_and_faults() -> None:
    assert set(EXPECTED) == set(CODES), "every code is listed"
    for code, kinds in EXPECTED.items():
        assert set(kinds_of_code(code)) == set(kinds), code
        for kind, fault in kinds.items():
            assert RULES[kind].fault == fault, (code, kind)
    assert set(RULES) == {kind for kinds in EXPECTED.values() for kind in kinds}


def test_obligations_are_a_function_of_the_operation() -> None:
    [load] = assemble("r0 = *(u64 *)(r1 +8)")
    from interp.isa.ops import lift

    first, second = obligations(lift(load, 3), 3), obligations(lift(load, 3), 3)
    assert first == second and all(ob.pc == 3 for ob in first)
    assert [ob.kind for ob in first][:3] == [Kind.INITIALISED, Kind.CONSISTENT_KIND, Kind.CTX_ONE_POINTER_KIND]


ARRAY = MapDef("a", 2, 4, 16, 4)
HASH = MapDef("h", 1, 4, 8, 16)
READ_ONLY = MapDef("ro", 2, 4, 16, 4, flags=1 << 7)
RINGBUF = MapDef("rb", 27, 0, 0, 4096)
KEY0 = "*(u32 *)(r10 -4) = 0\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\ncall 1\n"  # r0 = lookup(maps[0], 0)


@dataclass
class Breach:
    kind: Kind
    asm: str
    pc: int  # where the alarm is raised and the run faults
    maps: tuple[MapDef, ...] = ()
    fault_pc: int | None = None  # where the run faults, where that differs (a loop's budget runs out at its head)


BREACHES = [
    Breach(Kind.INITIALISED, "r0 = r3\nexit", 0),
    Breach(Kind.R0_SET_AT_EXIT, "exit", 0),
    Breach(Kind.FRAME_POINTER_READ_ONLY, "r10 = 0\nr0 = 0\nexit", 0),
    Breach(Kind.DEREFERENCEABLE, "r2 = 4096\nr0 = *(u64 *)(r2 +0)\nexit", 1),
    Breach(Kind.NOT_NULL, KEY0 + "r0 = *(u64 *)(r0 +0)\nexit", 6, (HASH,)),
    Breach(Kind.CTX_IN_BOUNDS, "r0 = *(u64 *)(r1 +168)\nexit", 0),
    Breach(Kind.CTX_ALIGNED, "r0 = *(u64 *)(r1 +3)\nexit", 0),
    Breach(Kind.CTX_READ_ONLY, "*(u64 *)(r1 +0) = 5\nr0 = 0\nexit", 0),
    Breach(Kind.STACK_IN_BOUNDS, "*(u64 *)(r10 -520) = 1\nr0 = 0\nexit", 0),
    Breach(Kind.MAP_VALUE_IN_BOUNDS, KEY0 + "r0 = *(u64 *)(r0 +16)\nexit", 6, (ARRAY,)),
    Breach(Kind.MAP_VALUE_WRITABLE, KEY0 + "*(u64 *)(r0 +0) = 1\nr0 = 0\nexit", 6, (READ_ONLY,)),
    Breach(Kind.MEM_IN_BOUNDS, "r1 = map[idx:0] ll\nr2 = 8\nr3 = 0\ncall 131\nif r0 == 0 goto +4\n"
                               "*(u64 *)(r0 +8) = 1\nr1 = r0\nr2 = 0\ncall 132\nr0 = 0\nexit", 6, (RINGBUF,)),
    Breach(Kind.ATOMIC_ALIGNED, KEY0 + "r1 = 1\nlock *(u64 *)(r0 +4) += r1\nr0 = 0\nexit", 7, (ARRAY,)),
    Breach(Kind.HELPER_ARGUMENTS, "r1 = 7\nr2 = r10\nr2 += -8\ncall 1\nr0 = 0\nexit", 3),
    Breach(Kind.HELPER_MEMORY, "r1 = r10\nr1 += -8\nr2 = 16\nr3 = 0\ncall 113\nr0 = 0\nexit", 4),
    Breach(Kind.HELPER_MEMORY_WRITABLE, KEY0 + "r1 = r0\nr2 = 8\nr3 = 0\ncall 113\nr0 = 0\nexit", 9, (READ_ONLY,)),
    Breach(Kind.CALL_DEPTH, "\n".join(["call f1", "exit"] + [f"f{i}: call f{i + 1}\nexit" for i in range(1, 8)]
                                      + ["f8: r0 = 0", "exit"]), 14),
    # odd, r0 is never 0: it wraps past it for ever
    Breach(Kind.TERMINATES, "r0 = 1\nl: r0 += 2\nif r0 != 0 goto l\nexit", 2, fault_pc=1),
]


def _program(breach: Breach) -> Program:
    insns = assemble(breach.asm)
    return Program("t", "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns), list(breach.maps),
                   license="GPL")


def test_every_rule_with_a_fault_has_a_breach_here() -> None:
    with_fault = {kind for kind, rule in RULES.items() if rule.fault != POLICY}
    assert {b.kind for b in BREACHES} == with_fault


@pytest.mark.parametrize("breach", BREACHES, ids=lambda b: b.kind.value)
def test_a_breach_faults_where_the_alarm_is(breach: Breach) -> None:
    program = _program(breach)
    result = check_program(program)
    assert result.verdict == "rejected"
    assert (breach.kind, breach.pc) in {(a.kind, a.pc) for a in result.alarms}, [(a.kind, a.pc) for a in result.alarms]
    session = KprobeSession([program], budget=100_000)
    outcome = session.run_program(0, bytes(168))
    assert outcome.fault is not None, "the run did not fault"
    fault_pc = breach.pc if breach.fault_pc is None else breach.fault_pc
    assert (outcome.fault.kind, outcome.fault.pc) == (RULES[breach.kind].fault, fault_pc), outcome.fault.message
