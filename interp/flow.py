"""Control-flow facts of an instruction list: successors, functions, blocks, register use.

Both the interpreter's translator and the verifier's CFG read these, so that what counts as a
jump target, a function or a register read is decided in one place."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .faults import ProgramError
from .isa.insn import Insn
from .isa.opcodes import CLASS_MASK, AluOp, Cls
from .isa.ops import (
    CALLS,
    Alu,
    Atomic,
    Branch,
    CallIndirect,
    Exit,
    Jump,
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
    lift,
)

CALLER_SAVED = 0b111110  # r1..r5: clobbered by every call
_JUMP_CLASSES = (Cls.JMP, Cls.JMP32)


class Edge(str, Enum):
    FALLTHROUGH = "fallthrough"
    TAKEN = "taken"


@dataclass(frozen=True)
class Listing:
    """Instructions indexed by their slot number (`pc`), as the kernel numbers them, each with
    its typed operation."""

    insns: tuple[Insn, ...]
    pcs: tuple[int, ...]
    by_pc: dict[int, Insn]
    slots: int
    ops: dict[int, Op]

    @classmethod
    def of(cls, insns: list[Insn] | tuple[Insn, ...]) -> "Listing":
        pcs, pc = [], 0
        for insn in insns:
            pcs.append(pc)
            pc += insn.slots
        return cls(tuple(insns), tuple(pcs), dict(zip(pcs, insns)), pc,
                   {p: lift(insn, p) for p, insn in zip(pcs, insns)})


def jump_target(op: Op) -> int | None:
    """Where a jump, branch or may_goto may go other than the next instruction."""
    return op.target if isinstance(op, (Jump, Branch, MayGoto)) else None


def ends_block(op: Op) -> bool:
    """Control may not simply fall through to the next instruction after `op`: a jump, a
    conditional jump, an exit, or a local call (whose return is where a block starts)."""
    return isinstance(op, (Jump, Branch, MayGoto, Exit, LocalCall))


def successors(listing: Listing, pc: int) -> list[tuple[int, Edge]]:
    """Intra-function successors of the instruction at `pc` (calls fall through; exit has none)."""
    insn = listing.by_pc[pc]
    nxt = pc + insn.slots
    if insn.opcode & CLASS_MASK not in _JUMP_CLASSES:  # most instructions: a quick answer
        return [(nxt, Edge.FALLTHROUGH)]
    op = listing.ops[pc]
    if isinstance(op, Exit):
        return []
    if isinstance(op, Jump):
        return [(op.target, Edge.TAKEN)]
    if isinstance(op, (Branch, MayGoto)):
        return [(nxt, Edge.FALLTHROUGH), (op.target, Edge.TAKEN)]
    return [(nxt, Edge.FALLTHROUGH)]


def check_control_flow(listing: Listing) -> None:
    """Every jump and local call lands on an instruction; no path runs off the end."""
    if not listing.insns:
        raise ProgramError(None, "the program has no instructions; it needs at least an exit")
    for pc, insn in zip(listing.pcs, listing.insns):
        op = listing.ops[pc]
        targets: list[tuple[int, str]] = []
        target = jump_target(op)
        if target is not None:
            targets.append((target, "jump"))
        if isinstance(op, LocalCall):
            targets.append((op.target, "call"))
        if isinstance(op, LoadFuncRef):
            targets.append((op.target, "function reference"))
        for target, what in targets:
            if not 0 <= target < listing.slots:
                raise ProgramError(
                    pc,
                    f"({insn}) {what} to {target} is outside the program (instructions 0..{listing.slots - 1}); "
                    "fix the offset so it lands on an instruction",
                )
            if target not in listing.by_pc:
                raise ProgramError(
                    pc,
                    f"({insn}) {what} to {target} lands in the middle of the lddw at {target - 1}; "
                    "fix the offset so it lands on an instruction",
                )
    last_pc = listing.pcs[-1]
    if not isinstance(listing.ops[last_pc], (Exit, Jump)):
        raise ProgramError(
            last_pc,
            "execution can run past the last instruction; end the program with exit or a jump",
        )


def function_entries(listing: Listing, external: frozenset[int] = frozenset()) -> list[int]:
    """pc 0, every local call target and every function a reference (`lddw` src 4) names, in
    order, as the kernel makes subprograms. `external`: call sites whose callee lies outside the
    program (unresolved externs), which name no function of it."""
    entries = {0}
    for pc, op in listing.ops.items():
        if isinstance(op, (LocalCall, LoadFuncRef)) and pc not in external:
            entries.add(op.target)
    return sorted(entries)


def function_boundary_problems(listing: Listing, external: frozenset[int] = frozenset()) -> list[tuple[int, str]]:
    """Where control leaves a function other than by exit or a call, as the kernel's subprogram
    rules have it: each function spans the slots up to the next function's entry, every jump
    stays inside it, and its last instruction is an exit or an unconditional jump."""
    entries = function_entries(listing, external)
    ends = entries[1:] + [listing.slots]
    problems: list[tuple[int, str]] = []
    for start, end in zip(entries, ends):
        last = None
        for pc in (p for p in listing.pcs if start <= p < end):
            insn = listing.by_pc[pc]
            last = pc
            target = jump_target(listing.ops[pc])
            if target is not None and not start <= target < end:
                problems.append((pc, f"({insn}) jumps to {target}, outside its function (insns {start}..{end - 1}); "
                                     "functions are entered by a call and left by exit"))
        if last is not None and not isinstance(listing.ops[last], (Exit, Jump)):
            problems.append((last, f"({listing.by_pc[last]}) is the last instruction of the function at {start}, and "
                                   "execution can run past it into the next function; end every function with exit "
                                   "or a jump"))
    return problems


def function_body(listing: Listing, entry: int) -> list[int]:
    """The pcs reachable from `entry` without entering a callee, sorted."""
    seen = {entry}
    todo = [entry]
    while todo:
        pc = todo.pop()
        for target, _ in successors(listing, pc):
            if target not in seen and target in listing.by_pc:
                seen.add(target)
                todo.append(target)
    return sorted(seen)


def function_blocks(listing: Listing, entry: int, body: list[int]) -> dict[int, list[int]]:
    """The basic blocks of a function body, by first pc: a block starts at the entry, at every
    jump target and after every instruction that ends one (`ends_block`). The interpreter's
    translation and the verifier's CFG are built from these same blocks."""
    members = set(body)
    leaders = {entry}
    for pc in body:
        op = listing.ops[pc]
        target = jump_target(op)
        if target is not None and target in members:
            leaders.add(target)
        if ends_block(op):
            following = pc + listing.by_pc[pc].slots
            if following in members:
                leaders.add(following)
    blocks: dict[int, list[int]] = {}
    for leader in sorted(leaders):
        pcs = [leader]
        pc = leader
        while not ends_block(listing.ops[pc]):
            succ = successors(listing, pc)
            if not succ or succ[0][0] in leaders or succ[0][0] not in members:
                break
            pc = succ[0][0]
            pcs.append(pc)
        blocks[leader] = pcs
    return blocks


def reg_bit(reg: int) -> int:
    return 1 << reg


def _operand_bit(operand: object) -> int:
    return reg_bit(operand.n) if isinstance(operand, Reg) else 0


def regs_read(op: Op) -> int:
    """Registers whose value the operation itself reads (helpers check their own arguments)."""
    if isinstance(op, Alu):
        return (0 if op.op == AluOp.MOV else reg_bit(op.dst)) | _operand_bit(op.src)
    if isinstance(op, (Neg, Swap)):
        return reg_bit(op.dst)
    if isinstance(op, Branch):
        return reg_bit(op.left) | _operand_bit(op.right)
    if isinstance(op, Exit):
        return reg_bit(0)
    if isinstance(op, CallIndirect):
        return reg_bit(op.reg)
    if isinstance(op, Load):
        return reg_bit(op.base)
    if isinstance(op, Store):
        return reg_bit(op.base) | _operand_bit(op.src)
    if isinstance(op, Atomic):
        return reg_bit(op.base) | reg_bit(op.src) | (reg_bit(0) if op.result_reg == 0 else 0)
    if isinstance(op, PacketLoad):  # the socket buffer in r6, and ld_ind's index register
        return reg_bit(6) | (reg_bit(op.index) if op.index is not None else 0)
    return 0


def regs_written(op: Op) -> int:
    if isinstance(op, (Alu, Neg, Swap, Load, LoadImm64, LoadMapRef, LoadFuncRef, LoadBtfRef)):
        return reg_bit(op.dst)
    if isinstance(op, Atomic):
        return reg_bit(op.result_reg) if op.result_reg is not None else 0
    if isinstance(op, (*CALLS, PacketLoad)):
        return reg_bit(0)
    return 0


def regs_clobbered(op: Op) -> int:
    """Registers an operation leaves uninitialised (r1..r5 after any call)."""
    return CALLER_SAVED if isinstance(op, (*CALLS, PacketLoad)) else 0


def maybe_uninitialised(listing: Listing, body: list[int], entry: int, entry_uninit: int) -> dict[int, int]:
    """For each pc of a function: registers that may be uninitialised before it runs (bitmask)."""
    state: dict[int, int] = {entry: entry_uninit}
    members = set(body)
    todo = [entry]
    while todo:
        pc = todo.pop()
        op = listing.ops[pc]
        out = (state[pc] & ~regs_written(op)) | regs_clobbered(op)
        for target, _ in successors(listing, pc):
            if target not in members:
                continue
            old = state.get(target)
            new = out if old is None else old | out
            if new != old:
                state[target] = new
                todo.append(target)
    return state
