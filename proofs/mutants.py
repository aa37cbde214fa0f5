"""The proofs are not vacuous: typical bugs seeded into the domain code must each be refuted.

A mutant rewrites one line of one function of `verifier.domains` (a missing mask bit, an
off-by-one bound, a signed/unsigned swap, a missing 32-bit zero extension...), recompiles the
function in its module and runs the claims that cover it. Each must come back `refuted`, with
z3's model: abstract inputs and concrete values for which the mutated code loses a value. A
mutant whose text no longer appears in the code is an error, not a pass."""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from verifier.domains import scalar, tnum

from .claims import NARROWING, Claim, all_claims, check
from .engine import REFUTED, Outcome
from .witness import Witness, both_signs, changes, different, not_constant, replay


@dataclass(frozen=True)
class Mutant:
    name: str
    owner: Any  # the module or class holding the function
    function: str
    original: str  # text of one line of the function, exactly once in it
    mutated: str
    claim: str  # the claims that must refute it: those whose row contains this text (or one of " | ")

    def claims(self) -> list[Claim]:
        texts = self.claim.split(" | ")
        return [c for c in all_claims() if any(t in f"{c.name} {c.width} {c.prop}" for t in texts)]


MUTANTS = (
    Mutant("tnum add forgets the second operand's unknown bits", tnum.Tnum, "add",
           "mu = chi | self.mask | other.mask", "mu = chi | self.mask", "tnum add 64"),
    Mutant("tnum sub borrows from the wrong side", tnum.Tnum, "sub",
           "beta = (dv - other.mask) & M64", "beta = (dv + other.mask) & M64", "tnum sub 64"),
    Mutant("tnum and keeps a bit known that only one side knows", tnum.Tnum, "and_",
           "return Tnum(v, alpha & beta & ~v)", "return Tnum(v, alpha & beta & ~v & (alpha ^ beta))",
           "tnum and 64"),
    Mutant("tnum arithmetic shift fills with zeros", tnum.Tnum, "arshift",
           "x -= 1 << bits", "x -= 0", "tnum arshift 64"),
    Mutant("tnum mul: an unknown bit of the first operand adds only the second's unknown bits", tnum, "mul_step",
           "select(a.mask & 1, b.value | b.mask, 0)", "select(a.mask & 1, b.mask, 0)",
           "tnum mul loop step | tnum mul unrolled (4-bit operands)"),
    Mutant("scalar add: an off-by-one upper bound", scalar.Scalar, "_binary",
           "umin, umax = a_umin + b_umin, a_umax + b_umax", "umin, umax = a_umin + b_umin, a_umax + b_umax - 1",
           "scalar add 64 sound in isolation"),
    Mutant("scalar sub: no check that the difference can wrap", scalar.Scalar, "_binary",
           "if a_umin >= b_umax:", "if True:", "scalar sub 64 sound in isolation"),
    Mutant("scalar arsh: the signed bounds shifted into the unsigned ones", scalar.Scalar, "_binary",
           "smin, smax = a_smin >> k, a_smax >> k", "umin, umax = a_smin >> k, a_smax >> k",
           "scalar arsh 64 sound in isolation"),
    Mutant("scalar mov32: the source not zero-extended", scalar.Scalar, "alu",
           "return other if op.width == 64 else other.subreg()", "return other",
           "scalar mov 32 sound in isolation"),
    Mutant("sync: the signed view taken across the sign boundary", scalar, "sync_across_signs",
           "if umin <= umax and (umax < 1 << 63 or umin >= 1 << 63):",
           "if umin <= umax and (umax <= 1 << 63 or umin >= 1 << 63):", "scalar sync across signs"),
    Mutant("sync: the low half taken across a 2^32 block", scalar, "sync_low_from_wide",
           "if umin <= umax and umin >> 32 == umax >> 32:", "if umin <= umax and umin >> 33 == umax >> 33:",
           "scalar sync low from wide"),
    Mutant("refinement: unsigned comparisons narrow the signed bounds", scalar.Scalar, "refine",
           'fields = ("umin", "umax") if op in (JmpOp.JLT, JmpOp.JLE) else ("smin", "smax")',
           'fields = ("smin", "smax") if op in (JmpOp.JLT, JmpOp.JLE) else ("umin", "umax")',
           "scalar jlt taken 64"),
    Mutant("refinement: a strict comparison treated as non-strict the wrong way", scalar.Scalar, "refine",
           "strict = op in (JmpOp.JLT, JmpOp.JSLT)", "strict = op in (JmpOp.JLT, JmpOp.JSLT, JmpOp.JLE)",
           "scalar jle taken 64"),
)


class MutantDoesNotApply(Exception):
    pass


@contextmanager
def applied(mutant: Mutant) -> Iterator[None]:
    """The mutant's function rewritten and recompiled in its module, for the block."""
    original = inspect.unwrap(getattr(mutant.owner, mutant.function))
    source = textwrap.dedent(inspect.getsource(original))
    if source.count(mutant.original) != 1:
        raise MutantDoesNotApply(f"{mutant.name}: {mutant.original!r} is not once in {mutant.function}")
    module = inspect.getmodule(original)
    namespace: dict[str, Any] = {}
    exec(compile(source.replace(mutant.original, mutant.mutated), f"<mutant {mutant.name}>", "exec"),
         vars(module), namespace)
    replacement = namespace[mutant.function]
    setattr(mutant.owner, mutant.function, replacement)
    if mutant.owner is scalar and mutant.function.startswith("sync_"):  # the round reads the steps from here
        steps = scalar.SYNC_STEPS
        scalar.SYNC_STEPS = tuple(replacement if s is original else s for s in steps)  # type: ignore[assignment]
    try:
        yield
    finally:
        setattr(mutant.owner, mutant.function, original)
        if mutant.owner is scalar and mutant.function.startswith("sync_"):
            scalar.SYNC_STEPS = steps  # type: ignore[assignment]


@dataclass
class Refutation:
    claim: Claim
    outcome: Outcome
    witness: Witness | None = None  # the model as a program, run under the mutated analysis


def refute(mutant: Mutant, rlimit: int, witnesses: bool = True) -> list[Refutation]:
    """Each covering claim's outcome on the mutated code (all must be refuted), with the witness
    program of each refutation replayed while the mutant is in place."""
    claims = mutant.claims()
    if not claims:
        raise MutantDoesNotApply(f"{mutant.name}: no claim matches {mutant.claim!r}")
    results = []
    with applied(mutant):
        scalar._synced.cache_clear()  # results of the unmutated reduction
        try:
            for claim in claims:
                outcome = check(claim, rlimit)
                found = Refutation(claim, outcome)
                if witnesses and outcome.status == REFUTED and claim.insn is not None:
                    found.witness = _witness(claim, outcome, rlimit)
                results.append(found)
        finally:
            scalar._synced.cache_clear()
    return results


WITNESS_MODELS = 12  # models asked for, at most, before a refutation is left without a witness that shows it


def _witness(claim: Claim, outcome: Outcome, rlimit: int) -> Witness | None:
    """The witness program of the refutation's model; when its replay does not leave the
    analysis' invariant, those of further models (each unlike the ones tried) whose first operand
    is not a constant, in turn also of both signs, and also not the result, up to WITNESS_MODELS;
    the first that shows the bug, else the first."""
    first = replay(claim.insn, outcome.model, claim.wide)
    tried = [outcome.model]
    name = "s" if claim.insn == NARROWING else "a"  # the operand the witness narrows first

    def extra() -> list[Any]:
        shape = [[], both_signs(claim.domain, name), both_signs(claim.domain, name) + changes(claim.insn)]
        return not_constant(claim.domain, name) + shape[len(tried) % 3] + [different(claim.domain, m, name)
                                                                          for m in tried]
    while first is not None and not first.shows and len(tried) < WITNESS_MODELS:
        again = check(claim, rlimit, extra)
        if again.status != REFUTED:
            break
        tried.append(again.model)
        witness = replay(claim.insn, again.model, claim.wide)
        if witness is not None and witness.shows:
            return witness
    return first


def killed(results: list[Refutation]) -> bool:
    return all(r.outcome.status == REFUTED for r in results)


__all__ = ["MUTANTS", "Mutant", "MutantDoesNotApply", "applied", "killed", "refute"]
