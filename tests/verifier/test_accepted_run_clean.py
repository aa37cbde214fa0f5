"""What the verifier accepts runs without a fault: every accepted rule-suite program is run on
the kprobe runtime with random registers (and seeded maps), and none may fault."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_rules import CASES, Case, program

from interp.kprobe import KprobeSession
from interp.pt_regs import layout_for

ACCEPTED = [c for c in CASES if c.code is None and c.profile == "linux-6.18"]  # test_rules checks the verdicts
PT_REGS_SIZE = layout_for("x86_64").size


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda c: c.name)
@settings(max_examples=6, deadline=None, derandomize=True)
@given(ctx=st.binary(min_size=PT_REGS_SIZE, max_size=PT_REGS_SIZE), seed=st.integers(0, 2**32 - 1))
def test_accepted_program_does_not_fault(case: Case, ctx: bytes, seed: int) -> None:
    prog = program(case)
    session = KprobeSession([prog], ncpus=2)
    rng = random.Random(seed)
    for state in session.maps:  # some runs find entries in the maps, some do not
        mdef = state.definition
        if rng.random() < 0.5 and mdef.type in (1, 5, 9, 10):  # hash maps
            key = rng.randrange(4).to_bytes(mdef.key_size, "little")
            state.update(key, rng.randbytes(mdef.value_size), 0, 0)
    outcome = session.run_program(0, ctx, cpu=rng.randrange(2))
    assert outcome.fault is None, f"{case.name}: {outcome.fault}"
