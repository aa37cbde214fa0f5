"""The corpus's tracing programs: our verdicts against the running kernel's and against the PREVAIL
verdicts recorded in the corpus' MANIFEST, through the user's own command (`bpfverify corpus`)."""

from __future__ import annotations

import collections
import contextlib
import csv
import io
import json
import tempfile
from pathlib import Path

from verifier.cli import main

from ..runner import SHARED, Context, Skipped

SAMPLES = SHARED / "corpus" / "ebpf-samples"
TRACING = ("kprobe", "tracepoint", "raw_tracepoint", "perf_event")
QUICK_FILES = 6  # objects a --quick run checks


def manifest() -> list[dict[str, str]]:
    with open(SAMPLES / "MANIFEST.tsv", newline="") as handle:
        return [row for row in csv.DictReader(handle, delimiter="\t") if row["prog_type"] in TRACING]


def run(context: Context) -> None:
    if not (SAMPLES / "MANIFEST.tsv").is_file():
        raise Skipped(f"no corpus at {SAMPLES}")
    rows = manifest()
    files = sorted({row["file"] for row in rows})
    if context.quick:
        files = files[:QUICK_FILES]
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "corpus.json"
        # in this process, so that its worker processes' CPU time is counted (see runner)
        said = io.StringIO()
        with contextlib.redirect_stderr(said):
            main(["corpus", *[str(SAMPLES / f) for f in files], "--compare-kernel", "--jobs", str(context.jobs),
                  "--format", "json", "-o", str(out)])
        if not out.is_file():
            raise Skipped(f"bpfverify corpus failed: {said.getvalue().strip()[-200:]}")
        ours = json.loads(out.read_text())
    by_program = {(r["file"], r["section"]): r for r in ours["programs"]}
    prevail = {(str(SAMPLES / row["file"]), _shown(row)): row["prevail_v0_2_6"] for row in rows}
    kernel_pairs: collections.Counter[tuple[str, str, str]] = collections.Counter()
    prevail_pairs: collections.Counter[tuple[str, str]] = collections.Counter()
    disagreements = []
    for (file, section), row in sorted(by_program.items()):
        kernel = row.get("kernel") or "not asked"
        kernel_pairs[(row["type"], kernel, row["verdict"])] += 1
        if row.get("agreement") in ("ours-stricter", "kernel-stricter"):
            disagreements.append([Path(file).relative_to(SAMPLES).as_posix(), section, row["verdict"],
                                  row.get("error") or "", kernel, row.get("kernel_reason") or ""])
        verdict = prevail.get((file, section))
        if verdict is not None:
            prevail_pairs[(verdict, row["verdict"])] += 1
    context.table("corpus_vs_kernel", "Tracing programs of the corpus: the kernel's verdict and ours, by type",
                  ["type", "kernel", "ours", "programs"],
                  [[t, k, o, n] for (t, k, o), n in sorted(kernel_pairs.items())])
    context.table("corpus_disagreements", "Every disagreement with the kernel, with both reasons",
                  ["file", "program", "ours", "our first error", "kernel", "kernel's reason"], disagreements)
    context.table("corpus_vs_prevail", "The same programs: PREVAIL 0.2.6's verdict (from the MANIFEST) and ours",
                  ["prevail", "ours", "programs"], [[p, o, n] for (p, o), n in sorted(prevail_pairs.items())])
    context.note(f"{len(by_program)} programs from {len(files)} objects; 'setup-error' is a program the kernel "
                 "could not be given (an unresolved call such as memset), which we reject as unresolved-relocation")


def _shown(row: dict[str, str]) -> str:
    """The program as `bpfverify corpus` names it (interp.sources.describe)."""
    if row["section"] and row["function"] != row["section"]:
        return f"{row['section']}:{row['function']}"
    return row["section"] or row["function"]
