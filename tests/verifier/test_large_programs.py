"""Large and adversarial shapes end in a verdict, not in a recursion or resource error."""

from __future__ import annotations

from interp.asm.kernel_syntax import assemble
from interp.program import Program
from verifier.check import check_program
from verifier.fixpoint import Limits


def _program(asm: str) -> Program:
    insns = assemble(asm)
    return Program("t", "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns), [],
                   license="GPL", kern_version=0x40100)


def test_thousands_of_blocks_in_a_chain() -> None:
    # 4000 conditional branches one after another: the block order is computed without recursion
    body = "r6 = *(u64 *)(r1 +112)\n" + "if r6 > 3 goto +1\nr6 += 1\n" * 4000 + "r0 = 0\nexit"
    result = check_program(_program(body))
    assert result.verdict == "accepted", result.reason


def test_a_long_chain_of_calls_is_refused_for_its_depth() -> None:
    count = 300
    body = "call f0\nr0 = 0\nexit\n" + "".join(f"f{i}: call f{i + 1}\nexit\n" for i in range(count)) + \
        f"f{count}: r0 = 0\nexit"
    result = check_program(_program(body))
    assert result.verdict == "rejected"
    assert {f.code for f in result.findings} == {"call-depth"}


def test_work_budget_gives_unknown_not_accepted() -> None:
    result = check_program(_program("r0 = 0\n" + "r0 += 1\n" * 500 + "exit"), limits=Limits(max_work=100))
    assert result.verdict == "unknown" and "100 instruction steps" in (result.reason or "")
