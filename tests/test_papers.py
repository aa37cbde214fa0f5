"""`python -m papers --quick` writes every table and figure it names, and the page that shows them."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("papers")
    done = subprocess.run([sys.executable, "-m", "papers", "--quick", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return out, done.stdout


def test_every_table_and_figure_the_page_names_is_written(quick_run: tuple[Path, str]) -> None:
    out, _ = quick_run
    page = (out / "RESULTS.md").read_text()
    tables = re.findall(r"\(`results/([\w.]+\.tsv)`\)", page)
    figures = re.findall(r"\]\(figures/([\w.]+\.svg)\)", page)
    assert tables and figures
    for name in tables:
        with open(out / "results" / name, newline="") as handle:
            header = next(csv.reader(handle, delimiter="\t"))
        assert len(header) >= 2, name
    for name in figures:
        assert (out / "figures" / name).stat().st_size > 1000
        assert (out / "figures" / name.replace(".svg", ".png")).stat().st_size > 1000


def test_the_page_says_how_where_and_from_what_it_was_made(quick_run: tuple[Path, str]) -> None:
    out, stdout = quick_run
    page = (out / "RESULTS.md").read_text()
    assert page.count(f"(last run by `python -m papers --quick --out {out}` on ") == 8
    assert re.search(r"commit `[0-9a-f]{7,}", page) and "cores, Linux" in page and "z3 " in page
    for name in ("corpus", "solver", "random", "loops", "scaling", "interpreter", "proofs", "containment"):
        assert re.search(rf"^{name} +[\d.]+ s CPU ", stdout, re.MULTILINE), stdout


def test_the_interpreter_passes_the_whole_conformance_suite(quick_run: tuple[Path, str]) -> None:
    out, _ = quick_run
    if not (out / "results" / "conformance.tsv").is_file():
        pytest.skip("no conformance suite here")
    with open(out / "results" / "conformance.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [(r["files"], r["count"], r["passed"]) for r in rows] == [("tests", "313", "313"),
                                                                      ("tests_negative", "60", "60")]


def test_an_unknown_experiment_is_one_line_of_usage() -> None:
    done = subprocess.run([sys.executable, "-m", "papers", "--only", "nothing"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "python -m papers: error: no experiment nothing (there are corpus, solver, random, loops, scaling, interpreter, "
        "proofs, containment)")


def test_rerunning_one_experiment_keeps_the_others_on_the_page(quick_run: tuple[Path, str]) -> None:
    out, _ = quick_run
    done = subprocess.run([sys.executable, "-m", "papers", "--quick", "--only", "interpreter", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    page = (out / "RESULTS.md").read_text()
    assert page.count("## ") == 8
    assert page.count("--only interpreter --out") == 1  # the rerun section says how it was made
    assert page.index("## Verdicts on the corpus") < page.index("## The interpreter")


def test_an_out_that_is_a_file_is_one_line_of_usage(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    done = subprocess.run([sys.executable, "-m", "papers", "--out", str(tmp_path / "file")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"python -m papers: error: --out {tmp_path / 'file'} is not a directory"


SAMPLES = ROOT.parent / "shared" / "corpus" / "ebpf-samples"


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="the shared corpus is not there")
def test_the_startup_bench_measures_child_processes(tmp_path: Path) -> None:
    """A tiny run of `python -m papers.bench`: one kprobe program, one straight line of 50 insns."""
    done = subprocess.run([sys.executable, "-m", "papers.bench", "--limit", "1", "--sizes", "50", "--no-falco",
                           "--no-kernel", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    ours = json.loads((tmp_path / "startup_bench.json").read_text())["checkouts"]["this"]
    assert ours["check_each"]["programs"] == 1 and ours["check_each"]["exits"] == [0]
    assert 0 < ours["check_each"]["median_s"] < 30
    assert ours["corpus"]["rows"] >= 1 and ours["corpus"]["exit"] == 0
    [line] = ours["straight_line"]
    assert (line["insns"], line["verdict"]) == (50, "accepted")
    assert line["steps"] > 0 and line["peak_mb"] > 1
    rows = (tmp_path / "startup_bench.tsv").read_text().splitlines()
    assert rows[0] == "measure\tthis" and any(r.startswith("straight line 50 insns: CPU\t") for r in rows)
    assert "check --section, one process per kprobe program (1): median" in done.stdout


def test_the_startup_bench_refuses_a_baseline_that_is_no_checkout(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "papers.bench", "--baseline", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"papers.bench: --baseline {tmp_path}: no checkout of this project there "
                                   "(no verifier/cli.py)")
