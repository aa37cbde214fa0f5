"""The verifier's entry point: load -> CFG -> analyse -> a verdict with findings and the abstract
state at every instruction.

    from interp.sources import read_program
    from verifier.check import check_program
    result = check_program(read_program(path).select("kprobe/sys_write"), profile="linux-6.18")
    result.verdict            # "accepted", "rejected" or "unknown"
    result.findings           # [Finding(pc, code, message, source)]
    result.states[pc]         # the abstract State before instruction pc
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Generator

from interp.faults import ProgramError
from interp.program import Program

from .analysis import Analysis, Limits
from .cfg import trampoline
from .errors import Code, Finding, ResourceLimit
from .profiles import PROFILES, Profile, helper_registry
from .state import State

SEED_KERNEL_VERSION = (4 << 16) | (1 << 8)  # LINUX_VERSION_CODE of 4.1.0


@dataclass
class ProgramResult:
    program: Program
    profile: str
    verdict: str  # "accepted", "rejected", "unknown"
    findings: list[Finding] = field(default_factory=list)
    states: dict[int, State] = field(default_factory=dict)
    time_s: float = 0.0
    work: int = 0
    reason: str | None = None  # why the verdict is unknown

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "section": self.program.section, "name": self.program.name, "prog_type": self.program.prog_type,
            "verdict": self.verdict, "errors": [f.to_json() for f in self.findings],
            "stats": {"insns": self.program.slots, "time_s": round(self.time_s, 4), "steps": self.work},
        }
        if self.reason:
            out["reason"] = self.reason
        return out


def _structural(program: Program, profile: Profile, kern_version: int | None) -> list[Finding]:
    findings = []
    if program.prog_type not in profile.program_types:
        kinds = ", ".join(sorted(profile.program_types))
        findings.append(Finding(0, Code.PROGRAM_TYPE, f"{profile.name} does not load {program.prog_type} programs "
                                f"(it loads {kinds}); choose another profile"))
    if program.slots > profile.max_insns:
        findings.append(Finding(0, Code.PROGRAM_TOO_LARGE, f"the program has {program.slots} instructions; "
                                f"{profile.name} loads at most {profile.max_insns}; split it into tail-called programs"))
    if profile.check_kern_version:
        target = SEED_KERNEL_VERSION if kern_version is None else kern_version
        if program.kern_version != target:
            have = "no version section" if program.kern_version is None else f"kern_version {program.kern_version:#x}"
            findings.append(Finding(0, Code.KERN_VERSION, f"the program declares {have}, but {profile.name} "
                                    f"requires kern_version {target:#x} (the target's LINUX_VERSION_CODE; set it with "
                                    "--kern-version or in the object's version section)"))
    for reloc in program.relocations:
        if not reloc.resolved:
            findings.append(Finding(reloc.pc, Code.UNRESOLVED_RELOCATION, f"unresolved {reloc.kind} relocation: "
                                    f"{reloc.description}; the kernel cannot load the program as it is"))
    return findings


def check_program(program: Program, profile: str | Profile = "linux-6.18", arch: str = "x86_64",
                  kern_version: int | None = None, limits: Limits | None = None) -> ProgramResult:
    start = time.monotonic()
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    result = ProgramResult(program, prof.name, "rejected")
    findings = _structural(program, prof, kern_version)
    ops = prof.program_types.get(program.prog_type)
    analysis = None
    if ops is not None and program.slots <= prof.max_insns:
        try:
            analysis = Analysis(program, prof, arch, ops, helper_registry(), limits or Limits())
        except ResourceLimit as exc:  # the deadline passed while the CFG was built
            result.verdict, result.reason = "unknown", str(exc)
        except ProgramError as exc:
            findings.append(Finding(exc.pc or 0, Code.UNREACHABLE if "past the last" in exc.reason else Code.INVALID_JUMP,
                                    exc.reason))
        if analysis is not None:
            cf = analysis.cf
            if cf.unreachable:
                pc = cf.unreachable[0]
                findings.append(Finding(pc, Code.UNREACHABLE, f"insn {pc} can never run ({len(cf.unreachable)} "
                                        "unreachable instructions); remove dead code"))
            for fn in cf.functions.values():
                if not prof.allow_loops:
                    for tail, head in fn.back_edges:
                        jump = fn.blocks[tail].end
                        findings.append(Finding(jump, Code.BACK_EDGE, f"back-edge from insn {jump} to {head}: "
                                                f"{prof.name} allows no loops; unroll the loop"))
            import networkx as nx

            try:  # (calls of unresolved externs are not in the call graph: they are reported above)
                cycle = [a for a, _ in nx.find_cycle(cf.call_graph)]
            except nx.NetworkXNoCycle:
                cycle = []
            if cycle:
                findings.append(Finding(cycle[0], Code.RECURSION, f"functions {cycle} call each other; recursion is "
                                        "not allowed: turn it into a bounded loop"))
            blocking = {Code.BACK_EDGE, Code.RECURSION}
            if not any(f.code in blocking for f in findings):
                try:
                    analysis.run()
                    _check_stack_depth(analysis)
                except ResourceLimit as exc:
                    result.verdict, result.reason = "unknown", str(exc)
                except (MemoryError, RecursionError):
                    result.verdict, result.reason = "unknown", "the analysis ran out of memory (raise --max-memory)"
                findings.extend(analysis.findings.values())
                result.states = analysis.states
                result.work = analysis.work
    result.findings = sorted(findings, key=lambda f: (f.pc, f.code))
    if result.verdict != "unknown":
        result.verdict = "rejected" if result.findings else "accepted"
    elif result.findings:
        result.verdict = "rejected"  # what was found is found, whatever else is unknown
    result.time_s = time.monotonic() - start
    return result


TAIL_CALL = 12
PRIVATE_STACK_MIN = 64  # the kernel's BPF_PRIV_STACK_MIN_SIZE
PRIVATE_STACK_TYPES = ("kprobe", "tracepoint", "raw_tracepoint", "perf_event")


def _check_stack_depth(analysis: Analysis) -> None:
    """The stacks of a chain of calls share 512 bytes (each frame rounded up to 32)."""
    cf = analysis.cf
    use = {entry: (-analysis.stack_use.get(entry, 0) + 31) // 32 * 32 for entry in cf.functions}
    tail_calls = any(insn.is_call and insn.src == 0 and insn.imm == TAIL_CALL for insn in analysis.program.insns)
    if (analysis.profile.private_stacks and analysis.arch == "x86_64" and not tail_calls
            and analysis.ops.name in PRIVATE_STACK_TYPES):
        # such a frame lives apart: it only has to fit in 512 bytes itself, which every frame does
        # (the kernel decides on the frame rounded up to 16 bytes, as its JIT lays it out)
        use = {entry: 0 if (-analysis.stack_use.get(entry, 0) + 15) // 16 * 16 >= PRIVATE_STACK_MIN else size
               for entry, size in use.items()}
    deepest: dict[int, int] = {}

    def depth(entry: int, path: frozenset[int]) -> Generator[Any, int, int]:
        if entry in deepest:
            return deepest[entry]
        below = 0
        for callee in cf.call_graph.successors(entry):
            if callee in path:
                continue  # recursion is reported on its own
            below = max(below, (yield depth(callee, path | {entry})))
        deepest[entry] = use[entry] + below
        return deepest[entry]

    total = trampoline(depth(0, frozenset()))
    if total > 512:
        analysis.report(0, Code.STACK_DEPTH, f"the deepest chain of calls uses {total} bytes of stack; "
                        "together they may use at most 512; move large buffers into a per-CPU array map")
