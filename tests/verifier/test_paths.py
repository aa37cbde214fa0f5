"""Liveness and path partitioning: paths that disagree on a live register's kind stay apart."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from interp.asm.kernel_syntax import assemble
from interp.flow import Listing
from interp.program import MapDef, Program
from verifier.cfg import build_cfg
from verifier.check import check_program
from verifier.domains.regs import RegState, RegType
from verifier.domains.scalar import Scalar
from verifier.liveness import live_in
from verifier.paths import MAX_PATHS, Paths
from verifier.state import Frame, State

HASH = MapDef("h", 1, 4, 8, 16)
LOOKUP = "r1 = map[idx:0] ll\nr2 = r10\nr2 += -4\n*(u32 *)(r10 -4) = 0\ncall 1\n"


def _program(asm: str) -> Program:
    insns = assemble(asm)
    return Program("t", "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns), [HASH],
                   license="GPL", kern_version=0x40100)


def _live(asm: str) -> dict[int, int]:
    insns = assemble(asm)
    cf = build_cfg(insns, {})
    return live_in(Listing.of(insns), cf.main)


def test_liveness_of_straight_code() -> None:
    # r1 is read by the load, r0 by exit; r6 is written before it is read
    assert _live("r6 = 1\nr0 = *(u64 *)(r1 +0)\nr0 += r6\nexit") == {0: 0b10}


def test_liveness_across_a_branch_and_a_call() -> None:
    live = _live("if r1 > 3 goto +2\nr0 = r7\nexit\ncall 5\nexit")
    assert live[0] == (1 << 1) | (1 << 7) | 0b111110  # r1 compared, r7 on one side, call arguments on the other
    assert live[3] == 0b111110  # the call reads r1..r5 and defines r0 for exit


def _state(r0: RegState) -> State:
    frame = Frame.entry({1: RegState(RegType.PTR_TO_CTX, Scalar.const(0))}, 0)
    return State((frame.with_reg(0, r0),))


MAP_VALUE = RegState(RegType.PTR_TO_MAP_VALUE, Scalar.const(0), maps=frozenset({0}))
STACK = RegState(RegType.PTR_TO_STACK, Scalar.const(-8))


def test_kinds_stay_apart_when_live() -> None:
    joined = Paths.of(_state(MAP_VALUE)).join(Paths.of(_state(STACK)), live=1)
    assert [s.reg(0).type for s in joined] == [RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_STACK]


def test_dead_registers_do_not_split_paths() -> None:
    joined = Paths.of(_state(MAP_VALUE)).join(Paths.of(_state(STACK)), live=0)
    assert len(joined) == 1 and joined.single().reg(0).type == RegType.CONFLICT


def test_scalars_of_one_kind_are_joined() -> None:
    joined = Paths.of(_state(RegState.const(1))).join(Paths.of(_state(RegState.const(9))), live=1)
    assert len(joined) == 1
    assert (joined.single().reg(0).value.umin, joined.single().reg(0).value.umax) == (1, 9)


@given(st.integers(MAX_PATHS + 1, 3 * MAX_PATHS))
def test_too_many_kinds_fall_back_to_one_state(count: int) -> None:
    paths = Paths.of(_state(RegState.const(0)))
    for frame in range(1, count):
        paths = paths.join(Paths.of(_state(RegState(RegType.PTR_TO_STACK, Scalar.const(-8), frame=frame))), live=1)
    # past the limit the kinds collapse into one joined state, which later paths may join or not
    assert len(paths) <= MAX_PATHS
    assert paths.states[0].reg(0).type == RegType.CONFLICT


def test_a_checked_pointer_is_usable_after_the_paths_meet() -> None:
    # the NULL path and the map value path meet before the second check: the kernel accepts this
    asm = LOOKUP + "if r0 == 0 goto +1\nr1 = *(u64 *)(r0 +0)\nif r0 == 0 goto +1\nr1 = *(u64 *)(r0 +0)\nr0 = 0\nexit"
    assert check_program(_program(asm)).verdict == "accepted"


def test_value_or_stack_buffer() -> None:
    asm = ("*(u64 *)(r10 -16) = 0\n" + LOOKUP + "if r0 != 0 goto +2\nr0 = r10\nr0 += -16\n"
           "r0 = *(u64 *)(r0 +0)\nr0 = 0\nexit")
    assert check_program(_program(asm)).verdict == "accepted"


def test_partitioning_keeps_the_null_path() -> None:
    # r6 is NULL exactly on the path where r0 is a map value: its dereference must be refused
    asm = (LOOKUP + "if r0 == 0 goto +8\nr6 = r0\nr2 = *(u32 *)(r10 -4)\nif r2 > 5 goto +2\nr6 = 0\ngoto +1\n"
           "r0 = 0\nif r0 == 0 goto +1\nr0 = *(u64 *)(r6 +0)\nr0 = 0\nexit")
    result = check_program(_program(asm))
    assert result.verdict == "rejected"
    assert [(f.pc, f.code) for f in result.findings] == [(14, "invalid-dereference")]
