"""Profiles: the rules of one kernel. A profile names the instructions it supports, its limits,
and its program types, each an ops table like the seed's `bpf_verifier_ops`: the helpers the
type may call and which context accesses are valid."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from interp.helper_ids import HELPER_IDS, HELPER_NAMES
from interp.helper_sets import linux_6_18
from interp.helpers import ArgType, Helper, HelperRegistry
from interp.isa.opcodes import JmpOp, PseudoSrc
from interp.isa.ops import (
    Alu,
    Atomic,
    AtomicKind,
    Branch,
    Jump,
    Load,
    LoadBtfRef,
    LoadFuncRef,
    LoadMapRef,
    LocalCall,
    MayGoto,
    Op,
    Swap,
    SwapKind,
)
from interp.kprobe_helpers import SEED_ARGS, kprobe_helpers
from interp.map_kinds import (
    HELPER_TAKES_ONLY,
    MAP_SERVES_ONLY,
    map_helper_mismatch,
    map_type_name,
)
from interp.progtypes import KPROBE, PROGRAM_TYPES, ProgramType


@dataclass(frozen=True)
class ProgramTypeOps:
    """A program type (its context: `interp.progtypes`) under a profile: the helpers it may call."""

    type: ProgramType
    helpers: frozenset[str]
    gpl_only: frozenset[str] | None = None  # the type's GPL-only helpers; None: as the helper records say
    refused: dict[str, str] = field(default_factory=dict)  # offered, but refused whatever the arguments: why

    @property
    def name(self) -> str:
        return self.type.name

    @property
    def context_name(self) -> str:
        return self.type.context_name


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    max_insns: int
    program_types: dict[str, ProgramTypeOps]
    allow_loops: bool
    allow_local_calls: bool
    v4_instructions: bool  # sdiv/smod, movsx, sign-extending loads, bswap, gotol (Linux 6.6)
    jmp32: bool  # the JMP32 class (Linux 5.1)
    extra_jumps: bool  # jlt, jle, jslt, jsle (Linux 4.14)
    fetch_atomics: bool  # atomics other than add, and fetch forms (Linux 5.12)
    variable_stack_access: bool
    check_kern_version: bool
    array_lookup_non_null: bool  # a constant in-range key into an array map cannot miss
    may_goto: bool = False  # the may_goto instruction (Linux 6.9)
    helper_args: dict[str, tuple[ArgType, ...]] = field(default_factory=dict)  # overrides
    max_call_depth: int = 8
    complexity_limit: int | None = None  # instructions the kernel's verifier processes before it refuses
    # findings that are warnings for the privileged programs the profile verifies (errors under --strict,
    # the rules for unprivileged programs): the kernel lets such programs read stack they did not write
    warnings: frozenset[str] = frozenset()
    # alarms z3 shows no run can break are dropped (a profile that follows one kernel's own analysis
    # exactly keeps them, with z3's answer beside them)
    solver_refutes: bool = True
    # the analysis that decides the program: "fixpoint" (verifier.fixpoint, the modern kernels' rules over
    # ranges and tnums) or "linux-4.1" (verifier.linux41: the 4.1 verifier's own domain and walk of paths)
    analysis: str = "fixpoint"

    def unsupported(self, op: Op) -> str | None:
        """Why the profile's kernel does not know the operation `op`, or None."""
        if isinstance(op, Jump) and op.long and not self.jmp32:
            return "the JMP32 instruction class arrived in Linux 5.1"
        if isinstance(op, Branch):
            if op.width == 32 and not self.jmp32:
                return "the JMP32 instruction class arrived in Linux 5.1"
            if op.cond in (JmpOp.JLT, JmpOp.JLE, JmpOp.JSLT, JmpOp.JSLE) and not self.extra_jumps:
                return "jlt, jle, jslt and jsle arrived in Linux 4.14"
        if isinstance(op, LocalCall) and not self.allow_local_calls:
            return "calls of local functions (bpf-to-bpf calls) arrived in Linux 4.16"
        if not self.v4_instructions:
            if isinstance(op, Alu) and op.signed:
                return "signed division and modulo arrived in Linux 6.6"
            if isinstance(op, Alu) and op.extend:
                return "sign-extending moves arrived in Linux 6.6"
            if isinstance(op, Load) and op.signed:
                return "sign-extending loads arrived in Linux 6.6"
            if isinstance(op, Swap) and op.kind == SwapKind.SWAP:
                return "unconditional byte swaps arrived in Linux 6.6"
            if isinstance(op, Jump) and op.long:
                return "gotol arrived in Linux 6.6"
        if isinstance(op, MayGoto) and not self.may_goto:
            return "may_goto arrived in Linux 6.9"
        if isinstance(op, Atomic) and (op.kind != AtomicKind.ADD or op.fetch) and not self.fetch_atomics:
            return "atomic operations other than add arrived in Linux 5.12"
        if isinstance(op, (LoadMapRef, LoadFuncRef, LoadBtfRef)) and self.name == "linux-4.1" and (
                not isinstance(op, LoadMapRef) or op.pseudo != PseudoSrc.MAP_FD):
            return "only map-fd pseudo loads existed in Linux 4.1"
        return None


def _probed(program_type: ProgramType) -> "ProgramTypeOps":
    """A program type of the running kernel, its helpers as probed (interp/data/linux-6.18-helpers.json)."""
    helpers = linux_6_18().types[program_type.name]
    return ProgramTypeOps(program_type, helpers.names(),
                          gpl_only=frozenset(HELPER_NAMES[i] for i, gpl in helpers.allowed.items() if gpl),
                          refused={HELPER_NAMES[i]: reason for i, reason in helpers.refused.items()})


LINUX_6_18 = Profile(
    name="linux-6.18",
    description="the running kernel (Linux 6.18): its kprobe helper set, bounded loops, 1M instructions",
    max_insns=1_000_000,
    program_types={
        # the helper sets are the running kernel's, probed (it refuses probe_write_user and override_return:
        # "program of this type cannot use helper" for both, from lockdown and CONFIG_BPF_KPROBE_OVERRIDE)
        name: _probed(program_type) for name, program_type in PROGRAM_TYPES.items()
    },
    allow_loops=True,
    complexity_limit=1_000_000,  # BPF_COMPLEXITY_LIMIT_INSNS
    allow_local_calls=True,
    v4_instructions=True,
    jmp32=True,
    extra_jumps=True,
    fetch_atomics=True,
    variable_stack_access=True,
    check_kern_version=False,
    array_lookup_non_null=True,
    may_goto=True,
    warnings=frozenset({"stack-uninitialised-read"}),
)

LINUX_4_1 = Profile(
    name="linux-4.1",
    description="the seed (Linux 4.1): its verifier's own domain, six helpers, no back-edges, 4095 instructions, "
                "kern_version must match",
    max_insns=4095,  # bpf_prog_load refuses insn_cnt >= BPF_MAXINSNS (4096)
    program_types={
        "kprobe": ProgramTypeOps(KPROBE, frozenset(SEED_ARGS) | {"ktime_get_ns", "trace_printk"}),
    },
    allow_loops=False,
    allow_local_calls=False,
    v4_instructions=False,
    jmp32=False,
    extra_jumps=False,
    fetch_atomics=False,
    variable_stack_access=False,
    check_kern_version=True,
    array_lookup_non_null=False,
    helper_args=dict(SEED_ARGS),
    solver_refutes=False,
    max_call_depth=1,
    analysis="linux-4.1",
)

PROFILES = {p.name: p for p in (LINUX_6_18, LINUX_4_1)}
DEFAULT_PROFILE = LINUX_6_18.name


def helper_registry(ops: ProgramTypeOps | None = None) -> HelperRegistry:
    """The helper records; with `ops`, each GPL-only exactly where that program type's helper is."""
    registry = kprobe_helpers()
    if ops is not None and ops.gpl_only is not None:
        for helper_id, helper in list(registry.helpers.items()):
            registry.helpers[helper_id] = replace(helper, gpl_only=helper.name in ops.gpl_only)
    return registry


def allowed(profile: Profile, prog_type: str, helper: Helper) -> bool:
    ops = profile.program_types.get(prog_type)
    return ops is not None and helper.name in ops.helpers


__all__ = ["DEFAULT_PROFILE", "HELPER_IDS", "HELPER_TAKES_ONLY", "LINUX_4_1", "LINUX_6_18", "MAP_SERVES_ONLY",
           "PROFILES", "Profile", "ProgramTypeOps", "allowed", "helper_registry", "map_helper_mismatch", "map_type_name"]
