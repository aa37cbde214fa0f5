"""A 32-bit test on one of two linked scalars (r7 = r6 + c) and what it may teach of the other.

r6 and r7 differ by a constant in all 64 bits, so a bound learnt on r7 holds for r6 shifted by c,
but a test on w7 says something of r7's 64-bit value only where r7's upper half is known. Two
programs of the soundness campaign, which the kernel refuses and `check` accepts, show the first
case (r6 = field & 0xffff, so r7 < 2^32 and `w7 <= 4` means r7 = 4, r6 = 0); programs where r6 is
not bounded below 2^32 - c show the second, and must be refused. Each is judged here by `check`,
by the running kernel, by z3 over the program's semantics (`interp.semantics` on z3 terms, and the
symbolic search that judges alarms) and by the interpreter on the boundary values of the field.

The kernel does carry a 32-bit test to linked registers: it refuses the campaign programs because
their 32-bit copy `w0 = w7` of r7, a copy plus a constant, gives r7 a new id (the kernel keeps one
added constant per link), so the tests that follow bound r7 and r0, never r6. Without that copy it
accepts them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import z3
from hypothesis import given, settings
from hypothesis import strategies as st
from program_shapes import ARRAY, Shape
from soundness_oracle import ask_kernel, judge
from test_scalar_domain import abstract_with_members

from interp import semantics
from interp.asm.kernel_syntax import assemble
from interp.isa.ops import Alu, Branch, Load, lift
from interp.kprobe import KprobeSession
from interp.pt_regs import layout_for
from verifier.domains.regs import RegState
from verifier.domains.scalar import Scalar
from verifier.domains.tnum import M64
from verifier.fixpoint import Analysis, Limits
from verifier.obligations import Kind, obligations
from verifier.profiles import PROFILES, helper_registry
from verifier.state import Frame, State
from verifier.symbolic.search import search
from verifier.transfer import Transfer

FIELD = 40  # the pt_regs field the programs read (bytes into the context)
FIELD_PC = 9  # the instruction that reads it
HEAD = ("r9 = r1\n*(u32 *)(r10 -24) = 0\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -24\ncall 1\nif r0 == 0 goto out\n"
        f"r4 = r0\nr6 = *(u64 *)(r9 +{FIELD})\n")  # r4: a map value of 16 bytes; r6: the field
TAIL = "r4 += r6\nr0 = *(u8 *)(r4 +0)\nout: r0 = 0\nexit"
KERNEL_REASON = "invalid access to map value, value_size=16 off=65535 size=1"


@dataclass(frozen=True)
class Case:
    id: str
    body: str  # between HEAD and TAIL
    r6_max: int | None  # the largest r6 at the load over all runs (None: r6 is not bounded there)

    @property
    def shape(self) -> Shape:
        return Shape("linked-scalars", HEAD + self.body + TAIL, (ARRAY,))

    @property
    def load_pc(self) -> int:
        return len(self.shape.program().insns) + 1 - 3  # the load before `out:` (lddw takes two slots)


# the two programs of the campaign, as it drew them
CAMPAIGN = [Case("w7 > 4", "r6 &= 0xffff\nr7 = r6\nr7 += 4\nw0 = w7\nif w7 > 4 goto out\nif r7 > 8 goto out\n", 0),
            Case("w7 > 8", "r6 &= 0xffff\nr7 = r6\nr7 += 4\nw0 = w7\nif w7 > 8 goto out\nif r7 > 8 goto out\n", 4)]
# the 32-bit test cannot bound r6: r7 = r6 + 4 may lie above 2^32 (or wrap below 0) with a small low half
UNBOUNDED = [Case("r6 any", "r7 = r6\nr7 += 4\nif w7 > 4 goto out\n", None),
             Case("r6 below 2^32", "w6 = w6\nr7 = r6\nr7 += 4\nif w7 > 4 goto out\n", None),
             Case("r6 any, then r7 <= 8", "r7 = r6\nr7 += 4\nif w7 > 4 goto out\nif r7 > 8 goto out\n", None)]
# field values at the edges of every test (the mask, the 32-bit wrap of r7, the 64-bit wrap)
BOUNDARY = [0, 1, 4, 5, 8, 9, 0xFFFC, 0xFFFD, 0xFFFF, 0x10000, 0x10004, 0xFFFFFFFB, 0xFFFFFFFC, 0xFFFFFFFF,
            1 << 32, M64 - 3, M64]


def _analysis(case: Case) -> Analysis:
    program = case.shape.program()
    profile = PROFILES["linux-6.18"]
    ops = profile.program_types[program.prog_type]
    return Analysis(program, profile, "x86_64", ops, helper_registry(ops), Limits())


def _r6_at_load(case: Case) -> tuple[z3.BitVecRef, z3.BoolRef, z3.BitVecRef]:
    """(the field, the condition that a run reaches the load, r6 there) over z3 terms: the path from the
    field's load to the map value's falls through every test, each instruction read by interp.semantics."""
    ops = _analysis(case).cf.listing.ops
    backend = semantics.Z3Backend()
    field = z3.BitVec("field", 64)
    regs: dict[int, z3.BitVecRef] = {}
    reached = []
    for pc in range(FIELD_PC, case.load_pc - 1):  # from the field's load to r4 += r6, excluded
        op = ops[pc]
        if isinstance(op, Load):
            regs[op.dst] = field
        elif isinstance(op, Alu):
            regs[op.dst] = semantics.alu(backend, op, regs.get(op.dst, backend.const(0, 64)),
                                         regs.get(getattr(op.src, "n", -1)))
        elif isinstance(op, Branch):
            reached.append(z3.Not(semantics.branch_taken(backend, op, regs[op.left])))
    return field, z3.And(*reached), regs[6]


@pytest.mark.parametrize("case", CAMPAIGN, ids=lambda c: c.id)
def test_check_accepts_the_campaign_programs_by_itself(case: Case) -> None:
    judgement = judge(case.shape, seed=1, ask=False)
    assert (judgement.ours, judgement.refuted, judgement.fault) == ("accepted", [], None)


@pytest.mark.parametrize("case", CAMPAIGN, ids=lambda c: c.id)
def test_z3_bounds_r6_at_the_load_for_every_field(case: Case) -> None:
    field, reached, r6 = _r6_at_load(case)
    assert case.r6_max is not None
    solver = z3.Solver()
    solver.add(reached, z3.UGT(r6, case.r6_max))
    assert solver.check() == z3.unsat  # no 64-bit field gets past the tests with r6 above r6_max ...
    solver = z3.Solver()
    solver.add(reached, r6 == case.r6_max)
    assert solver.check() == z3.sat  # ... and one reaches it
    assert solver.model()[field].as_long() & 0xFFFF == case.r6_max


@pytest.mark.parametrize("case", CAMPAIGN + UNBOUNDED, ids=lambda c: c.id)
def test_the_symbolic_search_judges_the_map_access(case: Case) -> None:
    analysis = _analysis(case)
    [bounds] = [o for o in obligations(analysis.cf.listing.ops[case.load_pc], case.load_pc)
                if o.kind == Kind.MAP_VALUE_IN_BOUNDS]
    outcome = search(analysis, case.load_pc, (), bounds)
    assert outcome.status == ("refuted" if case.r6_max is not None else "witness")


def _run(case: Case, field: int) -> tuple[int | None, object, list[int]]:
    """r0, the fault and r6 at the load (where a run gets there) of one run on the field's value."""
    r6_at_load: list[int] = []
    load_pc = case.load_pc

    def observe(pc: int, depth: int, regs: tuple) -> None:
        if pc == load_pc:
            r6_at_load.append(regs[6])

    session = KprobeSession([case.shape.program()], observe=observe)
    ctx = bytearray(layout_for("x86_64").size)
    ctx[FIELD:FIELD + 8] = field.to_bytes(8, "little")
    outcome = session.run_program(0, bytes(ctx))
    return outcome.r0, outcome.fault, r6_at_load


@pytest.mark.parametrize("case", CAMPAIGN, ids=lambda c: c.id)
def test_the_interpreter_runs_the_boundary_fields_without_fault(case: Case) -> None:
    assert case.r6_max is not None
    for field in BOUNDARY:
        r0, fault, r6_at_load = _run(case, field)
        assert (r0, fault) == (0, None), hex(field)
        assert r6_at_load == ([field & 0xFFFF] if field & 0xFFFF <= case.r6_max else []), hex(field)


@pytest.mark.parametrize("case", UNBOUNDED, ids=lambda c: c.id)
def test_a_32bit_test_does_not_bound_the_linked_original(case: Case) -> None:
    judgement = judge(case.shape, seed=1, ask=False)
    assert judgement.ours == "rejected" and "map-value-out-of-bounds" in judgement.codes, judgement
    field = M64 - 3 if "r7 <= 8" in case.id else 0xFFFFFFFC  # r7 = 0 or 2^32: w7 = 0 passes the test
    r0, fault, r6_at_load = _run(case, field)
    assert fault is not None and fault.kind.value == "out-of-bounds" and r6_at_load == [field], fault


@settings(max_examples=400, deadline=None)
@given(abstract_with_members(), st.sampled_from([4, -4, 1, 100, 0x7FFFFFFF, -0x80000000]),
       st.sampled_from(["<", "<=", ">", ">=", "s<", "s<=", "s>", "s>=", "==", "!="]),
       st.sampled_from([0, 4, 8, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]))
def test_a_32bit_test_narrows_linked_copies_soundly(r6: tuple[Scalar, list[int]], delta: int, cond: str,
                                                    bound: int) -> None:
    """r7 = r6; r7 += delta; if w7 cond bound: on each side, every r6 that takes it stays in r6's
    state and its r7 in r7's (the link carries the test through the analysis' own transfer)."""
    insns = assemble(f"r7 = r6\nr7 += {delta}\nif w7 {cond} {bound:#x} goto +0\nexit")
    copy, add, test = (lift(i, pc) for pc, i in enumerate(insns[:3]))
    transfer = Transfer(None)  # type: ignore[arg-type]  # (ALU and branches ask nothing of the analysis)
    state = State((Frame.entry({6: RegState.scalar(r6[0])}, 0),))
    state = transfer.alu(1, add, transfer.alu(0, copy, state))
    sides = transfer.branch(test, state)
    backend = semantics.IntBackend()
    for x in r6[1]:
        x7 = semantics.alu(backend, add, semantics.alu(backend, copy, 0, x))
        side = sides[0] if semantics.branch_taken(backend, test, x7) else sides[1]
        assert side is not None, (str(r6[0]), hex(x), delta, cond, bound)
        assert side.reg(6).value.contains(x) and side.reg(7).value.contains(x7), (
            str(r6[0]), hex(x), delta, cond, bound, str(side.reg(6).value), str(side.reg(7).value))


@pytest.mark.kernel
@pytest.mark.parametrize("case", CAMPAIGN, ids=lambda c: c.id)
def test_the_kernel_refuses_the_campaign_programs_and_the_oracle_knows_why(case: Case) -> None:
    verdict = ask_kernel(case.shape)
    assert (verdict.verdict, verdict.reason) == ("rejected", KERNEL_REASON)
    judgement = judge(case.shape, seed=1)
    assert (judgement.ours, judgement.known, judgement.unsound) == ("accepted", "link dropped by a 32-bit copy",
                                                                   False)


@pytest.mark.kernel
@pytest.mark.parametrize("case", CAMPAIGN, ids=lambda c: c.id)
def test_the_kernel_accepts_them_without_the_32bit_copy(case: Case) -> None:
    assert "w0 = w7\n" in case.body
    without = Case(case.id, case.body.replace("w0 = w7\n", ""), case.r6_max)
    assert ask_kernel(without.shape).verdict == "accepted"


@pytest.mark.kernel
@pytest.mark.parametrize("case", UNBOUNDED, ids=lambda c: c.id)
def test_the_kernel_refuses_what_the_32bit_test_cannot_bound(case: Case) -> None:
    assert ask_kernel(case.shape).verdict == "rejected"
