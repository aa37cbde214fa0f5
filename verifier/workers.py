"""Worker processes that take one task at a time, so that one task can never stop a run: a
worker that dies (a crash, the address-space backstop) or outlives its hard deadline costs only
its own task, which gets `on_lost`'s result, and a fresh worker takes its place."""

from __future__ import annotations

import multiprocessing
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterable, Iterator

# forkserver: workers start from a clean process, not a fork of one that may run threads
_CONTEXT = multiprocessing.get_context("forkserver")
STARTED = "__started__"
_finished_workers_cpu_s = 0.0  # CPU seconds of the workers closed so far (forkserver children are not ours to reap)


def finished_workers_cpu_s() -> float:
    """The CPU time of every worker this process' pools have closed: `os.times()` cannot count
    them, as they are the fork server's children. Workers killed or lost are not counted."""
    return _finished_workers_cpu_s


def _serve(conn: Connection, setup: Callable[[Any], None] | None, options: Any,
           work: Callable[[Any, Any], Any]) -> None:
    if setup is not None:
        setup(options)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            conn.send(time.process_time())  # the pool adds it up as the worker leaves
            return
        conn.send(STARTED)  # the task's deadline runs from here, not from the worker's own start
        conn.send(work(task, options))


@dataclass
class _Worker:
    process: Any
    conn: Connection
    task: Any = None
    started: float | None = None  # when the worker took up its task

    @property
    def busy(self) -> bool:
        return self.task is not None


class WorkerPool:
    """`jobs` processes running `work(task, options)` (after `setup(options)` once each)."""

    def __init__(self, jobs: int, work: Callable[[Any, Any], Any], options: Any, *,
                 setup: Callable[[Any], None] | None = None, deadline_s: float | None = None,
                 on_lost: Callable[[Any, str], Any]) -> None:
        self.jobs = jobs
        self.work = work
        self.options = options
        self.setup = setup
        self.deadline_s = deadline_s
        self.on_lost = on_lost
        self.workers: list[_Worker] = []

    def _start(self) -> _Worker:
        parent, child = _CONTEXT.Pipe()
        process = _CONTEXT.Process(target=_serve, args=(child, self.setup, self.options, self.work), daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def _replace(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
        worker.conn.close()
        self.workers[self.workers.index(worker)] = self._start()

    def run(self, tasks: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """(task, result) pairs in the order they finish."""
        pending = deque(tasks)
        if not self.workers:
            self.workers = [self._start() for _ in range(min(self.jobs, max(len(pending), 1)))]
        while pending or any(w.busy for w in self.workers):
            for index, worker in enumerate(self.workers):
                if worker.busy or not pending:
                    continue
                if not worker.process.is_alive():
                    self._replace(worker)
                    worker = self.workers[index]
                worker.task, worker.started = pending.popleft(), None
                try:
                    worker.conn.send(worker.task)
                except OSError:
                    pass  # it died meanwhile: its sentinel says so below
            busy = [w for w in self.workers if w.busy]
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=0.5)
            for worker in busy:
                task = worker.task
                if worker.conn in ready:
                    try:
                        result = worker.conn.recv()
                        if isinstance(result, str) and result == STARTED:
                            worker.started = time.monotonic()
                            continue
                        worker.task = None
                    except (EOFError, OSError):
                        result = self.on_lost(task, self._death(worker))
                        self._replace(worker)
                    yield task, result
                elif worker.process.sentinel in ready:
                    result = self.on_lost(task, self._death(worker))
                    self._replace(worker)
                    yield task, result
                elif (self.deadline_s is not None and worker.started is not None
                      and time.monotonic() - worker.started > self.deadline_s):
                    self._replace(worker)
                    yield task, self.on_lost(task, f"still running after {self.deadline_s:.0f} s; stopped")

    @staticmethod
    def _death(worker: _Worker) -> str:
        worker.process.join(timeout=1)
        code = worker.process.exitcode
        return f"the worker process died (exit code {code})" if code is not None else "the worker process vanished"

    def close(self) -> None:
        global _finished_workers_cpu_s
        asked = []
        for worker in self.workers:
            if worker.busy:
                worker.process.kill()  # interrupted: its task is abandoned
            elif worker.process.is_alive():
                try:
                    worker.conn.send(None)
                    asked.append(worker)
                except OSError:
                    pass
        for worker in self.workers:
            try:
                if worker in asked and worker.conn.poll(2):
                    _finished_workers_cpu_s += float(worker.conn.recv())
            except (EOFError, OSError, TypeError, ValueError):
                pass  # it died as it left: its time is not counted
            worker.process.join(timeout=2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self.workers = []

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
