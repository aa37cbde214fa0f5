"""The running Linux kernel as oracle and target: load a `Program` with its maps through `bpf()`
and read the verifier's verdict, log and statistics (`load`), read maps back (`maps`), and attach
a loaded kprobe program to a probe through a perf event as the seed does (`probes`)."""

from .load import (
    ACCEPTED,
    REJECTED,
    SETUP_ERROR,
    KernelUnavailable,
    KernelVerdict,
    LoadedProgram,
    bytecode_verdict,
    kernel_verdict,
    load_program,
    require_kernel,
    unavailable_reason,
)
from .log import LogStats, first_reason, parse_stats

__all__ = ["ACCEPTED", "REJECTED", "SETUP_ERROR", "KernelUnavailable", "KernelVerdict", "LoadedProgram", "LogStats",
           "bytecode_verdict", "first_reason", "kernel_verdict", "load_program", "parse_stats", "require_kernel", "unavailable_reason"]
