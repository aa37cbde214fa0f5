"""Functions of the scalar domain replaced by their contracts, so that each proof stays small.

The reduction (`Scalar.sync`) has many branches: followed inside every operation that ends with
it, the paths multiply and no proof finishes. So it is proved in layers. Each step of a round
(`verifier.domains.scalar.SYNC_STEPS`) is proved on its own code; the round is proved with the
steps replaced by their contracts; `sync` (up to three rounds) with the round replaced by its
contract; and every operation with `sync` replaced by its contract.

A contract says: given its precondition (required of the caller: a goal of the caller's proof,
so the composition is proved, not assumed), the result is None only when no 64-bit value is in
the input, and otherwise meets the postcondition and keeps every value of the input. In a
caller's proof, a call gives a fresh symbolic result constrained by exactly that, instantiated
on the concrete values of the claim (the lemma holds for every value, so any instance is sound).
The claims that prove the contracts themselves are in `proofs.claims` (`scalar sync ...`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import z3

from verifier.domains import scalar as scalar_module
from verifier.domains.scalar import M32, M64, S32_MAX, S32_MIN, S64_MAX, S64_MIN, Scalar

from .gamma import (
    SCALAR_FIELDS,
    scalar_gamma,
    scalar_var,
    scalar_wellformed,
    tnum_gamma,
    tnum_var,
    tnum_wellformed,
)
from .symbolic import Explorer, SymBool, term

FIELD_LIMIT = 1 << 66  # bounds sync accepts: any sum, difference or end +-1 of 64-bit bounds
NATURAL = {"umin": (0, M64), "umax": (0, M64), "smin": (S64_MIN, S64_MAX), "smax": (S64_MIN, S64_MAX),
           "u32min": (0, M32), "u32max": (0, M32), "s32min": (S32_MIN, S32_MAX), "s32max": (S32_MIN, S32_MAX)}

Labelled = list[tuple[str, Any]]


def within_limits(s: Scalar) -> Labelled:
    """What `sync` and the first step accept: a well-formed tnum, bounds within FIELD_LIMIT
    (an operation may leave a bound one past its range, or a sum of two)."""
    parts = [("tnum well formed", tnum_wellformed(s.tnum))]
    for name in SCALAR_FIELDS:
        bound = term(getattr(s, name))
        parts.append((f"{name} within limits", z3.And(-FIELD_LIMIT <= bound, bound <= FIELD_LIMIT)))
    return parts


def tidy(s: Scalar) -> Labelled:
    """What the later steps accept: a well-formed tnum, every bound within its type's range (the
    ends may still be in the wrong order: that is the last step's to find)."""
    parts = [("tnum well formed", tnum_wellformed(s.tnum))]
    for name, (lo, hi) in NATURAL.items():
        bound = term(getattr(s, name))
        parts.append((f"{name} in range", z3.And(lo <= bound, bound <= hi)))
    return parts


def well_formed(s: Scalar) -> Labelled:
    return [("well formed", scalar_wellformed(s))]


def narrower_tnum(result: Scalar, given: Scalar) -> Labelled:
    """The result's tnum is within the input's: the reduction only learns bits (a 32-bit value's
    upper half, known zero, stays known)."""
    r, g = result.tnum, given.tnum
    return [("tnum within the input's", z3.And(term(r.mask) & ~term(g.mask) == 0,
                                                term(r.value) & ~term(g.mask) == term(g.value)))]


def _then(post: Callable[[Scalar], Labelled]) -> Callable[[Scalar, Scalar], Labelled]:
    return lambda result, given: post(result) + narrower_tnum(result, given)


def conjunction(parts: Labelled) -> Any:
    return z3.And(*(formula for _, formula in parts))


@dataclass(frozen=True)
class Contract:
    name: str  # the function of verifier.domains.scalar it stands for
    pre: Callable[[Scalar], Labelled]
    post: Callable[[Scalar, Scalar], Labelled]  # of a result that is not None, and the input
    on_fields: bool  # the function takes and gives a tuple of fields (a step, a round), not a Scalar


STEP_CONTRACTS = {
    "sync_from_tnum": Contract("sync_from_tnum", within_limits, _then(tidy), True),
    "sync_across_signs": Contract("sync_across_signs", tidy, _then(tidy), True),
    "sync_low_from_wide": Contract("sync_low_from_wide", tidy, _then(tidy), True),
    "sync_wide_from_low": Contract("sync_wide_from_low", tidy, _then(tidy), True),
    "sync_into_tnum": Contract("sync_into_tnum", tidy, _then(well_formed), True),
}
ROUND_CONTRACT = Contract("sync_round", within_limits, _then(well_formed), True)
SYNC_CONTRACT = Contract("sync", within_limits, _then(well_formed), False)


def _fields(s: Scalar) -> tuple[Any, ...]:
    return (s.tnum, *(getattr(s, name) for name in SCALAR_FIELDS))


def _stand_in(contract: Contract, values: list[Any]) -> Callable[[Any], Any]:
    """A function that takes the contract's word for the result."""
    def call(argument: Any) -> Any:
        explorer = Explorer.current
        assert explorer is not None, "a contract is used inside an exploration"
        given = Scalar(*argument) if contract.on_fields else argument
        for label, part in contract.pre(given):
            explorer.require(f"{contract.name}'s precondition: {label}", part)
        empty = z3.Bool(explorer.fresh(f"{contract.name}.empty"))
        result = scalar_var(explorer.fresh(contract.name))
        for x in values:
            explorer.assume(z3.Implies(empty, z3.Not(scalar_gamma(given, x))))
            explorer.assume(z3.Implies(scalar_gamma(given, x), scalar_gamma(result, x)))
        explorer.assume(z3.Implies(z3.Not(empty), conjunction(contract.post(result, given))))
        if SymBool(empty):
            return None
        return _fields(result) if contract.on_fields else result
    return call


@contextmanager
def by_contract(contracts: list[Contract], values: list[Any]) -> Iterator[None]:
    """Within the block, the functions of `contracts` are their contracts instantiated on
    `values` (64-bit z3 terms)."""
    saved = {name: scalar_module.__dict__[name] for name in ("SYNC_STEPS", "sync_round", "_synced")}
    for contract in contracts:
        stand_in = _stand_in(contract, values)
        if contract.name in STEP_CONTRACTS:
            steps = list(scalar_module.SYNC_STEPS)
            steps[[s.__name__ for s in saved["SYNC_STEPS"]].index(contract.name)] = stand_in
            scalar_module.SYNC_STEPS = tuple(steps)  # type: ignore[assignment]
        elif contract is ROUND_CONTRACT:
            scalar_module.sync_round = stand_in  # type: ignore[assignment]
        else:
            scalar_module._synced = stand_in  # type: ignore[assignment]
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(scalar_module, name, value)


@contextmanager
def tnum_mul_by_contract(pairs: list[tuple[Any, Any]]) -> Iterator[None]:
    """Within the block, `Tnum.mul` is its contract, proved at 64 bits by induction (the claims
    `tnum mul loop ...`): given well-formed operands, a well-formed tnum that holds u*v (mod
    2^64) for each pair (u, v) of `pairs` with u in the first operand and v in the second (the
    claim's concrete operands: each pair is a product z3 must otherwise bit-blast, so only those)."""
    from verifier.domains.tnum import Tnum

    saved = Tnum.mul

    def stand_in(a: Tnum, b: Tnum) -> Tnum:
        explorer = Explorer.current
        assert explorer is not None, "a contract is used inside an exploration"
        explorer.require("tnum mul's precondition: operands well formed",
                         z3.And(tnum_wellformed(a), tnum_wellformed(b)))
        result = tnum_var(explorer.fresh("tnum.mul"))
        explorer.assume(tnum_wellformed(result))
        for u, v in pairs:
            explorer.assume(z3.Implies(z3.And(tnum_gamma(a, u), tnum_gamma(b, v)), tnum_gamma(result, u * v)))
        return result

    Tnum.mul = stand_in  # type: ignore[method-assign]
    try:
        yield
    finally:
        Tnum.mul = saved  # type: ignore[method-assign]


__all__ = ["Contract", "FIELD_LIMIT", "ROUND_CONTRACT", "STEP_CONTRACTS", "SYNC_CONTRACT", "by_contract", "tidy", "tnum_mul_by_contract",
           "well_formed", "within_limits"]
