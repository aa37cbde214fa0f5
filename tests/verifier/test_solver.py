"""z3 on the alarms of the abstract state: what it drops (no run breaks the rule), what it turns into
a counterexample the interpreter replays, and what it leaves (the search cannot conclude)."""

from __future__ import annotations

from interp.asm.kernel_syntax import assemble
from interp.program import MapDef, Program
from verifier.check import ProgramResult, check_program
from verifier.fixpoint import Limits

ARRAY = MapDef("a", 2, 4, 16, 4)
HASH = MapDef("h", 1, 4, 8, 16)
HASH16 = MapDef("h16", 1, 4, 16, 16)
LOOKUP0 = "*(u32 *)(r10 -4) = 0\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\ncall 1\n"


def check(asm: str, maps: tuple[MapDef, ...] = (), **limits: object) -> ProgramResult:
    insns = assemble(asm)
    program = Program("p", "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns), list(maps),
                      license="GPL")
    return check_program(program, limits=Limits(**limits))  # type: ignore[arg-type]


def statuses(result: ProgramResult) -> dict[str, str]:
    return {result.alarms[n].code: j.status for n, j in result.judgements.items()}


# the second lookup's result is compared with the first's, which is not NULL: the taken branch
# holds every NULL, so the fall-through's read is never through NULL; it is 8 bytes at offset 4
SECOND_LOOKUP = (LOOKUP0 + "if r0 == 0 goto out\nr6 = r0\n*(u32 *)(r10 -8) = 1\nr1 = map[idx:1] ll\nr2 = r10\n"
                 "r2 += -8\ncall 1\nif r6 > r0 goto out\nr0 = *(u64 *)(r0 +4)\nout: r0 = 0\nexit")


def test_an_alarm_behind_a_refuted_one_is_checked() -> None:
    """The NULL alarm hides the bounds of the same read; once z3 drops it, the bounds count: with
    8-byte values the read runs past the end, and a run shows it."""
    result = check(SECOND_LOOKUP, (ARRAY, HASH))
    assert result.verdict == "rejected"
    assert [(f.pc, f.code) for f in result.errors] == [(15, "map-value-out-of-bounds")]
    assert statuses(result) == {"possible-null-dereference": "refuted", "map-value-out-of-bounds": "witnessed"}
    proof = result.errors[0].proof
    assert proof is not None and proof["confirmed"] is True


def test_the_same_read_within_the_value_is_accepted() -> None:
    result = check(SECOND_LOOKUP, (ARRAY, HASH16))
    assert result.verdict == "accepted", [str(f) for f in result.findings]
    assert statuses(result) == {"possible-null-dereference": "refuted"}


def test_without_the_solver_the_first_cause_stands() -> None:
    result = check(SECOND_LOOKUP, (ARRAY, HASH), solver=False)
    assert [(f.pc, f.code) for f in result.errors] == [(15, "possible-null-dereference")]
    assert result.judgements == {}


def test_a_pointer_into_a_returned_frame_is_not_followed() -> None:
    """The callee returns a pointer into its own frame, which the caller reads: a kernel rule (the
    return), and no symbolic reading of the read (the frame is gone)."""
    result = check("*(u64 *)(r10 -8) = 0\ncall f\nr0 = *(u64 *)(r0 +0)\nr0 = 0\nexit\n"
                   "f: r2 = r10\nr2 += -8\n*(u64 *)(r10 -8) = 0\nr0 = r2\nexit")
    assert result.verdict == "rejected"
    assert "return-stack-pointer" in {f.code for f in result.errors}


def test_a_certain_alarm_z3_refutes_leaves_what_follows_unchecked() -> None:
    """The read at insn 5 is out of the frame on every state the analysis has there, so the analysis
    ends the path; z3 shows no input reaches it (r7 = 2 * r6 <= 20). That proves insn 5 safe, not
    the context write after it, which nothing checked: the verdict is unknown, never accepted."""
    result = check("r6 = *(u64 *)(r1 +112)\nr7 = r6\nr7 *= 2\nif r6 > 10 goto out\nif r7 < 100 goto out\n"
                   "r0 = *(u64 *)(r10 +8)\n*(u64 *)(r1 +0) = r0\nout: r0 = 0\nexit")
    assert statuses(result) == {"stack-out-of-bounds": "refuted"}
    assert result.findings == []
    assert result.verdict == "unknown"
    assert result.reason == "z3 shows that insn 5 cannot break its rule, but the analysis did not follow that path past it"
