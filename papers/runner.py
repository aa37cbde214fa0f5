"""What an experiment produces (tables, figures, notes) and how a run of them is written:
`results/NAME.tsv`, `figures/NAME.svg` and `.png`, and `RESULTS.md` with every table and figure,
the command, the date, the machine and the commit."""

from __future__ import annotations

import csv
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from tabulate import tabulate

PAPERS = Path(__file__).resolve().parent
REPOSITORY = PAPERS.parent
SHARED = REPOSITORY.parent / "shared"


class Skipped(Exception):
    """The experiment cannot run here (no bpf(), no corpus); the message says why."""


@dataclass
class Table:
    name: str  # the file stem under results/
    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Figure:
    name: str  # the file stem under figures/
    title: str


@dataclass
class Context:
    """Where an experiment writes, and how much it does (`quick`: a smoke run of a few minutes)."""

    quick: bool
    out: Path
    jobs: int = 2
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def results(self) -> Path:
        return self.out / "results"

    @property
    def figures_dir(self) -> Path:
        return self.out / "figures"

    def table(self, name: str, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        self.results.mkdir(parents=True, exist_ok=True)
        with open(self.results / f"{name}.tsv", "w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows)
        self.tables.append(Table(name, title, columns, rows))

    def figure(self, name: str, title: str, figure: Any) -> None:
        """A matplotlib figure saved as SVG (for the page) and PNG (for anything else)."""
        self.figures_dir.mkdir(parents=True, exist_ok=True)
        figure.savefig(self.figures_dir / f"{name}.svg", bbox_inches="tight")
        figure.savefig(self.figures_dir / f"{name}.png", dpi=150, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(figure)
        self.figures.append(Figure(name, title))

    def note(self, text: str) -> None:
        self.notes.append(text)


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    command: str  # the command that runs this experiment alone
    run: Callable[[Context], None]


@dataclass
class Outcome:
    experiment: Experiment
    context: Context
    cpu_s: float
    wall_s: float
    skipped: str | None = None


def run_experiment(experiment: Experiment, quick: bool, out: Path, jobs: int) -> Outcome:
    context = Context(quick, out, jobs)
    cpu, wall = _cpu_with_children(), time.monotonic()
    skipped = None
    try:
        experiment.run(context)
    except Skipped as exc:
        skipped = str(exc)
    return Outcome(experiment, context, _cpu_with_children() - cpu, time.monotonic() - wall, skipped)


def _cpu_with_children() -> float:
    from verifier.workers import finished_workers_cpu_s

    times = os.times()
    return times.user + times.system + times.children_user + times.children_system + finished_workers_cpu_s()


def machine() -> dict[str, str]:
    import z3

    return {"cores": str(os.cpu_count()), "kernel": platform.release(), "python": platform.python_version(),
            "z3": z3.get_version_string(), "commit": _commit()}


def _commit() -> str:
    """The commit the code ran from, "-dirty" where the code (not the results this writes) differs."""
    try:
        head = subprocess.run(["git", "-C", str(REPOSITORY), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        changed = subprocess.run(["git", "-C", str(REPOSITORY), "status", "--porcelain", "--untracked-files=no", "--",
                                  ".", ":!papers/results", ":!papers/figures", ":!papers/RESULTS.md"],
                                 capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if head.returncode != 0 or not head.stdout.strip():
        return "unknown"
    return head.stdout.strip() + ("-dirty" if changed.stdout.strip() else "")


def section(outcome: Outcome, command: str) -> str:
    """One experiment's part of RESULTS.md: how and when it was made, its tables and figures."""
    context, facts = outcome.context, machine()
    lines = [f"## {outcome.experiment.title}", "",
             f"`{outcome.experiment.command}{' --quick' if context.quick else ''}` (last run by `{command}` on "
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit `{facts['commit']}`): "
             f"{outcome.cpu_s:.1f} s of CPU, {outcome.wall_s:.1f} s wall.", ""]
    if outcome.skipped is not None:
        return "\n".join(lines + [f"Not run here: {outcome.skipped}.", ""])
    for table in context.tables:
        lines += [f"**{table.title}** (`results/{table.name}.tsv`)", "",
                  tabulate(table.rows, headers=table.columns, tablefmt="github", disable_numparse=True), ""]
    for figure in context.figures:
        lines += [f"![{figure.title}](figures/{figure.name}.svg)", "", f"*{figure.title}*", ""]
    lines += [f"- {text}" for text in context.notes]
    return "\n".join(lines + ([""] if context.notes else []))


def write_results_page(outcomes: list[Outcome], command: str, out: Path, order: list[str]) -> Path:
    """RESULTS.md from the sections of every experiment run so far into `out` (those of this run
    replace their earlier ones, so that `--only` reruns one experiment and keeps the others)."""
    sections = out / "results" / "sections"
    sections.mkdir(parents=True, exist_ok=True)
    for outcome in outcomes:
        (sections / f"{outcome.experiment.name}.md").write_text(section(outcome, command))
    facts = machine()
    lines = ["# Results", "",
             f"Every table and figure below is made by `python -m papers` (one experiment: `--only NAME`), on "
             f"{facts['cores']} cores, Linux {facts['kernel']}, Python {facts['python']}, z3 {facts['z3']}. "
             "Times are CPU seconds of the process and its children; each section says when and from which commit "
             "it was made.", ""]
    lines += [(sections / f"{name}.md").read_text() for name in order if (sections / f"{name}.md").is_file()]
    page = out / "RESULTS.md"
    page.write_text("\n".join(lines))
    return page
