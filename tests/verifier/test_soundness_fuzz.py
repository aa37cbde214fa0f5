"""Soundness, sampled: programs from every generator of `program_shapes` (one per class of rule
the verifier was once wrong about, and a general mix of the shapes real kprobe programs use).
No exception escapes `check_program`; whatever it accepts runs on the kprobe runtime without a
fault on several random inputs (registers, kernel memory, map contents); where `bpf()` is
allowed, the running kernel accepts it too, unless it is a known disagreement that is safe
(`soundness_oracle.KNOWN`). Each generator is also shown to reach its rule: it makes programs
that `check` refuses with the class's code, or accepts where the rule once refused them wrongly.

The long version of this is `python -m papers.soundness_campaign` (README, Figures)."""

from __future__ import annotations

import re
from random import Random
from typing import Callable

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from program_shapes import SHAPES, Shape
from soundness_oracle import Judgement, judge

CLASSES = sorted(SHAPES)


@pytest.mark.parametrize("kind", CLASSES)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_accepted_programs_run_without_a_fault(kind: str, data: st.DataObject, seed: int) -> None:
    shape = data.draw(SHAPES[kind])
    judgement = judge(shape, seed, runs=4, ask=False)
    assert judgement.crash is None, f"{judgement.crash}\n{shape.text}"
    assert judgement.ours != "not-a-program", f"{judgement.first}\n{shape.text}"
    assert judgement.fault is None, f"accepted but faulted (inputs seed {judgement.fault_seed}): {judgement.fault}\n" \
                                    f"{shape.text}"


@pytest.mark.kernel
@pytest.mark.parametrize("kind", CLASSES)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_what_we_accept_the_kernel_accepts(kind: str, data: st.DataObject) -> None:
    shape = data.draw(SHAPES[kind])
    judgement = judge(shape, 1, runs=1)
    assert not judgement.unsound, f"the kernel refuses ({judgement.kernel_reason}) what we accept:\n{shape.text}"


def accepted_with(pattern: str) -> Callable[[Shape, Judgement], bool]:
    return lambda shape, j: j.ours == "accepted" and re.search(pattern, shape.text, re.M) is not None


def refused_for(code: str) -> Callable[[Shape, Judgement], bool]:
    return lambda shape, j: code in j.codes


# what shows that a generator reaches its rule: a program refused with the rule's code, or (where the rule once
# refused safe programs) one accepted that uses what the rule is about
REACHES: dict[str, list[tuple[str, Callable[[Shape, Judgement], bool]]]] = {
    "helper-stack-write": [("a clobbered spill is no pointer", refused_for("invalid-dereference")),
                           ("a clobbered constant is no offset", refused_for("pointer-arithmetic"))],
    "read-only-map": [("writes refused", refused_for("map-value-read-only"))],
    "frozen-array": [("unfolded elements bound nothing", refused_for("pointer-arithmetic")),
                     ("folded element used as an offset", accepted_with(r"r0 \+= r7"))],
    "stack-pointer-escape": [("escape refused", refused_for("stack-pointer-escape"))],
    "helper-memory-bounds": [("below or above the frame", refused_for("helper-memory"))],
    "combined-stack": [("too deep", refused_for("combined-stack-too-large"))],
    "function-boundaries": [("jump out of a function", refused_for("invalid-jump"))],
    "ringbuf-references": [("record leaked", refused_for("unreleased-reference")),
                           ("tail call in a subprogram", refused_for("tail-call-in-subprogram"))],
    "misaligned-atomics": [("misaligned", refused_for("misaligned-atomic"))],
    "partial-spills": [("partial spill", refused_for("partial-pointer-spill")),
                       ("partial fill", refused_for("partial-pointer-fill"))],
    "invalid-encoding": [("invalid instruction", refused_for("invalid-instruction"))],
    "sign-extension": [("movsx as an offset", accepted_with(r"= \(s(8|16|32)\)")),
                       ("sign-extending load as an offset", accepted_with(r"= \*\(s(8|16|32) \*\)")),
                       ("byte swap as an offset", accepted_with(r"= (bswap|be|le)(16|32|64) "))],
    "narrow-spills": [("a u32 spill as an offset", accepted_with(r"\*\(u32 \*\)\(r10 -\d+\) = r6")),
                      ("a loop counter on the stack", accepted_with(r"goto l$"))],
    "linked-scalars": [("a copy plus a constant", accepted_with(r"\+= -?\d+\n(.*\n)*if [rw]\d")),
                       ("a copy joined from two paths", accepted_with(r"goto b")),
                       ("an atomic fetch", accepted_with(r"atomic64_fetch_add"))],
    "atomic-on-spill": [("an exchanged pointer", accepted_with(r"xchg(.*\n)+r2 = \*\(u64 \*\)\(r1 \+0\)"))],
    "pointer-comparison": [("equal to a non-null pointer", accepted_with(r"if r0 == r6 goto use\ngoto out"))],
    "may-goto": [("a loop bounded by may_goto", accepted_with(r"may_goto out\nif r0 > r8"))],
    "helper-length": [("a 32-bit signed test", accepted_with(r"if w0 s< 0 goto out\n(.*\n)*r8 \+= r0"))],
    "helper-calls": [("a newer helper", lambda s, j: j.ours == "accepted" and int(re.findall(r"call (\d+)",
                                                                                            s.text)[-1]) > 100),
                     ("an unknown helper", refused_for("unknown-helper"))],
    "general": [("a variable offset into the stack", accepted_with(r"^r1 \+= r\d$"))],
}


def test_every_class_has_its_reach() -> None:
    assert sorted(REACHES) == CLASSES


@pytest.mark.parametrize("kind, what, reached", [(k, w, r) for k, cases in REACHES.items() for w, r in cases],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_generator_reaches_its_rule(kind: str, what: str, reached: Callable[[Shape, Judgement], bool]) -> None:
    # a fixed seed: whether 600 draws reach a rare shape must not change from run to run
    found = find(SHAPES[kind], lambda shape: reached(shape, judge(shape, 1, runs=0, ask=False)),
                 settings=settings(max_examples=600, database=None, deadline=None, phases=[Phase.generate],
                                   suppress_health_check=list(HealthCheck)), random=Random(1))
    assert found.kind == kind
