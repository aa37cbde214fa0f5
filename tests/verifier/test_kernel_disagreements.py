"""Every disagreement with the kernel that the generated programs show and that is understood
(`soundness_oracle.KNOWN`), as its smallest program: the kernel's verdict (checked where bpf() is
allowed), what `check` says now, and that the oracle recognises it.

Where `check` should change, the test of what it should say is marked to fail until it does: false
alarms (the kernel accepts a safe program that `check` refuses). The other disagreements stay: programs
the kernel refuses for want of precision or support they do not need (safe: accepting them is
not unsound), and refusals the README makes deliberately."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from program_shapes import ARRAY, BIG, HASH, Shape
from soundness_oracle import KNOWN, ask_kernel, judge

from interp.program import MapDef

FROZEN2 = MapDef(".rodata", 2, 4, 16, 2, origin="data", initial_value=bytes(range(16)), frozen=True)
LOOKUP = "r1 = map[idx:0] ll\nr2 = r10\nr2 += -4\ncall 1\n"
DI = "r6 = *(u64 *)(r1 +112)\n"
VALUE4 = "*(u32 *)(r10 -4) = 0\n" + LOOKUP + "if r0 == 0 goto out\nr4 = r0\n"  # r4: the value of key 0
OUT = "out: r0 = 0\nexit"


@dataclass
class Disagreement:
    known: str  # the name of its `Known` entry
    shape: Shape
    kernel: str  # the running kernel's verdict: "accepted", "rejected" ("varies": it depends on the build)
    ours: str  # what check says now: "accepted" or the code it rejects with
    should: str | None = None  # what check should say, where that is not what it says now

    @property
    def id(self) -> str:
        return self.known


CASES = [
    Disagreement("an alarm no run can break", Shape("linked-scalars", VALUE4 + "r6 = *(u64 *)(r9 +0)\nw7 = w6\n"
                 "if r6 > 4 goto out\nr4 += r7\nr0 = *(u8 *)(r4 +0)\n" + OUT, (ARRAY,)), "rejected", "accepted"),
    Disagreement("frozen multi-entry array read", Shape("frozen-array", "*(u32 *)(r10 -4) = 0\n" + LOOKUP +
                 "if r0 == 0 goto out\nr0 = *(u8 *)(r0 +1)\n" + OUT, (FROZEN2,)), "rejected", "accepted"),
    Disagreement("variable-offset stack atomic", Shape("misaligned-atomics", DI + "r6 &= 8\n*(u64 *)(r10 -16) = 0\n"
                 "*(u64 *)(r10 -8) = 0\nr8 = r10\nr8 += -16\nr8 += r6\nr1 = 1\nlock *(u64 *)(r8 +0) += r1\nr0 = 0\n"
                 "exit"), "rejected", "accepted"),
    Disagreement("nested may_goto jump history", Shape("may-goto", "r8 = *(u64 *)(r1 +0)\nr8 &= 0x3f\nr6 = 0\n"
                 "outer: r7 = 0\ninner: r7 += 1\nmay_goto next\nif r7 < 1 goto inner\nnext: r6 += 1\n"
                 "if r6 < r8 goto outer\nr0 = 0\nexit"), "rejected", "accepted"),
    Disagreement("null learnt from a zero register", Shape("pointer-comparison", "r6 = 0\n*(u32 *)(r10 -4) = 0\n"
                 + LOOKUP + "if r0 == r6 goto out\nr0 = *(u64 *)(r0 +0)\n" + OUT, (HASH,)), "rejected", "accepted"),
    Disagreement("constant key the kernel does not see", Shape("frozen-array", "*(u32 *)(r10 -4) = 1\n" + LOOKUP +
                 "r0 = *(u64 *)(r0 +0)\nr0 = 0\nexit", (ARRAY,)), "rejected", "accepted"),
    Disagreement("constant key the kernel does not see, in a callee", Shape("stack-pointer-escape",
                 "*(u64 *)(r10 -8) = 0\nr1 = r10\nr1 += -8\ncall f\nr1 = *(u64 *)(r10 -8)\nr0 = *(u64 *)(r1 +0)\n"
                 "r0 = 0\nexit\nf: r6 = r1\n*(u32 *)(r10 -4) = 1\n" + LOOKUP + "if r0 == 0 goto none\n"
                 "*(u64 *)(r6 +0) = r0\nnone: r0 = 0\nexit", (ARRAY,)), "rejected", "accepted"),
    Disagreement("callee returns the caller's stack pointer", Shape("stack-pointer-escape", "*(u64 *)(r10 -8) = 0\n"
                 "r1 = r10\nr1 += -8\ncall f\nr0 = *(u64 *)(r0 +0)\nexit\nf: r2 = r1\nr0 = r2\nexit"), "rejected",
                 "accepted"),
    Disagreement("bytes of a spilled number", Shape("sign-extension", "r6 = 255\n*(u64 *)(r10 -16) = r6\n"
                 "r7 = *(s8 *)(r10 -15)\n" + VALUE4 + "r4 += r7\nr0 = *(u8 *)(r4 +0)\n" + OUT, (BIG,)), "rejected",
                 "accepted"),
    Disagreement("links the kernel drops", Shape("linked-scalars", VALUE4 + "r6 = *(u64 *)(r9 +112)\nr8 = r6\n"
                 "r8 += -4\nr7 = r8\nif r8 > 4 goto out\nr4 += r6\nr0 = *(u8 *)(r4 +0)\n" + OUT, (ARRAY,)), "rejected",
                 "accepted"),
    Disagreement("link dropped by a 32-bit copy", Shape("linked-scalars", VALUE4 + "r6 = *(u64 *)(r9 +112)\n"
                 "r6 &= 0xffff\nr7 = r6\nr7 += 4\nw0 = w7\nif w7 > 4 goto out\nr4 += r6\nr0 = *(u8 *)(r4 +0)\n" + OUT,
                 (ARRAY,)), "rejected", "accepted"),
    Disagreement("may_goto jumping to itself", Shape("may-goto", "r0 = 0\nmay_goto -1\nexit"), "rejected", "accepted"),
    Disagreement("loop that skips its may_goto", Shape("may-goto", "r8 = *(u64 *)(r9 +0)\nr8 &= 0x7\nr0 = 0\n"
                 "r7 = *(u64 *)(r9 +0)\nl: r0 += 1\nif r7 == 1 goto skip\nmay_goto out\nskip: if r0 > r8 goto out\n"
                 "goto l\n" + OUT), "rejected", "accepted"),
    Disagreement("private stacks", Shape("combined-stack", "*(u64 *)(r10 -384) = 0\ncall f\nr0 = 0\nexit\n"
                 "f: *(u64 *)(r10 -384) = 0\nr0 = 0\nexit"), "varies", "combined-stack-too-large"),
    Disagreement("map pointer dereference", Shape("atomic-on-spill", "r7 = map[idx:0] ll\n*(u64 *)(r10 -8) = r7\n"
                 "r1 = 0\nr1 = atomic64_xchg((u64 *)(r10 -8), r1)\nr0 = *(u64 *)(r1 +0)\nr0 = 0\nexit", (ARRAY,)),
                 "accepted", "invalid-dereference"),
    # r2 = 5; if r2 > 3 goto +1; r2 += 1 with a non-zero offset field (never run); r0 = 0; exit
    Disagreement("invalid encoding in dead code", Shape("invalid-encoding", raw=bytes.fromhex(
                 "b702000005000000" "2502010003000000" "0702010001000000" "b700000000000000" "9500000000000000")),
                 "accepted",
                 "invalid-instruction"),
    Disagreement("task pointer as helper memory", Shape("helper-calls", "call 158\nr6 = r0\n*(u64 *)(r10 -8) = 0\n"
                 "r1 = r10\nr1 += -8\nr2 = 1\nr3 = r6\nr4 = 1\ncall 177\nr0 = 0\nexit"), "accepted", "helper-argument"),
    Disagreement("bound after a nested loop", Shape("may-goto", "r8 = *(u64 *)(r9 +88)\nr8 &= 0xff\nr6 = 0\n"
                 "outer: r7 = 0\ninner: r7 += 1\nif r7 < 6 goto inner\nr6 += 1\nif r6 < r8 goto outer\n"
                 "*(u32 *)(r10 -4) = 0\n" + LOOKUP + "if r0 == 0 goto out\nr0 += r6\nr0 = *(u8 *)(r0 +0)\n" + OUT,
                 (BIG,)), "accepted", "map-value-out-of-bounds", should="accepted"),
]
# Once false alarms of the abstract state that the kernel does not raise: z3 shows no run breaks them
PROVED = [
    Disagreement("link through a 32-bit move", Shape("linked-scalars", VALUE4 + "r6 = *(u64 *)(r9 +112)\nr6 &= 0xffff\n"
                 "w7 = w6\nif r7 > 12 goto out\nr4 += r6\nr0 = *(u8 *)(r4 +0)\n" + OUT, (ARRAY,)), "accepted",
                 "map-value-out-of-bounds", should="accepted"),
    Disagreement("exit value of a counted loop", Shape("general", "r8 = 0\nr6 = 9\nr8 += 1\nr6 -= 3\nif r6 s> 0 goto -3\n"
                 "*(u32 *)(r10 -4) = 0\n" + LOOKUP + "if r0 == 0 goto out\nr0 += r6\nr0 = *(u8 *)(r0 +0)\n" + OUT,
                 (ARRAY,)), "accepted", "map-value-out-of-bounds", should="accepted"),
    Disagreement("a single value of the known bits", Shape("sign-extension", VALUE4 + "r6 = *(u64 *)(r9 +112)\n"
                 "if r6 > 255 goto out\nr7 = r6\nr7 = bswap16 r7\nr7 += 128\nif r7 > 300 goto out\nr4 += r7\n"
                 "r0 = *(u8 *)(r4 +0)\n" + OUT, (BIG,)), "accepted", "map-value-out-of-bounds", should="accepted"),
]
for case in CASES + PROVED:  # r9 holds the context in every generated program, and here
    if case.shape.raw is None:
        case.shape = Shape(case.shape.kind, "r9 = r1\n" + case.shape.asm, case.shape.maps)


def test_every_known_disagreement_has_its_case() -> None:
    assert [c.known for c in CASES] == [k.name for k in KNOWN]


def _verdict(case: Disagreement) -> str:
    judgement = judge(case.shape, seed=1, ask=False)
    assert judgement.crash is None and judgement.fault is None, judgement
    return "accepted" if judgement.ours == "accepted" else ",".join(judgement.codes)


@pytest.mark.parametrize("case", [c for c in CASES if c.should is None], ids=lambda c: c.id)
def test_what_check_says(case: Disagreement) -> None:
    assert case.ours in _verdict(case).split(",")


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=next(
    k.why for k in KNOWN if k.name == c.known))) for c in CASES if c.should is not None], ids=lambda c: c.id)
def test_what_check_should_say(case: Disagreement) -> None:
    assert case.should is not None and case.should in _verdict(case).split(",")


@pytest.mark.parametrize("case", [c for c in CASES if c.should is not None], ids=lambda c: c.id)
def test_what_check_says_until_then(case: Disagreement) -> None:
    assert case.ours in _verdict(case).split(",")


@pytest.mark.kernel
@pytest.mark.parametrize("case", [c for c in CASES if c.kernel != "varies"], ids=lambda c: c.id)
def test_the_kernel_says_so_and_the_oracle_knows_it(case: Disagreement) -> None:
    verdict = ask_kernel(case.shape)
    assert verdict.verdict == case.kernel, verdict.reason
    judgement = judge(case.shape, seed=1)
    assert judgement.known == case.known, (judgement.kernel_reason, judgement.codes)



@pytest.mark.parametrize("case", PROVED, ids=lambda c: c.id)
def test_false_alarms_z3_refutes(case: Disagreement) -> None:
    judgement = judge(case.shape, seed=1, ask=False)
    assert (judgement.ours, judgement.refuted) == ("accepted", [case.ours])


@pytest.mark.kernel
@pytest.mark.parametrize("case", PROVED, ids=lambda c: c.id)
def test_the_kernel_accepts_what_z3_proved(case: Disagreement) -> None:
    assert ask_kernel(case.shape).verdict == "accepted"
