"""Soundness, sampled: random programs built from the shapes real kprobe programs use (context
loads, ALU on 32 and 64 bits, stack spills, map lookups and indexed map values, forward
branches, counted loops, helper calls with computed sizes). Whatever the verifier accepts must
run on the kprobe runtime without a fault, for random registers and map contents; and where
`bpf()` is allowed, the running kernel must accept it too."""

from __future__ import annotations

import functools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rules import Case, kernel_verdict

from interp.asm.kernel_syntax import assemble
from interp.kprobe import KprobeSession
from interp.program import MapDef, Program
from verifier.fixpoint import Limits
from verifier.check import check_program

ARRAY = MapDef("a", 2, 4, 16, 4)
HASH = MapDef("h", 1, 4, 8, 4)
SCALARS = ["r0", "r2", "r3", "r4", "r5", "r7", "r8", "r9"]  # r6 keeps the context
LIMITS = Limits(max_unroll_work=4000)  # enough for every loop the generator makes that ends
ALU = ["+=", "-=", "*=", "&=", "|=", "^=", "<<=", ">>=", "s>>=", "/=", "%="]
JUMPS = ["==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=", "&"]


@st.composite
def snippet(draw: st.DrawFn) -> list[str]:
    reg = draw(st.sampled_from(SCALARS))
    other = draw(st.sampled_from(SCALARS))
    wide = draw(st.booleans())
    w = reg if wide else "w" + reg[1:]
    kind = draw(st.integers(0, 10))
    if kind == 0:
        size, off = draw(st.sampled_from([1, 2, 4, 8])), draw(st.integers(-8, 176))
        return [f"{reg} = *(u{size * 8} *)(r6 {off:+d})"]
    if kind == 1:
        op = draw(st.sampled_from(ALU))
        if draw(st.booleans()):
            return [f"{w} {op} {draw(st.integers(-70, 70))}"]
        return [f"{w} {op} {other if wide else 'w' + other[1:]}"]
    if kind == 2:
        return [f"{reg} = {draw(st.integers(-300, 300))}"]
    if kind == 3:
        slot = 8 * draw(st.integers(1, 8))
        if draw(st.booleans()):
            return [f"*(u64 *)(r10 -{slot}) = {reg}"]
        return [f"{reg} = *(u{draw(st.sampled_from([8, 16, 32, 64]))} *)(r10 -{slot})"]
    if kind == 4:  # a lookup with a computed key, its result read at a bounded index
        mask = draw(st.sampled_from([3, 7, 15, 31]))
        size = draw(st.sampled_from([1, 2, 4, 8]))
        m = draw(st.integers(0, 1))
        return [f"*(u32 *)(r10 -4) = w{reg[1:]}", f"r1 = map[idx:{m}] ll", "r2 = r10", "r2 += -4", "call 1",
                "if r0 == 0 goto +3", f"{other} &= {mask}", f"r0 += {other}", f"{reg} = *(u{size * 8} *)(r0 +0)"]
    if kind == 5:
        op = draw(st.sampled_from(JUMPS))
        rhs = other if draw(st.booleans()) else str(draw(st.integers(-20, 300)))
        return [f"if {reg} {op} {rhs} goto +{draw(st.integers(0, 2))}"]
    if kind == 6:  # a variable offset into a stack buffer
        mask = draw(st.sampled_from([7, 15, 31, 63]))
        return ["*(u64 *)(r10 -64) = 0", "*(u64 *)(r10 -56) = 0", f"{reg} &= {mask}", "r1 = r10", "r1 += -64",
                f"r1 += {reg}", f"{other} = *(u8 *)(r1 +0)"]
    if kind == 7:  # probe_read into the stack with a computed size
        return ["r1 = r10", "r1 += -32", f"r2 = {reg}", f"if r2 > {draw(st.integers(0, 40))} goto +2",
                "r3 = 0", "call 4", "r0 = 0"]
    if kind == 8:  # a copy bounded in place of the original
        return [f"{other} = {reg}", f"if {other} > {draw(st.integers(0, 20))} goto +2", "r1 = r10",
                f"r1 += -48\n*(u64 *)(r10 -48) = 0\nr1 += {reg}\n{other} = *(u8 *)(r1 +0)"]
    if kind == 9:
        return [f"{reg} = r6", f"{reg} = *(u64 *)({reg} +{8 * draw(st.integers(0, 20))})"]
    # a counted loop; a step of 0 or less never ends
    step = draw(st.sampled_from([1, 1, 2, 3, 0, -1]))
    return [f"r9 = {draw(st.integers(0, 40))}", f"{reg} += 1", f"r9 -= {step}", "if r9 s> 0 goto -3"]


@st.composite
def programs(draw: st.DrawFn) -> str:
    lines = ["r6 = r1"] + [f"{r} = 0" for r in SCALARS if draw(st.booleans())]
    for part in draw(st.lists(snippet(), min_size=1, max_size=12)):
        lines.extend(part)
    return "\n".join(lines + ["r0 = 0", "exit"])


def _program(asm: str) -> Program:
    insns = assemble(asm)
    return Program("fuzz", "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns), [ARRAY, HASH],
                   license="GPL", kern_version=0x40100)


def check_accepted_programs_run_clean(asm: str, seed: int) -> bool:
    """Whether the program was accepted (and, if so, it ran without a fault on 8 random inputs)."""
    try:
        program = _program(asm)
    except Exception:  # a jump past the end: not a program
        return False
    if check_program(program, limits=LIMITS).verdict != "accepted":
        return False
    rng = random.Random(seed)
    for _ in range(8):
        session = KprobeSession([program])
        for state in session.maps:
            if state.definition.type == 1 and rng.random() < 0.7:
                state.update(rng.randrange(3).to_bytes(4, "little"), rng.randbytes(8), 0, 0)
            elif state.definition.type == 2:
                for k in range(4):
                    state.update(k.to_bytes(4, "little"), rng.randbytes(16), 0, 0)
        ctx = bytes(rng.choice([0, 1, 7, 255, rng.randrange(256)]) for _ in range(168))
        outcome = session.run_program(0, ctx)
        assert outcome.fault is None, f"accepted but faulted: {outcome.fault}\n{asm}"
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2**32 - 1))
def test_accepted_random_programs_do_not_fault(asm: str, seed: int) -> None:
    check_accepted_programs_run_clean(asm, seed)


@functools.cache
def _kernel_usable() -> bool:
    return kernel_verdict(Case("probe", "r0 = 0\nexit", "accept")) is not None


@pytest.mark.kernel
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_what_the_kernel_rejects_is_not_accepted(asm: str) -> None:
    if not _kernel_usable():
        pytest.skip("bpf() is not permitted here")
    try:
        program = _program(asm)
    except Exception:
        return
    if check_program(program, limits=LIMITS).verdict == "accepted":
        assert kernel_verdict(Case("random", asm, "accept", maps=(ARRAY, HASH))) == "accept", asm
