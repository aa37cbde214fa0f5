"""What every `bpfverify` command shares: exit codes, the errors that are bad input, usage errors,
the command's time limit, one-line messages."""

from __future__ import annotations

import argparse
import signal
import sys
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from interp.sources import SourceError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

# The errors that are bad input, by the module that defines each. A command imports only the
# modules it needs (so that it starts fast), and an error of a module it never imported cannot
# have been raised: `is_bad_input` looks only at the modules already loaded.
BAD_INPUT_ERRORS = (("interp.asm.common", "AsmError"), ("interp.isa.insn", "DecodeError"),
                    ("interp.faults", "ProgramError"), ("interp.sources", "SourceError"),
                    ("interp.conformance", "TestFileError"), ("interp.loader", "LoaderError"),
                    ("interp.rawload", "SidecarError"), ("interp.core", "CoreError"),
                    ("interp.kprobe", "PerfEventError"), ("interp.json_input", "JsonInputError"),
                    ("interp.world", "WorldError"), ("interp.maps", "MapError"))


def is_bad_input(exc: BaseException) -> bool:
    """Whether `exc` says the input cannot be used (one line, exit 2), rather than a fault of ours."""
    if isinstance(exc, zlib.error):  # a compressed ELF section that does not decompress (pyelftools raises it)
        return True
    for module_name, class_name in BAD_INPUT_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, class_name)):
            return True
    return False


# the time a command has beyond its --timeout to wind down and report, before it is cut short
GRACE_S = 0.5
KERN_VERSION_HELP = ("linux-4.1: the target's LINUX_VERSION_CODE, which a kprobe program's kern_version must equal "
                     "(e.g. 0x40100; default: each object's own version section, 0x40100 where it has none)")


class UsageError(Exception):
    """Bad command-line usage, reported as one line with exit code 2."""


class TimeLimit(Exception):
    """The command's --timeout passed (signalled from a timer, wherever the command was)."""


# a command that waits rather than computes (a pipe that never ends, a slow disk) is cut short on
# the wall clock after this many times its --timeout of CPU time, and a few seconds more
WALL_FACTOR, WALL_EXTRA_S = 3, 5.0


@contextmanager
def time_limit(seconds: float, what: str, timeout: float) -> Any:
    """Raise TimeLimit in the command once it has used `seconds` of CPU time (so that how busy the
    machine is never decides a verdict), or once it has waited `WALL_FACTOR` times as long on the
    wall clock: the backstop that holds even where no deadline is checked (loading, translation, a
    library call). `timeout`: the command's --timeout, for the message."""
    wall = WALL_FACTOR * seconds + WALL_EXTRA_S
    timers = ((signal.ITIMER_PROF, signal.SIGPROF, seconds,
               f"{what} ran past the command's {timeout:g} s time limit (raise --timeout)"),
              (signal.ITIMER_REAL, signal.SIGALRM, wall,
               f"{what} waited {wall:g} s of wall time, more than {WALL_FACTOR} times the command's {timeout:g} s "
               "time limit of CPU time (raise --timeout)"))

    def expire(timer: int, message: str) -> Any:
        def handler(_signum: int, _frame: Any) -> None:
            # raised where the program happens to be: where that swallows exceptions (a garbage
            # collector callback, a __del__), the next signal in 50 ms raises it again
            signal.setitimer(timer, 0.05)
            raise TimeLimit(message)
        return handler

    def unraisable(args: Any) -> None:
        # a TimeLimit that a __del__ swallowed is raised again by the next signal: not worth the
        # traceback Python would print for it
        if not isinstance(args.exc_value, TimeLimit):
            earlier_hook(args)

    earlier_hook, sys.unraisablehook = sys.unraisablehook, unraisable
    previous = [signal.signal(number, expire(timer, kind)) for timer, number, _, kind in timers]
    for timer, _, after, _ in timers:
        signal.setitimer(timer, after)
    try:
        yield
    finally:
        for (timer, number, _, _), handler in zip(timers, previous):
            signal.setitimer(timer, 0)
            signal.signal(number, handler)
        sys.unraisablehook = earlier_hook


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


def kern_version_option(text: str | None) -> int | None:
    """--kern-version: the target's LINUX_VERSION_CODE (a 32-bit number), or None when not given."""
    if not text:
        return None
    try:
        value = int(text, 0)
    except ValueError:
        raise UsageError(f"--kern-version {text} is not an integer (e.g. 0x40100 for 4.1.0)") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise UsageError(f"--kern-version {text} is out of range: a LINUX_VERSION_CODE is from 0 to 0xffffffff")
    return value


def target_btf(args: argparse.Namespace) -> str | None:
    btf = getattr(args, "btf", None)
    if btf is None:
        return "auto"
    if not Path(btf).is_file():
        raise SourceError(f"--btf {btf}: no such file")
    return btf
