"""bpf_loop (helper 181): its callback analysed as a function of the program, once per call for
every iteration (the caller's stack after the call the join over 0, 1, 2, ... iterations), and
emulated by the interpreter, which calls the callback until it returns 1."""

from __future__ import annotations

import pytest

from interp.asm.kernel_syntax import assemble
from interp.kprobe import KprobeSession, RunOutcome
from interp.program import Program
from verifier.check import ProgramResult, check_program
from verifier.fixpoint import Limits

MASK = (1 << 64) - 1
# sums the indexes 0..n-1 into the caller's stack through r2; bpf_loop is called at insn 9, the
# callback starts at insn 12
SUM = """r1 = 0
*(u64 *)(r10 -8) = r1
r1 = {n} ll
r2 = func[pc+7] ll
r3 = r10
r3 += -8
r4 = {flags}
call 181
r0 = *(u64 *)(r10 -8)
exit
r0 = *(u64 *)(r2 +0)
r0 += r1
*(u64 *)(r2 +0) = r0
r0 = {ret}
exit"""


def program(asm: str) -> Program:
    insns = assemble(asm)
    return Program("cb", "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns), [], license="GPL")


def bounds(result: ProgramResult) -> list[tuple[int, int | None, str]]:
    return [(loop.head, loop.visits, loop.how) for loop in result.loops]


def run(prog: Program) -> RunOutcome:
    session = KprobeSession([prog], budget=100_000_000)
    return session.run_program(0, session.context({}))


def test_a_callback_summing_into_the_callers_stack_is_accepted_and_runs_each_iteration() -> None:
    prog = program(SUM.format(n=10, flags=0, ret=0))
    result = check_program(prog)
    assert result.verdict == "accepted", [str(f) for f in result.findings]
    assert bounds(result) == [(9, 10, "bpf_loop")]
    outcome = run(prog)
    assert (outcome.fault, outcome.r0) == (None, sum(range(10)))
    assert result.worst_case == outcome.insns_executed == 10 + 10 * 5


def test_a_callback_returning_1_stops_the_loop_and_bpf_loop_returns_the_calls_made() -> None:
    prog = program(SUM.format(n=10, flags=0, ret=1).replace("r0 = *(u64 *)(r10 -8)", "r0 += 0"))
    assert check_program(prog).verdict == "accepted"
    assert run(prog).r0 == 1


@pytest.mark.parametrize("n, flags, ret, r0", [(10, 1, 1, -22), (0x800001, 0, 1, -7), ((1 << 32) + 3, 0, 0, 3)])
def test_what_bpf_loop_returns_at_run_time(n: int, flags: int, ret: int, r0: int) -> None:
    """Flags other than 0: -EINVAL; more than 1 << 23 iterations: -E2BIG; nr_loops is a u32 (the
    calls made when none stops the loop). The verifier accepts them all (the kernel's does: these
    are errors at run time)."""
    prog = program(SUM.format(n=n, flags=flags, ret=ret).replace("r0 = *(u64 *)(r10 -8)", "r0 += 0"))
    assert check_program(prog).verdict == "accepted"
    assert run(prog).r0 == r0 & MASK


def test_a_callback_returning_2_is_refused() -> None:
    result = check_program(program(SUM.format(n=10, flags=0, ret=2)))
    assert result.verdict == "rejected"
    [finding] = result.errors
    assert (finding.code, finding.pc) == ("callback-return", 9)
    assert finding.message == ("bpf_loop: the callback at insn 12 must return 0 (go on) or 1 (stop), as the kernel "
                               "requires, but it may return 2; return 0 or 1")


def test_a_callback_reading_a_null_context_is_refused_and_the_run_faults() -> None:
    prog = program(SUM.format(n=10, flags=0, ret=0).replace("r3 = r10\nr3 += -8", "r3 = 0\nr3 += 0"))
    result = check_program(prog)
    assert result.verdict == "rejected"
    assert [(f.code, f.pc) for f in result.errors] == [("invalid-dereference", 12)]
    finding = result.errors[0]
    assert finding.proof is not None and finding.proof["status"] != "refuted"
    outcome = run(prog)
    assert outcome.fault is not None and outcome.fault.pc == 12


def test_the_callers_stack_after_the_call_joins_every_number_of_iterations() -> None:
    """The callback stores 64 where the caller keeps 0; the caller then indexes its stack by that
    slot: out of bounds after one iteration or more, fine after none."""
    asm = ("r1 = 0\n*(u64 *)(r10 -8) = r1\nr1 = {n}\nr2 = func[pc+11] ll\nr3 = r10\nr3 += -8\nr4 = 0\ncall 181\n"
           "r1 = *(u64 *)(r10 -8)\nr2 = r10\nr2 += -16\nr2 += r1\nr0 = *(u8 *)(r2 +0)\nexit\n"
           "r1 = 64\n*(u64 *)(r2 +0) = r1\nr0 = 0\nexit")
    refused = check_program(program(asm.format(n=3)))
    assert refused.verdict == "rejected"
    assert "stack-out-of-bounds" in [f.code for f in refused.errors]
    assert run(program(asm.format(n=3))).fault is not None
    assert check_program(program(asm.format(n=0))).verdict == "accepted"


def test_the_index_is_below_the_iterations() -> None:
    """r1 < nr_loops: with 8 iterations the callback's branch on r1 > 7 is dead."""
    asm = ("r1 = {n}\nr2 = func[pc+6] ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 0\nexit\n"
           "if r1 > 7 goto +2\nr0 = 0\nexit\nr0 = *(u64 *)(r1 +0)\nexit")
    assert check_program(program(asm.format(n=8))).verdict == "accepted"
    assert check_program(program(asm.format(n=9))).verdict == "rejected"


def test_a_callback_argument_that_is_no_function_is_refused() -> None:
    result = check_program(program("r1 = 4\nr2 = 0\nr3 = 0\nr4 = 0\ncall 181\nr0 = 0\nexit"))
    [finding] = result.errors
    assert finding.code == "helper-argument"
    assert finding.message == ("loop: r2 must be a function of the program (lddw of the function, unchanged), "
                               "but it is 0")


def test_iterations_multiply_the_worst_case_but_not_the_kernels_complexity() -> None:
    """1 << 23 iterations of a 5-instruction callback: 41,943,050 instructions at most, accepted:
    the kernel verifies the callback, not each iteration."""
    result = check_program(program(SUM.format(n=1 << 23, flags=0, ret=0)))
    assert result.verdict == "accepted"
    assert result.worst_case == 10 + 5 * (1 << 23)


def test_an_unknown_count_runs_at_most_1_shl_23_times() -> None:
    prog = program(SUM.format(n=0, flags=0, ret=0).replace("r1 = 0\n*(u64", "r6 = *(u64 *)(r1 +112)\nr1 = 0\n*(u64")
                   .replace("r1 = 0 ll\nr2 = func[pc+7]", "r1 = r6\nr1 += 0\nr2 = func[pc+7]"))
    result = check_program(prog, limits=Limits(max_unroll_work=2_000))
    assert result.verdict == "accepted", [str(f) for f in result.findings]
    assert bounds(result) == [(10, 1 << 23, "bpf_loop")]


STORES_64 = ("r1 = 0\n*(u64 *)(r10 -8) = r1\nr1 = {n}\nr2 = func[pc+11] ll\nr3 = r10\nr3 += -8\nr4 = 0\ncall 181\n"
             "r1 = *(u64 *)(r10 -8)\nr2 = r10\nr2 += -16\nr2 += r1\nr0 = *(u8 *)(r2 +0)\nexit\n"
             "r1 = 64\n*(u64 *)(r2 +0) = r1\nr0 = 0\nexit")
INDEXED = ("r1 = {n}\nr2 = func[pc+6] ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 0\nexit\n"
           "if r1 > 7 goto +2\nr0 = 0\nexit\nr0 = *(u64 *)(r1 +0)\nexit")


@pytest.mark.kernel
@pytest.mark.parametrize("asm, kernel, ours", [
    (SUM.format(n=10, flags=0, ret=0), "accepted", "accepted"),
    (SUM.format(n=10, flags=1, ret=0), "accepted", "accepted"),  # -EINVAL at run time
    (SUM.format(n=1 << 23, flags=0, ret=0), "accepted", "accepted"),
    (SUM.format(n=10, flags=0, ret=2), "rejected", "rejected"),
    (SUM.format(n=10, flags=0, ret=0).replace("r3 = r10\nr3 += -8", "r3 = 0\nr3 += 0"), "rejected", "rejected"),
    ("r1 = 4\nr2 = 0\nr3 = 0\nr4 = 0\ncall 181\nr0 = 0\nexit", "rejected", "rejected"),
    (STORES_64.format(n=3), "rejected", "rejected"),
    (STORES_64.format(n=0), "accepted", "accepted"),  # no iteration
    # the callback's index is a number to the kernel: it refuses what the index's bound keeps safe
    (INDEXED.format(n=8), "rejected", "accepted"),
    (INDEXED.format(n=9), "rejected", "rejected"),
], ids=["sum", "flags", "most-iterations", "returns-2", "null-context", "no-function", "stores-64", "no-iteration",
        "index-bounded", "index-unbounded"])
def test_beside_the_kernel(asm: str, kernel: str, ours: str) -> None:
    """The kernel's verdicts (its BTF func_info given, as callbacks need), and ours: never accepted
    where the kernel refuses for a run that can go wrong."""
    from interp.kernel.load import kernel_verdict

    prog = program(asm)
    assert kernel_verdict(prog).verdict == kernel
    assert check_program(prog).verdict == ours


def test_a_loop_calling_bpf_loop_counts_the_callbacks_instructions() -> None:
    """A block that jumps back to itself and calls bpf_loop: the run's count (and budget) takes in the
    callback's instructions, and the worst case is that count."""
    prog = program("r6 = 3\nl: r1 = 2\nr2 = func[pc+8] ll\nr3 = 0\nr4 = 0\ncall 181\nr6 += -1\n"
                   "if r6 != 0 goto l\nr0 = 0\nexit\nr0 = 0\nexit")
    outcome = run(prog)
    assert outcome.fault is None and outcome.insns_executed == 1 + 3 * 7 + 2 + 3 * 2 * 2
    result = check_program(prog)
    assert result.verdict == "accepted" and result.worst_case == outcome.insns_executed
