"""Scalars: the reduced product of a tnum with unsigned and signed intervals at 64 and 32 bits.

Every transfer function over-approximates the concrete operation of `interp.semantics` (the one
definition of the instruction set); constant operands are computed by that definition itself.
`sync` propagates what each component knows to the others (the kernel's reg_bounds_sync), and
`refine` narrows both operands of a conditional jump for the taken or fall-through branch."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from interp import semantics
from interp.isa.opcodes import AluOp, JmpOp
from interp.isa.ops import Alu, Imm, Neg, Swap, SwapKind, to_signed

from .tnum import M32, M64, Tnum

_INT = semantics.IntBackend()
S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1
S32_MIN, S32_MAX = -(1 << 31), (1 << 31) - 1


def _u(x: int, bits: int) -> int:
    return x & ((1 << bits) - 1)


@dataclass(frozen=True, slots=True)
class Scalar:
    tnum: Tnum
    umin: int
    umax: int
    smin: int
    smax: int
    u32min: int
    u32max: int
    s32min: int
    s32max: int

    # -- construction -------------------------------------------------------------------
    @staticmethod
    def const(value: int) -> "Scalar":
        v = value & M64
        low = v & M32
        return Scalar(Tnum.const(v), v, v, to_signed(v, 64), to_signed(v, 64), low, low, to_signed(low, 32), to_signed(low, 32))

    @staticmethod
    def unknown() -> "Scalar":
        return Scalar(Tnum.unknown(), 0, M64, S64_MIN, S64_MAX, 0, M32, S32_MIN, S32_MAX)

    @staticmethod
    def urange(lo: int, hi: int) -> "Scalar":
        s = Scalar(Tnum.unknown(), lo, hi, S64_MIN, S64_MAX, 0, M32, S32_MIN, S32_MAX).sync()
        assert s is not None
        return s

    @staticmethod
    def srange(lo: int, hi: int) -> "Scalar":
        """Every value from `lo` to `hi` as signed 64-bit numbers; a 32-bit view within the same
        signed 32-bit range when both ends fit, as the kernel gives for bounded helper results."""
        s32 = (lo, hi) if S32_MIN <= lo <= hi <= S32_MAX else (S32_MIN, S32_MAX)
        s = Scalar(Tnum.unknown(), 0, M64, lo, hi, 0, M32, s32[0], s32[1]).sync()
        assert s is not None
        return s

    @staticmethod
    def from_u32(low: "Scalar") -> "Scalar":
        """The zero-extension of a value whose 32-bit bounds are `low`'s."""
        s = Scalar(Tnum(low.tnum.value & M32, low.tnum.mask & M32), low.u32min, low.u32max, low.u32min,
                   low.u32max, low.u32min, low.u32max, low.s32min, low.s32max).sync()
        return s if s is not None else Scalar.unknown()

    # -- queries ----------------------------------------------------------------------------
    @property
    def is_const(self) -> bool:
        return self.tnum.is_const

    @property
    def value(self) -> int:
        return self.tnum.value

    def contains(self, x: int) -> bool:
        x &= M64
        low = x & M32
        return (self.tnum.contains(x) and self.umin <= x <= self.umax and self.smin <= to_signed(x, 64) <= self.smax
                and self.u32min <= low <= self.u32max and self.s32min <= to_signed(low, 32) <= self.s32max)

    def subreg(self) -> "Scalar":
        """A scalar holding the low 32 bits of each member (zero-extended)."""
        return Scalar.from_u32(self)

    def __str__(self) -> str:
        if self.is_const:
            return f"{self.value:#x}" if self.value > 9 else str(self.value)
        parts = []
        if self.umin:
            parts.append(f"umin={self.umin:#x}")
        if self.umax != M64:
            parts.append(f"umax={self.umax:#x}")
        if self.smin != S64_MIN and self.smin != self.umin:
            parts.append(f"smin={self.smin}")
        if self.smax != S64_MAX and self.smax != self.umax:
            parts.append(f"smax={self.smax}")
        if self.tnum.mask != M64 and not (self.tnum.value == 0 and self.tnum.mask + 1 == 1 << self.tnum.mask.bit_length()):
            parts.append(f"var_off={self.tnum}")
        return "scalar(" + ", ".join(parts) + ")" if parts else "scalar"

    # -- lattice ----------------------------------------------------------------------------
    def join(self, other: "Scalar") -> "Scalar":
        s = Scalar(self.tnum.join(other.tnum), min(self.umin, other.umin), max(self.umax, other.umax),
                   min(self.smin, other.smin), max(self.smax, other.smax), min(self.u32min, other.u32min),
                   max(self.u32max, other.u32max), min(self.s32min, other.s32min), max(self.s32max, other.s32max))
        return s.sync() or s

    def leq(self, other: "Scalar") -> bool:
        return (self.tnum.is_subset_of(other.tnum) and other.umin <= self.umin and self.umax <= other.umax
                and other.smin <= self.smin and self.smax <= other.smax and other.u32min <= self.u32min
                and self.u32max <= other.u32max and other.s32min <= self.s32min and self.s32max <= other.s32max)

    def widen(self, newer: "Scalar") -> "Scalar":
        """Bounds that grow jump to the extreme; the tnum (finite height) is joined."""
        joined = self.join(newer)
        s = Scalar(
            joined.tnum,
            self.umin if newer.umin >= self.umin else 0,
            self.umax if newer.umax <= self.umax else M64,
            self.smin if newer.smin >= self.smin else S64_MIN,
            self.smax if newer.smax <= self.smax else S64_MAX,
            self.u32min if newer.u32min >= self.u32min else 0,
            self.u32max if newer.u32max <= self.u32max else M32,
            self.s32min if newer.s32min >= self.s32min else S32_MIN,
            self.s32max if newer.s32max <= self.s32max else S32_MAX,
        )
        return s.sync() or s

    def meet(self, other: "Scalar") -> "Scalar | None":
        tnum = self.tnum.meet(other.tnum)
        if tnum is None:
            return None
        return Scalar(tnum, max(self.umin, other.umin), min(self.umax, other.umax), max(self.smin, other.smin),
                      min(self.smax, other.smax), max(self.u32min, other.u32min), min(self.u32max, other.u32max),
                      max(self.s32min, other.s32min), min(self.s32max, other.s32max)).sync()

    # -- reduction ------------------------------------------------------------------------------
    def sync(self) -> "Scalar | None":
        """Make every component as tight as the others allow; None when no value remains."""
        return _synced(self)

    def _sync(self) -> "Scalar | None":
        if self.tnum.is_const:  # (the common case, settled at once: the rounds below end the same way)
            return Scalar.const(self.tnum.value) if self.contains(self.tnum.value) else None
        fields: Fields | None = (self.tnum, self.umin, self.umax, self.smin, self.smax, self.u32min, self.u32max,
                                 self.s32min, self.s32max)
        for _ in range(3):
            narrowed = sync_round(fields)
            if narrowed is None:
                return None
            if settled(narrowed, fields):
                break  # nothing more to learn: most values settle in one round
            fields = narrowed
        result = Scalar(*fields)
        if result.tnum.is_const:
            return Scalar.const(result.tnum.value) if result.contains(result.tnum.value) else None
        return result

    # -- arithmetic ---------------------------------------------------------------------------------
    def alu(self, op: "Alu | Neg | Swap", other: "Scalar | None" = None) -> "Scalar":
        """The result of the ALU operation `op` with self as dst and `other` as the source value
        (for an immediate source, the immediate's value is the operation's own)."""
        if isinstance(op, Alu) and isinstance(op.src, Imm):
            other = Scalar.const(op.src.value)
        if isinstance(op, Swap):
            if self.is_const:
                return Scalar.const(semantics.alu(_INT, op, self.value))
            if op.kind == SwapKind.TO_LE:  # a truncation (or nothing at 64)
                if op.bits == 64:
                    return self
                return Scalar.from_u32(Scalar.urange(0, (1 << op.bits) - 1)).meet(self._trunc(op.bits)) \
                    or Scalar.unknown()
            swapped = Scalar(self.tnum.bswap(op.bits), 0, M64, S64_MIN, S64_MAX, 0, M32, S32_MIN, S32_MAX).sync()
            return swapped if swapped is not None else Scalar.urange(0, (1 << op.bits) - 1 if op.bits < 64 else M64)
        if isinstance(op, Neg):
            if self.is_const:
                return Scalar.const(semantics.alu(_INT, op, self.value))
            if op.width == 32:
                return Scalar.from_u32(self.subreg()._binary(AluOp.NEG, self.subreg(), 0, 32))
            return self._binary(AluOp.NEG, self, 0, 64)
        assert other is not None
        if self.is_const and other.is_const:
            return Scalar.const(semantics.alu(_INT, op, self.value, other.value))
        if op.op == AluOp.MOV and not op.extend:
            return other if op.width == 64 else other.subreg()
        off = op.extend if op.op == AluOp.MOV else int(op.signed)
        if op.width == 32:
            a, b = self.subreg(), other.subreg()
            return Scalar.from_u32(a._binary(op.op, b, off, 32))  # a and b are the zero-extended low halves
        result = self._binary(op.op, other, off, 64)
        if op.op in (AluOp.ADD, AluOp.SUB, AluOp.MUL):
            # the low half of the result is the 32-bit operation on the low halves, whose bounds
            # may survive where the 64-bit ones wrap (a negative delta, a 32-bit counter)
            low = self.subreg()._binary(op.op, other.subreg(), off, 32)
            return result._with_low(low) or result
        return result

    def truncate(self, bits: int) -> "Scalar":
        """The low `bits` bits of each member, zero-extended (what a narrow load of it reads)."""
        if bits >= 64 or self.umax >> bits == 0:
            return self
        if bits == 32:
            return self.subreg()
        return self._trunc(bits)

    def _trunc(self, bits: int) -> "Scalar":
        s = Scalar(self.tnum.trunc(bits), 0, (1 << bits) - 1, 0, (1 << bits) - 1, 0, min(M32, (1 << bits) - 1),
                   S32_MIN, S32_MAX).sync()
        return s if s is not None else Scalar.urange(0, (1 << bits) - 1)

    def _view(self, bits: int) -> tuple[int, int, int, int]:
        """(umin, umax, smin, smax) of the whole register (64) or of its low half (32)."""
        if bits == 64:
            return self.umin, self.umax, self.smin, self.smax
        return self.u32min, self.u32max, self.s32min, self.s32max

    def _binary(self, op: int, b: "Scalar", off: int, bits: int) -> "Scalar":
        """`self op b` on `bits`-bit values; bounds that could wrap are given up."""
        top, lowest, highest = (1 << bits) - 1, -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        a_umin, a_umax, a_smin, a_smax = self._view(bits)
        b_umin, b_umax, b_smin, b_smax = b._view(bits)
        t, umin, umax, smin, smax = Tnum.unknown(bits), 0, top, lowest, highest
        if op == AluOp.ADD:
            t = self.tnum.add(b.tnum)
            if a_umax + b_umax <= top:
                umin, umax = a_umin + b_umin, a_umax + b_umax
            if lowest <= a_smin + b_smin and a_smax + b_smax <= highest:
                smin, smax = a_smin + b_smin, a_smax + b_smax
        elif op == AluOp.SUB:
            t = self.tnum.sub(b.tnum)
            if a_umin >= b_umax:
                umin, umax = a_umin - b_umax, a_umax - b_umin
            if lowest <= a_smin - b_smax and a_smax - b_smin <= highest:
                smin, smax = a_smin - b_smax, a_smax - b_smin
        elif op == AluOp.MUL:
            t = self.tnum.mul(b.tnum)
            if a_umax * b_umax <= top:
                umin, umax = a_umin * b_umin, a_umax * b_umax
            products = [x * y for x in (a_smin, a_smax) for y in (b_smin, b_smax)]
            if lowest <= min(products) and max(products) <= highest:
                smin, smax = min(products), max(products)
        elif op == AluOp.AND:
            t = self.tnum.and_(b.tnum)
            umax = min(a_umax, b_umax)
        elif op == AluOp.OR:
            t = self.tnum.or_(b.tnum)
            umin = max(a_umin, b_umin)
        elif op == AluOp.XOR:
            t = self.tnum.xor(b.tnum)
        elif op in (AluOp.LSH, AluOp.RSH, AluOp.ARSH):
            if not b.is_const:
                return Scalar.unknown() if bits == 64 else Scalar.urange(0, M32)
            k = b.value & (bits - 1)
            if op == AluOp.LSH:
                t = self.tnum.lshift(k)
                if a_umax << k <= top:
                    umin, umax = a_umin << k, a_umax << k
            elif op == AluOp.RSH:
                t = self.tnum.trunc(bits).rshift(k)
                umin, umax = a_umin >> k, a_umax >> k
            else:
                t = self.tnum.arshift(k, bits)
                smin, smax = a_smin >> k, a_smax >> k
        elif op == AluOp.DIV and not off:
            if b_umin > 0:
                umin, umax = a_umin // b_umax, a_umax // b_umin
            else:
                umax = a_umax  # x / 0 is 0, x / y <= x
        elif op == AluOp.MOD and not off:
            umax = a_umax if b_umin == 0 else min(a_umax, b_umax - 1)
        elif op == AluOp.NEG:
            t = self.tnum.neg()
            if a_smin > lowest:
                smin, smax = -a_smax, -a_smin
        elif op == AluOp.MOV:  # sign extension of the low `off` bits
            t = b.tnum.sext(off)
            half = 1 << (off - 1)
            if b_umax < half:  # the sign bit is 0: the value is unchanged
                umin, umax, smin, smax = b_umin, b_umax, b_umin, b_umax
            elif b_umax < 2 * half and b_umin >= half:  # the sign bit is 1
                smin, smax = b_umin - 2 * half, b_umax - 2 * half
            else:
                smin, smax = -half, half - 1
        t = t.trunc(bits)
        if bits == 64:
            result = Scalar(t, umin, umax, smin, smax, 0, M32, S32_MIN, S32_MAX).sync()
            return result if result is not None else Scalar.unknown()
        result = Scalar(t, 0, M32, 0, M32, umin, umax, smin, smax).sync()
        return result if result is not None else Scalar.urange(0, M32)

    # -- branches -----------------------------------------------------------------------------------
    def refine(self, op: int, other: "Scalar", taken: bool, wide: bool) -> "tuple[Scalar, Scalar] | None":
        """(self, other) narrowed by knowing `self op other` is `taken`; None when impossible."""
        a, b = self, other
        if a.is_const and b.is_const:  # decided outright: loops unrolled with constant counters come here
            width = 64 if wide else 32
            holds = semantics.jump_condition(_INT, op, width, a.value & ((1 << width) - 1), b.value & ((1 << width) - 1))
            return (a, b) if bool(holds) == taken else None
        if not taken:
            negation = {JmpOp.JEQ: JmpOp.JNE, JmpOp.JNE: JmpOp.JEQ, JmpOp.JGT: JmpOp.JLE, JmpOp.JLE: JmpOp.JGT,
                        JmpOp.JGE: JmpOp.JLT, JmpOp.JLT: JmpOp.JGE, JmpOp.JSGT: JmpOp.JSLE, JmpOp.JSLE: JmpOp.JSGT,
                        JmpOp.JSGE: JmpOp.JSLT, JmpOp.JSLT: JmpOp.JSGE}
            if op == JmpOp.JSET:
                return a._refine_jset(b, taken=False, wide=wide)
            op = negation[JmpOp(op)]
        if op == JmpOp.JSET:
            return a._refine_jset(b, taken=True, wide=wide)
        # express every comparison as a <= / < / == / != on one view
        swap = {JmpOp.JGT: JmpOp.JLT, JmpOp.JGE: JmpOp.JLE, JmpOp.JSGT: JmpOp.JSLT, JmpOp.JSGE: JmpOp.JSLE}
        if op in swap:
            result = b.refine(swap[JmpOp(op)], a, True, wide)
            return None if result is None else (result[1], result[0])
        fields = ("umin", "umax") if op in (JmpOp.JLT, JmpOp.JLE) else ("smin", "smax")
        if not wide:
            fields = ("u32min", "u32max") if op in (JmpOp.JLT, JmpOp.JLE) else ("s32min", "s32max")
        lo, hi = fields
        if op == JmpOp.JEQ:
            if wide:
                both = a.meet(b)
                return None if both is None else (both, both)
            low = a._low_view().meet(b._low_view())
            if low is None:
                return None
            na, nb = a._with_low(low), b._with_low(low)
            return None if na is None or nb is None else (na, nb)
        if op == JmpOp.JNE:
            if b.is_const and a.is_const and (a.value == b.value if wide else (a.value ^ b.value) & M32 == 0):
                return None
            na = a._exclude(b, wide) if b.is_const else a
            nb = b._exclude(a, wide) if a.is_const else b
            return None if na is None or nb is None else (na, nb)
        strict = op in (JmpOp.JLT, JmpOp.JSLT)
        a_max = min(getattr(a, hi), getattr(b, hi) - (1 if strict else 0))
        b_min = max(getattr(b, lo), getattr(a, lo) + (1 if strict else 0))
        na = a._replace(hi, a_max)
        nb = b._replace(lo, b_min)
        return None if na is None or nb is None else (na, nb)

    def _replace(self, name: str, value: int) -> "Scalar | None":
        fields = {f: getattr(self, f) for f in ("tnum", "umin", "umax", "smin", "smax", "u32min", "u32max", "s32min", "s32max")}
        fields[name] = value
        return Scalar(**fields).sync()

    def _low_view(self) -> "Scalar":
        return self.subreg()

    def _with_low(self, low: "Scalar") -> "Scalar | None":
        t = self.tnum.meet(self.tnum.with_subreg(low.tnum))
        if t is None:
            return None
        return Scalar(t, self.umin, self.umax, self.smin, self.smax, max(self.u32min, low.u32min),
                      min(self.u32max, low.u32max), max(self.s32min, low.s32min), min(self.s32max, low.s32max)).sync()

    def _exclude(self, const: "Scalar", wide: bool) -> "Scalar | None":
        """Self without the constant `const` (only shrinks a range at its ends)."""
        c = const.value if wide else const.value & M32
        s: Scalar | None = self
        if wide:
            if self.umin == c:
                s = s._replace("umin", c + 1) if s else None
            elif self.umax == c:
                s = s._replace("umax", c - 1) if s else None
        else:
            if self.u32min == c:
                s = s._replace("u32min", c + 1) if s else None
            elif self.u32max == c:
                s = s._replace("u32max", c - 1) if s else None
        return s

    def _refine_jset(self, other: "Scalar", taken: bool, wide: bool) -> "tuple[Scalar, Scalar] | None":
        if not other.is_const:
            return self, other
        bits = other.value if wide else other.value & M32
        if taken:
            if (self.tnum.value & bits) == 0 and (self.tnum.mask & bits) == 0:
                return None  # no bit of the mask can be set
            if bits and bits & (bits - 1) == 0:  # one bit: it is set
                t = self.tnum.meet(Tnum(bits, M64 ^ bits))
                if t is None:
                    return None
                s = Scalar(t, self.umin, self.umax, self.smin, self.smax, self.u32min, self.u32max,
                           self.s32min, self.s32max).sync()
                return None if s is None else (s, other)
            return self, other
        if self.tnum.value & bits:
            return None  # a bit of the mask is certainly set
        t = Tnum(self.tnum.value, self.tnum.mask & ~bits & M64)
        s = Scalar(t, self.umin, self.umax, self.smin, self.smax, self.u32min, self.u32max,
                   self.s32min, self.s32max).sync()
        return None if s is None else (s, other)


# -- the reduction, step by step -------------------------------------------------------------------
# A scalar's components as a tuple: (tnum, umin, umax, smin, smax, u32min, u32max, s32min, s32max).
# Each step narrows some components from what the others say, keeping every value they all allow;
# proofs/ proves each step on its own, then the round and `sync` from the steps' contracts.
Fields = tuple[Tnum, int, int, int, int, int, int, int, int]


def sync_from_tnum(f: Fields) -> Fields:
    """Bounds from the tnum's known bits."""
    t, umin, umax, smin, smax, u32min, u32max, s32min, s32max = f
    umin, umax = max(umin, t.value), min(umax, t.value | t.mask)
    sign = 1 << 63
    smin = max(smin, to_signed(t.value | (t.mask & sign), 64))
    smax = min(smax, to_signed(t.value | (t.mask & (sign - 1)), 64))
    low = t.trunc(32)
    u32min, u32max = max(u32min, low.value), min(u32max, low.value | low.mask)
    sign32 = 1 << 31
    s32min = max(s32min, to_signed(low.value | (low.mask & sign32), 32))
    s32max = min(s32max, to_signed(low.value | (low.mask & (sign32 - 1)), 32))
    return t, umin, umax, smin, smax, u32min, u32max, s32min, s32max


def sync_across_signs(f: Fields) -> Fields:
    """Signed and unsigned views of the same range, when it does not cross a sign boundary."""
    t, umin, umax, smin, smax, u32min, u32max, s32min, s32max = f
    if umin <= umax and (umax < 1 << 63 or umin >= 1 << 63):
        smin, smax = max(smin, to_signed(umin, 64)), min(smax, to_signed(umax, 64))
    if smin <= smax and (smin >= 0 or smax < 0):
        umin, umax = max(umin, _u(smin, 64)), min(umax, _u(smax, 64))
    if u32min <= u32max and (u32max < 1 << 31 or u32min >= 1 << 31):
        s32min, s32max = max(s32min, to_signed(u32min, 32)), min(s32max, to_signed(u32max, 32))
    if s32min <= s32max and (s32min >= 0 or s32max < 0):
        u32min, u32max = max(u32min, _u(s32min, 32)), min(u32max, _u(s32max, 32))
    return t, umin, umax, smin, smax, u32min, u32max, s32min, s32max


def sync_low_from_wide(f: Fields) -> Fields:
    """The low half of a 64-bit range that stays within one 2^32 block."""
    t, umin, umax, smin, smax, u32min, u32max, s32min, s32max = f
    if umin <= umax and umin >> 32 == umax >> 32:
        u32min, u32max = max(u32min, umin & M32), min(u32max, umax & M32)
    if smin <= smax and smin >> 32 == smax >> 32:
        lo, hi = smin & M32, smax & M32
        if lo <= hi:
            u32min, u32max = max(u32min, lo), min(u32max, hi)
    return t, umin, umax, smin, smax, u32min, u32max, s32min, s32max


def sync_wide_from_low(f: Fields) -> Fields:
    """The 64-bit ranges from the low half's."""
    t, umin, umax, smin, smax, u32min, u32max, s32min, s32max = f
    if not t.mask >> 32:  # the upper half is known
        upper = t.value & ~M32 & M64
        umin, umax = max(umin, upper | u32min), min(umax, upper | u32max)
    # the ends of the 64-bit ranges, with the low halves the 32-bit ranges allow (the kernel's
    # __reg_deduce_mixed_bounds): a value above umin shares its upper half or is at least the
    # next 2^32 block
    umin, umax = max(umin, (umin & ~M32) | u32min), min(umax, (umax & ~M32) | u32max)
    smin, smax = max(smin, (smin & ~M32) | u32min), min(smax, (smax & ~M32) | u32max)
    if s32min & M32 <= s32max & M32:  # the signed 32-bit range is an unsigned one too
        lo32, hi32 = s32min & M32, s32max & M32
        umin, umax = max(umin, (umin & ~M32) | lo32), min(umax, (umax & ~M32) | hi32)
        smin, smax = max(smin, (smin & ~M32) | lo32), min(smax, (smax & ~M32) | hi32)
    if s32min >= 0 and smin >= S32_MIN and smax <= S32_MAX:
        # a 64-bit value within the signed 32-bit range equals its low half, which is >= 0
        smin, smax = max(smin, s32min), min(smax, s32max)
    return t, umin, umax, smin, smax, u32min, u32max, s32min, s32max


def sync_into_tnum(f: Fields) -> Fields | None:
    """The tnum narrowed by the ranges; None when a range is empty or excludes the tnum."""
    t, umin, umax, smin, smax, u32min, u32max, s32min, s32max = f
    if umin > umax or smin > smax or u32min > u32max or s32min > s32max:
        return None
    narrowed = t.meet(Tnum.range(umin, umax))
    if narrowed is None:
        return None
    low_range = narrowed.trunc(32).meet(Tnum.range(u32min, u32max))
    if low_range is None:
        return None
    return narrowed.with_subreg(low_range), umin, umax, smin, smax, u32min, u32max, s32min, s32max


def settled(after: Fields, before: Fields) -> bool:
    """Whether a round changed nothing (proofs/ asks it as one question of z3, not nine)."""
    return after == before


SYNC_STEPS = (sync_from_tnum, sync_across_signs, sync_low_from_wide, sync_wide_from_low, sync_into_tnum)


def sync_round(f: Fields) -> Fields | None:
    """One round of every step, in order."""
    result: Fields | None = f
    for step in SYNC_STEPS:
        result = step(result)
        if result is None:
            return None
    return result


# sync is a pure function of the scalar, asked again and again for the same values (paths and
# iterations repeat the same arithmetic): its results are kept, a bounded number of them
@lru_cache(maxsize=1 << 14)
def _synced(scalar: Scalar) -> Scalar | None:
    return scalar._sync()


