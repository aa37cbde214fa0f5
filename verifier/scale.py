"""Where a campaign's independent work items run: worker processes of this machine (the default,
`verifier.workers.WorkerPool`), or a Dask distributed cluster beyond it (`--scheduler
tcp://HOST:8786`, or a `distributed.LocalCluster` in tests). Results come back as they finish."""

from __future__ import annotations

import collections
import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

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
