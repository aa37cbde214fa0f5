"""The interpreter: each function of a program is translated once into Python source, with the
registers as local variables, and compiled; running a program is calling that code.

The arithmetic in the generated source is produced by `semantics` through its `SourceBackend`,
so the interpreter executes the same definition that the verifier encodes in z3."""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field
from typing import Any, Callable

from . import semantics
from .faults import FaultKind, ProgramError, VmFault
from .flow import (
    Listing,
    check_control_flow,
    function_blocks,
    function_body,
    function_entries,
    maybe_uninitialised,
    regs_read,
    successors,
)
from .helpers import ArgType, HelperExit, HelperRegistry, conformance_helpers
from .isa.insn import Insn
from .isa.opcodes import MAY_GOTO_BUDGET, STACK_SIZE, PseudoSrc
from .isa.ops import (
    Alu,
    Atomic,
    AtomicKind,
    Branch,
    Call,
    CallIndirect,
    Exit,
    KfuncCall,
    Load,
    LoadBtfRef,
    LoadFuncRef,
    LoadImm64,
    LoadMapRef,
    LocalCall,
    MayGoto,
    Neg,
    Op,
    PacketLoad,
    Reg,
    Store,
    Swap,
)
from .memory import (
    MASK64,
    STACK_BASE,
    STACK_STRIDE,
    AddressSpace,
    Region,
    RegionKind,
)

MAX_CALL_FRAMES = 8  # the kernel's MAX_CALL_FRAMES
DEFAULT_BUDGET = 100_000_000
# A function longer than this is translated in segments of about SEGMENT_INSNS instructions, each
# its own Python function: compiling one Python function costs more than linear time and memory
# in its length (a 1M-instruction function took minutes and gigabytes), segments cost linear.
SEGMENTED_FUNCTION = 20_000
SEGMENT_INSNS = 4096
# what a segment hands on to the next (r10 never changes)
_CARRIED = ", ".join(f"r{i}" for i in range(10)) + ", mg"
_UNIT_BREAK = "#<unit>\n"  # separates the pieces of source compiled apart

_SB = semantics.SourceBackend()
_STACK_ACCESSORS: dict[str, Any] = {}
for _size, _code in ((1, "B"), (2, "H"), (4, "I"), (8, "Q")):
    _STACK_ACCESSORS[f"_u{_size}"] = struct.Struct("<" + _code).unpack_from
    _STACK_ACCESSORS[f"_p{_size}"] = struct.Struct("<" + _code).pack_into
_INT = semantics.IntBackend()

# resolve_lddw(pc, insn) -> the 64-bit value a pseudo 64-bit load (map reference, ...) produces
LddwResolver = Callable[[int, Insn], int]


@dataclass
class RunResult:
    r0: int | None
    insns_executed: int
    fault: VmFault | None = None
    stopped_by: HelperExit | None = None  # a helper that ended the program early (unwind, tail call)

    def to_json(self) -> dict[str, Any]:
        return {
            "r0": self.r0,
            "insns_executed": self.insns_executed,
            "fault": self.fault.to_json() if self.fault else None,
        }


def _cut_blocks(blocks: dict[int, list[int]], cuts: set[int]) -> dict[int, list[int]]:
    """`blocks` with a new block starting at each pc of `cuts` inside one."""
    out: dict[int, list[int]] = {}
    for leader, pcs in blocks.items():
        start = 0
        for i, pc in enumerate(pcs):
            if i and pc in cuts:
                out[pcs[start]] = pcs[start:i]
                start = i
        out[pcs[start]] = pcs[start:]
    return out


@dataclass
class _Function:
    entry: int
    body: list[int]
    blocks: dict[int, list[int]]  # leader -> pcs (flow.function_blocks)
    uninit: dict[int, int]
    block_of: dict[int, int] = field(default_factory=dict)  # pc -> leader
    remaining: dict[int, int] = field(default_factory=dict)  # pc -> insns after it in its block
    counted_loops: dict[int, tuple[list[int], int]] = field(default_factory=dict)  # leader -> (pcs, size)


class Machine:
    """A program translated for execution, with its address space and helpers."""

    def __init__(
        self,
        insns: list[Insn],
        helpers: HelperRegistry | None = None,
        *,
        budget: int = DEFAULT_BUDGET,
        resolve_lddw: LddwResolver | None = None,
        entry_args: int = 1,
        space: AddressSpace | None = None,
        trace: Callable[[int, tuple], None] | None = None,
        observe: Callable[[int, int, tuple], None] | None = None,
    ) -> None:
        self.listing = Listing.of(insns)
        check_control_flow(self.listing)
        self.helpers = helpers if helpers is not None else conformance_helpers()
        self.budget = budget
        self.space = space if space is not None else AddressSpace()
        self.runtime: Any = None  # the runtime (maps, kernel memory, ...) helpers act on
        self._trace = trace
        # called before each instruction with (pc, call depth, r0..r10): what a run looks like
        # where the analysis states its invariant; nothing is emitted for it when None
        self._observe = observe
        self._resolve_lddw = resolve_lddw
        self._frames: list[Region | None] = [None] * MAX_CALL_FRAMES
        self.entry_args = entry_args
        self._segment: tuple[int, int] | None = None  # pcs of the segment being translated
        self._alu_lines: dict[Op, list[str]] = {}  # ALU operations translate alike wherever they are
        self.source = self._translate()
        namespace: dict[str, Any] = dict(semantics.SOURCE_RUNTIME)
        namespace.update(
            VmFault=VmFault,
            HelperExit=HelperExit,
            _ldc=self.space.load_caching,
            _stc=self.space.store_caching,
            _atomic=self._atomic,
            _ops=self.listing.ops,
            _helper=self._call_helper,
            _helper_calling_back=self._call_helper_calling_back,
            _push=self._push_frame,
            _pop=self._pop_frame,
            _fault=_fault,
            _budget_fault=self._budget_fault,
            _budget=budget,
            _trace=trace,
            _observe=observe,
            _bisect=bisect.bisect_right,
            **_STACK_ACCESSORS,
        )
        for unit in self._units:  # compiled apart: see SEGMENTED_FUNCTION
            exec(compile(unit, "<bpf-program>", "exec"), namespace)
        self._functions = {entry: namespace[f"_fn_{entry}"] for entry in function_entries(self.listing)}
        # (instructions executed, call depth) of each helper call running now that may call back
        self._calling_back: list[list[int]] = []
        self._entry: Callable[..., tuple[int, int]] = namespace["_fn_0"]

    # -- running ----------------------------------------------------------
    def run(self, r1: int = 0, r2: int | None = None) -> RunResult:
        """Run from pc 0 with r1 (and r2) set; r3..r9 and r0 start uninitialised."""
        try:
            if r2 is None and self.entry_args >= 2:
                r2 = 0
            r0, executed = self._entry(r1 & MASK64, None if r2 is None else r2 & MASK64, None, None, None, 0, 0, 0)
        except HelperExit as stop:
            return RunResult(stop.r0, stop.executed or 0, stopped_by=stop)
        except VmFault as fault:
            fault.insn = self.listing.by_pc.get(fault.pc)
            return RunResult(None, fault.executed or 0, fault)
        finally:
            # frames left by a fault or an early exit must not outlive the run
            for depth, frame in enumerate(self._frames):
                if frame is not None:
                    self._pop_frame(depth)
        return RunResult(r0, executed)

    def stack_frame(self, depth: int) -> Region | None:
        """The stack of the call `depth` frames deep, while that call runs."""
        return self._frames[depth]

    # -- runtime services called by generated code -------------------------
    def _push_frame(self, pc: int, depth: int) -> int:
        if depth >= MAX_CALL_FRAMES:
            raise VmFault(
                pc,
                FaultKind.CALL_DEPTH,
                f"call nests {depth + 1} frames deep; at most {MAX_CALL_FRAMES} are allowed, "
                "so reduce the nesting of local calls",
            )
        base = STACK_BASE + depth * STACK_STRIDE
        region = Region(RegionKind.STACK, f"frame{depth}" if depth else "", base, bytearray(STACK_SIZE))
        self.space.map(region)
        self._frames[depth] = region
        return region.end, region.data

    def _pop_frame(self, depth: int) -> None:
        region = self._frames[depth]
        if region is not None:
            self.space.unmap(region)
            self._frames[depth] = None

    def _call_helper(self, pc: int, helper_id: int, regs: list) -> int:
        try:
            return self.helpers.call(self, pc, helper_id, regs)
        except HelperExit as stop:
            stop.pc = pc
            raise

    def _call_helper_calling_back(self, pc: int, helper_id: int, regs: list, executed: int,
                                  depth: int) -> tuple[int, int]:
        """A helper that may run functions of the program (`call_function`): its r0, and the
        instructions executed so far, theirs included."""
        self._calling_back.append([executed, depth])
        try:
            r0 = self._call_helper(pc, helper_id, regs)
            return r0, self._calling_back[-1][0]
        finally:
            self._calling_back.pop()

    def call_function(self, pc: int, entry: int, args: list) -> int:
        """Run the program's function at `entry` for the helper called at `pc` (a callback), one
        frame deeper than its caller, with r1..r5 = `args` (None: unset); its r0."""
        function = self._functions.get(entry)
        if function is None:
            raise VmFault(pc, FaultKind.HELPER_ARGUMENT, f"the callback at {entry} is not a function of the program")
        caller = self._calling_back[-1]
        r0, caller[0] = function(*args, caller[0], caller[1] + 1, pc)
        return r0

    def _atomic(self, pc: int, addr: int, op: Atomic, operand: int, r0: int | None) -> int:
        """Perform an atomic read-modify-write; returns the value the fetch gives."""
        if addr % op.size:
            raise VmFault(pc, FaultKind.MISALIGNED, f"{op.size}-byte atomic operation at {addr:#x} is misaligned; "
                          f"atomic operations need an address that is a multiple of {op.size}")
        old = self.space.load(pc, addr, op.size)
        stored, fetched = semantics.atomic(_INT, op, old, operand, r0 if r0 is not None else 0)
        if stored != old or op.kind != AtomicKind.CMPXCHG:
            self.space.store(pc, addr, op.size, stored)
        return fetched

    def _budget_fault(self, pc: int, executed: int) -> VmFault:
        fault = VmFault(
            pc,
            FaultKind.BUDGET_EXHAUSTED,
            f"instruction budget of {self.budget} exhausted; the program may not terminate, "
            "or needs a larger budget",
        )
        fault.executed = executed
        return fault

    # -- translation ---------------------------------------------------------
    def _translate(self) -> str:
        listing = self.listing
        lines: list[str] = []
        for entry in function_entries(listing):
            body = function_body(listing, entry)
            # pc 0 gets r1 (and r2 where the caller passes it); callees may get any of r1..r5
            if entry == 0:
                given = 0b10 | (0b100 if self.entry_args >= 2 else 0)
                entry_uninit = 0x3FF & ~given
            else:
                entry_uninit = 0x3FF
            blocks = function_blocks(listing, entry, body)
            if len(body) > SEGMENTED_FUNCTION:  # long blocks are cut, so that segments can be
                blocks = _cut_blocks(blocks, set(body[::SEGMENT_INSNS]))
            fn = _Function(entry, body, blocks,
                           maybe_uninitialised(listing, body, entry, entry_uninit))
            lines.extend(self._translate_function(fn))
        self._units = ("\n".join(lines) + "\n").split(_UNIT_BREAK)
        return "".join(self._units)

    def _translate_function(self, fn: _Function) -> list[str]:
        blocks = fn.blocks
        for leader, pcs in blocks.items():
            for i, p in enumerate(pcs):
                fn.block_of[p] = leader
                fn.remaining[p] = len(pcs) - 1 - i
        if len(fn.body) > SEGMENTED_FUNCTION:
            return self._translate_segmented(fn, blocks)
        out = [
            f"def _fn_{fn.entry}(r1, r2, r3, r4, r5, n, depth, site, _ldc=_ldc, _stc=_stc, _atomic=_atomic, _ops=_ops, "
            "_helper=_helper, _budget=_budget, _fault=_fault, "
            + ", ".join(f"{name}={name}" for name in _STACK_ACCESSORS) + "):",
            "    r0 = r6 = r7 = r8 = r9 = None",
            f"    mg = {MAY_GOTO_BUDGET}",
            "    r10, stk = _push(site, depth)",
            f"    pc = {fn.entry}",
            f"    {_NO_REGIONS}",
            "    try:",
            "        while True:",
        ]
        self._emit_dispatch(fn, blocks, sorted(blocks), out, 3)
        remaining = {pc: r for pc, r in fn.remaining.items() if r}
        out += [
            "    except (VmFault, HelperExit) as e:",
            "        if e.executed is None:",
        ]
        for leader, (pcs, count) in fn.counted_loops.items():
            # inside a counted loop `n` still holds its value from before the loop
            out.append(f"            if e.pc in {set(pcs)!r}:")
            out.append(f"                n = _lb{leader} + {count} * (_it{leader} + 1)")
        out += [
            f"            e.executed = n - {remaining!r}.get(e.pc, 0)",
            "        raise",
            "",
        ]
        return out

    def _translate_segmented(self, fn: _Function, blocks: dict[int, list[int]]) -> list[str]:
        """The function as segments of consecutive blocks, each a Python function that runs
        until control leaves it and hands the registers on; the function itself only chooses
        the segment of each pc it is handed back."""
        segments: list[list[int]] = [[]]
        size = 0
        for leader in sorted(blocks):
            if size >= SEGMENT_INSNS:
                segments.append([])
                size = 0
            segments[-1].append(leader)
            size += len(blocks[leader])
        starts = [segment[0] for segment in segments]
        out: list[str] = []
        for i, segment in enumerate(segments):
            end = starts[i + 1] if i + 1 < len(starts) else self.listing.slots
            self._segment = (segment[0], end)
            out += [
                f"def _seg_{fn.entry}_{i}(pc, {_CARRIED}, r10, n, stk, depth, _ldc=_ldc, _stc=_stc, _atomic=_atomic, "
                "_ops=_ops, _helper=_helper, _budget=_budget, _fault=_fault, "
                + ", ".join(f"{name}={name}" for name in _STACK_ACCESSORS) + "):",
                f"    {_NO_REGIONS}",
                "    try:",
                "        while True:",
            ]
            loops_before = set(fn.counted_loops)
            self._emit_dispatch(fn, blocks, segment, out, 3)
            remaining = {pc: fn.remaining[pc] for leader in segment for pc in blocks[leader] if fn.remaining[pc]}
            out += [
                "    except (VmFault, HelperExit) as e:",
                "        if e.executed is None:",
            ]
            for leader in set(fn.counted_loops) - loops_before:
                pcs, count = fn.counted_loops[leader]
                out.append(f"            if e.pc in {set(pcs)!r}:")
                out.append(f"                n = _lb{leader} + {count} * (_it{leader} + 1)")
            out += [
                f"            e.executed = n - {remaining!r}.get(e.pc, 0)",
                "        raise",
                _UNIT_BREAK,
            ]
        self._segment = None
        out += [
            f"_segs_{fn.entry} = [{', '.join(f'_seg_{fn.entry}_{i}' for i in range(len(segments)))}]",
            f"_starts_{fn.entry} = {starts!r}",
            "",
            f"def _fn_{fn.entry}(r1, r2, r3, r4, r5, n, depth, site, _segs=_segs_{fn.entry}, "
            f"_starts=_starts_{fn.entry}, _which=_bisect):",
            "    r0 = r6 = r7 = r8 = r9 = None",
            f"    mg = {MAY_GOTO_BUDGET}",
            "    r10, stk = _push(site, depth)",
            f"    pc = {fn.entry}",
            "    while True:",
            f"        pc, {_CARRIED}, n = _segs[_which(_starts, pc) - 1](pc, {_CARRIED}, r10, n, stk, depth)",
            "        if pc < 0:",
            "            return r0, n",
            _UNIT_BREAK,
        ]
        return out

    def _leave(self, pad: str, targets: list[int]) -> list[str]:
        """In a segment: hand control back when `pc` (one of `targets`) lies outside it."""
        if self._segment is None:
            return []
        low, high = self._segment
        if all(low <= target < high for target in targets):
            return []
        return [f"{pad}if not {low} <= pc < {high}:", f"{pad}    return pc, {_CARRIED}, n"]

    def _emit_dispatch(self, fn: _Function, blocks: dict[int, list[int]], leaders: list[int],
                       out: list[str], level: int) -> None:
        pad = "    " * level
        if len(leaders) == 1:
            self._emit_block(fn, leaders[0], blocks[leaders[0]], out, level)
            return
        mid = len(leaders) // 2
        out.append(f"{pad}if pc < {leaders[mid]}:")
        self._emit_dispatch(fn, blocks, leaders[:mid], out, level + 1)
        out.append(f"{pad}else:")
        self._emit_dispatch(fn, blocks, leaders[mid:], out, level + 1)

    def _emit_block(self, fn: _Function, leader: int, pcs: list[int], out: list[str], level: int) -> None:
        listing = self.listing
        last_pc = pcs[-1]
        last = listing.ops[last_pc]
        count = len(pcs)
        conditional = isinstance(last, (Branch, MayGoto))
        self_loop = conditional and last.target == leader
        # A loop whose block calls no local function nor a helper calling one back (which would
        # read and return `n`) counts its iterations with `range`, so the budget costs nothing per
        # iteration.
        counted = self_loop and not any(isinstance(listing.ops[pc], LocalCall) or self._calls_back(listing.ops[pc])
                                        for pc in pcs)
        outer = "    " * level
        if counted:
            fn.counted_loops[leader] = (pcs, count)
            out.append(f"{outer}_lb{leader} = n")
            out.append(f"{outer}for _it{leader} in range((_budget - n) // {count}):")
            level += 1
        elif self_loop:
            out.append(f"{outer}while True:")
            level += 1
        pad = "    " * level
        if not counted:
            out.append(f"{pad}n += {count}")
            out.append(f"{pad}if n > _budget:")
            out.append(f"{pad}    raise _budget_fault({leader}, n - {count})")
        for pc in pcs:
            if self._observe is not None:
                out.append(f"{pad}_observe({pc}, depth, ({', '.join(f'r{i}' for i in range(11))}))")
            out.extend(pad + line for line in self._uninit_checks(fn, pc))
            # a local call is traced as it is made, before the callee's instructions; every other
            # instruction once it has run, with the registers it left
            before = isinstance(listing.ops[pc], LocalCall)
            if self._trace is not None and before:
                out.append(f"{pad}_trace({pc}, ({', '.join(f'r{i}' for i in range(11))}))")
            out.extend(pad + line for line in self._emit_op(pc, listing.ops[pc]))
            if self._trace is not None and not before:
                out.append(f"{pad}_trace({pc}, ({', '.join(f'r{i}' for i in range(11))}))")
        # terminator
        succ = successors(listing, last_pc)
        if isinstance(last, Exit):
            out.append(f"{pad}_pop(depth)")
            out.append(f"{pad}return r0, n" if self._segment is None else f"{pad}return -1, {_CARRIED}, n")
        elif self_loop:
            out.append(f"{pad}if not ({self._condition(last)}):")
            out.append(f"{pad}    break")
            if counted:
                out.append(f"{outer}else:")
                out.append(f"{outer}    raise _budget_fault({leader}, n + {count} * ((_budget - n) // {count}))")
                out.append(f"{outer}n = _lb{leader} + {count} * (_it{leader} + 1)")
            out.append(f"{outer}pc = {last_pc + 1}")
            out.extend(self._leave(outer, [last_pc + 1]))
        elif conditional:
            out.append(f"{pad}pc = {last.target} if {self._condition(last)} else {last_pc + 1}")
            out.extend(self._leave(pad, [last.target, last_pc + 1]))
        else:
            out.append(f"{pad}pc = {succ[0][0]}")
            out.extend(self._leave(pad, [succ[0][0]]))

    def _uninit_checks(self, fn: _Function, pc: int) -> list[str]:
        op = self.listing.ops[pc]
        maybe = fn.uninit.get(pc, 0) & regs_read(op)
        lines = []
        for reg in range(11):
            if maybe >> reg & 1:
                what = "returned by exit" if isinstance(op, Exit) else "read"
                lines.append(f"if r{reg} is None:")
                lines.append(
                    f"    raise _fault({pc}, 'uninitialised-register', "
                    f"'r{reg} is {what} before it is initialised on this path; "
                    f"write r{reg} first')"
                )
        return lines

    def _condition(self, op: Branch | MayGoto) -> str:
        if isinstance(op, MayGoto):
            # taken once the frame's budget is used up; each fall-through spends one
            return "(mg == 0 or (mg := mg - 1) < 0)"
        right = f"r{op.right.n}" if isinstance(op.right, Reg) else None
        return semantics.branch_taken(_SB, op, f"r{op.left}", right)

    def _emit_op(self, pc: int, op: Op) -> list[str]:
        dst = getattr(op, "dst", None)
        if dst == 10 and not isinstance(op, Store):
            return [_raise(pc, FaultKind.FRAME_POINTER_WRITE,
                           "r10 is the read-only frame pointer; write another register")]
        if isinstance(op, (Alu, Neg, Swap)):
            lines = self._alu_lines.get(op)
            if lines is None:
                src = f"r{op.src.n}" if isinstance(op, Alu) and isinstance(op.src, Reg) else None
                lines = self._alu_lines[op] = [f"r{op.dst} = {semantics.alu(_SB, op, f'r{op.dst}', src)}"]
            return lines
        if isinstance(op, (LoadImm64, LoadMapRef, LoadFuncRef, LoadBtfRef)):
            return [f"r{op.dst} = {self._lddw_value(pc, op):#x}"]
        if isinstance(op, Load):
            if _direct_stack(op.base, op.off, op.size):
                # r10 never changes, so a constant in-frame offset needs no address lookup
                raw = f"_u{op.size}(stk, {STACK_SIZE + op.off})[0]"
                return [f"r{op.dst} = {semantics.load_extend(_SB, raw, op.size, op.signed)}"]
            # the region the last load of this function read, kept in locals: a hit costs a
            # bounds test and an unpack; a miss asks the address space, which faults or answers
            fast = semantics.load_extend(_SB, f"_u{op.size}(_rd, _a - _rb)[0]", op.size, op.signed)
            slow = semantics.load_extend(_SB, "_v", op.size, op.signed)
            return [f"_a = {_addr(op.base, op.off)}",
                    f"if _rb <= _a and _a + {op.size} <= _re{_aligned('_a - _rb', '_ra', op.size)}:",
                    f"    r{op.dst} = {fast}",
                    "else:",
                    f"    _v, _rb, _re, _rd, _ra = _ldc({pc}, _a, {op.size})",
                    f"    r{op.dst} = {slow}"]
        if isinstance(op, Store):
            value = f"r{op.src.n}" if isinstance(op.src, Reg) else _SB.const(op.src.value, 64)
            stored = semantics.store_value(_SB, value, op.size)
            if _direct_stack(op.base, op.off, op.size):
                return [f"_p{op.size}(stk, {STACK_SIZE + op.off}, {stored})"]
            return [f"_a = {_addr(op.base, op.off)}",
                    f"if _wb <= _a and _a + {op.size} <= _we{_aligned('_a - _wb', '_wa', op.size)}:",
                    f"    _p{op.size}(_wd, _a - _wb, {stored})",
                    "else:",
                    f"    _wb, _we, _wd, _wa = _stc({pc}, _a, {op.size}, {stored})"]
        if isinstance(op, Atomic):
            call = f"_atomic({pc}, {_addr(op.base, op.off)}, _ops[{pc}], r{op.src}, r0)"
            if op.result_reg == 10:
                return [_raise(pc, FaultKind.FRAME_POINTER_WRITE,
                               "an atomic fetch into r10 would overwrite the read-only frame pointer; "
                               "fetch into another register")]
            return [f"r{op.result_reg} = {call}" if op.result_reg is not None else call]
        if isinstance(op, (Call, LocalCall, KfuncCall, CallIndirect)):
            return self._emit_call(pc, op)
        if isinstance(op, PacketLoad):
            return [_raise(pc, FaultKind.UNSUPPORTED,
                           "legacy packet loads (ld_abs/ld_ind) need a socket buffer context; "
                           "this program's context has none, so read memory with ldx instead")]
        return []  # jumps and exit are block terminators

    def _emit_call(self, pc: int, op: Call | LocalCall | KfuncCall | CallIndirect) -> list[str]:
        # r1-r5 die, and the regions kept are forgotten: a helper may unmap one (a ring buffer
        # record submitted, a map element deleted), a callee's frame is gone when it returns
        kill = f"r1 = r2 = r3 = r4 = r5 = None; {_NO_REGIONS}"
        if isinstance(op, LocalCall):
            return [f"r0, n = _fn_{op.target}(r1, r2, r3, r4, r5, n, depth + 1, {pc})", kill]
        if isinstance(op, CallIndirect):
            return [f"r0 = _helper({pc}, r{op.reg}, [r1, r2, r3, r4, r5])", kill]
        if isinstance(op, KfuncCall):
            return [_raise(pc, FaultKind.UNSUPPORTED,
                           f"call of kernel function (kfunc) with BTF id {op.btf_id}: "
                           "kfuncs are not available to this program type")]
        if self._calls_back(op):
            # the helper may run functions of the program, whose instructions count towards the budget
            return [f"r0, n = _helper_calling_back({pc}, {op.helper}, [r1, r2, r3, r4, r5], n, depth)", kill]
        return [f"r0 = _helper({pc}, {op.helper}, [r1, r2, r3, r4, r5])", kill]

    def _calls_back(self, op: Op) -> bool:
        """Whether `op` calls a helper that may run functions of the program."""
        if not isinstance(op, Call):
            return False
        record = self.helpers.get(op.helper)
        return record is not None and ArgType.PTR_TO_FUNC in record.args

    def _lddw_value(self, pc: int, op: LoadImm64 | LoadMapRef | LoadFuncRef | LoadBtfRef) -> int:
        if isinstance(op, LoadImm64):
            return op.value
        if self._resolve_lddw is None:
            raise ProgramError(
                pc,
                f"lddw with pseudo source {PseudoSrc(self.listing.by_pc[pc].src).name} refers to a map or symbol; "
                "run the program from a loaded object that defines its maps",
            )
        return self._resolve_lddw(pc, self.listing.by_pc[pc]) & MASK64


# the regions a function's loads and stores last hit (base, end, bytes, alignment mask), none yet
_NO_REGIONS = "_rb = _re = _ra = _wb = _we = _wa = 0; _rd = _wd = None"


def _aligned(offset: str, mask: str, size: int) -> str:
    """The alignment part of a kept region's test: nothing for a byte."""
    return "" if size == 1 else f" and not ({offset}) & {mask} & {size - 1}"


def _direct_stack(reg: int, off: int, size: int) -> bool:
    return reg == 10 and -STACK_SIZE <= off and off + size <= 0


def _addr(reg: int, off: int) -> str:
    return f"r{reg}" if off == 0 else f"((r{reg} + {off}) & {MASK64:#x})"


def _fault(pc: int, kind: str, message: str) -> VmFault:
    return VmFault(pc, FaultKind(kind), message)


def _raise(pc: int, kind: FaultKind, message: str) -> str:
    return f"raise _fault({pc}, {kind.value!r}, {message!r})"
