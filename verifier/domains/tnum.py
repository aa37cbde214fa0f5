"""Tristate numbers: a bit-vector where each bit is known 0, known 1, or unknown.

`Tnum(value, mask)`: bits set in `mask` are unknown; known bits are in `value` (value & mask == 0).
The set of concrete values is { x | x & ~mask == value }. Operations over-approximate the
concrete operation on every pair of members (tested in `tests/verifier/test_scalar_domain.py`)."""

from __future__ import annotations

from dataclasses import dataclass

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1


def select(condition: int, if_set: int, otherwise: int) -> int:
    """`if_set` where `condition` is non-zero (proofs/ replaces it with a z3 if-then-else)."""
    return if_set if condition else otherwise


@dataclass(frozen=True, slots=True)
class Tnum:
    value: int
    mask: int

    # -- construction ------------------------------------------------------------
    @staticmethod
    def const(value: int) -> "Tnum":
        return Tnum(value & M64, 0)

    @staticmethod
    def unknown(bits: int = 64) -> "Tnum":
        return Tnum(0, (1 << bits) - 1)

    @staticmethod
    def range(lo: int, hi: int) -> "Tnum":
        """The smallest tnum holding every value of [lo, hi] (unsigned)."""
        chi = lo ^ hi
        bits = chi.bit_length()
        if bits > 63:
            return Tnum.unknown()
        delta = (1 << bits) - 1
        return Tnum(lo & ~delta & M64, delta)

    # -- queries -------------------------------------------------------------------
    @property
    def is_const(self) -> bool:
        return self.mask == 0

    @property
    def umin(self) -> int:
        return self.value

    @property
    def umax(self) -> int:
        return self.value | self.mask

    def contains(self, x: int) -> bool:
        return (x & ~self.mask & M64) == self.value

    def is_subset_of(self, other: "Tnum") -> bool:
        return (self.mask & ~other.mask) == 0 and (self.value & ~other.mask) == other.value

    # -- lattice --------------------------------------------------------------------
    def join(self, other: "Tnum") -> "Tnum":
        mask = self.mask | other.mask | (self.value ^ other.value)
        return Tnum(self.value & ~mask & M64, mask)

    def meet(self, other: "Tnum") -> "Tnum | None":
        """The intersection, or None when no value is in both."""
        if (self.value ^ other.value) & ~(self.mask | other.mask) & M64:
            return None
        value = self.value | other.value
        mask = self.mask & other.mask
        return Tnum(value & ~mask, mask)

    # -- arithmetic (64-bit) --------------------------------------------------------
    def add(self, other: "Tnum") -> "Tnum":
        sm = (self.mask + other.mask) & M64
        sv = (self.value + other.value) & M64
        sigma = (sm + sv) & M64
        chi = sigma ^ sv
        mu = chi | self.mask | other.mask
        return Tnum(sv & ~mu & M64, mu & M64)

    def sub(self, other: "Tnum") -> "Tnum":
        dv = (self.value - other.value) & M64
        alpha = (dv + self.mask) & M64
        beta = (dv - other.mask) & M64
        chi = alpha ^ beta
        mu = chi | self.mask | other.mask
        return Tnum(dv & ~mu & M64, mu & M64)

    def neg(self) -> "Tnum":
        return Tnum.const(0).sub(self)

    def and_(self, other: "Tnum") -> "Tnum":
        alpha = self.value | self.mask
        beta = other.value | other.mask
        v = self.value & other.value
        return Tnum(v, alpha & beta & ~v)

    def or_(self, other: "Tnum") -> "Tnum":
        v = self.value | other.value
        mu = self.mask | other.mask
        return Tnum(v, mu & ~v)

    def xor(self, other: "Tnum") -> "Tnum":
        v = self.value ^ other.value
        mu = self.mask | other.mask
        return Tnum(v & ~mu, mu)

    def mul(self, other: "Tnum") -> "Tnum":
        # shift-and-add over the bits of `self`, as the kernel's tnum_mul does; each part is a
        # function of its own, which proofs/ proves by induction over the loop (at 64 bits)
        a, b, acc = self, other, MUL_ACC_START
        while a.value or a.mask:
            a, b, acc = mul_step(a, b, acc)
        return mul_result(self, other, acc)

    def lshift(self, shift: int) -> "Tnum":
        return Tnum((self.value << shift) & M64, (self.mask << shift) & M64)

    def rshift(self, shift: int) -> "Tnum":
        return Tnum(self.value >> shift, self.mask >> shift)

    def arshift(self, shift: int, bits: int = 64) -> "Tnum":
        """Arithmetic right shift of the low `bits` bits (result masked to `bits`)."""
        def sra(x: int) -> int:
            if x >> (bits - 1) & 1:
                x -= 1 << bits
            return (x >> shift) & ((1 << bits) - 1)
        return Tnum(sra(self.value), sra(self.mask))

    # -- width ----------------------------------------------------------------------
    def trunc(self, bits: int) -> "Tnum":
        m = (1 << bits) - 1
        return Tnum(self.value & m, self.mask & m)

    def subreg(self) -> "Tnum":
        return self.trunc(32)

    def with_subreg(self, low: "Tnum") -> "Tnum":
        """Self with its low 32 bits replaced by `low`."""
        return Tnum((self.value & ~M32) | (low.value & M32), (self.mask & ~M32) | (low.mask & M32))

    def sext(self, bits: int) -> "Tnum":
        """Sign-extend the low `bits` bits to 64."""
        sign = 1 << (bits - 1)
        low = self.trunc(bits)
        if low.mask & sign:  # unknown sign: the upper bits are unknown
            return Tnum(low.value, (low.mask | (M64 ^ ((1 << bits) - 1))) & M64)
        if low.value & sign:
            return Tnum((low.value | (M64 ^ ((1 << bits) - 1))) & M64, low.mask)
        return low

    def bswap(self, bits: int) -> "Tnum":
        """The low `bits` bits with their bytes in reverse order, zero-extended: each known bit
        stays known, in its new place."""
        def swap(x: int) -> int:  # shifts and masks only, so that proofs/ runs it on z3 terms
            out = 0
            for i in range(bits // 8):
                out |= ((x >> (8 * i)) & 0xFF) << (bits - 8 - 8 * i)
            return out
        return Tnum(swap(self.value), swap(self.mask))

    def __str__(self) -> str:
        if self.is_const:
            return f"{self.value:#x}"
        return f"(value={self.value:#x}; mask={self.mask:#x})"


MUL_ACC_START = Tnum(0, 0)  # the sum of the partial products before the first bit


def mul_step(a: Tnum, b: Tnum, acc: Tnum) -> tuple[Tnum, Tnum, Tnum]:
    """One bit of `a`: the partial product is b's unknown bits if the bit is 1, all of b's possible
    bits if it is unknown, nothing if 0 (adding Tnum(0, 0) changes nothing); then `a` moves right
    and `b` left. Chosen by `select` rather than `if`, so that proofs/ follows one path, not three."""
    partial = select(a.value & 1, b.mask, select(a.mask & 1, b.value | b.mask, 0))
    return (Tnum(a.value >> 1, a.mask >> 1), Tnum((b.value << 1) & M64, (b.mask << 1) & M64),
            acc.add(Tnum(0, partial)))


def mul_result(a: Tnum, b: Tnum, acc: Tnum) -> Tnum:
    """The product of the known parts plus the accumulated unknown partial products."""
    return Tnum.const((a.value * b.value) & M64).add(acc)
