"""The state-containment campaign (`python -m proofs.campaign`): generated programs checked, run
on random inputs, every executed instruction compared with the analysis' invariant. The campaign
streams its records into `results/containment_campaign.jsonl` (not kept in the repository) and
resumes a run interrupted there; the table gives its totals."""

from __future__ import annotations

import json

from proofs.campaign import main as campaign

from ..runner import Context

PROGRAMS, QUICK_PROGRAMS = 100_000, 40
SEED, RUNS = 23, 3


def run(context: Context) -> None:
    programs = QUICK_PROGRAMS if context.quick else PROGRAMS
    context.results.mkdir(parents=True, exist_ok=True)
    out = context.results / "containment_campaign.jsonl"
    summary = out.with_name(out.name + ".summary.json")
    earlier = json.loads(summary.read_text()) if summary.is_file() and out.is_file() else {}
    resume = (earlier.get("planned"), earlier.get("seed"), earlier.get("runs")) == (programs, SEED, RUNS)
    arguments = ["--programs", str(programs), "--jobs", str(context.jobs), "--seed", str(SEED), "--runs", str(RUNS),
                 "--out", str(out)]
    status = campaign(arguments + (["--resume"] if resume else []))
    shown = " ".join(arguments[:-1] + ["results/containment_campaign.jsonl"])
    totals = json.loads(summary.read_text())
    counts = totals["counts"]
    rows = [[key, counts.get(key, 0)] for key in ("programs", "accepted", "rejected", "unknown", "skipped", "runs",
                                                  "instructions checked", "programs with violations", "crashes",
                                                  "lost")]
    rows.append(["elapsed (s, wall)", totals["elapsed_s"]])
    context.table("containment", f"State containment: `python -m proofs.campaign {shown}`",
                  ["count", "value"], rows)
    if resume:
        context.note(f"Resumed: the records an earlier run of the same campaign had written whole to "
                     f"`results/containment_campaign.jsonl` were kept, not run again (it had {earlier['counts']['programs']} "
                     f"programs, made by the commit of that run); the elapsed time adds up the runs.")
    context.note(f"{counts.get('programs with violations', 0)} programs left the analysis' invariant, "
                 f"{counts.get('crashes', 0)} crashed the verifier (exit status {status}); "
                 "`skipped`: programs whose analysis did not finish, so it has no invariant to check.")
    for record in totals["violations"][:5]:
        context.note(f"violation: `{json.dumps(record)[:400]}`")
