"""Where a campaign's independent work items run: worker processes of this machine (the default,
`verifier.workers.WorkerPool`), or a Dask distributed cluster beyond it (`--scheduler
tcp://HOST:8786`, or a `distributed.LocalCluster` in tests). Results come back as they finish.
`run_campaign` runs chunks of programs so, streams their records to a file with its summary beside
it, and resumes a campaign an earlier run left unfinished; its options are
`add_campaign_arguments`'."""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

from verifier.workers import WorkerPool

Work = Callable[[Any, Any], Any]
SCHEDULER_TIMEOUT_S = 30  # to reach the scheduler


class SchedulerError(Exception):
    """The Dask scheduler cannot be reached; the message says which and why."""


def run_tasks(work: Work, tasks: Iterable[Any], *, jobs: int, on_lost: Callable[[Any, str], Any],
              scheduler: Any = None, options: Any = None, deadline_s: float | None = None,
              setup: Callable[[Any], None] | None = None) -> Iterator[tuple[Any, Any]]:
    """(task, result) pairs in the order they finish; a task that fails gets `on_lost(task, why)`.
    `scheduler`: None for local processes, else what `distributed.Client` takes (an address or a
    cluster object). `setup(options)` prepares each local worker process (a Dask worker is the
    cluster's own, and is left as it is)."""
    if scheduler is None:
        with WorkerPool(jobs, work, options, setup=setup, deadline_s=deadline_s, on_lost=on_lost) as pool:
            yield from pool.run(tasks)
        return
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SchedulerError(f"--scheduler {scheduler}: Dask distributed is not installed "
                             "(pip install 'bpfverify[papers]')") from None

    try:
        client = Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, ValueError) as exc:  # no scheduler there, or not an address
        raise SchedulerError(f"--scheduler {scheduler}: {exc}") from None
    with client:
        submitted = {client.submit(work, task, options, pure=False): task for task in tasks}
        for future in as_completed(submitted):
            task = submitted[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - a lost task costs only itself, as in the local pool
                result = on_lost(task, f"{type(exc).__name__}: {exc}")
            future.release()
            yield task, result


def derived_seed(*parts: object) -> int:
    """A seed for one work item, from the campaign's seed and the item's name: the same on any machine."""
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:4], "little")


def kept_chunks(path: Path, chunk_size: int, planned: int) -> tuple[set[int], list[dict[str, Any]]]:
    """For `--resume`: the chunks an earlier run wrote whole to the JSON-lines file `path` (each
    record numbered "n", program n in chunk n // chunk_size, none of them "lost") and their
    records. The file is rewritten to hold only those, so that the chunks run again append theirs."""
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    by_chunk: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
    for record in records:
        by_chunk[record["n"] // chunk_size].append(record)
    whole = {index for index, kept in by_chunk.items()
             if len({r["n"] for r in kept}) == min(chunk_size, planned - index * chunk_size)
             and not any("lost" in r for r in kept)}
    kept = [r for r in records if r["n"] // chunk_size in whole]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    return whole, kept


class CampaignError(Exception):
    """A campaign cannot go on (its file, its scheduler); the message is one line."""


class ResumeMismatch(CampaignError):
    """`--resume` was given the file of a campaign run with other settings."""


class Totals(Protocol):
    """What a campaign's summary file adds up: `add` each record, `to_json` the totals so far;
    `start` is when it began (moved back by the time earlier runs of a resumed campaign took)."""

    start: float

    def add(self, record: dict[str, Any]) -> None: ...

    def to_json(self) -> dict[str, Any]: ...


def add_campaign_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    """The options every chunked campaign takes: how many programs, where, from which seed."""
    parser.add_argument("--programs", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(default_out))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--resume", action="store_true",
                        help="keep the chunks --out already holds whole (a run with the same settings), run the rest")
    parser.add_argument("--scheduler", help="a Dask distributed scheduler (tcp://HOST:8786) to run the chunks on, "
                        "instead of --jobs local processes")


def check_campaign_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors (exit 2) for the options of `add_campaign_arguments`."""
    if args.programs < 1 or args.jobs < 1:
        parser.error("--programs and --jobs must be positive")
    if args.out.is_dir():
        parser.error(f"--out {args.out} is a directory; give the file to write")
    if args.resume and not args.out.is_file():
        parser.error(f"--resume: no earlier run at {args.out}")


def lost_records(first: int, count: int, why: str) -> list[dict[str, Any]]:
    """The records of a chunk whose work was lost (its worker died, or overran its deadline)."""
    return [{"n": n, "lost": why} for n in range(first, first + count)]


def run_campaign(out: Path, chunks: list[Any], totals: Totals, *, chunk_size: int, planned: int,
                 settings: dict[str, Any], resume: bool, work: Work, on_lost: Callable[[Any, str], Any],
                 jobs: int, scheduler: Any, deadline_s: float) -> None:
    """Run `chunks` (each with its `index`; program n in chunk n // chunk_size) and append each
    one's records to the JSON-lines file `out` as it finishes; after each, `out` + ".summary.json"
    holds `settings` and the totals so far, so that a running campaign can be read at any time.
    `resume`: keep the chunks `out` holds whole, if its summary names the same `settings` and
    `planned` programs, and run the others."""
    summary = out.with_name(out.name + ".summary.json")
    try:
        if resume:
            earlier = json.loads(summary.read_text()) if summary.is_file() else {}
            said = {name: earlier.get(name, value) for name, value in settings.items()}
            said_planned = earlier.get("planned", planned)
            if said != settings or said_planned != planned:
                raise ResumeMismatch(f"--resume: {out} was run with "
                                     + " ".join(f"--{name} {value}" for name, value in said.items())
                                     + f" --programs {said_planned}")
            totals.start -= earlier.get("elapsed_s", 0)  # the time the earlier runs took counts
            whole, kept = kept_chunks(out, chunk_size, planned)
            for record in kept:
                totals.add(record)
            chunks = [c for c in chunks if c.index not in whole]
            print(f"{len(whole)} chunks kept from {out}, {len(chunks)} to run", file=sys.stderr)
        handle = out.open("a" if resume else "w")
    except (OSError, ValueError, KeyError) as exc:
        raise CampaignError(f"{out}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        with handle:
            for _, records in run_tasks(work, chunks, jobs=jobs, on_lost=on_lost, scheduler=scheduler,
                                        deadline_s=deadline_s):
                for record in records:
                    totals.add(record)
                    handle.write(json.dumps(record) + "\n")
                handle.flush()
                summary.write_text(json.dumps({**settings, **totals.to_json()}, indent=1) + "\n")
    except SchedulerError as exc:
        raise CampaignError(str(exc)) from None
