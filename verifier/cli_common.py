"""What every `bpfverify` command shares: exit codes, the errors that are bad input, usage errors,
the command's time limit, one-line messages."""

from __future__ import annotations

import argparse
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from interp.asm.common import AsmError
from interp.conformance import TestFileError
from interp.core import CoreError
from interp.faults import ProgramError
from interp.isa.insn import DecodeError
from interp.json_input import JsonInputError
from interp.kprobe import PerfEventError
from interp.loader import LoaderError
from interp.maps import MapError
from interp.rawload import SidecarError
from interp.sources import SourceError
from interp.world import WorldError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

BAD_INPUT = (AsmError, DecodeError, ProgramError, SourceError, TestFileError, LoaderError, SidecarError,
             CoreError, PerfEventError, JsonInputError, WorldError, MapError)
# the time a command has beyond its --timeout to wind down and report, before it is cut short
GRACE_S = 0.5


class UsageError(Exception):
    """Bad command-line usage, reported as one line with exit code 2."""


class TimeLimit(Exception):
    """The command's --timeout passed (signalled from a timer, wherever the command was)."""


@contextmanager
def time_limit(seconds: float, what: str, timeout: float) -> Any:
    """Raise TimeLimit in the command once `seconds` have passed: the backstop that holds even
    where no deadline is checked (loading, translation, a library call). `timeout`: the
    command's --timeout, for the message."""

    def expire(_signum: int, _frame: Any) -> None:
        # raised where the program happens to be: where that swallows exceptions (a garbage
        # collector callback, a __del__), the next alarm in 50 ms raises it again
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        raise TimeLimit(f"{what} ran past the command's {timeout:g} s time limit (raise --timeout)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def one_line(text: str) -> str:
    """`text` as one printable line: control characters from the input are shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


MAX_TIMEOUT_S = 1e6


def positive(name: str, value: float, unit: str) -> None:
    if not value > 0:  # (NaN too)
        raise UsageError(f"{name} {value:g}: give a positive number of {unit}")


def check_timeout(value: float) -> None:
    if not 0 < value <= MAX_TIMEOUT_S:
        raise UsageError(f"--timeout {value:g}: give a number of seconds above 0 and at most {MAX_TIMEOUT_S:g}")


def parse_hex(text: str, what: str) -> bytes:
    cleaned = "".join(text.split())
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise UsageError(f"{what} is not hex bytes: '{text[:40]}'") from None


EXIT_UNKNOWN = 3  # a resource limit reached: the verdict is unknown


def target_btf(args: argparse.Namespace) -> str | None:
    btf = getattr(args, "btf", None)
    if btf is None:
        return "auto"
    if not Path(btf).is_file():
        raise SourceError(f"--btf {btf}: no such file")
    return btf
