"""What abstract values mean: the concretisation of a tnum and of a scalar as z3 formulas over a
64-bit value, and symbolic abstract values (every field a free `Sym`) with the conditions that
make them well formed (fields within their ranges, a tnum's known and unknown bits apart)."""

from __future__ import annotations

from typing import Any

import z3

from verifier.domains.scalar import S32_MAX, S32_MIN, S64_MAX, S64_MIN, Scalar
from verifier.domains.tnum import M32, M64, Tnum

from . import symbolic
from .symbolic import Sym, term


def unsigned(x: Any) -> Any:
    """A 64-bit term as the WIDE-bit number of its unsigned value."""
    return z3.ZeroExt(symbolic.WIDE - x.size(), x)


def signed(x: Any) -> Any:
    return z3.SignExt(symbolic.WIDE - x.size(), x)


def low32(x: Any) -> Any:
    return z3.Extract(31, 0, x)


def tnum_var(name: str) -> Tnum:
    return Tnum(Sym.var(f"{name}.value"), Sym.var(f"{name}.mask"))


def tnum_wellformed(t: Tnum, bits: int = 64) -> Any:
    v, m = term(t.value), term(t.mask)
    top = z3.BitVecVal((1 << bits) - 1, symbolic.WIDE)
    return z3.And(v & m == 0, v >= 0, m >= 0, v <= top, m <= top)


def tnum_gamma(t: Tnum, x: Any) -> Any:
    """x (a 64-bit term) is one of the tnum's values."""
    return unsigned(x) & ~term(t.mask) == term(t.value)


SCALAR_FIELDS = ("umin", "umax", "smin", "smax", "u32min", "u32max", "s32min", "s32max")


def scalar_var(name: str) -> Scalar:
    return Scalar(tnum_var(f"{name}.tnum"), *(Sym.var(f"{name}.{f}") for f in SCALAR_FIELDS))


def scalar_wellformed(s: Scalar) -> Any:
    f = {name: term(getattr(s, name)) for name in SCALAR_FIELDS}
    return z3.And(tnum_wellformed(s.tnum),
                  f["umin"] >= 0, f["umax"] <= M64, f["umin"] <= f["umax"],
                  f["smin"] >= S64_MIN, f["smax"] <= S64_MAX, f["smin"] <= f["smax"],
                  f["u32min"] >= 0, f["u32max"] <= M32, f["u32min"] <= f["u32max"],
                  f["s32min"] >= S32_MIN, f["s32max"] <= S32_MAX, f["s32min"] <= f["s32max"])


def scalar_gamma_parts(s: Scalar | None, x: Any) -> list[Any]:
    """The conditions, one per component, under which x (a 64-bit term) is one of the scalar's
    values (None, the empty scalar, has none)."""
    if s is None:
        return [z3.BoolVal(False)]
    u, sg = unsigned(x), signed(x)
    u32, s32 = unsigned(low32(x)), signed(low32(x))
    return [tnum_gamma(s.tnum, x), term(s.umin) <= u, u <= term(s.umax), term(s.smin) <= sg, sg <= term(s.smax),
            term(s.u32min) <= u32, u32 <= term(s.u32max), term(s.s32min) <= s32, s32 <= term(s.s32max)]


def scalar_gamma(s: Scalar | None, x: Any) -> Any:
    return z3.And(*scalar_gamma_parts(s, x))


__all__ = ["low32", "scalar_gamma", "scalar_gamma_parts", "scalar_var", "scalar_wellformed", "signed", "tnum_gamma", "tnum_var",
           "tnum_wellformed", "unsigned"]
