"""Our verdict beside the running kernel's: the agreement of a `ProgramResult` with a
`KernelVerdict`, and the words both commands (`check --compare-kernel`, `corpus`) print for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from interp.kernel import ACCEPTED, REJECTED, SETUP_ERROR, KernelVerdict

from .check import ProgramResult

AGREE = "agree"
OURS_STRICTER = "ours-stricter"  # we reject what the kernel accepts: a loss of precision
KERNEL_STRICTER = "kernel-stricter"  # we accept what the kernel rejects: a soundness question
OURS_UNKNOWN = "ours-unknown"  # a resource bound stopped us
NOT_LOADED = "not-loaded"  # the kernel was not asked: the program cannot be prepared for it

EXPLANATIONS = {
    OURS_STRICTER: "bpfverify rejects a program the kernel accepts",
    KERNEL_STRICTER: "bpfverify accepts a program the kernel rejects",
    OURS_UNKNOWN: "bpfverify reached a resource bound",
    NOT_LOADED: "the kernel could not be asked",
}


def agreement(ours: str, kernel: str) -> str:
    """How our verdict ("accepted", "rejected", "unknown") stands to the kernel's."""
    if kernel == SETUP_ERROR:
        return NOT_LOADED
    if ours == "unknown":
        return OURS_UNKNOWN
    if (ours == "accepted") == (kernel == ACCEPTED):
        return AGREE
    return OURS_STRICTER if kernel == ACCEPTED else KERNEL_STRICTER


@dataclass
class Comparison:
    ours: ProgramResult
    kernel: KernelVerdict

    @property
    def agreement(self) -> str:
        return agreement(self.ours.verdict, self.kernel.verdict)

    @property
    def disagrees(self) -> bool:
        return self.agreement in (OURS_STRICTER, KERNEL_STRICTER)

    def to_json(self) -> dict[str, Any]:
        return {**self.ours.to_json(), "kernel": self.kernel.to_json(), "agreement": self.agreement}


def kernel_summary(verdict: KernelVerdict) -> str:
    """One line: the kernel's verdict, why, and what the verification cost it."""
    stats = verdict.stats
    costs = []
    if stats.processed_insns is not None:
        costs.append(f"processed {stats.processed_insns} insns")
    if stats.total_states is not None:
        costs.append(f"{stats.total_states} states")
    if stats.verification_time_us is not None:
        costs.append(f"{stats.verification_time_us} us")
    cost = f" ({', '.join(costs)})" if costs else ""
    if verdict.verdict == ACCEPTED:
        return f"accepted{cost}"
    if verdict.verdict == REJECTED:
        return f"rejected ({verdict.errno_name}): {verdict.reason}{cost}"
    return f"not loaded: {verdict.reason}"


def comparison_lines(comparison: Comparison) -> list[str]:
    """The lines `check --compare-kernel` adds under a program's own verdict."""
    lines = [f"  kernel: {kernel_summary(comparison.kernel)}"]
    if comparison.disagrees:
        lines.append(f"  DISAGREEMENT ({comparison.agreement}): {EXPLANATIONS[comparison.agreement]}")
    return lines
