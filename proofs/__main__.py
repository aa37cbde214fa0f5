"""`python -m proofs`: prove the abstract domains sound with z3 and print the table.

    python -m proofs [--quick] [--only TEXT] [--jobs N] [--rlimit UNITS] [--json FILE] [--list]
    python -m proofs --mutants [--only TEXT]

Each row is one claim of `proofs.claims` (an operation of the tnum or scalar domain, a width, a
property), checked by running the verifier's own domain code on z3 terms. The exit status is 1
when a claim is refuted; under `--quick` (the claims not marked slow, for CI) also when one is
not proved within its budget. A claim that reaches its budget is `unknown`: neither proved nor
refuted, and the table says so. `--mutants` seeds the typical bugs of `proofs.mutants` into the
domain code instead and exits 1 unless every one is refuted."""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from .claims import Claim, all_claims, check
from .engine import PROVED, REFUTED

DEFAULT_RLIMIT = 20_000_000  # z3 work units per path: about 5-10 s of CPU on this class of machine


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m proofs", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="only the claims not marked slow (CI)")
    p.add_argument("--only", metavar="TEXT", help="only the claims whose row contains TEXT (e.g. 'tnum', 'jeq')")
    p.add_argument("--jobs", type=int, default=1, help="claims proved in parallel processes (default 1)")
    p.add_argument("--rlimit", type=int, default=DEFAULT_RLIMIT,
                   help=f"z3 resource units per path of a claim (default {DEFAULT_RLIMIT}); "
                        "the same budget gives the same table on any machine")
    p.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    p.add_argument("--list", action="store_true", help="list the claims and exit")
    p.add_argument("--mutants", action="store_true",
                   help="refute each seeded bug of proofs.mutants instead (exit 1 unless all are)")
    args = p.parse_args(argv)
    if args.jobs < 1 or args.rlimit < 1:
        p.error("--jobs and --rlimit must be positive")
    return args


def _label(claim: Claim) -> str:
    return f"{claim.name} {claim.width} {claim.prop}"


def claim_pool(quick: bool) -> list[Claim]:
    """The claims a run chooses from (a worker process finds its claim by index in it)."""
    return [c for c in all_claims() if not (quick and c.slow)]


def selected(args: argparse.Namespace) -> list[tuple[int, Claim]]:
    """The claims to prove, with their index in the pool (how a worker process finds its claim)."""
    return [(i, c) for i, c in enumerate(claim_pool(args.quick)) if not args.only or args.only in _label(c)]


def prove_row(work: tuple[int, int, bool]) -> dict[str, Any]:
    """(index in the pool, z3 budget, quick) -> the claim's row of the table."""
    index, rlimit, quick = work
    claim = claim_pool(quick)[index]
    outcome = check(claim, rlimit)
    return {"domain": claim.domain, "operation": claim.operation, "width": claim.width, "property": claim.prop,
            "slow": claim.slow, "result": outcome.status, "seconds": round(outcome.seconds, 2),
            "paths": outcome.paths, "queries": outcome.queries, "failed_goal": outcome.failed_goal,
            "model": outcome.model if outcome.status == REFUTED else {}}


HEADER = f"{'domain':7} {'operation':28} {'width':>5}  {'property':19} {'result':8} {'seconds':>8}  {'paths':>5}"


def _row(r: dict[str, Any]) -> str:
    line = (f"{r['domain']:7} {r['operation']:28} {r['width']:>5}  {r['property']:19} {r['result']:8} "
            f"{r['seconds']:>8.2f}  {r['paths']:>5}")
    if r["result"] != PROVED:
        line += f"  {r['failed_goal']}"
    if r["model"]:
        line += "  " + ", ".join(f"{k}={v:#x}" for k, v in sorted(r["model"].items()))
    return line


def run_mutants(args: argparse.Namespace) -> int:
    try:
        from .mutants import MUTANTS, MutantDoesNotApply, killed, refute
    except ImportError as exc:  # the witness programs run through proofs.containment
        print(f"python -m proofs --mutants: {exc}", file=sys.stderr)
        return 2

    chosen = [m for m in MUTANTS if not args.only or args.only in m.name]
    if not chosen:
        print(f"no mutant matches {args.only!r}", file=sys.stderr)
        return 2
    survivors = 0
    for mutant in chosen:
        try:
            results = refute(mutant, args.rlimit)
        except MutantDoesNotApply as e:
            print(f"does not apply: {e}")
            survivors += 1
            continue
        verdict = "refuted" if killed(results) else "SURVIVED"
        survivors += verdict != "refuted"
        print(f"{verdict:8} {mutant.name}")
        for found in results:
            outcome = found.outcome
            print(f"         {_label(found.claim)}: {outcome.status} on {outcome.failed_goal or '-'} "
                  f"({outcome.seconds:.1f} s)")
            if outcome.model and ("x" in outcome.model or "y" in outcome.model):
                print("         concrete: " + ", ".join(f"{k}={outcome.model[k]:#x}" for k in ("x", "y") if k in outcome.model))
            if found.witness is not None:
                print("         witness program (x in di, y in si):")
                print("\n".join(f"             {line}" for line in found.witness.text.splitlines()))
                print(f"         replayed: {found.witness.shown}", flush=True)
    print(f"{len(chosen)} mutants: {len(chosen) - survivors} refuted, {survivors} not")
    return 1 if survivors else 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.mutants:
        return run_mutants(args)
    claims = selected(args)
    if not claims:
        print(f"no claim matches {args.only!r} (see --list)", file=sys.stderr)
        return 2
    if args.list:
        for _, c in claims:
            print(_label(c) + ("  (slow)" if c.slow else ""))
        return 0
    work = [(index, args.rlimit, args.quick) for index, _ in claims]
    print(HEADER, flush=True)
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as executor:
        for row in executor.map(prove_row, work):
            rows.append(row)
            print(_row(row), flush=True)
    counts = {status: sum(r["result"] == status for r in rows) for status in ("proved", "refuted", "unknown")}
    print(f"{len(rows)} claims: {counts['proved']} proved, {counts['refuted']} refuted, {counts['unknown']} unknown "
          f"(budget {args.rlimit} z3 units per path); {sum(r['seconds'] for r in rows):.1f} s of CPU")
    if args.json:
        try:
            Path(args.json).write_text(json.dumps({"rlimit": args.rlimit, "quick": args.quick, "claims": rows}, indent=1))
        except OSError as e:
            print(f"cannot write {args.json}: {e.strerror}", file=sys.stderr)
            return 2
    if counts["refuted"] or (args.quick and counts["unknown"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
