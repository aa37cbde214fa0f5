"""Every rule-suite rejection whose rule a run can break comes with a counterexample, and the
counterexample is a demonstrated bug: given its inputs (as saved in the report, in the shapes of
`run --regs/--maps/--kmem/--env`), the interpreter faults at the finding's instruction with the
fault its rule names."""

from __future__ import annotations

import pytest
from test_rules import CASES, Case, program

from interp.faults import FaultKind
from verifier.check import check_program
from verifier.obligations import POLICY, RULES
from verifier.witness import Counterexample, replay

REJECTED = [c for c in CASES if c.profile == "linux-6.18" and c.kernel == "reject" and c.code is not None and c.with_solver is None]


def _faults(case: Case) -> list[tuple[int, str, FaultKind, dict]]:
    """(pc, code, fault, proof) of each error finding whose rule has a runtime fault."""
    result = check_program(program(case), case.profile)
    out = []
    for finding in result.errors:
        alarm = next(a for a in result.alarms if a.pc == finding.pc and a.code == finding.code)
        fault = RULES[alarm.kind].fault
        if fault != POLICY and alarm.kind.value != "terminates":
            out.append((finding.pc, finding.code, fault, finding.proof))
    return out


@pytest.mark.parametrize("case", REJECTED, ids=lambda c: c.name)
def test_each_runtime_rejection_is_confirmed_by_a_replay(case: Case) -> None:
    for pc, code, fault, proof in _faults(case):
        assert proof is not None and proof["confirmed"], (pc, code, proof)
        assert proof["replay"]["fault"]["pc"] == pc and proof["replay"]["fault"]["kind"] == fault.value
        # the saved counterexample alone reproduces it
        again = replay(program(case), Counterexample.from_json(proof["counterexample"]), pc, fault)
        assert again.confirmed, again


def test_the_suite_covers_every_kind_of_runtime_rejection() -> None:
    confirmed = {code for case in REJECTED for _, code, _, proof in _faults(case) if proof and proof["confirmed"]}
    assert {"possible-null-dereference", "invalid-dereference", "uninitialised-register", "ctx-out-of-bounds",
            "stack-out-of-bounds", "map-value-out-of-bounds", "helper-argument", "helper-memory"} <= confirmed


@pytest.mark.parametrize("name, regs", [("live branch", {"di": 1}), ("stack variable offset past top", {"di": 40})])
def test_counterexamples_name_only_the_registers_the_fault_needs(name: str, regs: dict[str, int]) -> None:
    """z3 fills what no constraint names with one default byte (0x0101...): the report keeps 0 there,
    and a small value where any non-zero one faults."""
    case = next(c for c in CASES if c.name == name)
    [finding] = check_program(program(case), case.profile).errors
    assert finding.proof is not None and finding.proof["confirmed"]
    assert {k: v for k, v in finding.proof["counterexample"]["regs"].items() if v} == regs
