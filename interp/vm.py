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
    block_leaders,
    check_control_flow,
    function_body,
    function_entries,
    maybe_uninitialised,
    regs_read,
    successors,
)
from .helpers import HelperExit, HelperRegistry, conformance_helpers
from .isa.insn import Insn
from .isa.opcodes import (
    CLASS_MASK,
    SRC_X,
    STACK_SIZE,
    AtomicOp,
    Cls,
    Mode,
    PseudoSrc,
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
_REGS = ", ".join(f"r{i}" for i in range(10))
_UNIT_BREAK = "#<unit>\n"  # separates the pieces of source compiled apart  # the registers a segment hands on (r10 never changes)

_SB = semantics.SourceBackend()
_STACK_ACCESSORS: dict[str, Any] = {}
for _size, _code in ((1, "B"), (2, "H"), (4, "I"), (8, "Q")):
    _STACK_ACCESSORS[f"_u{_size}"] = struct.Struct("<" + _code).unpack_from
    _STACK_ACCESSORS[f"_s{_size}"] = struct.Struct("<" + _code.lower()).unpack_from
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


@dataclass
class _Function:
    entry: int
    body: list[int]
    leaders: list[int]
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
    ) -> None:
        self.listing = Listing.of(insns)
        check_control_flow(self.listing)
        self.helpers = helpers if helpers is not None else conformance_helpers()
        self.budget = budget
        self.space = space if space is not None else AddressSpace()
        self.runtime: Any = None  # the runtime (maps, kernel memory, ...) helpers act on
        self._trace = trace
        self._resolve_lddw = resolve_lddw
        self._frames: list[Region | None] = [None] * MAX_CALL_FRAMES
        self.entry_args = entry_args
        self._segment: tuple[int, int] | None = None  # pcs of the segment being translated
        self._alu_lines: dict[Insn, list[str]] = {}  # ALU instructions translate alike wherever they are
        self.source = self._translate()
        namespace: dict[str, Any] = dict(semantics.SOURCE_RUNTIME)
        namespace.update(
            _bisect=bisect.bisect_right,
            VmFault=VmFault,
            HelperExit=HelperExit,
            _ld=self.space.load,
            _st=self.space.store,
            _atomic=self._atomic,
            _helper=self._call_helper,
            _push=self._push_frame,
            _pop=self._pop_frame,
            _fault=_fault,
            _budget_fault=self._budget_fault,
            _budget=budget,
            _trace=trace,
            **_STACK_ACCESSORS,
        )
        for unit in self._units:  # compiled apart: see SEGMENTED_FUNCTION
            exec(compile(unit, "<bpf-program>", "exec"), namespace)
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

    def _atomic(self, pc: int, addr: int, size: int, imm: int, operand: int, expected: int) -> int:
        """Perform an atomic read-modify-write; returns the old memory value."""
        width = size * 8
        old = self.space.load(pc, addr, size)
        mask = (1 << width) - 1
        if imm == AtomicOp.CMPXCHG:
            if old == expected & mask:
                self.space.store(pc, addr, size, operand)
            return old
        new = semantics.atomic_combine(_INT, imm, width, old, operand & mask)
        self.space.store(pc, addr, size, new)
        return old

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
            # the instruction after a local call starts a block: see _blocks
            leaders = set(block_leaders(listing, body, entry))
            leaders |= {pc + 1 for pc in body if listing.by_pc[pc].is_local_call and pc + 1 in listing.by_pc}
            if len(body) > SEGMENTED_FUNCTION:  # long blocks are cut, so that segments can be
                leaders |= set(body[::SEGMENT_INSNS])
            fn = _Function(entry, body, sorted(leaders),
                           maybe_uninitialised(listing, body, entry, entry_uninit))
            lines.extend(self._translate_function(fn))
        self._units = "\n".join(lines).split(_UNIT_BREAK)
        return "".join(self._units)

    def _blocks(self, fn: _Function) -> dict[int, list[int]]:
        leaders = set(fn.leaders)
        blocks: dict[int, list[int]] = {}
        for leader in fn.leaders:
            pcs = [leader]
            pc = leader
            while True:
                insn = self.listing.by_pc[pc]
                succ = successors(self.listing, pc)
                if insn.is_jmp and not insn.is_call or not succ or insn.is_local_call:
                    break
                nxt = succ[0][0]
                if nxt in leaders:
                    break
                pcs.append(nxt)
                pc = nxt
            blocks[leader] = pcs
            for i, p in enumerate(pcs):
                fn.block_of[p] = leader
                fn.remaining[p] = len(pcs) - 1 - i
        return blocks

    def _translate_function(self, fn: _Function) -> list[str]:
        blocks = self._blocks(fn)
        if len(fn.body) > SEGMENTED_FUNCTION:
            return self._translate_segmented(fn, blocks)
        out = [
            f"def _fn_{fn.entry}(r1, r2, r3, r4, r5, n, depth, site, _ld=_ld, _st=_st, _atomic=_atomic, "
            "_helper=_helper, _budget=_budget, _fault=_fault, "
            + ", ".join(f"{name}={name}" for name in _STACK_ACCESSORS) + "):",
            "    r0 = r6 = r7 = r8 = r9 = None",
            "    r10, stk = _push(site, depth)",
            f"    pc = {fn.entry}",
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
        for leader in fn.leaders:
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
                f"def _seg_{fn.entry}_{i}(pc, {_REGS}, r10, n, stk, depth, _ld=_ld, _st=_st, _atomic=_atomic, "
                "_helper=_helper, _budget=_budget, _fault=_fault, "
                + ", ".join(f"{name}={name}" for name in _STACK_ACCESSORS) + "):",
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
            "    r10, stk = _push(site, depth)",
            f"    pc = {fn.entry}",
            "    while True:",
            f"        pc, {_REGS}, n = _segs[_which(_starts, pc) - 1](pc, {_REGS}, r10, n, stk, depth)",
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
        return [f"{pad}if not {low} <= pc < {high}:", f"{pad}    return pc, {_REGS}, n"]

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
        last = listing.by_pc[last_pc]
        count = len(pcs)
        self_loop = last.is_conditional_jump and last.jump_target(last_pc) == leader
        # A loop whose block calls no local function (which would read and return `n`) counts
        # its iterations with `range`, so the budget costs nothing per iteration.
        counted = self_loop and not any(listing.by_pc[pc].is_local_call for pc in pcs)
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
            out.extend(pad + line for line in self._uninit_checks(fn, pc))
            out.extend(pad + line for line in self._emit_insn(pc, listing.by_pc[pc]))
            if self._trace is not None:
                regs = ", ".join(f"r{i}" for i in range(11))
                out.append(f"{pad}_trace({pc}, ({regs}))")
        # terminator
        succ = successors(listing, last_pc)
        if last.is_exit:
            out.append(f"{pad}_pop(depth)")
            out.append(f"{pad}return r0, n" if self._segment is None else f"{pad}return -1, {_REGS}, n")
        elif self_loop:
            out.append(f"{pad}if not ({self._condition(last)}):")
            out.append(f"{pad}    break")
            if counted:
                out.append(f"{outer}else:")
                out.append(f"{outer}    raise _budget_fault({leader}, n + {count} * ((_budget - n) // {count}))")
                out.append(f"{outer}n = _lb{leader} + {count} * (_it{leader} + 1)")
            out.append(f"{outer}pc = {last_pc + 1}")
            out.extend(self._leave(outer, [last_pc + 1]))
        elif last.is_conditional_jump:
            cond = self._condition(last)
            out.append(f"{pad}pc = {last.jump_target(last_pc)} if {cond} else {last_pc + 1}")
            out.extend(self._leave(pad, [last.jump_target(last_pc), last_pc + 1]))
        else:
            out.append(f"{pad}pc = {succ[0][0]}")
            out.extend(self._leave(pad, [succ[0][0]]))

    def _uninit_checks(self, fn: _Function, pc: int) -> list[str]:
        insn = self.listing.by_pc[pc]
        maybe = fn.uninit.get(pc, 0) & regs_read(insn)
        lines = []
        for reg in range(11):
            if maybe >> reg & 1:
                what = "returned by exit" if insn.is_exit else "read"
                lines.append(f"if r{reg} is None:")
                lines.append(
                    f"    raise _fault({pc}, 'uninitialised-register', "
                    f"'r{reg} is {what} before it is initialised on this path; "
                    f"write r{reg} first')"
                )
        return lines

    def _condition(self, insn: Insn) -> str:
        src = f"r{insn.src}" if insn.opcode & SRC_X else None
        return semantics.jump_taken(_SB, insn.opcode, insn.imm, f"r{insn.dst}", src)

    def _emit_insn(self, pc: int, insn: Insn) -> list[str]:
        cls = insn.opcode & CLASS_MASK
        if cls in (Cls.ALU, Cls.ALU64):
            if insn.dst == 10:
                return [_raise(pc, FaultKind.FRAME_POINTER_WRITE,
                               "r10 is the read-only frame pointer; write another register")]
            lines = self._alu_lines.get(insn)
            if lines is None:
                src = f"r{insn.src}" if insn.opcode & SRC_X else None
                expr = semantics.alu(_SB, insn.opcode, insn.off, insn.imm, f"r{insn.dst}", src)
                lines = self._alu_lines[insn] = [f"r{insn.dst} = {expr}"]
            return lines
        if insn.is_lddw:
            if insn.dst == 10:
                return [_raise(pc, FaultKind.FRAME_POINTER_WRITE,
                               "r10 is the read-only frame pointer; write another register")]
            return [f"r{insn.dst} = {self._lddw_value(pc, insn):#x}"]
        if cls == Cls.LDX:
            if insn.dst == 10:
                return [_raise(pc, FaultKind.FRAME_POINTER_WRITE,
                               "r10 is the read-only frame pointer; write another register")]
            signed = insn.mode == Mode.MEMSX
            if _direct_stack(insn.src, insn.off, insn.size_bytes):
                # r10 never changes, so a constant in-frame offset needs no address lookup
                fn = f"_{'s' if signed else 'u'}{insn.size_bytes}"
                value = f"{fn}(stk, {STACK_SIZE + insn.off})[0]"
                return [f"r{insn.dst} = {value} & {MASK64:#x}" if signed else f"r{insn.dst} = {value}"]
            return [f"r{insn.dst} = _ld({pc}, {_addr(insn.src, insn.off)}, {insn.size_bytes}, {signed})"]
        if cls == Cls.ST:
            size = insn.size_bytes
            value = insn.imm & ((1 << (8 * size)) - 1)
            if _direct_stack(insn.dst, insn.off, size):
                return [f"_p{size}(stk, {STACK_SIZE + insn.off}, {value:#x})"]
            return [f"_st({pc}, {_addr(insn.dst, insn.off)}, {size}, {value:#x})"]
        if cls == Cls.STX:
            addr = _addr(insn.dst, insn.off)
            size = insn.size_bytes
            if insn.mode == Mode.MEM:
                if _direct_stack(insn.dst, insn.off, size):
                    value = f"r{insn.src}" if size == 8 else f"r{insn.src} & {(1 << (8 * size)) - 1:#x}"
                    return [f"_p{size}(stk, {STACK_SIZE + insn.off}, {value})"]
                return [f"_st({pc}, {addr}, {size}, r{insn.src})"]
            call = f"_atomic({pc}, {addr}, {insn.size_bytes}, {insn.imm}, r{insn.src}, r0)"
            if insn.imm == AtomicOp.CMPXCHG:
                return [f"r0 = {call}"]
            if insn.imm & AtomicOp.FETCH:
                if insn.src == 10:
                    return [_raise(pc, FaultKind.FRAME_POINTER_WRITE,
                                   "an atomic fetch into r10 would overwrite the read-only frame pointer; "
                                   "fetch into another register")]
                return [f"r{insn.src} = {call}"]
            return [call]
        if cls in (Cls.JMP, Cls.JMP32):
            return self._emit_jmp_class(pc, insn)
        return [_raise(pc, FaultKind.UNSUPPORTED,
                       "legacy packet loads (ld_abs/ld_ind) need a socket buffer context; "
                       "this program's context has none, so read memory with ldx instead")]

    def _emit_jmp_class(self, pc: int, insn: Insn) -> list[str]:
        kill = "r1 = r2 = r3 = r4 = r5 = None"
        if insn.is_local_call:
            target = insn.call_target(pc)
            return [f"r0, n = _fn_{target}(r1, r2, r3, r4, r5, n, depth + 1, {pc})", kill]
        if insn.opcode & SRC_X and insn.is_call:
            return [f"r0 = _helper({pc}, r{insn.dst}, [r1, r2, r3, r4, r5])", kill]
        if insn.is_call:
            if insn.src == 2:
                return [_raise(pc, FaultKind.UNSUPPORTED,
                               f"call of kernel function (kfunc) with BTF id {insn.imm}: "
                               "kfuncs are not available to this program type")]
            return [f"r0 = _helper({pc}, {insn.imm}, [r1, r2, r3, r4, r5])", kill]
        return []  # jumps and exit are block terminators

    def _lddw_value(self, pc: int, insn: Insn) -> int:
        if insn.src == PseudoSrc.IMM64:
            return insn.imm
        if self._resolve_lddw is None:
            raise ProgramError(
                pc,
                f"lddw with pseudo source {PseudoSrc(insn.src).name} refers to a map or symbol; "
                "run the program from a loaded object that defines its maps",
            )
        return self._resolve_lddw(pc, insn) & MASK64


def _direct_stack(reg: int, off: int, size: int) -> bool:
    return reg == 10 and -STACK_SIZE <= off and off + size <= 0


def _addr(reg: int, off: int) -> str:
    return f"r{reg}" if off == 0 else f"((r{reg} + {off}) & {MASK64:#x})"


def _fault(pc: int, kind: str, message: str) -> VmFault:
    return VmFault(pc, FaultKind(kind), message)


def _raise(pc: int, kind: FaultKind, message: str) -> str:
    return f"raise _fault({pc}, {kind.value!r}, {message!r})"
