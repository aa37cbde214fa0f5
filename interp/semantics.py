"""What each instruction computes (ALU, jumps, addresses, load extension, stores, atomics),
written once over a bit-vector backend.

A backend supplies total primitive operations on fixed-width bit-vectors (SMT-LIB semantics,
so division by zero is defined at the primitive level). The instruction semantics below are
composed from those primitives only, and are read three ways:

* `IntBackend`: Python ints, the reference meaning used by tests and the verifier's constants;
* `Z3Backend`: z3 bit-vectors, for z3 terms of what a program computes;
* `SourceBackend`: Python source text, compiled by the interpreter into straight-line code.

Values passed to and returned by every backend are unsigned (masked) `width`-bit quantities.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from .isa.opcodes import AluOp, JmpOp
from .isa.ops import (
    Alu,
    Atomic,
    AtomicKind,
    Branch,
    Neg,
    Reg,
    Swap,
    SwapKind,
    to_signed,
)

V = TypeVar("V")  # a bit-vector value of the backend
B_ = TypeVar("B_")  # a boolean of the backend


class Backend(Protocol, Generic[V, B_]):
    def const(self, value: int, width: int) -> V: ...
    def add(self, a: V, b: V, width: int) -> V: ...
    def sub(self, a: V, b: V, width: int) -> V: ...
    def mul(self, a: V, b: V, width: int) -> V: ...
    def udiv(self, a: V, b: V, width: int) -> V: ...
    def urem(self, a: V, b: V, width: int) -> V: ...
    def sdiv(self, a: V, b: V, width: int) -> V: ...
    def srem(self, a: V, b: V, width: int) -> V: ...
    def band(self, a: V, b: V, width: int) -> V: ...
    def bor(self, a: V, b: V, width: int) -> V: ...
    def bxor(self, a: V, b: V, width: int) -> V: ...
    def shl(self, a: V, b: V, width: int) -> V: ...
    def lshr(self, a: V, b: V, width: int) -> V: ...
    def ashr(self, a: V, b: V, width: int) -> V: ...
    def neg(self, a: V, width: int) -> V: ...
    def zext(self, a: V, from_width: int, to_width: int) -> V: ...
    def sext(self, a: V, from_width: int, to_width: int) -> V: ...
    def trunc(self, a: V, from_width: int, to_width: int) -> V: ...
    def eq(self, a: V, b: V, width: int) -> B_: ...
    def ne(self, a: V, b: V, width: int) -> B_: ...
    def ult(self, a: V, b: V, width: int) -> B_: ...
    def ule(self, a: V, b: V, width: int) -> B_: ...
    def slt(self, a: V, b: V, width: int) -> B_: ...
    def sle(self, a: V, b: V, width: int) -> B_: ...
    def ite(self, cond: B_, a: V, b: V, width: int) -> V: ...


def _mask(width: int) -> int:
    return (1 << width) - 1


class IntBackend:
    """Python ints, masked to the operation's width."""

    def const(self, value: int, width: int) -> int:
        return value & _mask(width)

    def add(self, a: int, b: int, width: int) -> int:
        return (a + b) & _mask(width)

    def sub(self, a: int, b: int, width: int) -> int:
        return (a - b) & _mask(width)

    def mul(self, a: int, b: int, width: int) -> int:
        return (a * b) & _mask(width)

    def udiv(self, a: int, b: int, width: int) -> int:
        return a // b if b else _mask(width)

    def urem(self, a: int, b: int, width: int) -> int:
        return a % b if b else a

    def sdiv(self, a: int, b: int, width: int) -> int:
        sa, sb = to_signed(a, width), to_signed(b, width)
        if sb == 0:
            return 1 if sa < 0 else _mask(width)
        q = abs(sa) // abs(sb)
        return (-q if (sa < 0) != (sb < 0) else q) & _mask(width)

    def srem(self, a: int, b: int, width: int) -> int:
        sa, sb = to_signed(a, width), to_signed(b, width)
        if sb == 0:
            return a
        r = abs(sa) % abs(sb)
        return (-r if sa < 0 else r) & _mask(width)

    def band(self, a: int, b: int, width: int) -> int:
        return a & b

    def bor(self, a: int, b: int, width: int) -> int:
        return a | b

    def bxor(self, a: int, b: int, width: int) -> int:
        return a ^ b

    def shl(self, a: int, b: int, width: int) -> int:
        return (a << b) & _mask(width) if b < width else 0

    def lshr(self, a: int, b: int, width: int) -> int:
        return a >> b if b < width else 0

    def ashr(self, a: int, b: int, width: int) -> int:
        return (to_signed(a, width) >> min(b, width)) & _mask(width)

    def neg(self, a: int, width: int) -> int:
        return -a & _mask(width)

    def zext(self, a: int, from_width: int, to_width: int) -> int:
        return a

    def sext(self, a: int, from_width: int, to_width: int) -> int:
        return to_signed(a, from_width) & _mask(to_width)

    def trunc(self, a: int, from_width: int, to_width: int) -> int:
        return a & _mask(to_width)

    def eq(self, a: int, b: int, width: int) -> bool:
        return a == b

    def ne(self, a: int, b: int, width: int) -> bool:
        return a != b

    def ult(self, a: int, b: int, width: int) -> bool:
        return a < b

    def ule(self, a: int, b: int, width: int) -> bool:
        return a <= b

    def slt(self, a: int, b: int, width: int) -> bool:
        return to_signed(a, width) < to_signed(b, width)

    def sle(self, a: int, b: int, width: int) -> bool:
        return to_signed(a, width) <= to_signed(b, width)

    def ite(self, cond: bool, a: int, b: int, width: int) -> int:
        return a if cond else b


class Z3Backend:
    """z3 bit-vectors; z3 is imported only when this backend is used."""

    def __init__(self) -> None:
        import z3

        self.z3 = z3

    def const(self, value: int, width: int) -> Any:
        return self.z3.BitVecVal(value & _mask(width), width)

    def add(self, a: Any, b: Any, width: int) -> Any:
        return a + b

    def sub(self, a: Any, b: Any, width: int) -> Any:
        return a - b

    def mul(self, a: Any, b: Any, width: int) -> Any:
        return a * b

    def udiv(self, a: Any, b: Any, width: int) -> Any:
        return self.z3.UDiv(a, b)

    def urem(self, a: Any, b: Any, width: int) -> Any:
        return self.z3.URem(a, b)

    def sdiv(self, a: Any, b: Any, width: int) -> Any:
        return a / b  # bvsdiv: truncating signed division

    def srem(self, a: Any, b: Any, width: int) -> Any:
        return self.z3.SRem(a, b)

    def band(self, a: Any, b: Any, width: int) -> Any:
        return a & b

    def bor(self, a: Any, b: Any, width: int) -> Any:
        return a | b

    def bxor(self, a: Any, b: Any, width: int) -> Any:
        return a ^ b

    def shl(self, a: Any, b: Any, width: int) -> Any:
        return a << b

    def lshr(self, a: Any, b: Any, width: int) -> Any:
        return self.z3.LShR(a, b)

    def ashr(self, a: Any, b: Any, width: int) -> Any:
        return a >> b

    def neg(self, a: Any, width: int) -> Any:
        return -a

    def zext(self, a: Any, from_width: int, to_width: int) -> Any:
        return a if to_width == from_width else self.z3.ZeroExt(to_width - from_width, a)

    def sext(self, a: Any, from_width: int, to_width: int) -> Any:
        return a if to_width == from_width else self.z3.SignExt(to_width - from_width, a)

    def trunc(self, a: Any, from_width: int, to_width: int) -> Any:
        return a if to_width == from_width else self.z3.Extract(to_width - 1, 0, a)

    def eq(self, a: Any, b: Any, width: int) -> Any:
        return a == b

    def ne(self, a: Any, b: Any, width: int) -> Any:
        return a != b

    def ult(self, a: Any, b: Any, width: int) -> Any:
        return self.z3.ULT(a, b)

    def ule(self, a: Any, b: Any, width: int) -> Any:
        return self.z3.ULE(a, b)

    def slt(self, a: Any, b: Any, width: int) -> Any:
        return a < b

    def sle(self, a: Any, b: Any, width: int) -> Any:
        return a <= b

    def ite(self, cond: Any, a: Any, b: Any, width: int) -> Any:
        return self.z3.If(cond, a, b)


class SourceBackend:
    """Python expressions over masked ints, for the interpreter's generated code.

    Operands are expression strings; results are parenthesised expression strings. Signed
    division goes through `_sdiv`/`_srem` from `SOURCE_RUNTIME`, which the generated code
    receives as globals. `ite` evaluates only the chosen branch."""

    def const(self, value: int, width: int) -> str:
        return str(value & _mask(width))

    def _m(self, expr: str, width: int) -> str:
        return f"(({expr}) & {_mask(width):#x})"

    def add(self, a: str, b: str, width: int) -> str:
        return self._m(f"{a} + {b}", width)

    def sub(self, a: str, b: str, width: int) -> str:
        return self._m(f"{a} - {b}", width)

    def mul(self, a: str, b: str, width: int) -> str:
        return self._m(f"{a} * {b}", width)

    def udiv(self, a: str, b: str, width: int) -> str:
        return f"(({a}) // ({b}) if ({b}) else {_mask(width):#x})"

    def urem(self, a: str, b: str, width: int) -> str:
        return f"(({a}) % ({b}) if ({b}) else ({a}))"

    def sdiv(self, a: str, b: str, width: int) -> str:
        return f"_sdiv({a}, {b}, {width})"

    def srem(self, a: str, b: str, width: int) -> str:
        return f"_srem({a}, {b}, {width})"

    def band(self, a: str, b: str, width: int) -> str:
        return f"(({a}) & ({b}))"

    def bor(self, a: str, b: str, width: int) -> str:
        return f"(({a}) | ({b}))"

    def bxor(self, a: str, b: str, width: int) -> str:
        return f"(({a}) ^ ({b}))"

    def shl(self, a: str, b: str, width: int) -> str:
        # Counts reaching here are already masked below `width` by the instruction semantics.
        return self._m(f"({a}) << ({b})", width)

    def lshr(self, a: str, b: str, width: int) -> str:
        return f"(({a}) >> ({b}))"

    def ashr(self, a: str, b: str, width: int) -> str:
        return self._m(f"({self._signed(a, width)}) >> ({b})", width)

    def neg(self, a: str, width: int) -> str:
        return self._m(f"-({a})", width)

    def _signed(self, a: str, width: int) -> str:
        sign = 1 << (width - 1)
        return f"((({a}) ^ {sign:#x}) - {sign:#x})"

    def zext(self, a: str, from_width: int, to_width: int) -> str:
        return a

    def sext(self, a: str, from_width: int, to_width: int) -> str:
        return self._m(self._signed(a, from_width), to_width)

    def trunc(self, a: str, from_width: int, to_width: int) -> str:
        return a if to_width == from_width else self._m(a, to_width)

    def eq(self, a: str, b: str, width: int) -> str:
        return f"({a}) == ({b})"

    def ne(self, a: str, b: str, width: int) -> str:
        return f"({a}) != ({b})"

    def ult(self, a: str, b: str, width: int) -> str:
        return f"({a}) < ({b})"

    def ule(self, a: str, b: str, width: int) -> str:
        return f"({a}) <= ({b})"

    def slt(self, a: str, b: str, width: int) -> str:
        return f"{self._signed(a, width)} < {self._signed(b, width)}"

    def sle(self, a: str, b: str, width: int) -> str:
        return f"{self._signed(a, width)} <= {self._signed(b, width)}"

    def ite(self, cond: str, a: str, b: str, width: int) -> str:
        return f"(({a}) if ({cond}) else ({b}))"


_INT = IntBackend()

# Globals the `SourceBackend`'s expressions may name.
SOURCE_RUNTIME: dict[str, Any] = {"_sdiv": _INT.sdiv, "_srem": _INT.srem}


# ---------------------------------------------------------------------------
# Instruction semantics, each written once.
# ---------------------------------------------------------------------------


def alu_binary(B: Backend[V, Any], op: int, width: int, a: V, b: V, signed: bool = False) -> V:
    """`a op b` at `width` for the two-operand operations (RFC 9669 section 4.1)."""
    zero = B.const(0, width)
    if op == AluOp.ADD:
        return B.add(a, b, width)
    if op == AluOp.SUB:
        return B.sub(a, b, width)
    if op == AluOp.MUL:
        return B.mul(a, b, width)
    if op == AluOp.DIV:
        quotient = B.sdiv(a, b, width) if signed else B.udiv(a, b, width)
        return B.ite(B.eq(b, zero, width), zero, quotient, width)
    if op == AluOp.MOD:
        remainder = B.srem(a, b, width) if signed else B.urem(a, b, width)
        return B.ite(B.eq(b, zero, width), a, remainder, width)
    if op == AluOp.OR:
        return B.bor(a, b, width)
    if op == AluOp.AND:
        return B.band(a, b, width)
    if op == AluOp.XOR:
        return B.bxor(a, b, width)
    count = B.band(b, B.const(width - 1, width), width)
    if op == AluOp.LSH:
        return B.shl(a, count, width)
    if op == AluOp.RSH:
        return B.lshr(a, count, width)
    if op == AluOp.ARSH:
        return B.ashr(a, count, width)
    if op == AluOp.MOV:
        return b
    raise ValueError(f"not a two-operand ALU operation: {op:#x}")


def byte_swap(B: Backend[V, Any], a: V, width: int) -> V:
    """Reverse the low `width` bits of the 64-bit value `a` byte by byte; upper bits become 0."""
    result = B.const(0, 64)
    byte = B.const(0xFF, 64)
    for i in range(width // 8):
        piece = B.band(B.lshr(a, B.const(8 * i, 64), 64), byte, 64)
        result = B.bor(result, B.shl(piece, B.const(width - 8 - 8 * i, 64), 64), 64)
    return result


def alu(B: Backend[V, Any], op: Alu | Neg | Swap, dst: V, src: V | None = None) -> V:
    """The new 64-bit value of `dst` after the ALU operation `op`.

    `src` is the 64-bit source register's value where `op` reads a register; an immediate
    source is sign-extended to 64 bits, as the RFC specifies."""
    if isinstance(op, Swap):
        if op.kind == SwapKind.TO_LE:  # on a little-endian machine: keep the low `bits` bits
            return B.zext(B.trunc(dst, 64, op.bits), op.bits, 64) if op.bits < 64 else dst
        return byte_swap(B, dst, op.bits)
    width = op.width
    a = B.trunc(dst, 64, width)
    if isinstance(op, Neg):
        return B.zext(B.neg(a, width), width, 64)
    if isinstance(op.src, Reg):
        assert src is not None
        b = B.trunc(src, 64, width)
    else:
        b = B.const(op.src.value, width)
    if op.extend:
        narrow = B.trunc(b, width, op.extend)
        return B.zext(B.sext(narrow, op.extend, width), width, 64)
    return B.zext(alu_binary(B, op.op, width, a, b, signed=op.signed), width, 64)


def jump_condition(B: Backend[V, B_], op: int, width: int, a: V, b: V) -> B_:
    """Whether a conditional jump of operation `op` compares `a` and `b` as taken."""
    if op == JmpOp.JEQ:
        return B.eq(a, b, width)
    if op == JmpOp.JNE:
        return B.ne(a, b, width)
    if op == JmpOp.JSET:
        return B.ne(B.band(a, b, width), B.const(0, width), width)
    if op == JmpOp.JGT:
        return B.ult(b, a, width)
    if op == JmpOp.JGE:
        return B.ule(b, a, width)
    if op == JmpOp.JLT:
        return B.ult(a, b, width)
    if op == JmpOp.JLE:
        return B.ule(a, b, width)
    if op == JmpOp.JSGT:
        return B.slt(b, a, width)
    if op == JmpOp.JSGE:
        return B.sle(b, a, width)
    if op == JmpOp.JSLT:
        return B.slt(a, b, width)
    if op == JmpOp.JSLE:
        return B.sle(a, b, width)
    raise ValueError(f"not a conditional jump: {op:#x}")


def branch_taken(B: Backend[V, B_], op: Branch, left: V, right: V | None = None) -> B_:
    """Whether the conditional jump `op` is taken for the 64-bit values of its registers."""
    a = B.trunc(left, 64, op.width)
    if isinstance(op.right, Reg):
        assert right is not None
        b = B.trunc(right, 64, op.width)
    else:
        b = B.const(op.right.value, op.width)
    return jump_condition(B, op.cond, op.width, a, b)


def effective_address(B: Backend[V, Any], base: V, off: int) -> V:
    """The address a load, store or atomic operation at base + off reaches (wrapping at 2^64)."""
    return B.add(base, B.const(off, 64), 64)


def load_extend(B: Backend[V, Any], raw: V, size: int, signed: bool) -> V:
    """The 64-bit register value of a `size`-byte load whose bytes read `raw` (an unsigned value
    of `size` * 8 bits, given as a 64-bit one): zero-extended, or sign-extended for ldxs."""
    bits = size * 8
    if bits == 64 or not signed:
        return raw
    return B.sext(B.trunc(raw, 64, bits), bits, 64)


def store_value(B: Backend[V, Any], value: V, size: int) -> V:
    """The `size` * 8 low bits a store writes, as a 64-bit value."""
    bits = size * 8
    return value if bits == 64 else B.zext(B.trunc(value, 64, bits), bits, 64)


def atomic(B: Backend[V, Any], op: Atomic, old: V, operand: V, r0: V) -> tuple[V, V]:
    """(the value the memory holds afterwards, the value the fetch returns) for an atomic
    operation on `size` bytes holding `old` (all `size` * 8-bit values, given as 64-bit ones).
    cmpxchg stores `operand` only where `old` equals r0's low bits, and returns `old` in r0."""
    width = op.size * 8
    old_w = B.trunc(old, 64, width)
    operand_w = B.trunc(operand, 64, width)
    if op.kind == AtomicKind.CMPXCHG:
        same = B.eq(old_w, B.trunc(r0, 64, width), width)
        stored = B.ite(same, operand_w, old_w, width)
    elif op.kind == AtomicKind.XCHG:
        stored = operand_w
    else:
        stored = alu_binary(B, _ATOMIC_ALU[op.kind], width, old_w, operand_w)
    return B.zext(stored, width, 64), B.zext(old_w, width, 64)


_ATOMIC_ALU = {AtomicKind.ADD: AluOp.ADD, AtomicKind.OR: AluOp.OR, AtomicKind.AND: AluOp.AND,
               AtomicKind.XOR: AluOp.XOR}
