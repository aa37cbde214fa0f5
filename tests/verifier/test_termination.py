"""Loop bounds proved with z3, the worst-case instruction count, `too-complex`, and loops that
never end, each with a counterexample the interpreter runs until its budget is used up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interp.asm.kernel_syntax import assemble
from interp.kprobe import KprobeSession
from interp.program import Program
from verifier.check import ProgramResult, check_program
from verifier.cli import main as cli_main
from verifier.fixpoint import Limits


def program(asm: str) -> Program:
    insns = assemble(asm)
    return Program("loop", "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns), [],
                   license="GPL", kern_version=0x40100)


def executed(prog: Program, regs: dict[str, int] | None = None) -> int:
    session = KprobeSession([prog], budget=10_000_000)
    outcome = session.run_program(0, session.context(regs or {}))
    assert outcome.fault is None
    return outcome.insns_executed


def bounds(result: ProgramResult) -> list[tuple[int, int | None, str]]:
    return [(loop.head, loop.visits, loop.how) for loop in result.loops]


def test_a_counted_loop_gets_its_exact_bound_by_proof() -> None:
    prog = program("r0 = 0\nr1 = 0\nl: r0 += 3\nr1 += 1\nif r1 < 10 goto l\nexit")
    result = check_program(prog)
    assert result.verdict == "accepted"
    assert bounds(result) == [(2, 10, "proved")]
    assert result.worst_case == executed(prog) == 2 + 10 * 3 + 1


def test_a_signed_counter_that_may_enter_below_zero_gets_its_signed_bound() -> None:
    """r9 enters anywhere in [-100, 24] and counts down by 2 while above 0: read unsigned, a
    negative start is near 2^64 and the bound 2^63 (too complex); read signed, 12 visits."""
    prog = program("r9 = *(u64 *)(r1 +112)\nr0 = 0\nif r9 s> 24 goto out\nif r9 s< -100 goto out\n"
                   "l: r9 += 1\nr9 -= 3\nif r9 s> 0 goto l\nout: exit")
    result = check_program(prog)
    assert result.verdict == "accepted"
    assert bounds(result) == [(4, 12, "proved")]
    assert result.worst_case == 4 + 12 * 3 + 1


@settings(max_examples=10, deadline=None)
@given(start=st.integers(0, 50), step=st.integers(1, 7), limit=st.integers(1, 200),
       cond=st.sampled_from(["<", "!=", "s<", "<="]))
def test_bounds_of_counted_loops_are_the_runs_iterations(start: int, step: int, limit: int, cond: str) -> None:
    """Counting up from a constant: the proved bound is the number of times the head runs, and the
    worst case the instructions the interpreter executes (the loop runs alike on every input)."""
    if cond == "!=" and (start >= limit or (limit - start) % step):
        limit = start + step * max(1, (limit - start) // step)  # != needs the counter to hit the limit
    prog = program(f"r0 = 0\nr1 = {start}\nl: r1 += {step}\nif r1 {cond} {limit} goto l\nexit")
    result = check_program(prog)
    assert result.verdict == "accepted"
    ran = executed(prog)
    [(head, visits, how)] = bounds(result)
    assert how == "proved"
    assert visits == (ran - 3) // 2
    assert result.worst_case == ran


def test_a_loop_counting_down_with_jmp32() -> None:
    result = check_program(program("r0 = 0\nw1 = 1000\nl: w1 -= 1\nif w1 != 0 goto l\nexit"))
    assert bounds(result) == [(2, 1000, "proved")] and result.worst_case == 2 + 2000 + 1


def test_a_bound_from_a_value_the_analysis_bounds() -> None:
    """The limit is an input masked to 63: the loop runs at most 63 times."""
    prog = program("r2 = *(u64 *)(r1 +112)\nr2 &= 63\nr0 = 0\nl: r0 += 1\nif r0 < r2 goto l\nexit")
    result = check_program(prog)
    assert result.verdict == "accepted"
    assert bounds(result) == [(3, 63, "proved")]
    assert result.worst_case == executed(prog, {"di": 63}) == 3 + 63 * 2 + 1


def test_nested_loops_multiply() -> None:
    prog = program("r0 = 0\nr1 = 0\no: r2 = 0\ni: r0 += 1\nr2 += 1\nif r2 < 300 goto i\nr1 += 1\n"
                   "if r1 < 300 goto o\nexit")
    result = check_program(prog)
    assert result.verdict == "accepted"
    assert bounds(result) == [(2, 300, "proved"), (3, 300, "proved")]
    assert result.worst_case == executed(prog) == 2 + 300 * (1 + 300 * 3 + 2) + 1


def test_an_inner_loop_is_a_summary_that_keeps_what_it_does_not_write() -> None:
    """r3 and r4 take the frame pointer inside and after the inner loop; r1 passes through it."""
    prog = program("r0 = 0\nr1 = 0\no: r2 = 0\ni: r0 += 1\nr3 = r10\nr2 += 1\nif r2 < 30 goto i\nr4 = r10\n"
                   "r1 += 1\nif r1 < 30 goto o\nexit")
    result = check_program(prog)
    assert bounds(result) == [(2, 30, "proved"), (3, 30, "proved")]
    assert result.worst_case == executed(prog)


@pytest.mark.parametrize("iterations, verdict", [(100_000, "accepted"), (1_000_000, "rejected")])
def test_too_complex_above_a_million_instructions(iterations: int, verdict: str) -> None:
    """As the kernel: a 4-instruction loop of 100,000 iterations loads, of 1,000,000 it does not."""
    prog = program(f"r0 = 0\nr1 = 0\nr2 = 0\nl: r0 += 1\nr1 += 1\nr2 ^= r1\nif r1 < {iterations} goto l\nexit")
    result = check_program(prog)
    assert result.verdict == verdict
    assert bounds(result) == [(3, iterations, "proved")]
    assert result.worst_case == 3 + 4 * iterations + 1
    if verdict == "rejected":
        [finding] = result.errors
        assert finding.code == "too-complex" and finding.pc == 3
        assert finding.message == ("a run may execute up to 4,000,004 instructions (the loop at insn 3 runs up to "
                                   "1,000,000 times); linux-6.18 processes at most 1,000,000 and refuses the program "
                                   "as too complex: run fewer iterations, or use bpf_loop")
        assert finding.proof is not None and finding.proof["status"] == "policy"


def test_a_loop_the_prover_cannot_read_is_followed() -> None:
    """The counter goes through the stack, which the z3 reading of a loop leaves free: followed."""
    result = check_program(program("r0 = 0\nr1 = 0\nl: *(u64 *)(r10 -8) = r1\nr1 = *(u64 *)(r10 -8)\nr1 += 1\n"
                                   "if r1 < 10 goto l\nexit"))
    assert result.verdict == "accepted"
    assert bounds(result) == [(2, 10, "followed")] and result.worst_case == 2 + 10 * 4 + 1


@pytest.mark.parametrize("asm, regs", [
    ("r0 = 0\nl: r0 += 1\ngoto l", {}),  # while (1)
    ("r0 = 0\nw1 = 0\nl: w1 += 1\nw1 &= 0xff\nif w1 < 300 goto l\nexit", {}),  # an 8-bit counter below 300
    ("r0 = 0\nr1 = 1\nl: r1 += 2\nif r1 != 100 goto l\nexit", {}),  # odd, never 100: wraps past it
    ("r0 = 0\nr1 = 0\nl: r1 += 0\nif r1 < 10 goto l\nexit", {}),  # a step of 0
    ("r2 = *(u64 *)(r1 +112)\nr0 = 0\nl: r0 += 1\nif r2 != 5 goto l\nexit", None),  # r2 never changes
])
def test_endless_loops_have_a_counterexample_replayed_to_budget_exhaustion(asm: str, regs: dict[str, int] | None) -> None:
    result = check_program(program(asm), limits=Limits(max_unroll_work=10_000_000))
    assert result.verdict == "rejected"
    [finding] = result.errors
    assert finding.code == "unbounded-loop"
    assert "goes round for ever" in finding.message
    proof = finding.proof
    assert proof is not None and proof["confirmed"] and proof["replay"]["fault"]["kind"] == "budget-exhausted"
    if regs is None:  # the input that keeps the loop going
        assert proof["counterexample"]["regs"]["di"] != 5
    assert bounds(result)[0][1:] == (None, "unbounded")
    assert result.worst_case is None


def test_a_loop_without_bound_or_witness_is_still_refused() -> None:
    """r0 counts up to an unknown r2 (it ends, after up to 2^64 iterations): no proof, no endless run."""
    result = check_program(program("r2 = *(u64 *)(r1 +112)\nr0 = 0\nl: r0 += 1\nif r0 != r2 goto l\nexit"),
                           limits=Limits(max_unroll_work=2_000))
    [finding] = result.errors
    assert finding.code == "unbounded-loop" and not finding.proof["confirmed"]


def test_a_loop_that_ends_after_the_interpreters_budget_is_not_called_endless() -> None:
    """The counter goes through the stack: z3's reading of an iteration leaves the fill free, so it
    cannot say the loop comes back unchanged. A million iterations outlast the replay's budget, which
    once "confirmed" a run going round for ever in a loop that ends."""
    result = check_program(program("r0 = 0\nr1 = 0\nl: r1 += 1\n*(u64 *)(r10 -8) = r1\nr1 = *(u64 *)(r10 -8)\n"
                                   "if r1 < 1000000 goto l\nexit"), limits=Limits(max_unroll_work=4_000))
    [finding] = result.errors
    assert finding.code == "unbounded-loop" and "goes round for ever" not in finding.message
    assert "no exit was found within 1001 iterations" in finding.message
    assert finding.proof["status"] == "unknown" and not finding.proof["confirmed"]
    assert finding.proof["reason"].endswith("depends on what its loads or calls give, which z3's reading of one "
                                            "iteration leaves free")


def test_linux_4_1_worst_case_is_the_longest_path() -> None:
    prog = program("r0 = *(u64 *)(r1 +112)\nif r0 > 5 goto +3\nr0 = 1\nr0 += 1\nr0 += 1\nexit")
    result = check_program(prog, "linux-4.1")
    assert result.loops == [] and result.worst_case == 6


def test_calls_weigh_their_callees() -> None:
    prog = program("r1 = 0\ncall f\ncall f\nexit\nf: r0 = 0\nr2 = 0\nl: r2 += 1\nif r2 < 5 goto l\nexit")
    result = check_program(prog)
    assert result.verdict == "accepted"
    assert result.worst_case == executed(prog) == 4 + 2 * (2 + 5 * 2 + 1)


def test_check_reports_loops_in_json_and_verbose_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "loop.s"
    source.write_text("r0 = 0\nr1 = 0\nl: r1 += 1\nif r1 < 10 goto l\nexit\n")
    assert cli_main(["check", str(source), "--format", "json"]) == 0
    [prog] = json.loads(capsys.readouterr().out)["programs"]
    assert prog["loops"] == [{"head": 2, "function": 0, "bound": 10, "how": "proved"}]
    assert prog["stats"]["worst_case_insns"] == 23
    assert cli_main(["check", str(source), "-v"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["  loop at insn 2: bound 10 (proved)",
                                                        "  worst case: 23 instructions"]


def test_a_loop_with_two_entries_whose_back_edge_is_never_taken_is_accepted() -> None:
    """No proof and nothing to follow, but z3 follows every path of the program to its end."""
    result = check_program(program("r0 = 2\ncall f\nif r0 == 3 goto m\nif r0 == 2 goto m\nm: r4 = 0\nexit\n"
                                   "f: r0 = 1\nif r0 == 0 goto f3\nf1: r4 = 0\nf3: if r0 == 0 goto f1\nexit"))
    assert result.verdict == "accepted"


def test_a_tiny_loop_that_goes_round_once_is_proved() -> None:
    """No iteration goes round to one that goes round again: the head runs twice at most."""
    prog = program("r0 = 0\nr1 = 0\nl: r1 += 1\nif r1 < 2 goto l\nexit")
    result = check_program(prog)
    assert bounds(result) == [(2, 2, "proved")] and result.worst_case == executed(prog) == 7


def test_an_exit_on_not_equal_met_by_a_step_of_three_is_proved_by_its_congruence() -> None:
    prog = program("r0 = 0\nr1 = 0\nl: r1 += 3\nif r1 != 9 goto l\nexit")
    result = check_program(prog)
    assert bounds(result) == [(2, 3, "proved")] and result.worst_case == executed(prog) == 9


@pytest.mark.parametrize("width, counter", [(64, "r1"), (32, "w1")])
def test_a_counter_that_passes_its_limit_ends_only_after_wrapping_and_is_refused(width: int, counter: str) -> None:
    """0, 3, 6, 9, 12, ...: never 10 before it wraps (after 2^width / 3 steps or so): no bound is
    proved, and nothing claims the loop goes round for ever (it does not)."""
    result = check_program(program(f"r0 = 0\n{counter} = 0\nl: {counter} += 3\nif {counter} != 10 goto l\nexit"),
                           limits=Limits(max_unroll_work=20_000))
    assert result.verdict == "rejected" and bounds(result) == [(2, None, "unbounded")]
    [finding] = result.errors
    assert finding.code == "unbounded-loop" and "goes round for ever" not in finding.message
    assert finding.message.startswith("the loop at insn 2 may not terminate: no exit was found within ")


def test_an_eight_bit_counter_that_wraps_before_meeting_its_limit_gets_its_whole_count() -> None:
    """3k = 10 (mod 256) first at k = 174: the loop ends after wrapping, and its bound says so."""
    prog = program("r0 = 0\nr1 = 0\nl: r1 += 3\nr1 &= 0xff\nif r1 != 10 goto l\nexit")
    result = check_program(prog)
    assert result.verdict == "accepted"
    assert bounds(result) == [(2, 174, "followed")] and result.worst_case == executed(prog) == 2 + 174 * 3 + 1


COLLATZ = ("r1 = *(u64 *)(r1 +112)\nr1 &= 7\nr1 |= 1\nr0 = 0\nl: if r1 == 1 goto out\nr0 += 1\n"
           "if r1 & 1 goto odd\nr1 >>= 1\ngoto l\nodd: r1 *= 3\nr1 += 1\ngoto l\nout: exit")


def test_a_loop_z3_follows_to_its_end_on_every_path_is_accepted_with_the_bound_it_saw() -> None:
    """Collatz from 1, 3, 5 or 7: no decreasing measure and no fixed number of iterations, but
    every run leaves the loop (from 7 after 16 steps). The bound is the most visits of the head on
    one path, and the worst case covers every input."""
    prog = program(COLLATZ)
    result = check_program(prog, limits=Limits(max_unroll_work=2_000))
    assert result.verdict == "accepted"
    assert bounds(result) == [(4, 17, "searched")]
    assert result.worst_case is not None
    assert result.worst_case >= max(executed(prog, {"di": di}) for di in range(8))


def test_a_loop_refuted_without_a_recorded_bound_is_not_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were z3's search to refute the loop only after the analysis (no bound recorded), its alarm
    stays: accepting would leave a loop without a bound."""
    import verifier.termination as termination

    monkeypatch.setattr(termination, "endless", lambda run, ob, context: None)
    result = check_program(program(COLLATZ), limits=Limits(max_unroll_work=2_000))
    assert result.verdict == "rejected"
    [finding] = result.errors
    assert finding.code == "unbounded-loop"
    assert result.judgements[0].status == "unknown"
    assert result.judgements[0].reason == "every run leaves the loop, but its bound was not recorded"


def test_a_loop_that_alternates_between_two_states_for_ever_is_refused() -> None:
    """r1 and r2 swap 0 and 1 on every iteration and are never equal: no iteration leaves, and
    none comes back unchanged."""
    result = check_program(program("r0 = 0\nr1 = 0\nr2 = 1\nl: r1 ^= 1\nr2 ^= 1\nif r1 == r2 goto +1\ngoto l\nexit"))
    assert result.verdict == "rejected"
    assert [f.code for f in result.errors] == ["unbounded-loop"] and bounds(result)[0][1:] == (None, "unbounded")
