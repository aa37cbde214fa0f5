"""Our verdict against the running kernel's on real programs: the tracing programs of the shared
corpus that the kernel can be asked about, loaded through `interp.kernel`. The expectation is the
kernel's own answer, asked now, not a label: the two must agree. Programs whose verdict depends
on how the kernel was built (helpers a lockdown or a config option removes: probe_write_user,
override_return) are left out, and so is falco's probe (seconds per load, a single source)."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import pytest

from interp import kernel
from interp.loader import load_object
from interp.program import Program
from verifier.check import check_program
from verifier.kernel_compare import AGREE, agreement

PROJECT = Path(__file__).resolve().parents[2]
SAMPLES = PROJECT.parent / "shared" / "corpus" / "ebpf-samples"
TRACING = ("kprobe", "tracepoint", "raw_tracepoint", "perf_event")
BUILD_DEPENDENT_HELPERS = {"36", "58"}  # probe_write_user, override_return


def corpus_programs() -> list[tuple[str, str, str]]:
    if not (SAMPLES / "MANIFEST.tsv").is_file():
        return []
    with open(SAMPLES / "MANIFEST.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [(r["file"], r["section"], r["function"]) for r in rows
            if r["prog_type"] in TRACING and r["kernel_6_18"] in ("accept", "reject")
            and not r["file"].startswith("falco/")
            and not BUILD_DEPENDENT_HELPERS & set(r["helper_ids"].split(","))]


PROGRAMS = corpus_programs()


@functools.cache
def programs_of(file: str) -> list[Program]:
    return load_object(SAMPLES / file)


@pytest.mark.kernel
@pytest.mark.skipif(not PROGRAMS, reason=f"ebpf-samples corpus not found at {SAMPLES}")
@pytest.mark.parametrize("file, section, function", PROGRAMS or [("-", "-", "-")],
                         ids=[f"{f}:{s}:{fn}" for f, s, fn in PROGRAMS] or ["no-corpus"])
def test_our_verdict_agrees_with_the_kernel(file: str, section: str, function: str) -> None:
    program = next(p for p in programs_of(file) if p.section == section and p.name == function)
    ours = check_program(program)
    theirs = kernel.kernel_verdict(program, log_level=0)
    findings = "; ".join(str(f) for f in ours.findings)
    assert agreement(ours.verdict, theirs.verdict) == AGREE, \
        f"ours {ours.verdict} ({findings}); kernel {theirs.verdict} ({theirs.reason})"


def test_corpus_selection_is_large_enough() -> None:
    if not PROGRAMS:
        pytest.skip(f"ebpf-samples corpus not found at {SAMPLES}")
    assert len(PROGRAMS) >= 20
