"""State containment: concrete runs of generated programs lie in the analysis' invariants (a few
hundred programs here; `python -m proofs.campaign` runs long campaigns), and the check sees a
seeded transfer-function bug."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from program_shapes import SHAPES

from interp.asm.kernel_syntax import assemble
from interp.kprobe import KprobeSession
from interp.program import Program
from proofs.containment import check_runs
from proofs.programs import program_of, random_program, random_text
from verifier.domains.tnum import Tnum


def _kprobe(text: str) -> Program:
    insns = assemble(text)
    return Program("t", "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns), [], license="GPL")


def test_observe_sees_each_instruction_before_it_runs_with_its_call_depth() -> None:
    seen: list[tuple[int, int, tuple]] = []
    program = _kprobe("r2 = 5\ncall f\nr0 += 1\nexit\nf: r0 = r2\nexit")
    session = KprobeSession([program], observe=lambda pc, depth, regs: seen.append((pc, depth, regs)))
    outcome = session.run_program(0, bytes(168))
    assert outcome.r0 == 6
    assert [(pc, depth) for pc, depth, _ in seen] == [(0, 0), (1, 0), (4, 1), (5, 1), (2, 0), (3, 0)]
    assert seen[0][2][2] is None and seen[1][2][2] == 5  # r2 before and after `r2 = 5`
    assert seen[4][2][0] == 5 and seen[4][2][2] is None  # back in the caller: r0 returned, r2 unset


def test_no_observer_emits_no_observation() -> None:
    session = KprobeSession([_kprobe("r0 = 1\nexit")])
    session.run_program(0, bytes(168))
    assert "_observe(" not in session.image(0).machine.source


def test_generated_programs_are_assembled_and_deterministic() -> None:
    assert random_text(11) == random_text(11)
    kinds = {random_text(s).count("call sub") > 0 for s in range(40)}
    assert kinds == {True, False}


@pytest.mark.parametrize("block", range(4))
def test_runs_of_generated_programs_lie_in_the_invariants(block: int) -> None:
    verdicts = set()
    for seed in range(block * 60, block * 60 + 60):
        program, text = random_program(seed)
        outcome = check_runs(program, seed=seed, runs=2)
        assert outcome.violations == [], f"seed {seed}:\n{text}"
        verdicts.add(outcome.verdict)
    assert {"accepted", "rejected"} <= verdicts


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(SHAPES["general"] | SHAPES["linked-scalars"] | SHAPES["narrow-spills"] | SHAPES["sign-extension"]
       | SHAPES["helper-calls"] | SHAPES["partial-spills"])
def test_runs_of_the_rule_shapes_lie_in_the_invariants(shape) -> None:  # type: ignore[no-untyped-def]
    outcome = check_runs(shape.program(), seed=3, runs=2)
    assert outcome.violations == [], shape.text


def test_a_seeded_bug_in_tnum_addition_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    """An addition that forgets the carry into bit 1 makes a run leave the invariant."""
    def add_without_carry(self: Tnum, other: Tnum) -> Tnum:
        mask = self.mask | other.mask
        value = (self.value ^ other.value) & ~mask
        return Tnum(value, mask)

    monkeypatch.setattr(Tnum, "add", add_without_carry)
    program = program_of("r6 = r1\nr7 = *(u64 *)(r6 +0)\nr7 &= 1\nr7 += 1\nr0 = 0\nexit")
    outcome = next(o for o in (check_runs(program, seed=s, runs=4) for s in range(5)) if o.violations)
    assert outcome.violations[0].kind == "register"
    assert outcome.violations[0].pc == 4 and "r7 = 0x2" in outcome.violations[0].message


def test_an_accepted_program_that_faults_is_a_violation() -> None:
    """check_runs holds an accepted program to its promise: given a verdict of acceptance for a
    program that reads past its map value, the run's fault is reported."""
    from verifier.check import check_program

    program = program_of("r6 = r1\n*(u32 *)(r10 -4) = 0\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\ncall 1\n"
                         "if r0 == 0 goto out\nr0 = *(u64 *)(r0 +4096)\nout: r0 = 0\nexit")
    result = check_program(program)
    assert result.verdict == "rejected"
    result.verdict = "accepted"
    outcome = check_runs(program, seed=1, runs=2, result=result)
    assert [v.kind for v in outcome.violations] == ["fault", "fault"]


def test_a_helper_write_at_a_variable_offset_initialises_only_the_bytes_it_always_writes() -> None:
    """probe_read_user of 5 or 9 bytes at r10 -56 + (0..3): only bytes -53 and -52 are written on every
    run. (The analysis once called all of [-56, -44) initialised: byte -56 of a run at offset 1 was never
    written.)"""
    from verifier.check import check_program

    program = program_of("r9 = r1\nr8 = *(u64 *)(r9 +64)\nr8 &= 4\nr8 += 5\nr6 = *(u64 *)(r9 +112)\nr6 &= 3\n"
                         "r1 = r10\nr1 += -56\nr1 += r6\nr2 = r8\nr3 = *(u64 *)(r9 +112)\ncall 112\n"
                         "r0 = *(u8 *)(r10 -52)\nr0 = *(u8 *)(r10 -56)\nr0 = 0\nexit")
    result = check_program(program)
    frame = result.states[12].top
    assert [off for off in range(-56, -44) if frame.first_uninitialised(off, off + 1) is None] == [-53, -52]
    assert result.verdict == "accepted"
    assert [(w.pc, w.code) for w in result.warnings] == [(13, "stack-uninitialised-read")]
    assert check_runs(program, seed=5, runs=4).violations == []


def test_a_callers_register_outside_the_invariant_is_seen_inside_the_callee(monkeypatch: pytest.MonkeyPatch) -> None:
    """A local call that loses what the caller's r6 holds (the analysis says 7; the run keeps the
    loaded value) breaks containment at the callee's first instruction, in the caller's frame."""
    from verifier.domains.regs import RegState
    from verifier.transfer import Transfer

    real = Transfer.local_call

    def forgetful_call(self, pc, op, state, record):  # type: ignore[no-untyped-def]
        return real(self, pc, op, state.with_reg(6, RegState.const(7)), record)

    monkeypatch.setattr(Transfer, "local_call", forgetful_call)
    program = program_of("r6 = *(u64 *)(r1 +0)\ncall f\nr0 = 0\nexit\nf: r0 = 0\nexit")
    violation = check_runs(program, seed=1, runs=1).violations[0]
    assert (violation.pc, violation.context, violation.kind) == (4, (1,), "register")
    assert violation.message.startswith("frame 0: r6 = 0x") and "is not in 7" in violation.message
