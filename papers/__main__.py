"""`python -m papers [--quick] [--only NAME,...] [--out DIR] [--jobs N] [--list]`: runs the experiments,
writes their tables under `results/`, their figures under `figures/` and the page `RESULTS.md`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from .experiments import (
    containment,
    corpus,
    interpreter,
    loops,
    proofs,
    random_kernel,
    scaling,
    solver,
)
from .runner import PAPERS, Experiment, run_experiment, write_results_page

EXPERIMENTS = [
    Experiment("corpus", "Verdicts on the corpus's tracing programs: the kernel, PREVAIL and ours",
               "python -m papers --only corpus", corpus.run),
    Experiment("solver", "False alarms before and after z3; counterexamples confirmed or not",
               "python -m papers --only solver", solver.run),
    Experiment("random", "Random programs of real shapes against the kernel",
               "python -m papers --only random", random_kernel.run),
    Experiment("loops", "Loops: bounds proved or followed, and checking time against iterations",
               "python -m papers --only loops", loops.run),
    Experiment("scaling", "Checking time and memory against program size",
               "python -m papers --only scaling", scaling.run),
    Experiment("interpreter", "The interpreter: conformance and speed",
               "python -m papers --only interpreter", interpreter.run),
    Experiment("proofs", "The domains proved with z3, and seeded bugs refuted",
               "python -m papers --only proofs", proofs.run),
    Experiment("containment", "Every concrete run inside the analysis' invariants",
               "python -m papers --only containment", containment.run),
]
BY_NAME = {e.name: e for e in EXPERIMENTS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m papers", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of each experiment (a few minutes)")
    parser.add_argument("--only", help=f"comma-separated experiments (of {', '.join(BY_NAME)})")
    parser.add_argument("--out", type=Path, default=PAPERS, help="where results/, figures/ and RESULTS.md go")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes where an experiment uses them")
    parser.add_argument("--list", action="store_true", help="name the experiments and stop")
    args = parser.parse_args(argv)
    if args.list:
        for experiment in EXPERIMENTS:
            print(f"{experiment.name:12} {experiment.title}")
        return 0
    chosen = EXPERIMENTS
    if args.only:
        unknown = [n for n in args.only.split(",") if n not in BY_NAME]
        if unknown:
            parser.error(f"no experiment {', '.join(unknown)} (there are {', '.join(BY_NAME)})")
        chosen = [BY_NAME[n] for n in args.only.split(",")]
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is not a directory")
    args.out.mkdir(parents=True, exist_ok=True)
    outcomes = []
    progress = tqdm(chosen, unit="experiment", file=sys.stderr)
    for experiment in progress:
        progress.set_postfix_str(experiment.name)
        outcomes.append(run_experiment(experiment, args.quick, args.out, args.jobs))
    command = "python -m papers" + " ".join(a for a in [""] + (sys.argv[1:] if argv is None else argv))
    page = write_results_page(outcomes, command, args.out, list(BY_NAME))
    for outcome in outcomes:
        state = f"skipped: {outcome.skipped}" if outcome.skipped else \
            f"{len(outcome.context.tables)} tables, {len(outcome.context.figures)} figures"
        print(f"{outcome.experiment.name:12} {outcome.cpu_s:8.1f} s CPU  {state}")
    print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
