"""Control-flow facts of an instruction list: successors, functions, blocks, register use.

Both the interpreter's translator and the verifier's CFG read these, so that what counts as a
jump target, a function or a register read is decided in one place."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .faults import ProgramError
from .isa.insn import Insn
from .isa.opcodes import (
    CLASS_MASK,
    SRC_X,
    AluOp,
    AtomicOp,
    Cls,
    JmpOp,
    Mode,
)

CALLER_SAVED = 0b111110  # r1..r5: clobbered by every call
_JUMP_CLASSES = (Cls.JMP, Cls.JMP32)


class Edge(str, Enum):
    FALLTHROUGH = "fallthrough"
    TAKEN = "taken"


@dataclass(frozen=True)
class Listing:
    """Instructions indexed by their slot number (`pc`), as the kernel numbers them."""

    insns: tuple[Insn, ...]
    pcs: tuple[int, ...]
    by_pc: dict[int, Insn]
    slots: int

    @classmethod
    def of(cls, insns: list[Insn] | tuple[Insn, ...]) -> "Listing":
        pcs, pc = [], 0
        for insn in insns:
            pcs.append(pc)
            pc += insn.slots
        return cls(tuple(insns), tuple(pcs), dict(zip(pcs, insns)), pc)


def successors(listing: Listing, pc: int) -> list[tuple[int, Edge]]:
    """Intra-function successors of the instruction at `pc` (calls fall through; exit has none)."""
    insn = listing.by_pc[pc]
    nxt = pc + insn.slots
    if insn.opcode & CLASS_MASK not in _JUMP_CLASSES:  # most instructions: a quick answer
        return [(nxt, Edge.FALLTHROUGH)]
    if insn.is_exit:
        return []
    if insn.is_unconditional_jump:
        return [(insn.jump_target(pc), Edge.TAKEN)]
    if insn.is_conditional_jump:
        return [(nxt, Edge.FALLTHROUGH), (insn.jump_target(pc), Edge.TAKEN)]
    return [(nxt, Edge.FALLTHROUGH)]


def check_control_flow(listing: Listing) -> None:
    """Every jump and local call lands on an instruction; no path runs off the end."""
    if not listing.insns:
        raise ProgramError(None, "the program has no instructions; it needs at least an exit")
    for pc, insn in zip(listing.pcs, listing.insns):
        targets: list[tuple[int, str]] = []
        if insn.is_unconditional_jump or insn.is_conditional_jump:
            targets.append((insn.jump_target(pc), "jump"))
        if insn.is_local_call:
            targets.append((insn.call_target(pc), "call"))
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
    last = listing.insns[-1]
    if not (last.is_exit or last.is_unconditional_jump):
        raise ProgramError(
            last_pc,
            "execution can run past the last instruction; end the program with exit or a jump",
        )


def function_entries(listing: Listing, external: frozenset[int] = frozenset()) -> list[int]:
    """pc 0 and every local call target, in order. `external`: call sites whose callee lies
    outside the program (unresolved externs), which name no function of it."""
    entries = {0}
    for pc, insn in zip(listing.pcs, listing.insns):
        if insn.is_local_call and pc not in external:
            entries.add(insn.call_target(pc))
    return sorted(entries)


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


def block_leaders(listing: Listing, body: list[int], entry: int) -> list[int]:
    """First instructions of the basic blocks of a function body."""
    members = set(body)
    leaders = {entry}
    for pc in body:
        insn = listing.by_pc[pc]
        succ = successors(listing, pc)
        if insn.is_jmp and not insn.is_call:
            for target, _ in succ:
                if target in members:
                    leaders.add(target)
    return sorted(leaders)


def reg_bit(reg: int) -> int:
    return 1 << reg


def regs_read(insn: Insn) -> int:
    """Registers whose value the instruction itself reads (helpers check their own arguments)."""
    cls = insn.opcode & CLASS_MASK
    x = insn.opcode & SRC_X
    if cls in (Cls.ALU, Cls.ALU64):
        mask = 0 if insn.op == AluOp.MOV else reg_bit(insn.dst)
        if x and insn.op != AluOp.END:
            mask |= reg_bit(insn.src)
        return mask
    if cls in (Cls.JMP, Cls.JMP32):
        if insn.is_exit:
            return reg_bit(0)
        if insn.is_call:
            return reg_bit(insn.dst) if x else 0
        if insn.op == JmpOp.JA:
            return 0
        return reg_bit(insn.dst) | (reg_bit(insn.src) if x else 0)
    if cls == Cls.LDX:
        return reg_bit(insn.src)
    if cls == Cls.ST:
        return reg_bit(insn.dst)
    if cls == Cls.STX:
        mask = reg_bit(insn.dst) | reg_bit(insn.src)
        if insn.mode == Mode.ATOMIC and insn.imm == AtomicOp.CMPXCHG:
            mask |= reg_bit(0)
        return mask
    if insn.is_lddw:
        return 0
    # legacy packet loads read the context from r6 (and an index register)
    return reg_bit(6) | (reg_bit(insn.src) if insn.mode == Mode.IND else 0)


def regs_written(insn: Insn) -> int:
    cls = insn.opcode & CLASS_MASK
    if cls in (Cls.ALU, Cls.ALU64, Cls.LDX) or insn.is_lddw:
        return reg_bit(insn.dst)
    if cls == Cls.STX and insn.mode == Mode.ATOMIC:
        if insn.imm == AtomicOp.CMPXCHG:
            return reg_bit(0)
        if insn.imm & AtomicOp.FETCH:
            return reg_bit(insn.src)
        return 0
    if insn.is_call:
        return reg_bit(0)
    if cls == Cls.LD:  # legacy packet loads
        return reg_bit(0)
    return 0


def regs_clobbered(insn: Insn) -> int:
    """Registers an instruction leaves uninitialised (r1..r5 after any call)."""
    if insn.is_call or (insn.opcode & CLASS_MASK == Cls.LD and not insn.is_lddw):
        return CALLER_SAVED
    return 0


def maybe_uninitialised(listing: Listing, body: list[int], entry: int, entry_uninit: int) -> dict[int, int]:
    """For each pc of a function: registers that may be uninitialised before it runs (bitmask)."""
    state: dict[int, int] = {entry: entry_uninit}
    members = set(body)
    todo = [entry]
    while todo:
        pc = todo.pop()
        insn = listing.by_pc[pc]
        out = (state[pc] & ~regs_written(insn)) | regs_clobbered(insn)
        for target, _ in successors(listing, pc):
            if target not in members:
                continue
            old = state.get(target)
            new = out if old is None else old | out
            if new != old:
                state[target] = new
                todo.append(target)
    return state
