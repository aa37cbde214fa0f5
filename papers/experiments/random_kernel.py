"""Random programs of real shapes (the general mix of tests/verifier/program_shapes.py): our
verdict against the running kernel's; a program the kernel rejects and we accept would be unsound.
The campaign (`python -m papers.random_vs_kernel`) streams its records into
`results/random_kernel_campaign.jsonl` (not kept in the repository) and resumes a run
interrupted there."""

from __future__ import annotations

import json

from ..random_vs_kernel import kernel_available
from ..random_vs_kernel import main as campaign
from ..runner import Context, Skipped

PROGRAMS, QUICK_PROGRAMS, SEED = 10_000, 30, 1


def run(context: Context) -> None:
    try:
        if not kernel_available():
            raise Skipped("bpf() is not permitted")
    except ImportError as exc:
        raise Skipped(str(exc)) from None
    programs = QUICK_PROGRAMS if context.quick else PROGRAMS
    context.results.mkdir(parents=True, exist_ok=True)
    out = context.results / "random_kernel_campaign.jsonl"
    summary = out.with_name(out.name + ".summary.json")
    earlier = json.loads(summary.read_text()) if summary.is_file() and out.is_file() else {}
    resume = (earlier.get("planned"), earlier.get("seed")) == (programs, SEED)
    arguments = ["--programs", str(programs), "--jobs", str(context.jobs), "--seed", str(SEED), "--out", str(out)]
    status = campaign(arguments + (["--resume"] if resume else []))
    shown = " ".join(arguments[:-1] + ["results/random_kernel_campaign.jsonl"])
    totals = json.loads(summary.read_text())
    context.table("random_vs_kernel", f"{totals['counts']['programs']} random programs: "
                  f"`python -m papers.random_vs_kernel {shown}`", ["kernel", "ours", "programs"],
                  [[*pair.split(" / "), n] for pair, n in sorted(totals["pairs"].items())])
    context.table("random_stricter", "Where we reject what the kernel accepts, by our error codes",
                  ["our codes", "programs"],
                  sorted(([codes, n] for codes, n in totals["stricter_by_codes"].items()), key=lambda r: -r[1]))
    counts = totals["counts"]
    if resume:
        context.note(f"Resumed: the records an earlier run of the same campaign had written whole to "
                     f"`results/random_kernel_campaign.jsonl` were kept, not run again.")
    context.note(f"programs the kernel rejects and we accept: {len(totals['kernel_rejects_we_accept'])}; "
                 f"crashes of ours: {counts.get('crashes', 0)}; not run (the generator's text does not assemble, "
                 f"or a chunk was lost): {counts.get('skipped', 0) + counts.get('lost', 0)} "
                 f"(exit status {status}); {totals['elapsed_s']} s wall.")
    for case in totals["kernel_rejects_we_accept"][:10]:
        context.note(f"kernel rejects ({case['kernel_reason']}), we accept: program {case['n']}; "
                     f"{case['replayed']} runs on random inputs: {case['fault'] or 'no fault'}"
                     + _block(case["asm"]))
    for codes, asm in sorted(totals.get("stricter_examples", {}).items()):
        context.note(f"the kernel accepts, we say `{codes}`: the shortest such program" + _block(asm))


def _block(asm: str) -> str:
    """A program in a collapsed block of the page's list item."""
    code = "\n".join("  " + line for line in asm.splitlines())
    return f"\n\n  <details><summary>program</summary>\n\n  ```\n{code}\n  ```\n  </details>"
