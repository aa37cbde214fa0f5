"""The instructions of a counterexample's run that matter for its fault: a backward dynamic slice.

From the faulting instruction back along the run's path (`Counterexample.path`), an instruction
is kept when it defines a register or stack byte a kept instruction uses (data dependence), or
when it is a branch whose outcome decides whether the run reaches the fault (control
dependence: the faulting instruction, or the call leading to its frame, does not post-dominate
the branch); the local calls that lead to the fault's frame are kept too. Registers are told apart by frame (a local call passes r1..r5 in and r0 out);
stack bytes are followed where an address is the frame pointer plus a constant, which a
forward pass over the path tracks through moves and added constants (spills and fills)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import networkx as nx

from interp.flow import Listing, function_body, regs_read, regs_written, successors
from interp.isa.opcodes import AluOp
from interp.isa.ops import (
    Alu,
    Atomic,
    Branch,
    Call,
    Exit,
    Imm,
    Load,
    LocalCall,
    Op,
    Reg,
    Store,
)

FP = 10
ARGS = range(1, 6)
# how far past a stack pointer handed to a helper the helper is taken to read (keys, values, buffers)
HELPER_READ_SPAN = 64

Place = tuple[str, int, int]  # ("r", frame, register) or ("s", frame, byte offset from that frame's r10)
FramePointer = tuple[int, int]  # (frame, offset): a register known to hold the frame's r10 plus a constant


@dataclass(frozen=True)
class _Step:
    """One executed instruction of the path, with the facts the slice needs about it."""

    pc: int
    op: Op
    frame: int  # which invocation of a function it ran in (0: the program's entry)
    entry: int  # that function's first pc
    pointers: dict[int, FramePointer]  # the registers known to point into a stack frame, before it runs


def _walk(listing: Listing, path: list[int]) -> list[_Step]:
    """Frames and frame-pointer registers along the path (calls push a frame, exits pop it)."""
    steps: list[_Step] = []
    frames: list[tuple[int, int, dict[int, FramePointer]]] = [(0, 0, {FP: (0, 0)})]
    fresh = 1
    for pc in path:
        frame, entry, known = frames[-1]
        op = listing.ops[pc]
        steps.append(_Step(pc, op, frame, entry, dict(known)))
        if isinstance(op, LocalCall):
            passed = {r: known[r] for r in ARGS if r in known}
            frames.append((fresh, op.target, {**passed, FP: (fresh, 0)}))
            fresh += 1
            continue
        if isinstance(op, Exit):
            if len(frames) > 1:
                frames.pop()
                caller = frames[-1][2]
                for r in (0, *ARGS):
                    caller.pop(r, None)
            continue
        _track(op, known)
    return steps


def _track(op: Op, known: dict[int, FramePointer]) -> None:
    """What `op` does to the registers known to point into a stack frame."""
    if isinstance(op, Alu) and op.width == 64:
        if op.op == AluOp.MOV and isinstance(op.src, Reg) and op.src.n in known and not op.extend:
            known[op.dst] = known[op.src.n]
            return
        if op.op in (AluOp.ADD, AluOp.SUB) and isinstance(op.src, Imm) and op.dst in known:
            frame, offset = known[op.dst]
            known[op.dst] = (frame, offset + (op.src.value if op.op == AluOp.ADD else -op.src.value))
            return
    if isinstance(op, Call):
        for r in (0, *ARGS):
            known.pop(r, None)
        return
    for r in range(11):
        if regs_written(op) >> r & 1:
            known.pop(r, None)


def _regs(frame: int, mask: int) -> set[Place]:
    return {("r", frame, r) for r in range(FP) if mask >> r & 1}  # r10 is never written: no dependence


def _bytes(at: FramePointer, size: int) -> set[Place]:
    frame, offset = at
    return {("s", frame, offset + i) for i in range(size)}


def _defs_uses(step: _Step, nxt: _Step | None, helper_args: Callable[[int], int]) -> tuple[set[Place], set[Place]]:
    """The places an executed instruction writes and those it reads."""
    op, frame, known = step.op, step.frame, step.pointers
    if isinstance(op, Load):
        address = known.get(op.base)
        uses = _bytes((address[0], address[1] + op.off), op.size) if address else _regs(frame, 1 << op.base)
        return _regs(frame, 1 << op.dst), uses
    if isinstance(op, (Store, Atomic)):
        address = known.get(op.base)
        target = _bytes((address[0], address[1] + op.off), op.size) if address else set()
        src = op.src.n if isinstance(op.src, Reg) else op.src if isinstance(op.src, int) else None
        uses = (_regs(frame, 1 << src) if src is not None else set()) | (set() if address else _regs(frame, 1 << op.base))
        if isinstance(op, Atomic):
            uses |= target
            result = op.result_reg
            return target | (_regs(frame, 1 << result) if result is not None else set()), uses
        return target, uses
    if isinstance(op, Call):
        count = helper_args(op.helper)
        uses = _regs(frame, sum(1 << r for r in ARGS[:count]))
        for r in ARGS[:count]:
            if r in known:  # a stack buffer: what the helper reads there
                frame_of, offset = known[r]
                uses |= _bytes((frame_of, offset), max(0, min(HELPER_READ_SPAN, -offset)))
        return _regs(frame, 1), uses
    if isinstance(op, LocalCall) and nxt is not None:
        return _regs(nxt.frame, sum(1 << r for r in ARGS)), _regs(frame, sum(1 << r for r in ARGS))
    if isinstance(op, Exit) and nxt is not None:
        return _regs(nxt.frame, 1), _regs(frame, 1)
    return _regs(frame, regs_written(op)), _regs(frame, regs_read(op))


def _post_dominators(listing: Listing) -> Callable[[int], dict[int, int]]:
    """For a function (by its entry): each pc's immediate post-dominator (-1: the function's exit)."""

    @cache
    def of(entry: int) -> dict[int, int]:
        graph = nx.DiGraph()
        graph.add_node(-1)
        for pc in function_body(listing, entry):
            graph.add_node(pc)
            targets = [t for t, _ in successors(listing, pc) if t in listing.by_pc]
            for target in targets or [-1]:
                graph.add_edge(target, pc)  # reversed: dominators of the reverse graph post-dominate
        return nx.immediate_dominators(graph, -1)

    return of


def _post_dominates(ipdom: dict[int, int], later: int, pc: int) -> bool:
    at = pc
    while at in ipdom and ipdom[at] != at:
        at = ipdom[at]
        if at == later:
            return True
    return False


def backward_slice(listing: Listing, path: list[int], helper_args: Callable[[int], int] = lambda _: 5) -> list[int]:
    """The pcs of `path` (which ends at the faulting instruction) that its fault depends on, in
    the order the run first reaches them; `helper_args` gives a helper's number of arguments."""
    if not path or any(pc not in listing.ops for pc in path):
        return []
    steps = _walk(listing, path)
    post_dominators = _post_dominators(listing)
    last = steps[-1]
    kept = {len(steps) - 1}
    if isinstance(last.op, (Store, Atomic)):  # a write faults for where it goes, not for what it writes
        needed = _regs(last.frame, 1 << last.op.base)
    else:
        _, needed = _defs_uses(last, None, helper_args)
        if isinstance(last.op, Load):
            needed |= _regs(last.frame, 1 << last.op.base)  # the faulting address itself
    anchors = {last.frame: last.pc}  # per frame: the pc through which the run goes on to the fault
    for n in range(len(steps) - 2, -1, -1):
        step = steps[n]
        defs, uses = _defs_uses(step, steps[n + 1], helper_args)
        if isinstance(step.op, LocalCall) and steps[n + 1].frame in anchors and step.frame not in anchors:
            anchors[step.frame] = step.pc  # the call into the fault's frame (or a frame leading to it)
            kept.add(n)
        decides = (isinstance(step.op, Branch) and step.frame in anchors
                   and not _post_dominates(post_dominators(step.entry), anchors[step.frame], step.pc))
        if decides or defs & needed:
            kept.add(n)
            needed = (needed - defs) | uses
    order: list[int] = []
    for n in sorted(kept):
        if steps[n].pc not in order:
            order.append(steps[n].pc)
    return order


__all__ = ["backward_slice"]
