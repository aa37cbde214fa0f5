"""The bounds of one z3 search, apart from the search itself: the analysis sets them without
loading z3, which only a search needs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SearchLimits:
    unroll: int = 64  # times one path may pass the same instruction in the same frame
    steps: int = 200_000  # instructions executed symbolically, for one alarm
    paths: int = 4_096  # paths followed to their end
    rlimit: int = 2_000_000  # z3 resource units per query (deterministic)
    timeout_ms: int = 5_000  # per query, a safety net behind rlimit
    deadline: float | None = None  # clock.now() when the whole check must end
