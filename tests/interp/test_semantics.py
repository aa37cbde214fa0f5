"""The instruction semantics of `interp.semantics`, read through all three backends.

* property tests: for every ALU/ALU64 operation (both sources, signed division, MOVSX, all byte
  swaps) and every conditional JMP/JMP32 jump, `IntBackend`, `Z3Backend` and `SourceBackend`
  compute the same thing, and that thing matches an independent model of RFC 9669 written here;
* z3 proofs (over all inputs, not samples) of the RFC's division-by-zero and shift-mask rules;
* spot tests with exact values taken from RFC 9669.
"""

from __future__ import annotations

from typing import Any

import pytest
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interp.isa.insn import Insn
from interp.isa.ops import Alu, Atomic, AtomicKind, Branch, Neg, Swap, lift
from interp.semantics import (
    SOURCE_RUNTIME,
    IntBackend,
    SourceBackend,
    Z3Backend,
    alu,
    atomic,
    branch_taken,
    load_extend,
)

INT = IntBackend()
Z3 = Z3Backend()
SRC = SourceBackend()

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1
INT32_MIN = 0x80000000
INT64_MIN = 0x8000000000000000

# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

EDGE64 = [
    0, 1, 2, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 127, 0x80, 0xFF, 0x8000, 0xFFFF,
    0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000, 0x1_00000001, 0xFFFFFFFF_80000000,
    0xFFFFFFFF_FFFFFFF9,  # -7
    0x7FFFFFFF_FFFFFFFF, INT64_MIN, M64, M64 - 1, 0x11223344_55667788, 0xDEADBEEF_FFFFFFF9,
]
EDGE_IMM = [
    0, 1, 2, -1, -2, -7, 7, 8, 16, 31, 32, 33, 63, 64, 65, 0x80, 0x7FFF, -0x8000,
    0x7FFFFFFF, -0x80000000, -0x7FFFFFFF,
]

u64s = st.one_of(st.sampled_from(EDGE64), st.integers(0, M64))
imm32s = st.one_of(st.sampled_from(EDGE_IMM), st.integers(-(1 << 31), (1 << 31) - 1))

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------
# The instruction cases
# ---------------------------------------------------------------------------

ALU, ALU64, JMP, JMP32 = 0x04, 0x07, 0x05, 0x06
X = 0x08
BINARY_OPS = {
    "add": 0x00, "sub": 0x10, "mul": 0x20, "div": 0x30, "or": 0x40, "and": 0x50, "lsh": 0x60,
    "rsh": 0x70, "mod": 0x90, "xor": 0xA0, "mov": 0xB0, "arsh": 0xC0,
}
JUMP_OPS = {
    "jeq": 0x10, "jgt": 0x20, "jge": 0x30, "jset": 0x40, "jne": 0x50, "jsgt": 0x60,
    "jsge": 0x70, "jlt": 0xA0, "jle": 0xB0, "jslt": 0xC0, "jsle": 0xD0,
}


def _alu_cases() -> list[Any]:
    """(opcode, off, fixed imm or None) for every ALU-class instruction the RFC defines."""
    cases: list[Any] = []
    for cls_name, cls in (("alu32", ALU), ("alu64", ALU64)):
        for name, op in BINARY_OPS.items():
            for src_name, x in (("imm", 0), ("reg", X)):
                cases.append(
                    pytest.param(op | x | cls, 0, None, id=f"{cls_name}-{name}-{src_name}")
                )
                if name in ("div", "mod"):
                    cases.append(
                        pytest.param(op | x | cls, 1, None, id=f"{cls_name}-s{name}-{src_name}")
                    )
        cases.append(pytest.param(0x80 | cls, 0, 0, id=f"{cls_name}-neg"))
        for width in (8, 16) + ((32,) if cls == ALU64 else ()):
            cases.append(pytest.param(0xB0 | X | cls, width, 0, id=f"{cls_name}-movsx{width}"))
    for width in (16, 32, 64):
        cases.append(pytest.param(0xD4, 0, width, id=f"le{width}"))
        cases.append(pytest.param(0xDC, 0, width, id=f"be{width}"))
        cases.append(pytest.param(0xD7, 0, width, id=f"bswap{width}"))
    return cases


def _jump_cases() -> list[Any]:
    cases: list[Any] = []
    for cls_name, cls in (("jmp", JMP), ("jmp32", JMP32)):
        for name, op in JUMP_OPS.items():
            cases.append(pytest.param(op | cls, id=f"{cls_name}-{name}-imm"))
            cases.append(pytest.param(op | X | cls, id=f"{cls_name}-{name}-reg"))
    return cases


ALU_CASES = _alu_cases()
JUMP_CASES = _jump_cases()

# ---------------------------------------------------------------------------
# Running the semantics through each backend
# ---------------------------------------------------------------------------


def alu_op(opcode: int, off: int, imm: int) -> Alu | Neg | Swap:
    """The operation of an ALU encoding (a register form reads r1)."""
    reads_src = opcode & X and opcode & 0xF0 not in (0x80, 0xD0)  # not neg, not a byte swap
    op = lift(Insn(opcode, 0, 1 if reads_src else 0, off, imm if not reads_src else 0), 0)
    assert isinstance(op, (Alu, Neg, Swap)), op
    return op


def branch_op(opcode: int, imm: int) -> Branch:
    op = lift(Insn(opcode, 0, 1 if opcode & X else 0, 0, 0 if opcode & X else imm), 0)
    assert isinstance(op, Branch), op
    return op


def int_alu(opcode: int, off: int, imm: int, dst: int, src: int | None) -> int:
    return alu(INT, alu_op(opcode, off, imm), dst, src)


def z3_alu(opcode: int, off: int, imm: int, dst: int, src: int | None) -> int:
    z_src = None if src is None else z3.BitVecVal(src, 64)
    result = alu(Z3, alu_op(opcode, off, imm), z3.BitVecVal(dst, 64), z_src)
    assert result.size() == 64
    simplified = z3.simplify(result)
    assert z3.is_bv_value(simplified), simplified
    return simplified.as_long()


def _eval_source(expr: str, dst: int, src: int | None) -> Any:
    env: dict[str, Any] = dict(SOURCE_RUNTIME)
    env["a"] = dst
    env["b"] = src
    return eval(expr, env)  # noqa: S307 - the expression is generated by SourceBackend


def source_alu(opcode: int, off: int, imm: int, dst: int, src: int | None) -> int:
    expr = alu(SRC, alu_op(opcode, off, imm), "a", None if src is None else "b")
    assert isinstance(expr, str)
    return _eval_source(expr, dst, src)


def int_jump(opcode: int, imm: int, dst: int, src: int | None) -> bool:
    return bool(branch_taken(INT, branch_op(opcode, imm), dst, src))


def z3_jump(opcode: int, imm: int, dst: int, src: int | None) -> bool:
    z_src = None if src is None else z3.BitVecVal(src, 64)
    cond = z3.simplify(branch_taken(Z3, branch_op(opcode, imm), z3.BitVecVal(dst, 64), z_src))
    assert z3.is_true(cond) or z3.is_false(cond), cond
    return z3.is_true(cond)


def source_jump(opcode: int, imm: int, dst: int, src: int | None) -> bool:
    expr = branch_taken(SRC, branch_op(opcode, imm), "a", None if src is None else "b")
    assert isinstance(expr, str)
    value = _eval_source(expr, dst, src)
    assert isinstance(value, bool)
    return value


# ---------------------------------------------------------------------------
# An independent model of RFC 9669 section 4 (not built from `semantics`)
# ---------------------------------------------------------------------------


def _signed(value: int, width: int) -> int:
    value &= (1 << width) - 1
    return value - (1 << width) if value >> (width - 1) else value


def _trunc_div(a: int, b: int) -> int:
    """Signed division truncating toward zero, as C and the RFC define it."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _bswap(value: int, width: int) -> int:
    return int.from_bytes((value & ((1 << width) - 1)).to_bytes(width // 8, "little"), "big")


def rfc_alu(opcode: int, off: int, imm: int, dst: int, src: int | None) -> int:
    cls, op = opcode & 0x07, opcode & 0xF0
    if op == 0xD0:
        if cls == ALU and not opcode & X:  # le: a no-op conversion on a little-endian host
            return dst & ((1 << imm) - 1)
        return _bswap(dst, imm)
    width = 64 if cls == ALU64 else 32
    mask = (1 << width) - 1
    a = dst & mask
    # the immediate is sign-extended to 64 bits; ALU reads the low 32 bits of either operand
    b = (src if opcode & X else imm) & mask  # type: ignore[operator]
    if op == 0x80:
        return -a & mask
    if op == 0xB0:
        if off:
            return _signed(b, off) & mask
        return b
    shift = b & (width - 1)
    result = {
        0x00: lambda: a + b,
        0x10: lambda: a - b,
        0x20: lambda: a * b,
        0x40: lambda: a | b,
        0x50: lambda: a & b,
        0x60: lambda: a << shift,
        0x70: lambda: a >> shift,
        0xA0: lambda: a ^ b,
        0xC0: lambda: _signed(a, width) >> shift,
    }.get(op)
    if result is not None:
        return result() & mask
    if op == 0x30:
        if b == 0:
            return 0
        return (_trunc_div(_signed(a, width), _signed(b, width)) if off else a // b) & mask
    if op == 0x90:
        if b == 0:
            return a
        if off:
            sa, sb = _signed(a, width), _signed(b, width)
            return (sa - sb * _trunc_div(sa, sb)) & mask
        return a % b
    raise AssertionError(f"model has no opcode {opcode:#x}")


def rfc_jump(opcode: int, imm: int, dst: int, src: int | None) -> bool:
    width = 32 if opcode & 0x07 == JMP32 else 64
    mask = (1 << width) - 1
    a = dst & mask
    b = (src if opcode & X else imm) & mask  # type: ignore[operator]
    sa, sb = _signed(a, width), _signed(b, width)
    return {
        0x10: a == b, 0x20: a > b, 0x30: a >= b, 0x40: a & b != 0, 0x50: a != b,
        0x60: sa > sb, 0x70: sa >= sb, 0xA0: a < b, 0xB0: a <= b, 0xC0: sa < sb, 0xD0: sa <= sb,
    }[opcode & 0xF0]


# ---------------------------------------------------------------------------
# Property tests: all backends agree, and agree with the model
# ---------------------------------------------------------------------------


def _operands(draw: st.DrawFn, opcode: int, fixed_imm: int | None) -> tuple[int, int, int | None]:
    dst = draw(u64s)
    if opcode & X:
        return (0 if fixed_imm is None else fixed_imm), dst, draw(u64s)
    return (draw(imm32s) if fixed_imm is None else fixed_imm), dst, None


@st.composite
def alu_operands(
    draw: st.DrawFn, opcode: int, fixed_imm: int | None
) -> tuple[int, int, int | None]:
    return _operands(draw, opcode, fixed_imm)


@st.composite
def jump_operands(draw: st.DrawFn, opcode: int) -> tuple[int, int, int | None]:
    return _operands(draw, opcode, None)


@pytest.mark.parametrize(("opcode", "off", "fixed_imm"), ALU_CASES)
def test_alu_backends_agree(opcode: int, off: int, fixed_imm: int | None) -> None:
    @FAST
    @given(alu_operands(opcode, fixed_imm))
    def check(operands: tuple[int, int, int | None]) -> None:
        imm, dst, src = operands
        expected = int_alu(opcode, off, imm, dst, src)
        assert 0 <= expected <= M64
        if opcode & 0x07 == ALU and opcode & 0xF0 != 0xD0:
            assert expected <= M32, "32-bit ALU results are zero-extended"
        assert z3_alu(opcode, off, imm, dst, src) == expected
        assert source_alu(opcode, off, imm, dst, src) == expected
        assert rfc_alu(opcode, off, imm, dst, src) == expected

    check()


@pytest.mark.parametrize("opcode", JUMP_CASES)
def test_jump_backends_agree(opcode: int) -> None:
    @FAST
    @given(jump_operands(opcode))
    def check(operands: tuple[int, int, int | None]) -> None:
        imm, dst, src = operands
        expected = int_jump(opcode, imm, dst, src)
        assert z3_jump(opcode, imm, dst, src) == expected
        assert source_jump(opcode, imm, dst, src) == expected
        assert rfc_jump(opcode, imm, dst, src) == expected

    check()


@pytest.mark.parametrize("size", [1, 2, 4, 8])
@pytest.mark.parametrize("signed", [False, True])
@FAST
@given(raw=u64s)
def test_load_extend_backends_agree(size: int, signed: bool, raw: int) -> None:
    value = raw & ((1 << (8 * size)) - 1)
    expected = load_extend(INT, value, size, signed)
    model = _signed(value, 8 * size) & M64 if signed else value
    assert expected == model
    z = z3.simplify(load_extend(Z3, z3.BitVecVal(value, 64), size, signed))
    assert z.size() == 64 and z.as_long() == expected
    assert _eval_source(load_extend(SRC, "a", size, signed), value, None) == expected


ATOMIC_KINDS = [AtomicKind.ADD, AtomicKind.OR, AtomicKind.AND, AtomicKind.XOR, AtomicKind.XCHG, AtomicKind.CMPXCHG]


@pytest.mark.parametrize("kind", ATOMIC_KINDS)
@pytest.mark.parametrize("size", [4, 8])
@FAST
@given(old=u64s, operand=u64s, r0=u64s)
def test_atomic_backends_agree(kind: AtomicKind, size: int, old: int, operand: int, r0: int) -> None:
    mask = (1 << (8 * size)) - 1
    old = old & mask
    op = Atomic(kind, True, size, 10, -8, 1)
    stored, fetched = atomic(INT, op, old, operand, r0)
    model = {
        AtomicKind.ADD: (old + operand) & mask, AtomicKind.OR: old | (operand & mask),
        AtomicKind.AND: old & operand, AtomicKind.XOR: old ^ (operand & mask), AtomicKind.XCHG: operand & mask,
        AtomicKind.CMPXCHG: operand & mask if old == r0 & mask else old,
    }[kind]
    assert (stored, fetched) == (model, old)
    z_stored, z_fetched = atomic(Z3, op, z3.BitVecVal(old, 64), z3.BitVecVal(operand, 64), z3.BitVecVal(r0, 64))
    assert (z3.simplify(z_stored).as_long(), z3.simplify(z_fetched).as_long()) == (model, old)
    s_stored, s_fetched = atomic(SRC, op, "a", "b", "c")
    env: dict[str, Any] = dict(SOURCE_RUNTIME, a=old, b=operand, c=r0)
    assert (eval(s_stored, env), eval(s_fetched, env)) == (model, old)  # noqa: S307 - generated by SourceBackend


# ---------------------------------------------------------------------------
# z3 proofs over all inputs
# ---------------------------------------------------------------------------


def prove(claim: Any) -> None:
    solver = z3.Solver()
    solver.add(z3.Not(claim))
    result = solver.check()
    assert result == z3.unsat, f"counterexample: {solver.model() if result == z3.sat else result}"


def _low(value: Any, width: int) -> Any:
    return value if width == 64 else z3.Extract(width - 1, 0, value)


def _widen(value: Any, width: int) -> Any:
    return value if width == 64 else z3.ZeroExt(64 - width, value)


@pytest.mark.parametrize("signed", [0, 1], ids=["unsigned", "signed"])
@pytest.mark.parametrize(("cls", "width"), [(ALU, 32), (ALU64, 64)], ids=["alu32", "alu64"])
def test_z3_proof_division_by_zero(cls: int, width: int, signed: int) -> None:
    dst, src = z3.BitVecs("dst src", 64)
    divisor_is_zero = _low(src, width) == 0
    div = alu(Z3, alu_op(0x30 | X | cls, signed, 0), dst, src)
    mod = alu(Z3, alu_op(0x90 | X | cls, signed, 0), dst, src)
    prove(z3.Implies(divisor_is_zero, div == 0))
    # MOD by zero leaves dst, truncated to 32 bits (and zero-extended) for ALU
    prove(z3.Implies(divisor_is_zero, mod == _widen(_low(dst, width), width)))
    # the immediate forms: division by the immediate 0
    prove(alu(Z3, alu_op(0x30 | cls, signed, 0), dst, None) == 0)
    prove(alu(Z3, alu_op(0x90 | cls, signed, 0), dst, None) == _widen(_low(dst, width), width))


@pytest.mark.parametrize(("cls", "width", "mask"), [(ALU, 32, 0x1F), (ALU64, 64, 0x3F)],
                         ids=["alu32", "alu64"])
def test_z3_proof_shift_count_is_masked(cls: int, width: int, mask: int) -> None:
    dst, src = z3.BitVecs("dst src", 64)
    a = _low(dst, width)
    count = _low(src, width) & mask
    prove(alu(Z3, alu_op(0x60 | X | cls, 0, 0), dst, src) == _widen(a << count, width))
    prove(alu(Z3, alu_op(0x70 | X | cls, 0, 0), dst, src) == _widen(z3.LShR(a, count), width))
    prove(alu(Z3, alu_op(0xC0 | X | cls, 0, 0), dst, src) == _widen(a >> count, width))
    # only the low bits of the count matter
    prove(
        alu(Z3, alu_op(0x60 | X | cls, 0, 0), dst, src)
        == alu(Z3, alu_op(0x60 | X | cls, 0, 0), dst, src & z3.BitVecVal(mask, 64))
    )


# ---------------------------------------------------------------------------
# Spot values from RFC 9669
# ---------------------------------------------------------------------------


def all_backends_alu(opcode: int, off: int, imm: int, dst: int, src: int | None = None) -> int:
    results = {
        "int": int_alu(opcode, off, imm, dst, src),
        "z3": z3_alu(opcode, off, imm, dst, src),
        "source": source_alu(opcode, off, imm, dst, src),
    }
    assert len(set(results.values())) == 1, {k: hex(v) for k, v in results.items()}
    return results["int"]


def all_backends_jump(opcode: int, imm: int, dst: int, src: int | None = None) -> bool:
    results = {
        "int": int_jump(opcode, imm, dst, src),
        "z3": z3_jump(opcode, imm, dst, src),
        "source": source_jump(opcode, imm, dst, src),
    }
    assert len(set(results.values())) == 1, results
    return results["int"]


LE_VALUE = 0x11223344_55667788

SPOT_ALU = [
    # signed division and modulo (off = 1)
    pytest.param(0x3F, 1, 0, INT64_MIN, M64, INT64_MIN, id="sdiv64-min-by-minus1"),
    pytest.param(0x37, 1, -1, INT64_MIN, None, INT64_MIN, id="sdiv64-min-by-imm-minus1"),
    pytest.param(0x9F, 1, 0, INT64_MIN, M64, 0, id="smod64-min-by-minus1"),
    pytest.param(0x97, 1, -1, INT64_MIN, None, 0, id="smod64-min-by-imm-minus1"),
    pytest.param(0x3C, 1, 0, INT32_MIN, M32, INT32_MIN, id="sdiv32-min-by-minus1"),
    pytest.param(0x9C, 1, 0, INT32_MIN, M32, 0, id="smod32-min-by-minus1"),
    pytest.param(0x34, 1, 2, 0xFFFFFFF9, None, 0xFFFFFFFD, id="sdiv32-minus7-by-2"),
    pytest.param(0x34, 1, 2, 0xDEADBEEF_FFFFFFF9, None, 0xFFFFFFFD, id="sdiv32-ignores-upper"),
    pytest.param(0x3C, 1, 0, 0xFFFFFFF9, 2, 0xFFFFFFFD, id="sdiv32-reg-minus7-by-2"),
    pytest.param(0x37, 1, 2, M64 - 6, None, M64 - 2, id="sdiv64-minus7-by-2"),
    pytest.param(0x37, 1, -2, M64 - 6, None, 3, id="sdiv64-minus7-by-minus2"),
    pytest.param(0x34, 1, 0, 0xFFFFFFF9, None, 0, id="sdiv32-by-zero"),
    pytest.param(0x94, 1, 2, 0xFFFFFFF9, None, M32, id="smod32-minus7-mod-2"),
    pytest.param(0x97, 1, 2, M64 - 6, None, M64, id="smod64-minus7-mod-2"),
    pytest.param(0x97, 1, -2, 7, None, 1, id="smod64-7-mod-minus2"),
    pytest.param(0x97, 1, 0, M64 - 6, None, M64 - 6, id="smod64-by-zero"),
    # unsigned division and modulo; by zero: quotient 0, remainder dst (32 bits for ALU)
    pytest.param(0x3F, 0, 0, M64 - 6, 2, (M64 - 6) // 2, id="div64-unsigned"),
    pytest.param(0x3F, 0, 0, 12345, 0, 0, id="div64-by-zero"),
    pytest.param(0x3C, 0, 0, 0x12345678_90ABCDEF, 0x1_00000000, 0, id="div32-by-low-zero"),
    pytest.param(0x9C, 0, 0, 0x12345678_90ABCDEF, 0, 0x90ABCDEF, id="mod32-by-zero"),
    pytest.param(0x94, 0, 0, 0x12345678_90ABCDEF, None, 0x90ABCDEF, id="mod32-by-imm-zero"),
    pytest.param(0x9F, 0, 0, 0x12345678_90ABCDEF, 0, 0x12345678_90ABCDEF, id="mod64-by-zero"),
    pytest.param(0x97, 0, -1, 5, None, 5, id="mod64-imm-minus1-is-huge"),
    # endianness, on a little-endian host
    pytest.param(0xD4, 0, 16, LE_VALUE, None, 0x7788, id="le16"),
    pytest.param(0xD4, 0, 32, LE_VALUE, None, 0x55667788, id="le32"),
    pytest.param(0xD4, 0, 64, LE_VALUE, None, LE_VALUE, id="le64"),
    pytest.param(0xDC, 0, 16, LE_VALUE, None, 0x8877, id="be16"),
    pytest.param(0xDC, 0, 32, LE_VALUE, None, 0x88776655, id="be32"),
    pytest.param(0xDC, 0, 64, LE_VALUE, None, 0x88776655_44332211, id="be64"),
    pytest.param(0xD7, 0, 16, LE_VALUE, None, 0x8877, id="bswap16"),
    pytest.param(0xD7, 0, 32, LE_VALUE, None, 0x88776655, id="bswap32"),
    pytest.param(0xD7, 0, 64, LE_VALUE, None, 0x88776655_44332211, id="bswap64"),
    # sign-extending moves
    pytest.param(0xBF, 8, 0, 0, 0x80, 0xFFFFFFFF_FFFFFF80, id="movsx64-s8"),
    pytest.param(0xBF, 8, 0, 0, 0x7F, 0x7F, id="movsx64-s8-positive"),
    pytest.param(0xBF, 16, 0, 0, 0x1234_8000, 0xFFFFFFFF_FFFF8000, id="movsx64-s16"),
    pytest.param(0xBF, 32, 0, 0, 0x1_80000000, 0xFFFFFFFF_80000000, id="movsx64-s32"),
    pytest.param(0xBC, 8, 0, 0, 0x80, 0xFFFFFF80, id="movsx32-s8"),
    pytest.param(0xBC, 16, 0, M64, 0xFFFF_7FFF, 0x7FFF, id="movsx32-s16-positive"),
    # moves and immediates
    pytest.param(0xB4, 0, -1, 0x12345678_9ABCDEF0, None, M32, id="mov32-imm-minus1"),
    pytest.param(0xB7, 0, -1, 0, None, M64, id="mov64-imm-minus1"),
    pytest.param(0xBC, 0, 0, M64, 0xAAAAAAAA_BBBBBBBB, 0xBBBBBBBB, id="mov32-reg-zero-extends"),
    pytest.param(0x07, 0, -1, 5, None, 4, id="add64-imm-minus1"),
    pytest.param(0x07, 0, -1, 0, None, M64, id="add64-imm-sign-extended"),
    pytest.param(0x04, 0, -1, 0, None, M32, id="add32-imm-minus1"),
    pytest.param(0x0C, 0, 0, M32, 1, 0, id="add32-wraps"),
    pytest.param(0x0C, 0, 0, 1, 0x1_00000001, 2, id="add32-ignores-upper-src"),
    pytest.param(0x57, 0, -0x10, M64, None, M64 - 0xF, id="and64-imm-sign-extended"),
    pytest.param(0xA7, 0, 0x7FFFFFFF, 0, None, 0x7FFFFFFF, id="xor64-imm-positive"),
    pytest.param(0x27, 0, -1, 3, None, M64 - 2, id="mul64-imm-minus1"),
    pytest.param(0x24, 0, 0x10000, 0x10000, None, 0, id="mul32-wraps"),
    pytest.param(0x17, 0, 1, 0, None, M64, id="sub64-underflow"),
    pytest.param(0x87, 0, 0, 1, None, M64, id="neg64"),
    pytest.param(0x84, 0, 0, 1, None, M32, id="neg32"),
    pytest.param(0x84, 0, 0, INT32_MIN, None, INT32_MIN, id="neg32-min"),
    # shifts: the count is masked to the width
    pytest.param(0x6F, 0, 0, 1, 65, 2, id="lsh64-count-65"),
    pytest.param(0x6F, 0, 0, 1, 64, 1, id="lsh64-count-64"),
    pytest.param(0x6C, 0, 0, 1, 33, 2, id="lsh32-count-33"),
    pytest.param(0x64, 0, 31, 1, None, INT32_MIN, id="lsh32-to-sign"),
    pytest.param(0x64, 0, 4, 0xF0000001, None, 0x10, id="lsh32-drops-high-bits"),
    pytest.param(0x7C, 0, 0, 0x1_00000002, 33, 1, id="rsh32-count-33"),
    pytest.param(0x77, 0, 63, M64, None, 1, id="rsh64-63"),
    pytest.param(0xC4, 0, 31, INT32_MIN, None, M32, id="arsh32-fills-32-bits"),
    pytest.param(0xCC, 0, 0, 0x80000000, 0xFFFF_FFFF_FFFF_FFE4, 0xF8000000, id="arsh32-count-36"),
    pytest.param(0xC7, 0, 63, INT64_MIN, None, M64, id="arsh64-63"),
    pytest.param(0xC7, 0, 4, 0x7FFFFFFF_FFFFFFF0, None, 0x07FFFFFF_FFFFFFFF, id="arsh64-positive"),
]


@pytest.mark.parametrize(("opcode", "off", "imm", "dst", "src", "expected"), SPOT_ALU)
def test_alu_spot_values(opcode: int, off: int, imm: int, dst: int, src: int | None,
                         expected: int) -> None:
    assert all_backends_alu(opcode, off, imm, dst, src) == expected
    assert rfc_alu(opcode, off, imm, dst, src) == expected


SPOT_JUMP = [
    pytest.param(0x16, 5, 0x1_00000005, None, True, id="jeq32-ignores-upper"),
    pytest.param(0x15, 5, 0x1_00000005, None, False, id="jeq64-sees-upper"),
    pytest.param(0x15, -1, M64, None, True, id="jeq64-imm-sign-extended"),
    pytest.param(0x16, -1, M32, None, True, id="jeq32-imm-minus1"),
    pytest.param(0x25, -1, M64 - 1, None, False, id="jgt64-imm-minus1-is-max"),
    pytest.param(0x65, -1, 0, None, True, id="jsgt64-0-gt-minus1"),
    pytest.param(0x66, 0, 0x80000000, None, False, id="jsgt32-min-not-gt-0"),
    pytest.param(0x65, 0, 0x80000000, None, True, id="jsgt64-0x80000000-positive"),
    pytest.param(0x2D, 0, INT64_MIN, 1, True, id="jgt64-reg-unsigned"),
    pytest.param(0x6D, 0, INT64_MIN, 1, False, id="jsgt64-reg-signed"),
    pytest.param(0xCE, 0, 0xFFFFFFFF, 0, True, id="jslt32-minus1-lt-0"),
    pytest.param(0xAE, 0, 0xFFFFFFFF, 0, False, id="jlt32-max-not-lt-0"),
    pytest.param(0xDD, 0, 7, 7, True, id="jsle64-equal"),
    pytest.param(0x7D, 0, 7, 7, True, id="jsge64-equal"),
    pytest.param(0xB5, 7, 7, None, True, id="jle64-equal"),
    pytest.param(0x35, 8, 7, None, False, id="jge64"),
    pytest.param(0x45, 0x10, 0x11, None, True, id="jset64"),
    pytest.param(0x46, 0x10, 0x1_00000001, None, False, id="jset32-ignores-upper"),
    pytest.param(0x4D, 0, 0x1_00000000, 0x1_00000000, True, id="jset64-reg-upper"),
    pytest.param(0x56, 0, 0x1_00000000, None, False, id="jne32-ignores-upper"),
]


@pytest.mark.parametrize(("opcode", "imm", "dst", "src", "expected"), SPOT_JUMP)
def test_jump_spot_values(opcode: int, imm: int, dst: int, src: int | None,
                          expected: bool) -> None:
    assert all_backends_jump(opcode, imm, dst, src) is expected
    assert rfc_jump(opcode, imm, dst, src) is expected

