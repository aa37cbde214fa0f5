"""The clock of every time limit: the process' CPU time (all its threads, z3's included), not the
wall clock, so that a program checked on a busy machine gets the verdict it gets on an idle one.
Deadlines (`Limits.deadline`, `SearchLimits.deadline`) are values of `now()`."""

from __future__ import annotations

import time


def now() -> float:
    return time.process_time()
