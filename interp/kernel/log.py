"""Reading the kernel verifier's log: its closing statistics and the line that says why a
program was refused."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

_PROCESSED = re.compile(r"^processed (\d+) insns \(limit \d+\) max_states_per_insn (\d+) total_states (\d+) "
                        r"peak_states (\d+) mark_read (\d+)")
_TIME = re.compile(r"^verification time (\d+) usec")
_STACK = re.compile(r"^stack depth ([\d+]+)")
# lines that trace the walk rather than judge it: "12: (bf) r2 = r10", "12: R1=ctx()",
# "; source @ file.c:3", "from 5 to 7: ...", the liveness table of log level 2
_TRACE = re.compile(r"^(\s*\d+: |; |from \d+ to \d+|func#\d+ @\d+|Live regs before insn:|\s*$)")


@dataclass
class LogStats:
    """The verifier's own account of its work (log level BPF_LOG_STATS); None where absent."""

    processed_insns: int | None = None
    max_states_per_insn: int | None = None
    total_states: int | None = None
    peak_states: int | None = None
    mark_read: int | None = None
    verification_time_us: int | None = None
    stack_depth: str | None = None  # per subprogram, '+'-separated as the kernel prints it

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _is_stats(line: str) -> bool:
    return bool(_PROCESSED.match(line) or _TIME.match(line) or _STACK.match(line))


def parse_stats(log: str) -> LogStats:
    stats = LogStats()
    for line in log.splitlines():
        if match := _PROCESSED.match(line):
            (stats.processed_insns, stats.max_states_per_insn, stats.total_states, stats.peak_states,
             stats.mark_read) = (int(group) for group in match.groups())
        elif match := _TIME.match(line):
            stats.verification_time_us = int(match.group(1))
        elif match := _STACK.match(line):
            stats.stack_depth = match.group(1)
    return stats


def first_reason(log: str) -> str | None:
    """The first line of the verifier's judgement: what follows the last traced instruction
    (at log level 1 and 2 the log walks the failing path first), the statistics left out."""
    lines = [line for line in log.splitlines() if not _is_stats(line)]
    last_trace = max((i for i, line in enumerate(lines) if _TRACE.match(line) and line.strip()), default=-1)
    judged = [line.strip() for line in lines[last_trace + 1:] if line.strip()]
    if judged:
        return judged[0]
    remaining = [line.strip() for line in lines if line.strip()]
    return remaining[-1] if remaining else None
