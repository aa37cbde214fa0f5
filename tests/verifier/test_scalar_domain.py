"""Soundness of the scalar domain, sampled: every concrete result is in the abstract result."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from interp import semantics
from interp.isa.insn import Insn
from interp.isa.opcodes import AluOp, Cls, JmpOp
from interp.isa.ops import lift
from verifier.domains.scalar import Scalar
from verifier.domains.tnum import M64, Tnum

INT = semantics.IntBackend()
EDGES = [0, 1, 2, 7, 31, 32, 63, 64, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32, (1 << 63) - 1, 1 << 63, M64, M64 - 1]
values = st.one_of(st.sampled_from(EDGES), st.integers(0, M64), st.integers(0, 300))


@st.composite
def abstract_with_members(draw: st.DrawFn) -> tuple[Scalar, list[int]]:
    members = draw(st.lists(values, min_size=1, max_size=4))
    kind = draw(st.sampled_from(["join", "range", "masked"]))
    if kind == "join":
        abstract = Scalar.const(members[0])
        for m in members[1:]:
            abstract = abstract.join(Scalar.const(m))
    elif kind == "range":
        lo, hi = min(members), max(members)
        abstract = Scalar.urange(lo, hi)
    else:
        mask = draw(st.sampled_from([0xFF, 0xFFFF, 0xFFFFFFFF, 0xF0F0, M64]))
        base = members[0] & ~mask & M64
        abstract = Scalar(Tnum(base, mask), 0, M64, -(1 << 63), (1 << 63) - 1, 0, 0xFFFFFFFF, -(1 << 31), (1 << 31) - 1).sync()
        members = [base | (m & mask) for m in members]
    for m in members:
        assert abstract.contains(m), (abstract, m)
    return abstract, members


ALU_OPS = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND, AluOp.LSH, AluOp.RSH, AluOp.NEG,
           AluOp.MOD, AluOp.XOR, AluOp.MOV, AluOp.ARSH]


@settings(max_examples=600, deadline=None)
@given(abstract_with_members(), abstract_with_members(), st.sampled_from(ALU_OPS), st.booleans(),
       st.sampled_from([0, 1, 8, 16, 32]), st.data())
def test_alu_is_sound(a: tuple[Scalar, list[int]], b: tuple[Scalar, list[int]], op: int, wide: bool,
                      off: int, data: st.DataObject) -> None:
    if off == 1 and op not in (AluOp.DIV, AluOp.MOD):
        off = 0
    if off in (8, 16, 32) and op != AluOp.MOV or (off == 32 and not wide):
        off = 0
    register = 0 if op == AluOp.NEG else 0x08  # neg has no register form
    operation = lift(Insn((Cls.ALU64 if wide else Cls.ALU) | op | register, 0, 1 if register else 0, off), 0)
    result = a[0].alu(operation, b[0])
    for x in a[1]:
        for y in b[1]:
            concrete = semantics.alu(INT, operation, x, y)
            assert result.contains(concrete), (str(a[0]), str(b[0]), hex(x), hex(y), hex(concrete), str(result))


@settings(max_examples=300, deadline=None)
@given(abstract_with_members(), st.sampled_from([(0xD4, 16), (0xD4, 32), (0xD4, 64), (0xDC, 16), (0xDC, 32),
                                                 (0xDC, 64), (0xD7, 16), (0xD7, 32), (0xD7, 64)]))
def test_byte_swaps_are_sound(a: tuple[Scalar, list[int]], form: tuple[int, int]) -> None:
    opcode, imm = form
    operation = lift(Insn(opcode, 0, 0, 0, imm), 0)
    result = a[0].alu(operation)
    for x in a[1]:
        assert result.contains(semantics.alu(INT, operation, x))


JUMPS = [JmpOp.JEQ, JmpOp.JNE, JmpOp.JGT, JmpOp.JGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSGT, JmpOp.JSGE,
         JmpOp.JSLT, JmpOp.JSLE, JmpOp.JSET]


@settings(max_examples=800, deadline=None)
@given(abstract_with_members(), abstract_with_members(), st.sampled_from(JUMPS), st.booleans())
def test_branch_refinement_keeps_every_member_on_its_side(a: tuple[Scalar, list[int]], b: tuple[Scalar, list[int]],
                                                          op: int, wide: bool) -> None:
    branch = lift(Insn((Cls.JMP if wide else Cls.JMP32) | op | 0x08, 0, 1), 0)
    for taken in (True, False):
        refined = a[0].refine(op, b[0], taken, wide)
        for x in a[1]:
            for y in b[1]:
                if bool(semantics.branch_taken(INT, branch, x, y)) == taken:
                    assert refined is not None, (str(a[0]), str(b[0]), hex(x), hex(y), op, taken)
                    assert refined[0].contains(x) and refined[1].contains(y), (str(a[0]), str(b[0]), hex(x), hex(y), op, taken, str(refined[0]), str(refined[1]))


@settings(max_examples=300, deadline=None)
@given(abstract_with_members(), abstract_with_members())
def test_join_widen_contain_both(a: tuple[Scalar, list[int]], b: tuple[Scalar, list[int]]) -> None:
    joined, widened = a[0].join(b[0]), a[0].widen(b[0])
    for x in a[1] + b[1]:
        assert joined.contains(x) and widened.contains(x)
    assert a[0].leq(joined) and b[0].leq(joined) and joined.leq(widened)
