"""One generated program judged three ways: our verdict (bounded), the running kernel's (with the
first line of its judgement), and, where we accept, runs on random inputs that must not fault.

    judgement = judge(shape, seed=7)             # kernel=False where bpf() is not to be asked
    judgement.unsound                            # the kernel refuses what we accept, for no known reason
    judgement.faulted                            # we accepted and a run faulted

A program the kernel refuses and we accept is a soundness problem unless it is one of the `KNOWN`
disagreements marked safe (the kernel lacks precision or support that the program does not need);
each known disagreement has its minimal program in `test_kernel_disagreements.py`."""

from __future__ import annotations

import re
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any

from program_shapes import Shape
from random_inputs import replay

from interp import kernel
from interp.isa.opcodes import PseudoSrc
from verifier.check import check_program
from verifier.fixpoint import Limits

# bounded: a campaign program that the analysis cannot finish quickly is `unknown`, never accepted
LIMITS = Limits(timeout_s=30, max_work=1_000_000, max_unroll_work=20_000, max_memory_mb=1024)

BOUNDS = re.compile(r"unbounded memory access|min value is negative|invalid access to map value|unbounded min value"
                    r"|makes map_value pointer be out of bounds")


@dataclass(frozen=True)
class Known:
    """A disagreement with the kernel that is understood: `direction` kernel-stricter (it refuses what we accept)
    or ours-stricter; for `kinds` of program, where `pattern` matches the kernel's reason (kernel-stricter) or our
    codes joined by commas (ours-stricter) and `text` matches the program. `safe`: a kernel-stricter program is
    safe all the same (the kernel lacks precision or support it does not need); `deliberate`: ours-stricter as
    the README says. `case` names its minimal program in test_kernel_disagreements.py."""

    name: str
    direction: str
    kinds: tuple[str, ...]
    pattern: re.Pattern[str]
    text: re.Pattern[str] | None
    why: str
    safe: bool = True
    deliberate: bool = False
    proved: bool = False  # matches only where z3 refuted an alarm of ours (every kind of program)

    def matches(self, shape: Shape, judgement: "Judgement") -> bool:
        if judgement.disagreement != self.direction:
            return False
        if self.proved:
            return bool(judgement.refuted) and bool(judgement.kernel_reason and self.pattern.search(judgement.kernel_reason))
        if shape.kind not in self.kinds:
            return False
        said = judgement.kernel_reason if self.direction == "kernel-stricter" else ",".join(judgement.codes)
        return bool(said and self.pattern.search(said)) and (self.text is None or bool(self.text.search(shape.text)))


KNOWN: list[Known] = [
    Known("an alarm no run can break", "kernel-stricter", (), re.compile(r"."), None,
          "the abstract state raised an alarm the kernel raises too (a correlation between registers, a bound "
          "through a 32-bit copy, ...); z3 showed no run of the program reaches it and breaks its rule, so it was "
          "dropped: the kernel's domain does not see the correlation", proved=True),
    Known("frozen multi-entry array read", "kernel-stricter", ("frozen-array", "read-only-map"),
          re.compile(r"Unknown error 524"), None,
          "a read at a constant offset of a frozen read-only array of several entries: the kernel tries to fold "
          "it, cannot (array_map_direct_value_addr serves one-entry arrays only) and fails the load with ENOTSUPP"),
    Known("variable-offset stack atomic", "kernel-stricter", ("misaligned-atomics",),
          re.compile(r"^variable offset stack pointer cannot be passed into helper function"), None,
          "an aligned atomic operation on initialised stack at a variable offset: the kernel allows none"),
    Known("nested may_goto jump history", "kernel-stricter", ("may-goto",),
          re.compile(r"^The sequence of \d+ jumps is too complex"), None,
          "nested loops bounded by may_goto: the kernel's jump history of one state overflows"),
    Known("null learnt from a zero register", "kernel-stricter", ("pointer-comparison",),
          re.compile(r"invalid mem access 'map_value_or_null'"), re.compile(r"\br6 = 0$", re.M),
          "a nullable map value compared with a register holding 0: the kernel learns nullness from an "
          "immediate 0 only"),
    Known("constant key the kernel does not see", "kernel-stricter", ("frozen-array", "pointer-comparison"),
          re.compile(r"invalid mem access 'map_value_or_null'"), re.compile(r"call 1\n(?!if r0 == 0)"),
          "an array lookup with a constant key below max_entries, not checked for NULL: the kernel drops the "
          "check only where the key's stack bytes are zero or a spill of the key's own size at a slot's start"),
    Known("constant key the kernel does not see, in a callee", "kernel-stricter", ("stack-pointer-escape",),
          re.compile(r"^R1 (invalid mem access 'scalar'|type=scalar expected=)"),
          re.compile(r"r10 -4\) = [1-9]\n[\s\S]*goto none"),
          "a callee stores a map value into its caller's frame unless the lookup fails, which it cannot (a constant "
          "key below max_entries): the kernel takes the failing path, where the caller's slot keeps a number"),
    Known("callee returns the caller's stack pointer", "kernel-stricter", ("stack-pointer-escape",),
          re.compile(r"^cannot return stack pointer to the caller"), re.compile(r"\br2 = r1$", re.M),
          "a callee returns a pointer into its caller's frame, which outlives the call: the kernel refuses any "
          "stack pointer in r0 at a callee's exit"),
    Known("bytes of a spilled number", "kernel-stricter", ("sign-extension", "narrow-spills"), BOUNDS, None,
          "check knows each byte of a spilled number and the known bits through sign extensions; the kernel "
          "forgets a spill read at another size or offset, or partly overwritten, and bounds movsx by range only"),
    Known("links the kernel drops", "kernel-stricter", ("linked-scalars",), BOUNDS,
          re.compile(r"\br\d = r[78]$|atomic64_fetch_add", re.M),
          "a copy of a register that is itself a copy plus a constant, or fetched from a spill of one: the kernel "
          "drops the link, check keeps it"),
    Known("link dropped by a 32-bit copy", "kernel-stricter", ("linked-scalars",), BOUNDS,
          re.compile(r"^r(\d) \+= -?\d+$(\n.*)*?\nw\d = w\1$", re.M),
          "a 32-bit copy (w0 = w7) of a copy plus a constant (r7 = r6 + 4): the kernel gives the source a new id "
          "(assign_scalar_id_before_mov), so a later test on r7 (32-bit or not) no longer bounds r6; check keeps "
          "the link, and a 32-bit test bounds r6 wherever it bounds r7's 64-bit value"),
    Known("may_goto jumping to itself", "kernel-stricter", ("invalid-encoding", "may-goto"),
          re.compile(r"^infinite loop detected"), re.compile(r"e5 [0-9a-f]{2} ff ff|may_goto -1\b"),
          "a may_goto whose target is itself ends after BPF_MAX_LOOPS passes; the kernel sees the same state "
          "come round and calls it an infinite loop"),
    Known("loop that skips its may_goto", "kernel-stricter", ("may-goto",), re.compile(r"^infinite loop detected"),
          re.compile(r"goto skip\nmay_goto"),
          "a loop bounded by a counter against a bound of at most 255, one of whose paths passes a may_goto: the "
          "kernel compares states at the may_goto loosely and takes the other path for an endless loop"),
    Known("private stacks", "ours-stricter", ("combined-stack",), re.compile(r"^combined-stack-too-large$"), None,
          "Linux 6.13 and later give tracing programs' large frames private stacks where the build allows; check "
          "keeps 512 bytes for every chain of calls (README)", deliberate=True),
    Known("map pointer dereference", "ours-stricter", ("atomic-on-spill", "partial-spills"),
          re.compile(r"^invalid-dereference$"), re.compile(r"\br7 = map\[idx:0\] ll$", re.M),
          "a privileged program may read struct bpf_map through BTF; check refuses it (README)", deliberate=True),
    Known("invalid encoding in dead code", "ours-stricter", ("invalid-encoding",), re.compile(r"^invalid-instruction$"),
          None, "the kernel checks the reserved fields of the instructions it walks only; check refuses an invalid "
          "instruction wherever it is (README)", deliberate=True),
    Known("task pointer as helper memory", "ours-stricter", ("helper-calls",), re.compile(r"^helper-argument$"),
          re.compile(r"call 158\n"),
          "the kernel lets a helper read a task_struct as memory (its BTF size bounds it); check does not model "
          "task_struct and gives it to helpers only where they take a task (README)", deliberate=True),
    Known("bound after a nested loop", "ours-stricter", ("may-goto",), re.compile(r"^map-value-out-of-bounds$"),
          re.compile(r"\binner:"),
          "a counter of an outer loop (`r6 < r8`, r8 at most 255) that holds an inner loop: the kernel walks every "
          "iteration and knows r6 <= 255 after it, check ends one higher"),
]


def known_disagreement(shape: Shape, judgement: "Judgement") -> Known | None:
    return next((known for known in KNOWN if known.matches(shape, judgement)), None)


@dataclass
class Judgement:
    kind: str
    ours: str  # accepted, rejected, unknown, crash, not-a-program
    codes: list[str] = field(default_factory=list)  # our error codes
    first: str | None = None  # our first error, in full
    crash: str | None = None  # the traceback of an exception that escaped check_program
    kernel: str | None = None  # accepted, rejected, setup-error; None: not asked
    kernel_reason: str | None = None
    kernel_insns: int | None = None
    fault: str | None = None  # the fault of a run of an accepted program
    fault_seed: int | None = None
    not_emulated: str | None = None  # why a run could not be followed (unsupported helper, budget)
    runs: int = 0
    check_s: float = 0.0
    known: str | None = None  # the name of the `Known` disagreement this is
    refuted: list[str] = field(default_factory=list)  # codes of our alarms z3 showed no run breaks

    @property
    def disagreement(self) -> str | None:
        """kernel-stricter (it refuses, we accept), ours-stricter (we refuse, it accepts), or None."""
        if self.kernel == "rejected" and self.ours == "accepted":
            return "kernel-stricter"
        if self.kernel == "accepted" and self.ours in ("rejected", "unknown"):
            return "ours-stricter"
        return None

    @property
    def unsound(self) -> bool:
        """The kernel refuses what we accept, and it is not known to be safe."""
        if self.disagreement != "kernel-stricter":
            return False
        known = next((k for k in KNOWN if k.name == self.known), None)
        return known is None or not known.safe or self.faulted

    @property
    def faulted(self) -> bool:
        return self.fault is not None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, [], 0, 0.0) or k in ("ours", "kind")}


def ask_kernel(shape: Shape) -> kernel.KernelVerdict:
    """The kernel's verdict (log level 0: the judgement and statistics, no trace). Raw bytes that name no
    map the program has, or that a `Program` cannot spell, go to the kernel exactly as they stand."""
    program = shape.program()
    if shape.raw is not None:
        refs = [i for i in program.insns if i.is_lddw and i.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE,
                                                                   PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE)]
        if not shape.round_trips or any(program.map_of(i) is None for i in refs):
            return kernel.bytecode_verdict(shape.raw, log_level=0)
    return kernel.kernel_verdict(program, log_level=0)


def judge(shape: Shape, seed: int, *, runs: int = 4, ask: bool = True, limits: Limits = LIMITS) -> Judgement:
    try:
        program = shape.program()
    except Exception as exc:  # text the assembler refuses: a generator's mistake, reported as such
        return Judgement(shape.kind, "not-a-program", first=f"{type(exc).__name__}: {exc}")
    try:
        result = check_program(program, limits=limits)
    except Exception:
        return Judgement(shape.kind, "crash", crash=traceback.format_exc())
    errors = result.errors
    judgement = Judgement(shape.kind, result.verdict, sorted({f.code for f in errors}),
                          str(errors[0]) if errors else result.reason, check_s=round(result.time_s, 4),
                          refuted=sorted({result.alarms[n].code for n, j in result.judgements.items()
                                          if j.status == "refuted"}))
    if ask:
        verdict = ask_kernel(shape)
        judgement.kernel, judgement.kernel_reason = verdict.verdict, verdict.reason
        judgement.kernel_insns = verdict.stats.processed_insns
    if result.verdict == "accepted":
        outcome = replay(program, seed, runs)
        judgement.runs, judgement.not_emulated = outcome.runs, outcome.not_emulated
        if outcome.fault is not None:
            judgement.fault = f"insn {outcome.fault.pc}: {outcome.fault.kind.value}: {outcome.fault.message}"
            judgement.fault_seed = outcome.inputs_seed
    known = known_disagreement(shape, judgement) if judgement.disagreement else None
    judgement.known = known.name if known is not None else None
    return judgement
