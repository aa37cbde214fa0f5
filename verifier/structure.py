"""Rules about the whole program rather than one instruction: its type, size, version, encoding,
relocations, control flow (functions closed, every instruction reachable, no back-edges where
the profile forbids loops, no recursion) and the stack its chain of calls shares. Each breach is
an alarm of a program-level obligation kind, at the instruction it concerns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generator

import networkx as nx

from interp.faults import ProgramError
from interp.flow import function_boundary_problems
from interp.isa.insn import check_fields
from interp.program import Program

from .cfg import ControlFlow, trampoline
from .checker import Alarm
from .obligations import Kind, Obligation
from .profiles import Profile

if TYPE_CHECKING:
    from .fixpoint import Analysis

SEED_KERNEL_VERSION = (4 << 16) | (1 << 8)  # LINUX_VERSION_CODE of 4.1.0
STACK_LIMIT = 512  # bytes a chain of calls shares


def alarm(rule: Kind, pc: int, **facts: Any) -> Alarm:
    return Alarm(Obligation(rule, pc), pc, (), None, facts, definite=True)


def kern_version_target(program: Program, given: int | None) -> int | None:
    """The LINUX_VERSION_CODE a kprobe program's kern_version is compared with: the one given (--kern-version),
    else the object's own `version` section, since the loader of a 4.1 kernel passed that section as the
    program's kern_version and the object was built against the kernel it loads into; None where neither
    says (4.1.0, which a program without a version section does not match)."""
    return given if given is not None else program.kern_version


def program_alarms(program: Program, profile: Profile, kern_version: int | None) -> list[Alarm]:
    """What the loader of the profile's kernel refuses before verifying anything."""
    out = []
    if program.prog_type not in profile.program_types:
        out.append(alarm(Kind.PROGRAM_TYPE, 0, profile=profile.name, prog_type=program.prog_type,
                         kinds=", ".join(sorted(profile.program_types))))
    if program.slots > profile.max_insns:
        out.append(alarm(Kind.PROGRAM_SIZE, 0, slots=program.slots, profile=profile.name, max=profile.max_insns))
    if profile.check_kern_version:
        target = SEED_KERNEL_VERSION if kern_version is None else kern_version
        if program.kern_version != target:
            out.append(alarm(Kind.KERN_VERSION, 0, have=program.kern_version, profile=profile.name, target=target))
    invalid = dict(program.invalid)
    pc = 0
    for insn in program.insns:
        problem = check_fields(insn)
        if problem:
            invalid.setdefault(pc, problem)
        pc += insn.slots
    for pc, reason in sorted(invalid.items()):
        out.append(alarm(Kind.VALID_ENCODING, pc, reason=reason))
    for reloc in program.relocations:
        if not reloc.resolved:
            out.append(alarm(Kind.RELOCATIONS_RESOLVED, reloc.pc, kind=reloc.kind, description=reloc.description))
    return out


def control_flow_error(error: ProgramError) -> Alarm:
    """A program whose control flow cannot be built (a jump outside it, a path off its end)."""
    kind = Kind.REACHABLE if "past the last" in error.reason else Kind.VALID_CONTROL_FLOW
    return alarm(kind, error.pc or 0, text=error.reason)


def flow_alarms(cf: ControlFlow, program: Program, profile: Profile) -> list[Alarm]:
    """Functions closed, every instruction reachable, loops where the profile has them, no recursion."""
    out = [alarm(Kind.VALID_CONTROL_FLOW, pc, text=reason)
           for pc, reason in function_boundary_problems(cf.listing, program.unresolved_pcs)]
    if cf.unreachable:
        out.append(alarm(Kind.REACHABLE, cf.unreachable[0], count=len(cf.unreachable)))
    if not profile.allow_loops:
        for fn in cf.functions.values():
            for tail, head in fn.back_edges:
                out.append(alarm(Kind.NO_BACK_EDGE, fn.blocks[tail].end, head=head, profile=profile.name))
    try:  # (calls of unresolved externs are not in the call graph: they are reported as relocations)
        cycle = [a for a, _ in nx.find_cycle(cf.call_graph)]
    except nx.NetworkXNoCycle:
        cycle = []
    if cycle:
        out.append(alarm(Kind.NO_RECURSION, cycle[0], cycle=cycle))
    return out


BLOCKING = frozenset({Kind.NO_BACK_EDGE, Kind.NO_RECURSION, Kind.VALID_CONTROL_FLOW})  # no analysis past these


def stack_alarms(analysis: "Analysis") -> list[Alarm]:
    """The stacks of a chain of calls share 512 bytes (each frame rounded up to 32). Linux 6.13
    puts large frames of some tracing programs on private stacks instead, but only where the
    kernel build and the JIT allow it; the shared 512 bytes hold on every build."""
    cf = analysis.cf
    use = {entry: (-analysis.stack_use.get(entry, 0) + 31) // 32 * 32 for entry in cf.functions}
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
    return [alarm(Kind.COMBINED_STACK, 0, total=total)] if total > STACK_LIMIT else []


__all__ = ["BLOCKING", "SEED_KERNEL_VERSION", "control_flow_error", "kern_version_target", "flow_alarms", "program_alarms", "stack_alarms"]
