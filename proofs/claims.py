"""What `python -m proofs` proves: one claim per operation of the domains, width and property.

Every claim runs the verifier's own domain code (`verifier.domains`) on symbolic inputs and
compares it with the one definition of the instruction set (`interp.semantics` on z3):

- `sound`: concrete operands inside the abstract operands give a concrete result inside the
  abstract result (and the result is well formed), with `sync` taken by its proved contract
  (`proofs.contracts`), so the whole operation is proved, the reduction included;
- `sound in isolation`: the same with `sync` as the identity: the operator's own arithmetic,
  before any reduction, loses no value;
- `loses no value`: a reduction or meet keeps every value its inputs share;
- `upper bound`: a join or widening holds every value of both inputs;
- `keeps every pair`: a branch refinement keeps every pair of operands that takes the edge;
- `invariant at start`, `invariant kept`, `gives the product`: tnum multiplication is proved
  sound at 64 bits by induction over its loop, one claim per part (see `_tnum_mul_start`).

Claims marked slow are left out of `--quick`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any

import z3

from interp import semantics
from interp.isa.opcodes import AluOp, JmpOp
from interp.isa.ops import Alu, Neg, Reg, Swap, SwapKind

from . import symbolic
from .contracts import (
    ROUND_CONTRACT,
    STEP_CONTRACTS,
    SYNC_CONTRACT,
    Contract,
    by_contract,
    conjunction,
    tnum_mul_by_contract,
)
from .engine import Outcome, prove
from .gamma import (
    SCALAR_FIELDS,
    scalar_gamma,
    scalar_gamma_parts,
    scalar_var,
    scalar_wellformed,
    tnum_gamma,
    tnum_var,
    tnum_wellformed,
)
from .symbolic import Sym, symbolic_domains, sync_as_identity, term

Z3 = semantics.Z3Backend()
SOUND, ISOLATION = "sound", "sound in isolation"
LOSES_NOTHING, UPPER_BOUND, KEEPS_PAIRS = "loses no value", "upper bound", "keeps every pair"
NARROWING = "narrowing"  # a reduction claim's witness program: a register narrowed by jumps, each reducing it
MUL_START, MUL_STEP, MUL_END = "invariant at start", "invariant kept", "gives the product"

@dataclass(frozen=True)
class Problem:
    assumptions: list[Any]
    run: Callable[[], Any]  # the domain code
    goals: Callable[[Any], Iterable[tuple[str, Any]]]  # of its result
    values: tuple[Any, ...] = ()  # the concrete values the reduction's contract is instantiated on
    pairs: tuple[tuple[Any, Any], ...] = ()  # the concrete operand pairs Tnum.mul's contract is instantiated on


@dataclass(frozen=True)
class Claim:
    domain: str  # tnum | scalar
    operation: str
    width: int  # the width of the concrete operation
    prop: str
    build: Callable[[], Problem]
    wide: int = 72  # bits of the symbolic integers: 136 where products or shifts of bounds occur
    slow: bool = False
    # how the reduction is taken: `contract` (sync by its contract), `identity` (in isolation),
    # `round` (the rounds by theirs: the proof of sync), `steps` (the proof of a round), `code`
    sync: str = "contract"
    insn: Any = None  # the instruction (or (JmpOp, taken, width)) a witness program runs
    polynomial: bool = False  # queries are normalised as polynomials first (see engine.prove)
    tnum_mul: str = "code"  # `contract`: Tnum.mul stood in by its contract (proved by induction)

    @property
    def name(self) -> str:
        return f"{self.domain} {self.operation}"


def check(claim: Claim, rlimit: int, extra: Callable[[], list[Any]] | None = None) -> Outcome:
    """The claim's outcome; `extra`: more assumptions (built at the claim's width), which narrow
    the inputs a refutation's model may take."""
    symbolic.set_width(claim.wide)
    with ExitStack() as stack:
        stack.enter_context(symbolic_domains())
        problem = claim.build()
        if extra is not None:
            problem = replace(problem, assumptions=problem.assumptions + extra())
        if claim.tnum_mul == "contract":
            stack.enter_context(tnum_mul_by_contract(list(problem.pairs)))
        if claim.sync == "identity":
            stack.enter_context(sync_as_identity())
        elif claim.sync != "code":
            contracts = {"contract": [SYNC_CONTRACT], "round": [ROUND_CONTRACT],
                         "steps": list(STEP_CONTRACTS.values())}[claim.sync]
            stack.enter_context(by_contract(contracts, list(problem.values)))
        return prove(problem.assumptions, problem.run, problem.goals, rlimit=rlimit, polynomial=claim.polynomial)


def _with_halves(*values: Any) -> tuple[Any, ...]:
    """The 64-bit values the claim's abstract values stand for, and their low halves (what a
    32-bit operation's operands and results are)."""
    return tuple(w for v in values for w in (v, z3.ZeroExt(32, z3.Extract(31, 0, v))))


def _bv(name: str) -> Any:
    return z3.BitVec(name, 64)


# -- tnum ------------------------------------------------------------------------------------------------
def _tnum_goals(result: Any, concrete: Any) -> list[tuple[str, Any]]:
    if result is None:
        return [("not empty", z3.BoolVal(False))]
    return [("member", tnum_gamma(result, concrete)), ("well formed", tnum_wellformed(result))]


def _tnum_binary(method: str, op: AluOp, operand_bits: int = 64) -> Callable[[], Problem]:
    """`operand_bits` below 64: both operands' tnums have their upper bits known 0 (the 64-bit
    operation on narrow operands, the form in which multiplication is proved). The narrow
    variables are zero-extended rather than constrained, so that z3 sees the constant zeros."""
    def build() -> Problem:
        a, b = _narrow_tnum("a", operand_bits), _narrow_tnum("b", operand_bits)
        x, y = _narrow_bv("x", operand_bits), _narrow_bv("y", operand_bits)
        assumptions = [tnum_wellformed(a), tnum_wellformed(b), tnum_gamma(a, x), tnum_gamma(b, y)]
        concrete = semantics.alu(Z3, Alu(op, 64, 1, Reg(2)), x, y)
        return Problem(assumptions, lambda: getattr(a, method)(b), lambda r: _tnum_goals(r, concrete))
    return build


def _narrow_bv(name: str, bits: int) -> Any:
    return z3.ZeroExt(64 - bits, z3.BitVec(name, bits)) if bits < 64 else _bv(name)


def _narrow_tnum(name: str, bits: int) -> Any:
    from verifier.domains.tnum import Tnum

    if bits == 64:
        return tnum_var(name)
    return Tnum(*(Sym(z3.ZeroExt(symbolic.WIDE - bits, z3.BitVec(f"{name}.{f}", bits))) for f in ("value", "mask")))


def _tnum_shift(method: str, op: AluOp) -> Callable[[], Problem]:
    def build() -> Problem:
        a, x, k = tnum_var("a"), _bv("x"), _bv("k")
        shift = Sym(z3.ZeroExt(symbolic.WIDE - 64, k))
        assumptions = [tnum_wellformed(a), tnum_gamma(a, x), z3.ULT(k, 64)]
        concrete = semantics.alu(Z3, Alu(op, 64, 1, Reg(2)), x, k)
        return Problem(assumptions, lambda: getattr(a, method)(shift), lambda r: _tnum_goals(r, concrete))
    return build


def _tnum_unary(run: Callable[[Any], Any], concrete_of: Callable[[Any], Any]) -> Callable[[], Problem]:
    def build() -> Problem:
        a, x = tnum_var("a"), _bv("x")
        concrete = concrete_of(x)
        return Problem([tnum_wellformed(a), tnum_gamma(a, x)], lambda: run(a), lambda r: _tnum_goals(r, concrete))
    return build


def _tnum_join() -> Problem:
    a, b, x = tnum_var("a"), tnum_var("b"), _bv("x")
    assumptions = [tnum_wellformed(a), tnum_wellformed(b), z3.Or(tnum_gamma(a, x), tnum_gamma(b, x))]
    return Problem(assumptions, lambda: a.join(b), lambda r: _tnum_goals(r, x))


def _tnum_meet() -> Problem:
    a, b, x = tnum_var("a"), tnum_var("b"), _bv("x")
    assumptions = [tnum_wellformed(a), tnum_wellformed(b), tnum_gamma(a, x), tnum_gamma(b, x)]
    return Problem(assumptions, lambda: a.meet(b), lambda r: _tnum_goals(r, x))


def _tnum_range() -> Problem:
    from verifier.domains.tnum import Tnum

    lo, hi, x = _bv("lo"), _bv("hi"), _bv("x")
    wide = symbolic.WIDE - 64
    assumptions = [z3.ULE(lo, x), z3.ULE(x, hi)]
    return Problem(assumptions, lambda: Tnum.range(Sym(z3.ZeroExt(wide, lo)), Sym(z3.ZeroExt(wide, hi))),
                   lambda r: _tnum_goals(r, x))


# -- tnum multiplication, by induction over its loop ------------------------------------------------
# `Tnum.mul` runs `mul_step` once per bit of its first operand `a` and ends with `mul_result`.
# For x in a and y in b, write x = av + xm and y = bv + ym (xm within a's mask, ym within b's).
# Then x*y = av*bv + av*ym + xm*y (mod 2^64). The loop's invariant, with a_i, b_i the shifted
# operands after i steps and xm_i = xm >> i, ym_i = ym << i:
#     av*ym + xm*y  =  c + remaining(a_i.value, xm_i, b_i.value, ym_i)   for some c in acc,
#     remaining(A, XM, BV, YM) = A*YM + XM*(BV + YM),   xm_i within a_i's mask, ym_i within b_i's.
# Start: c = 0 is in MUL_ACC_START and the remaining part is all of it. A step moves bit 0 of A
# and XM into c (the partial product added to acc holds it) and leaves the rest, shifted, as
# what remains. End (a_i = 0, so xm_i = 0): nothing remains, c = av*ym + xm*y, and the result,
# av*bv + acc, holds av*bv + c = x*y. The three claims below prove each part of this at 64 bits;
# what links them is the loop itself (`while a.value or a.mask: a, b, acc = mul_step(a, b, acc)`).
def _remaining(a: Any, xm: Any, bv: Any, ym: Any) -> Any:
    return a * ym + xm * (bv + ym)


def _low64(value: Any) -> Any:
    return z3.Extract(63, 0, term(value))


def _tnum_mul_start() -> Problem:
    from verifier.domains.tnum import MUL_ACC_START

    a, b, x, y = tnum_var("a"), tnum_var("b"), _bv("x"), _bv("y")
    xm, ym = _bv("xm"), _bv("ym")  # any numbers: the identity is one of the ring
    av, bv = _low64(a.value), _low64(b.value)
    assumptions = [tnum_wellformed(a), tnum_wellformed(b), tnum_gamma(a, x), tnum_gamma(b, y)]

    def goals(acc: Any) -> list[tuple[str, Any]]:
        return [("c = 0 in acc", tnum_gamma(acc, z3.BitVecVal(0, 64))), ("acc well formed", tnum_wellformed(acc)),
                ("x = av + xm", x == av + (x & _low64(a.mask))), ("y = bv + ym", y == bv + (y & _low64(b.mask))),
                ("x*y = av*bv + remaining", (av + xm) * (bv + ym) == av * bv + _remaining(av, xm, bv, ym))]
    return Problem(assumptions, lambda: MUL_ACC_START, goals)


def _split(name: str) -> tuple[Any, Any, Any]:
    """A 64-bit value as its bit 0 and the rest: (the value, bit 0 zero-extended, the rest >> 1)."""
    high, low = z3.BitVec(f"{name}.high", 63), z3.BitVec(f"{name}.bit0", 1)
    return z3.Concat(high, low), z3.ZeroExt(63, low), z3.ZeroExt(1, high)


def _tnum_mul_step() -> Problem:
    from verifier.domains.tnum import Tnum, mul_step

    (av, av0, av1), (am, _, am1), (xm, xm0, xm1) = _split("a.value"), _split("a.mask"), _split("xm")
    bv, bm, ym, c = _bv("b.value"), _bv("b.mask"), _bv("ym"), _bv("c")
    wide = symbolic.WIDE - 64
    a, b = Tnum(Sym(z3.ZeroExt(wide, av)), Sym(z3.ZeroExt(wide, am))), Tnum(Sym(z3.ZeroExt(wide, bv)), Sym(z3.ZeroExt(wide, bm)))
    acc = tnum_var("acc")
    assumptions = [tnum_wellformed(a), tnum_wellformed(b), tnum_wellformed(acc), xm & ~am == 0, ym & ~bm == 0,
                   tnum_gamma(acc, c)]
    moved = av0 * ym + xm0 * (bv + ym)  # bit 0's part of what remains

    def goals(out: Any) -> list[tuple[str, Any]]:
        a2, b2, acc2 = out
        return [("acc well formed", tnum_wellformed(acc2)), ("c + bit 0's part in acc", tnum_gamma(acc2, c + moved)),
                ("a moves right", z3.And(_low64(a2.value) == av1, _low64(a2.mask) == am1,
                                         term(a2.value) >> 64 == 0, term(a2.mask) >> 64 == 0)),
                ("b moves left", z3.And(_low64(b2.value) == bv * 2, _low64(b2.mask) == bm * 2,
                                        term(b2.value) >> 64 == 0, term(b2.mask) >> 64 == 0)),
                ("xm >> 1 within a's mask", xm1 & ~_low64(a2.mask) == 0),
                ("ym << 1 within b's mask", (ym * 2) & ~_low64(b2.mask) == 0),
                ("what remains moves on", _remaining(2 * av1 + av0, 2 * xm1 + xm0, bv, ym)
                 == moved + _remaining(av1, xm1, bv * 2, ym * 2)),
                ("the split is the value", z3.And(av == 2 * av1 + av0, xm == 2 * xm1 + xm0))]
    return Problem(assumptions, lambda: mul_step(a, b, acc), goals)


def _tnum_mul_end() -> Problem:
    from verifier.domains.tnum import mul_result

    a, b, acc = tnum_var("a"), tnum_var("b"), tnum_var("acc")
    c, xm, bv, ym = _bv("c"), _bv("xm"), _bv("b.value.i"), _bv("ym")
    zero = z3.BitVecVal(0, 64)
    assumptions = [tnum_wellformed(a), tnum_wellformed(b), tnum_wellformed(acc), tnum_gamma(acc, c),
                   xm & ~zero == 0]

    def goals(result: Any) -> list[tuple[str, Any]]:
        return [("nothing remains", _remaining(zero, xm, bv, ym) == 0),
                ("av*bv + c in the result", tnum_gamma(result, _low64(a.value) * _low64(b.value) + c)),
                ("well formed", tnum_wellformed(result))]
    return Problem(assumptions, lambda: mul_result(a, b, acc), goals)


def _tnum_claims() -> Iterator[Claim]:
    for method, op in (("add", AluOp.ADD), ("sub", AluOp.SUB), ("and_", AluOp.AND), ("or_", AluOp.OR),
                       ("xor", AluOp.XOR)):
        yield Claim("tnum", method.rstrip("_"), 64, SOUND, _tnum_binary(method, op), insn=Alu(op, 64, 1, Reg(2)))
    yield Claim("tnum", "mul loop start", 64, MUL_START, _tnum_mul_start, polynomial=True)
    yield Claim("tnum", "mul loop step", 64, MUL_STEP, _tnum_mul_step, polynomial=True)
    yield Claim("tnum", "mul loop end", 64, MUL_END, _tnum_mul_end, polynomial=True)
    for bits in MUL_OPERAND_BITS:  # the whole loop unrolled: how far a direct proof gets
        yield Claim("tnum", f"mul unrolled ({bits}-bit operands)" if bits < 64 else "mul unrolled", 64, SOUND,
                    _tnum_binary("mul", AluOp.MUL, bits), slow=True, insn=Alu(AluOp.MUL, 64, 1, Reg(2)))
    for method, op in (("lshift", AluOp.LSH), ("rshift", AluOp.RSH), ("arshift", AluOp.ARSH)):
        yield Claim("tnum", method, 64, SOUND, _tnum_shift(method, op), wide=136, insn=Alu(op, 64, 1, Reg(2)))
    yield Claim("tnum", "neg", 64, SOUND, _tnum_unary(lambda a: a.neg(), lambda x: semantics.alu(Z3, Neg(64, 1), x)))
    for bits in (8, 16, 32):
        yield Claim("tnum", f"sext{bits}", 64, SOUND, _tnum_unary(
            lambda a, bits=bits: a.sext(bits),
            lambda x, bits=bits: semantics.alu(Z3, Alu(AluOp.MOV, 64, 1, Reg(2), extend=bits), x, x)))
    yield Claim("tnum", "trunc32", 32, SOUND, _tnum_unary(lambda a: a.trunc(32), lambda x: z3.ZeroExt(32, z3.Extract(31, 0, x))))
    for bits in (16, 32, 64):
        yield Claim("tnum", f"bswap{bits}", bits, SOUND, _tnum_unary(
            lambda a, bits=bits: a.bswap(bits),
            lambda x, bits=bits: semantics.alu(Z3, Swap(SwapKind.TO_BE, bits, 1), x)))
    yield Claim("tnum", "join", 64, UPPER_BOUND, _tnum_join)
    yield Claim("tnum", "meet", 64, LOSES_NOTHING, _tnum_meet)
    yield Claim("tnum", "range", 64, UPPER_BOUND, _tnum_range, wide=136)


# -- scalar ----------------------------------------------------------------------------------------------
def _scalar_goals(result: Any, concrete: Any, well_formed: bool = True) -> list[tuple[str, Any]]:
    """The concrete value is in the result, component by component; and the result is well
    formed (not asked of an operator in isolation: the reduction that follows it makes it so)."""
    if result is None:
        return [("not empty", z3.BoolVal(False))]
    names = ("tnum", "umin", "umax", "smin", "smax", "u32min", "u32max", "s32min", "s32max")
    goals = list(zip(names, scalar_gamma_parts(result, concrete)))
    return goals + [("well formed", scalar_wellformed(result))] if well_formed else goals


def _scalar_inputs(*names: str) -> tuple[list[Any], list[Any], list[Any]]:
    abstract = [scalar_var(n) for n in names]
    concrete = [_bv(n) for n in ("x", "y")[: len(names)]]
    assumptions = [c for a, x in zip(abstract, concrete) for c in (scalar_wellformed(a), scalar_gamma(a, x))]
    return abstract, concrete, assumptions


def _narrow_scalar(name: str, bits: int) -> Any:
    """A scalar whose every field lies in [0, 2^bits), as zero-extended narrow variables that z3
    sees as such (below 32 bits, so the signed bounds of both views are not negative)."""
    from verifier.domains.scalar import Scalar

    assert bits < 32
    return Scalar(_narrow_tnum(f"{name}.tnum", bits),
                  *(Sym(z3.ZeroExt(symbolic.WIDE - bits, z3.BitVec(f"{name}.{f}", bits))) for f in SCALAR_FIELDS))


def _scalar_alu(insn: Alu | Neg | Swap, isolation: bool, operand_bits: int = 64) -> Callable[[], Problem]:
    """`operand_bits` below 64: both operands (abstract and concrete) lie in [0, 2^operand_bits),
    the form in which division and modulo are proved where the full width is not."""
    def build() -> Problem:
        if operand_bits == 64:
            (a, b), (x, y), assumptions = _scalar_inputs("a", "b")
        else:
            a, b = _narrow_scalar("a", operand_bits), _narrow_scalar("b", operand_bits)
            x, y = _narrow_bv("x", operand_bits), _narrow_bv("y", operand_bits)
            assumptions = [scalar_wellformed(a), scalar_gamma(a, x), scalar_wellformed(b), scalar_gamma(b, y)]
        concrete = semantics.alu(Z3, insn, x, y)
        values = _with_halves(x, y, concrete)
        pairs = ((x, y), (values[1], values[3]))  # the operands, and their low halves

        def goals(result: Any) -> list[tuple[str, Any]]:
            return _scalar_goals(result, concrete, well_formed=not isolation)
        if isinstance(insn, Alu):
            return Problem(assumptions, lambda: a.alu(insn, b), goals, values, pairs)
        return Problem(assumptions, lambda: a.alu(insn), goals, values, pairs)
    return build


def _scalar_contract(contract: Contract) -> Callable[[], Problem]:
    """The contract of a part of the reduction, proved of its code (see proofs.contracts)."""
    from verifier.domains import scalar as module

    def build() -> Problem:
        s, x = scalar_var("s"), _bv("x")
        assumptions = [conjunction(contract.pre(s)), scalar_gamma(s, x)]
        fields = (s.tnum, s.umin, s.umax, s.smin, s.smax, s.u32min, s.u32max, s.s32min, s.s32max)

        def run() -> Any:
            if contract is SYNC_CONTRACT:
                return s._sync()
            out = getattr(module, contract.name)(fields)
            return None if out is None else module.Scalar(*out)

        def goals(result: Any) -> list[tuple[str, Any]]:
            if result is None:
                return [("not empty", z3.BoolVal(False))]
            return _scalar_goals(result, x, well_formed=False) + contract.post(result, s)
        return Problem(assumptions, run, goals, _with_halves(x))
    return build


def _scalar_lattice(method: str) -> Callable[[], Problem]:
    def build() -> Problem:
        a, b, x = scalar_var("a"), scalar_var("b"), _bv("x")
        if method == "meet":
            assumptions = [scalar_wellformed(a), scalar_wellformed(b), scalar_gamma(a, x), scalar_gamma(b, x)]
        else:
            assumptions = [scalar_wellformed(a), scalar_wellformed(b), z3.Or(scalar_gamma(a, x), scalar_gamma(b, x))]
        return Problem(assumptions, lambda: getattr(a, method)(b), lambda r: _scalar_goals(r, x), _with_halves(x))
    return build


def _scalar_refine(op: JmpOp, taken: bool, width: int) -> Callable[[], Problem]:
    def build() -> Problem:
        (a, b), (x, y), assumptions = _scalar_inputs("a", "b")
        low = (lambda v: v) if width == 64 else (lambda v: z3.Extract(31, 0, v))
        holds = semantics.jump_condition(Z3, op, width, low(x), low(y))
        assumptions = assumptions + [holds if taken else z3.Not(holds)]

        def goals(result: Any) -> list[tuple[str, Any]]:
            if result is None:
                return [("edge kept", z3.BoolVal(False))]
            return [(f"dst {g}", f) for g, f in _scalar_goals(result[0], x)] + \
                   [(f"src {g}", f) for g, f in _scalar_goals(result[1], y)]
        return Problem(assumptions, lambda: a.refine(op, b, taken, width == 64), goals, _with_halves(x, y))
    return build


def _scalar_truncate(bits: int) -> Problem:
    (a,), (x,), assumptions = _scalar_inputs("a")
    concrete = z3.ZeroExt(64 - bits, z3.Extract(bits - 1, 0, x))
    return Problem(assumptions, lambda: a.truncate(bits), lambda r: _scalar_goals(r, concrete), _with_halves(x, concrete))


MUL_OPERAND_BITS = (4, 8, 16, 32, 64)
NARROW_OPERATIONS = ("mul", "div", "mod")
NARROW_OPERAND_BITS = (8, 16)
SCALAR_OPS = (AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.MOD, AluOp.AND, AluOp.OR, AluOp.XOR,
              AluOp.LSH, AluOp.RSH, AluOp.ARSH)
WIDE_OPS = (AluOp.MUL, AluOp.LSH, AluOp.RSH, AluOp.ARSH, AluOp.DIV, AluOp.MOD)
JUMPS = (JmpOp.JEQ, JmpOp.JNE, JmpOp.JSET, JmpOp.JGT, JmpOp.JGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSGT, JmpOp.JSGE,
         JmpOp.JSLT, JmpOp.JSLE)


def _scalar_insns() -> Iterator[tuple[str, int, Alu | Neg | Swap, int]]:
    """(operation name, width, instruction, symbolic width)."""
    for width in (64, 32):
        for op in SCALAR_OPS:
            yield op.name.lower(), width, Alu(op, width, 1, Reg(2)), 136 if op in WIDE_OPS else 72
        for op in (AluOp.DIV, AluOp.MOD):
            yield f"s{op.name.lower()}", width, Alu(op, width, 1, Reg(2), signed=True), 136
        yield "neg", width, Neg(width, 1), 72
        for bits in (8, 16, 32):
            if bits < width:
                yield f"movsx{bits}", width, Alu(AluOp.MOV, width, 1, Reg(2), extend=bits), 72
    yield "mov", 32, Alu(AluOp.MOV, 32, 1, Reg(2)), 72
    for kind in (SwapKind.TO_LE, SwapKind.TO_BE):
        for bits in (16, 32, 64):
            yield f"{kind.value}{bits}", bits, Swap(kind, bits, 1), 72


def _scalar_claims() -> Iterator[Claim]:
    for name, contract in STEP_CONTRACTS.items():
        yield Claim("scalar", name.replace("_", " ", 1).replace("_", " "), 64, LOSES_NOTHING,
                    _scalar_contract(contract), sync="code", insn=NARROWING)
    yield Claim("scalar", "sync round", 64, LOSES_NOTHING, _scalar_contract(ROUND_CONTRACT), sync="steps",
                insn=NARROWING)
    yield Claim("scalar", "sync", 64, LOSES_NOTHING, _scalar_contract(SYNC_CONTRACT), sync="round", insn=NARROWING)
    for name, width, insn, wide in _scalar_insns():
        mul = "contract" if name == "mul" else "code"
        yield Claim("scalar", name, width, ISOLATION, _scalar_alu(insn, True), wide=wide, sync="identity",
                    insn=insn, tnum_mul=mul)
        yield Claim("scalar", name, width, SOUND, _scalar_alu(insn, False), wide=wide, insn=insn, tnum_mul=mul)
    for name, width, insn, _ in _scalar_insns():
        if name not in NARROW_OPERATIONS:
            continue
        for bits in NARROW_OPERAND_BITS:  # how far the proofs of multiplication and division reach
            # in isolation only: with the reduction, these do not finish even at 8 bits; and at
            # 72 bits, as products of two 32-bit bounds fit there (smaller terms for z3)
            yield Claim("scalar", f"{name} ({bits}-bit operands)", width, ISOLATION, _scalar_alu(insn, True, bits),
                        wide=72, sync="identity", insn=insn, tnum_mul="contract" if name == "mul" else "code")
    for method, prop in (("join", UPPER_BOUND), ("widen", UPPER_BOUND), ("meet", LOSES_NOTHING)):
        yield Claim("scalar", method, 64, prop, _scalar_lattice(method))
    for bits in (8, 16, 32):
        yield Claim("scalar", f"truncate{bits}", bits, SOUND, lambda bits=bits: _scalar_truncate(bits))
    for width in (64, 32):
        for op in JUMPS:
            for taken in (True, False):
                name = f"{op.name.lower()} {'taken' if taken else 'not taken'}"
                yield Claim("scalar", name, width, KEEPS_PAIRS, _scalar_refine(op, taken, width),
                            insn=(op, taken, width))


# The claims `--quick` proves (CI: under a minute on two cores). Every other claim is marked
# slow: it takes minutes at the default budget, or is not yet proved within it (the table says).
QUICK_ISOLATION = {("and", 64), ("or", 64), ("xor", 64), ("neg", 64), ("movsx8", 64), ("movsx16", 64),
                   ("movsx32", 64), ("and", 32), ("or", 32), ("xor", 32), ("neg", 32), ("movsx8", 32),
                   ("movsx16", 32), ("mov", 32), ("lsh", 32), ("rsh", 32), ("arsh", 32), ("le16", 16),
                   ("le32", 32), ("le64", 64), ("be16", 16), ("be32", 32), ("be64", 64)}
QUICK_SOUND = {("and", 64), ("or", 64), ("xor", 64), ("movsx8", 64), ("mov", 32), ("le64", 64), ("be16", 16),
               ("be32", 32), ("be64", 64)}
QUICK_BRANCHES = {("jset taken", 32), ("jset not taken", 32), ("jne taken", 32), ("jeq not taken", 32)}


def _quick(claim: Claim) -> bool:
    if claim.domain == "tnum":
        return not claim.operation.startswith("mul unrolled")
    key = (claim.operation, claim.width)
    if claim.operation.startswith(("sync", "truncate")):
        return True
    if claim.prop == ISOLATION:
        return key in QUICK_ISOLATION
    if claim.prop == SOUND:
        return key in QUICK_SOUND
    return key in QUICK_BRANCHES


def all_claims() -> list[Claim]:
    claims = [*_tnum_claims(), *_scalar_claims()]
    return [replace(c, slow=not _quick(c)) for c in claims]


__all__ = ["Claim", "all_claims", "check"]
