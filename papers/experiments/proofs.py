"""The proofs of the domains (`python -m proofs`) and the seeded bugs they must refute
(`python -m proofs --mutants`), as tables: every claim with its result and CPU time, and every
mutant with the claim that refutes it and what its witness program showed."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from proofs.__main__ import DEFAULT_RLIMIT, claim_pool, prove_row
from proofs.mutants import MUTANTS, killed, refute

from ..runner import Context

RLIMIT = DEFAULT_RLIMIT  # z3 units per path, as `python -m proofs` proves by default
QUICK_MUTANTS = 2


def run(context: Context) -> None:
    claims = list(enumerate(claim_pool(context.quick)))
    if context.quick:
        claims = [(i, c) for i, c in claims if c.domain == "tnum"]
    with ProcessPoolExecutor(max_workers=context.jobs) as executor:
        rows = list(executor.map(prove_row, [(i, RLIMIT, context.quick) for i, _ in claims]))
    context.table("proofs", f"Claims about the domains (z3 budget {RLIMIT:,} units per path)",
                  ["domain", "operation", "width", "property", "result", "CPU s", "paths", "not decided / refuted"],
                  [[r["domain"], r["operation"], r["width"], r["property"], r["result"], f"{r['seconds']:.2f}",
                    r["paths"], r["failed_goal"]] for r in rows])
    counts = {s: sum(r["result"] == s for r in rows) for s in ("proved", "refuted", "unknown")}
    context.note(f"{len(rows)} claims: {counts['proved']} proved, {counts['refuted']} refuted, "
                 f"{counts['unknown']} unknown within the budget.")
    mutant_rows = []
    for mutant in MUTANTS[:QUICK_MUTANTS] if context.quick else MUTANTS:
        results = refute(mutant, RLIMIT)
        for found in results:
            shown = found.witness.shown if found.witness else "no witness program for this claim"
            mutant_rows.append([mutant.name, f"{found.claim.name} {found.claim.width} {found.claim.prop}",
                                found.outcome.status, found.outcome.failed_goal,
                                "refuted" if killed(results) else "SURVIVED", shown])
    context.table("mutants", "Seeded bugs: each must be refuted; the witness program's replay",
                  ["mutant", "claim", "result", "component", "mutant", "witness replay"], mutant_rows)
