"""The interpreter (`interp.vm.Machine`): the generated code against a step-by-step reference,
loops and the instruction budget, every fault kind, RFC 9669 semantics through the VM, and
programs refused at construction.

The reference interpreter below executes one instruction at a time over a list of `Insn`,
using `interp.semantics` (`IntBackend`) for ALU and jump decisions and a `bytearray` for the
stack; it shares no code with the VM's translator, control-flow analysis or address space.
"""

from __future__ import annotations

from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interp.builder import R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, Prog
from interp.conformance import run_with_memory
from interp.faults import FaultKind, ProgramError, VmFault
from interp.helpers import ArgType, Helper, HelperRegistry, conformance_helpers
from interp.isa.insn import Insn
from interp.isa.opcodes import (
    CALL,
    CLASS_MASK,
    EXIT,
    JA,
    JA32,
    LDDW,
    MODE_MASK,
    OP_MASK,
    SIZE_BYTES,
    SIZE_MASK,
    SRC_X,
    STACK_SIZE,
    AluOp,
    AtomicOp,
    Cls,
    JmpOp,
    Mode,
    Size,
)
from interp.isa.ops import lift
from interp.memory import (
    CALLER_MEMORY_BASE,
    CONTEXT_BASE,
    STACK_BASE,
    Region,
    RegionKind,
)
from interp.semantics import IntBackend, alu, branch_taken
from interp.vm import MAX_CALL_FRAMES, Machine, RunResult

INT = IntBackend()
M32 = (1 << 32) - 1
M64 = (1 << 64) - 1
FRAME0_END = STACK_BASE + STACK_SIZE  # r10 of the entry function
SIZE_BITS = {1: Size.B, 2: Size.H, 4: Size.W, 8: Size.DW}


def assert_ok(result: RunResult, r0: int, executed: int) -> None:
    """The run ended normally (exit or a helper ending it) with `r0` after `executed` insns."""
    assert result.fault is None, result.fault
    assert (result.r0, result.insns_executed) == (r0, executed)


# ---------------------------------------------------------------------------
# A small reference interpreter
# ---------------------------------------------------------------------------


class RefError(AssertionError):
    """The generator produced something the reference does not model (a test bug)."""


def _stack_offset(addr: int, size: int) -> int:
    offset = addr - STACK_BASE
    if not 0 <= offset <= STACK_SIZE - size:
        raise RefError(f"reference: {size}-byte access at {addr:#x} is outside the stack")
    return offset


def reference_run(insns: list[Insn], r1: int = 0) -> tuple[int, int]:
    """Run `insns` one instruction at a time; return (r0, instructions executed)."""
    index_of: dict[int, int] = {}
    slot = 0
    for i, insn in enumerate(insns):
        index_of[slot] = i
        slot += 2 if insn.opcode == LDDW else 1
    regs: list[int | None] = [None] * 11
    regs[1] = r1 & M64
    regs[10] = FRAME0_END
    stack = bytearray(STACK_SIZE)  # the VM gives every frame zeroed bytes

    def reg(n: int) -> int:
        value = regs[n]
        if value is None:
            raise RefError(f"reference: r{n} read uninitialised")
        return value

    def load(addr: int, size: int, signed: bool = False) -> int:
        off = _stack_offset(addr, size)
        return int.from_bytes(stack[off : off + size], "little", signed=signed) & M64

    def store(addr: int, size: int, value: int) -> None:
        off = _stack_offset(addr, size)
        stack[off : off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    pc = 0
    executed = 0
    while True:
        insn = insns[index_of[pc]]
        executed += 1
        cls = insn.opcode & CLASS_MASK
        x = bool(insn.opcode & SRC_X)
        nxt = pc + (2 if insn.opcode == LDDW else 1)
        if cls in (Cls.ALU, Cls.ALU64):
            assert insn.dst != 10
            src = reg(insn.src) if x and insn.opcode & OP_MASK != AluOp.END else None
            dst = None if insn.opcode & OP_MASK == AluOp.MOV else reg(insn.dst)
            regs[insn.dst] = alu(INT, lift(insn, pc), 0 if dst is None else dst, src)
        elif insn.opcode == LDDW:
            regs[insn.dst] = insn.imm & M64
        elif cls == Cls.LDX:
            size = SIZE_BYTES[Size(insn.opcode & SIZE_MASK)]
            signed = insn.opcode & MODE_MASK == Mode.MEMSX
            regs[insn.dst] = load((reg(insn.src) + insn.off) & M64, size, signed)
        elif cls in (Cls.ST, Cls.STX):
            size = SIZE_BYTES[Size(insn.opcode & SIZE_MASK)]
            addr = (reg(insn.dst) + insn.off) & M64
            if cls == Cls.ST:
                store(addr, size, insn.imm)  # imm sign-extended, then truncated to the size
            elif insn.opcode & MODE_MASK == Mode.MEM:
                store(addr, size, reg(insn.src))
            else:  # atomic
                mask = (1 << (8 * size)) - 1
                old = load(addr, size)
                operand = reg(insn.src) & mask
                if insn.imm == AtomicOp.CMPXCHG:
                    if old == reg(0) & mask:
                        store(addr, size, operand)
                    regs[0] = old
                else:
                    base = insn.imm & ~AtomicOp.FETCH
                    if insn.imm == AtomicOp.XCHG:
                        new = operand
                    elif base == AtomicOp.ADD:
                        new = old + operand
                    elif base == AtomicOp.OR:
                        new = old | operand
                    elif base == AtomicOp.AND:
                        new = old & operand
                    elif base == AtomicOp.XOR:
                        new = old ^ operand
                    else:
                        raise RefError(f"reference: atomic imm {insn.imm:#x} not modelled")
                    store(addr, size, new)
                    if insn.imm & AtomicOp.FETCH:
                        regs[insn.src] = old  # zero-extended old value
        elif cls in (Cls.JMP, Cls.JMP32):
            if insn.opcode == EXIT:
                return reg(0), executed
            if insn.opcode == JA:
                nxt = pc + 1 + insn.off
            elif insn.opcode == JA32:
                nxt = pc + 1 + insn.imm
            elif insn.opcode & OP_MASK == JmpOp.CALL:
                raise RefError("reference: calls are not modelled")
            elif branch_taken(INT, lift(insn, pc), reg(insn.dst), reg(insn.src) if x else None):
                nxt = pc + 1 + insn.off
        else:
            raise RefError(f"reference: opcode {insn.opcode:#x} not modelled")
        pc = nxt


# ---------------------------------------------------------------------------
# Random programs: straight-line code with forward jumps, optionally inside a counted loop
# ---------------------------------------------------------------------------

EDGE64 = [0, 1, 2, 7, 31, 32, 63, 64, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
          0xFFFFFFFF, 0x1_00000000, 0x1_00000001, 0x7FFFFFFF_FFFFFFFF, 0x80000000_00000000, M64,
          M64 - 6, 0xFFFFFFFF_80000000, 0x11223344_55667788]
EDGE_IMM = [0, 1, -1, 2, -2, 7, -7, 8, 16, 31, 32, 63, 64, 0x7F, 0x80, 0x7FFF, -0x8000,
            0x7FFFFFFF, -0x80000000]

u64s = st.one_of(st.sampled_from(EDGE64), st.integers(0, M64))
imm32s = st.one_of(st.sampled_from(EDGE_IMM), st.integers(-(1 << 31), (1 << 31) - 1))
data_regs = st.integers(0, 9)  # registers read; r10 is read only through the "ptr" item

BINARY_OPS = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND, AluOp.LSH,
              AluOp.RSH, AluOp.MOD, AluOp.XOR, AluOp.MOV, AluOp.ARSH]
COND_OPS = [JmpOp.JEQ, JmpOp.JGT, JmpOp.JGE, JmpOp.JSET, JmpOp.JNE, JmpOp.JSGT, JmpOp.JSGE,
            JmpOp.JLT, JmpOp.JLE, JmpOp.JSLT, JmpOp.JSLE]
ATOMIC_IMMS = [AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR, AtomicOp.XCHG,
               AtomicOp.CMPXCHG]
FOLD_MUL = 1_000_003


@st.composite
def alu_insn(draw: st.DrawFn, top: int = 9) -> Insn:
    """A random ALU/ALU64 instruction writing one of r0..r`top` (reading any of r0..r9)."""
    cls = draw(st.sampled_from([Cls.ALU, Cls.ALU64]))
    dst = draw(st.integers(0, top))
    kind = draw(st.sampled_from(["binary", "binary", "binary", "neg", "movsx", "end"]))
    if kind == "neg":
        return Insn(cls | AluOp.NEG, dst)
    if kind == "movsx":
        bits = draw(st.sampled_from([8, 16, 32] if cls == Cls.ALU64 else [8, 16]))
        return Insn(cls | AluOp.MOV | SRC_X, dst, draw(data_regs), bits)
    if kind == "end":
        form = draw(st.sampled_from(["le", "be", "bswap"]))
        bits = draw(st.sampled_from([16, 32, 64]))
        if form == "bswap":
            return Insn(Cls.ALU64 | AluOp.END, dst, imm=bits)
        return Insn(Cls.ALU | AluOp.END | (SRC_X if form == "be" else 0), dst, imm=bits)
    op = draw(st.sampled_from(BINARY_OPS))
    off = draw(st.sampled_from([0, 1])) if op in (AluOp.DIV, AluOp.MOD) else 0
    if draw(st.booleans()):
        return Insn(cls | op | SRC_X, dst, draw(data_regs), off)
    return Insn(cls | op, dst, 0, off, draw(imm32s))


def _stack_off(draw: st.DrawFn, size: int, aligned: bool = False) -> int:
    off = draw(st.integers(-STACK_SIZE, -size))
    return off - off % size if aligned else off


Item = list[tuple[Insn, "str | None", str]]  # (insn, "" for a forward jump needing a label, label field)


@st.composite
def body_item(draw: st.DrawFn, top: int = 9) -> Item:
    """One piece of program; it writes only r0..r`top` and never r10."""
    written = st.integers(0, top)
    kind = draw(st.sampled_from(["alu"] * 8 + ["st", "stx", "ldx", "ptr", "atomic", "jmp", "jmp", "ja"]))
    if kind == "alu":
        return [(draw(alu_insn(top)), None, "off")]
    size = draw(st.sampled_from([1, 2, 4, 8]))
    if kind == "st":
        return [(Insn(Cls.ST | Mode.MEM | SIZE_BITS[size], 10, 0, _stack_off(draw, size), draw(imm32s)), None, "off")]
    if kind == "stx":
        return [(Insn(Cls.STX | Mode.MEM | SIZE_BITS[size], 10, draw(data_regs), _stack_off(draw, size)), None, "off")]
    if kind == "ldx":
        mode = Mode.MEMSX if size < 8 and draw(st.booleans()) else Mode.MEM
        return [(Insn(Cls.LDX | mode | SIZE_BITS[size], draw(written), 10, _stack_off(draw, size)), None, "off")]
    if kind == "ptr":
        # a copy of r10 moved within the frame, then an access through it (the VM's address-space path)
        ptr = draw(written)
        shift = draw(st.integers(-STACK_SIZE, 0))
        off = draw(st.integers(-STACK_SIZE - shift, -size - shift))
        first: Item = [(Insn(Cls.ALU64 | AluOp.MOV | SRC_X, ptr, 10), None, "off"),
                       (Insn(Cls.ALU64 | AluOp.ADD, ptr, 0, 0, shift), None, "off")]
        which = draw(st.sampled_from(["st", "stx", "ldx"]))
        if which == "st":
            access = Insn(Cls.ST | Mode.MEM | SIZE_BITS[size], ptr, 0, off, draw(imm32s))
        elif which == "stx":
            access = Insn(Cls.STX | Mode.MEM | SIZE_BITS[size], ptr, draw(data_regs), off)
        else:
            mode = Mode.MEMSX if size < 8 and draw(st.booleans()) else Mode.MEM
            access = Insn(Cls.LDX | mode | SIZE_BITS[size], draw(written), ptr, off)
        return first + [(access, None, "off")]
    if kind == "atomic":
        size = draw(st.sampled_from([4, 8]))
        imm = draw(st.sampled_from(ATOMIC_IMMS))
        if imm in (AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR) and draw(st.booleans()):
            imm |= AtomicOp.FETCH
        src = draw(written if imm & AtomicOp.FETCH and imm != AtomicOp.CMPXCHG else data_regs)
        off = _stack_off(draw, size, aligned=True)
        return [(Insn(Cls.STX | Mode.ATOMIC | SIZE_BITS[size], 10, src, off, int(imm)), None, "off")]
    if kind == "ja":
        if draw(st.booleans()):
            return [(Insn(JA), "", "off")]
        return [(Insn(JA32), "", "imm")]  # gotol: offset in imm
    cls = draw(st.sampled_from([Cls.JMP, Cls.JMP32]))
    op = draw(st.sampled_from(COND_OPS))
    if draw(st.booleans()):
        return [(Insn(cls | op | SRC_X, draw(data_regs), draw(data_regs)), "", "off")]
    return [(Insn(cls | op, draw(data_regs), 0, 0, draw(imm32s)), "", "off")]


def fold_tail() -> Prog:
    """Instructions that mix r0..r9 and every stack double word into r0 (then the caller exits)."""
    p = Prog()
    for r in range(1, 10):
        p.mul(R0, FOLD_MUL).xor(R0, f"r{r}")
    for off in range(-STACK_SIZE, 0, 8):
        p.ldx(8, R1, R10, off).mul(R0, FOLD_MUL).xor(R0, "r1")
    return p


def _emit_items(draw: st.DrawFn, p: Prog, items: list[Item], prefix: str) -> None:
    """Append items, labelling each; jumps go forward to a later item or past the last one."""
    for i, item in enumerate(items):
        p.label(f"{prefix}{i}")
        for insn, target, field in item:
            if target is None:
                p.insn(insn)
            else:
                p.insn(insn, f"{prefix}{draw(st.integers(i + 1, len(items)))}", field)
    p.label(f"{prefix}{len(items)}")


@st.composite
def random_program(draw: st.DrawFn, loop: bool = False) -> list[Insn]:
    """lddw r0..r9 with drawn constants, random items, the fold of registers and stack, exit.

    With `loop`, the items are the body of a loop counted down in r9 (which they never
    write) that runs 1..6 times; a body without jumps makes the loop a single block."""
    p = Prog()
    for r in range(10):
        p.lddw(r, draw(u64s))
    if loop:
        p.mov(R9, draw(st.integers(1, 6)))
        p.label("loop")
        _emit_items(draw, p, draw(st.lists(body_item(top=8), min_size=3, max_size=15)), "B")
        p.sub(R9, 1).jne(R9, 0, "loop")
    else:
        _emit_items(draw, p, draw(st.lists(body_item(), min_size=8, max_size=40)), "L")
    for insn in fold_tail().build():
        p.insn(insn)
    return p.exit().build()


DIFFERENTIAL = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@DIFFERENTIAL
@given(random_program())
def test_vm_matches_reference(insns: list[Insn]) -> None:
    expected_r0, expected_count = reference_run(insns)
    result = Machine(insns).run()
    assert result.fault is None, result.fault
    assert result.r0 == expected_r0
    assert result.insns_executed == expected_count


@DIFFERENTIAL
@given(random_program(loop=True))
def test_vm_matches_reference_in_loops(insns: list[Insn]) -> None:
    expected_r0, expected_count = reference_run(insns)
    assert_ok(Machine(insns).run(), expected_r0, expected_count)
    # the budget: exactly enough runs to the end, one less stops within it
    assert_ok(Machine(insns, budget=expected_count).run(), expected_r0, expected_count)
    short = Machine(insns, budget=expected_count - 1).run()
    assert short.fault is not None and short.fault.kind == FaultKind.BUDGET_EXHAUSTED
    assert short.r0 is None and short.insns_executed <= expected_count - 1


def segmented(insns: list[Insn], budget: int) -> RunResult:
    """A run with every function translated in segments of two blocks or so (as long ones are)."""
    import interp.vm as vm

    saved = vm.SEGMENTED_FUNCTION, vm.SEGMENT_INSNS
    vm.SEGMENTED_FUNCTION, vm.SEGMENT_INSNS = 0, 2
    try:
        return Machine(insns, budget=budget).run()
    finally:
        vm.SEGMENTED_FUNCTION, vm.SEGMENT_INSNS = saved


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_program(loop=True), st.integers(min_value=1, max_value=2000))
def test_segmented_translation_matches_reference(insns: list[Insn], budget: int) -> None:
    expected_r0, expected_count = reference_run(insns)
    assert_ok(segmented(insns, expected_count), expected_r0, expected_count)
    # one instruction short stops within the budget (blocks are shorter, so maybe later than whole)
    short = segmented(insns, min(budget, expected_count - 1))
    assert short.fault is not None and short.fault.kind == FaultKind.BUDGET_EXHAUSTED
    assert short.r0 is None and short.insns_executed <= min(budget, expected_count - 1)


def test_reference_sanity() -> None:
    # the reference itself on a hand-checked program: 3 * 5 with the stack in between
    insns = Prog().mov(R1, 3).stx(8, R10, -8, R1).ldx(8, R2, R10, -8).mov(R0, 5).mul(R0, "r2").exit().build()
    assert reference_run(insns) == (15, 6)
    assert_ok(Machine(insns).run(), 15, 6)


# ---------------------------------------------------------------------------
# Loops and the budget
# ---------------------------------------------------------------------------

SUM_LOOP = Prog().mov(R0, 0).mov(R1, 10).label("loop").add(R0, "r1").sub(R1, 1) \
                 .jne(R1, 0, "loop").exit().build()


def test_counted_loop_sum_and_count() -> None:
    result = Machine(SUM_LOOP).run()
    assert_ok(result, 55, 2 + 3 * 10 + 1)


@pytest.mark.parametrize("n", [1, 2, 100, 12345])
def test_counted_loop_sizes(n: int) -> None:
    insns = Prog().mov(R0, 0).mov(R1, n).label("loop").add(R0, "r1").sub(R1, 1) \
                  .jne(R1, 0, "loop").exit().build()
    assert_ok(Machine(insns).run(), n * (n + 1) // 2, 2 + 3 * n + 1)


def test_loop_of_several_blocks() -> None:
    # sum of the odd numbers below 10: the loop body branches, so it is not a single block
    insns = (Prog().mov(R0, 0).mov(R1, 0)
             .label("loop").jset(R1, 1, "odd").ja("next")
             .label("odd").add(R0, "r1")
             .label("next").add(R1, 1).jlt(R1, 10, "loop").exit().build())
    result = Machine(insns).run()
    # per iteration: jset + (ja | add) + add + jlt = 4
    assert_ok(result, 1 + 3 + 5 + 7 + 9, 2 + 4 * 10 + 1)


def test_loop_with_helper_and_local_calls() -> None:
    # a self-loop whose block calls a helper (counted with range) and one that calls a local
    # function (a plain while loop) both count every instruction
    helper_loop = (Prog().mov(R0, 0).mov(R6, 5)
                   .label("loop").mov(R1, 2).call(5).add(R6, -1).jne(R6, 0, "loop").exit().build())
    assert_ok(Machine(helper_loop).run(), 2, 2 + 4 * 5 + 1)
    local_loop = (Prog().mov(R6, 0).mov(R7, 4)
                  .label("loop").mov(R1, "r7").call_local("f").add(R6, "r0").add(R7, -1)
                  .jne(R7, 0, "loop").mov(R0, "r6").exit()
                  .label("f").mov(R0, "r1").mul(R0, 10).exit().build())
    # main: 2 + 4 * (mov, call, add, add, jne) + mov + exit; callee: 3 per call
    assert_ok(Machine(local_loop).run(), 100, 2 + 4 * 5 + 2 + 4 * 3)


def test_budget_exactly_enough_and_one_short() -> None:
    assert_ok(Machine(SUM_LOOP, budget=33).run(), 55, 33)
    result = Machine(SUM_LOOP, budget=32).run()
    assert result.fault is not None and result.fault.kind == FaultKind.BUDGET_EXHAUSTED
    # 32 instructions ran; the 33rd, the exit at pc 5, is the one the budget refuses
    assert result.r0 is None and result.insns_executed == 32 and result.fault.pc == 5


def test_budget_exhausted_on_ja_loop() -> None:
    insns = Prog().mov(R0, 0).label("l").ja("l").build()
    result = Machine(insns, budget=100).run()
    fault = result.fault
    assert fault is not None and fault.kind == FaultKind.BUDGET_EXHAUSTED
    assert fault.pc == 1
    assert "budget of 100 exhausted" in fault.message
    assert result.r0 is None
    assert result.insns_executed == 100  # one-instruction blocks: every instruction that fits runs


def test_budget_exhausted_on_counted_self_loop() -> None:
    insns = Prog().mov(R0, 0).label("l").add(R0, 1).jne(R0, 0, "l").exit().build()
    result = Machine(insns, budget=1000).run()
    fault = result.fault
    assert fault is not None and fault.kind == FaultKind.BUDGET_EXHAUSTED
    assert fault.pc == 1
    assert "budget of 1000 exhausted" in fault.message
    assert 1000 - 2 < result.insns_executed <= 1000


def test_budget_exhausted_on_two_block_loop() -> None:
    insns = (Prog().mov(R0, 0).label("l").add(R0, 1).jeq(R0, 0, "out").ja("l")
             .label("out").exit().build())
    result = Machine(insns, budget=50).run()
    assert result.fault is not None and result.fault.kind == FaultKind.BUDGET_EXHAUSTED
    assert result.fault.pc in (1, 3)
    assert 50 - 2 < result.insns_executed <= 50


# ---------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------


def run_fault(machine: Machine, r1: int = 0) -> tuple[VmFault, RunResult]:
    result = machine.run(r1)
    assert result.fault is not None, f"expected a fault, got {result}"
    assert result.r0 is None
    return result.fault, result


def test_out_of_bounds_read_of_arbitrary_address() -> None:
    insns = Prog().lddw(R1, 0x1234_5678).mov(R2, 0).ldx(8, R0, R1, 8).exit().build()
    fault, result = run_fault(Machine(insns))
    assert fault.kind == FaultKind.OUT_OF_BOUNDS
    assert fault.pc == 3
    assert "8-byte read at 0x12345680 hits no memory" in fault.message
    assert fault.insn == insns[2]
    assert result.insns_executed == 3


def test_read_past_end_of_caller_memory() -> None:
    insns = Prog().ldx(4, R0, R1, 2).ldx(8, R0, R1, 4).exit().build()
    result = run_with_memory(insns, bytes(range(8)), 1000)
    fault = result.fault
    assert fault is not None and fault.kind == FaultKind.OUT_OF_BOUNDS
    assert fault.pc == 1
    assert "8-byte read at memory+4 runs past the end of the 8-byte memory" in fault.message
    # and the in-bounds read before it saw the bytes
    ok = run_with_memory(Prog().ldx(4, R0, R1, 4).exit().build(), bytes(range(8)), 1000)
    assert ok.r0 == 0x07060504


@pytest.mark.parametrize("off,size", [(-520, 8), (-513, 1), (-516, 8), (-1000, 4)])
def test_stack_access_below_frame(off: int, size: int) -> None:
    insns = Prog().mov(R0, 0).ldx(size, R0, R10, off).exit().build()
    fault, _ = run_fault(Machine(insns))
    assert fault.kind == FaultKind.OUT_OF_BOUNDS
    assert fault.pc == 1
    assert f"{size}-byte read" in fault.message and "hits no memory" in fault.message


@pytest.mark.parametrize("off,size", [(0, 1), (-4, 8), (-1, 2)])
def test_stack_write_above_frame(off: int, size: int) -> None:
    insns = Prog().mov(R0, 0).st(size, R10, off, 1).exit().build()
    fault, _ = run_fault(Machine(insns))
    assert fault.kind == FaultKind.OUT_OF_BOUNDS
    assert fault.pc == 1
    assert f"{size}-byte write" in fault.message


def test_whole_frame_is_addressable() -> None:
    insns = (Prog().st(8, R10, -512, 5).st(1, R10, -1, 7).ldx(8, R0, R10, -512).ldx(1, R1, R10, -1)
             .add(R0, "r1").exit().build())
    assert Machine(insns).run().r0 == 12


def context_machine(insns: list[Insn], data: bytes = bytes(range(16))) -> Machine:
    machine = Machine(insns)
    machine.space.map(Region(RegionKind.CONTEXT, "", CONTEXT_BASE, bytearray(data),
                             writable=False, aligned=True))
    return machine


def test_write_to_read_only_context() -> None:
    insns = Prog().ldx(8, R0, R1, 8).st(4, R1, 4, 1).exit().build()
    fault, _ = run_fault(context_machine(insns), CONTEXT_BASE)
    assert fault.kind == FaultKind.READ_ONLY
    assert fault.pc == 1
    assert "4-byte write to context+4" in fault.message and "read-only" in fault.message
    stx = Prog().mov(R2, 9).stx(8, R1, 0, R2).mov(R0, 0).exit().build()
    fault, _ = run_fault(context_machine(stx), CONTEXT_BASE)
    assert fault.kind == FaultKind.READ_ONLY and fault.pc == 1
    atomic = Prog().mov(R2, 9).atomic(8, "add", R1, 0, R2).mov(R0, 0).exit().build()
    fault, _ = run_fault(context_machine(atomic), CONTEXT_BASE)
    assert fault.kind == FaultKind.READ_ONLY and fault.pc == 1


def test_misaligned_context_read() -> None:
    insns = Prog().ldx(4, R0, R1, 4).ldx(8, R0, R1, 3).exit().build()
    fault, _ = run_fault(context_machine(insns), CONTEXT_BASE)
    assert fault.kind == FaultKind.MISALIGNED
    assert fault.pc == 1
    assert "8-byte read at context+3 is misaligned" in fault.message
    # aligned reads of the same region succeed
    ok = Prog().ldx(8, R0, R1, 8).exit().build()
    assert context_machine(ok).run(CONTEXT_BASE).r0 == int.from_bytes(bytes(range(8, 16)), "little")


@pytest.mark.parametrize("build", [
    pytest.param(lambda: Prog().mov(R0, 0).mov(R10, 5), id="mov"),
    pytest.param(lambda: Prog().mov(R0, 0).add32(R10, 5), id="add32"),
    pytest.param(lambda: Prog().mov(R0, 0).neg(R10), id="neg"),
    pytest.param(lambda: Prog().mov(R0, 0).ldx(8, R10, R10, -8), id="ldx"),
    pytest.param(lambda: Prog().mov(R0, 0).lddw(R10, 5), id="lddw"),
    pytest.param(lambda: Prog().mov(R0, 0).atomic(8, "add", R10, -8, R10, fetch=True), id="atomic-fetch"),
    pytest.param(lambda: Prog().mov(R0, 0).atomic(8, "xchg", R10, -8, R10), id="atomic-xchg"),
    pytest.param(lambda: Prog().mov(R0, 0).atomic(4, "or", R10, -8, R10, fetch=True), id="atomic32-fetch"),
])
def test_write_to_frame_pointer(build: Callable[[], Prog]) -> None:
    insns = build().mov(R0, "r10").exit().build()
    fault, _ = run_fault(Machine(insns))
    assert fault.kind == FaultKind.FRAME_POINTER_WRITE
    assert fault.pc == 1
    assert "frame pointer" in fault.message


def test_uninitialised_register_read() -> None:
    fault, result = run_fault(Machine(Prog().mov(R0, "r3").exit().build()))
    assert fault.kind == FaultKind.UNINITIALISED_REGISTER
    assert fault.pc == 0
    assert "r3 is read before it is initialised" in fault.message
    assert result.insns_executed == 1


def test_exit_without_r0() -> None:
    fault, _ = run_fault(Machine(Prog().mov(R1, 1).exit().build()))
    assert fault.kind == FaultKind.UNINITIALISED_REGISTER
    assert fault.pc == 1
    assert "r0 is returned by exit before it is initialised" in fault.message


def test_r2_uninitialised_with_one_entry_argument() -> None:
    fault, _ = run_fault(Machine(Prog().mov(R0, 0).add(R0, "r2").exit().build()))
    assert fault.kind == FaultKind.UNINITIALISED_REGISTER
    assert fault.pc == 1 and "r2 is read" in fault.message


def test_uninitialised_only_on_one_path() -> None:
    insns = Prog().jeq(R1, 0, "skip").mov(R3, 7).label("skip").mov(R0, "r3").exit().build()
    machine = Machine(insns)
    assert_ok(machine.run(1), 7, 4)
    fault, _ = run_fault(machine, 0)
    assert fault.kind == FaultKind.UNINITIALISED_REGISTER and fault.pc == 2
    assert "r3 is read" in fault.message


@pytest.mark.parametrize("reg", [R1, R2, R3, R4, R5])
def test_caller_saved_registers_unset_after_helper_call(reg: int) -> None:
    p = Prog()
    for r in (R1, R2, R3, R4, R5):
        p.mov(r, 1)
    insns = p.call(5).mov(R0, f"r{reg}").exit().build()
    fault, _ = run_fault(Machine(insns))
    assert fault.kind == FaultKind.UNINITIALISED_REGISTER
    assert fault.pc == 6
    assert f"r{reg} is read before it is initialised" in fault.message


def test_callee_saved_registers_survive_helper_call() -> None:
    p = Prog()
    for r in (R6, R7, R8, R9):
        p.mov(r, r)
    insns = p.mov(R1, 100).call(5).add(R0, "r6").add(R0, "r7").add(R0, "r8").add(R0, "r9").exit().build()
    assert Machine(insns).run().r0 == 100 + 6 + 7 + 8 + 9


def test_helper_argument_uninitialised() -> None:
    registry = HelperRegistry("test")
    registry.add(Helper(7, "add2", lambda m, pc, args: args[0] + args[1],
                        args=(ArgType.ANYTHING, ArgType.ANYTHING)))
    ok = Prog().mov(R1, 3).mov(R2, 4).call(7).exit().build()
    assert_ok(Machine(ok, registry).run(), 7, 4)
    bad = Prog().mov(R1, 3).call(7).exit().build()
    fault, _ = run_fault(Machine(bad, registry))
    assert fault.kind == FaultKind.UNINITIALISED_REGISTER
    assert fault.pc == 1 and "reads argument r2" in fault.message


def test_helper_result_masked_and_receives_machine() -> None:
    seen: list[tuple[int, list[int]]] = []

    def impl(machine: Machine, pc: int, args: list[int]) -> int:
        seen.append((pc, list(args)))
        return -1  # the VM keeps the low 64 bits

    registry = HelperRegistry("test")
    registry.add(Helper(1, "minus_one", impl, args=(ArgType.ANYTHING,)))
    insns = Prog().mov(R0, 0).mov(R1, 42).call(1).exit().build()
    assert Machine(insns, registry).run().r0 == M64
    assert len(seen) == 1 and seen[0][0] == 2 and seen[0][1][0] == 42


def test_unknown_helper() -> None:
    insns = Prog().mov(R1, 1).call(999).exit().build()
    fault, _ = run_fault(Machine(insns))
    assert fault.kind == FaultKind.UNKNOWN_HELPER
    assert fault.pc == 1
    assert "call to unknown helper 999" in fault.message


def test_unknown_helper_through_callx() -> None:
    insns = Prog().mov(R1, 1).mov(R3, 12).callx(R3).exit().build()
    fault, _ = run_fault(Machine(insns))
    assert fault.kind == FaultKind.UNKNOWN_HELPER and fault.pc == 2
    assert "unknown helper 12" in fault.message


def _recursive(depth_arg: int) -> list[Insn]:
    # f(n): if n == 0 return 0; else return f(n - 1) + 1 -- each call nests one frame
    return (Prog().mov(R1, depth_arg).call_local("f").exit()
            .label("f").mov(R0, 0).jeq(R1, 0, "ret").sub(R1, 1).call_local("f").add(R0, 1)
            .label("ret").exit().build())


def test_eight_frames_are_allowed() -> None:
    # main + 7 nested calls = 8 frames
    assert Machine(_recursive(MAX_CALL_FRAMES - 2)).run().r0 == MAX_CALL_FRAMES - 2
    assert MAX_CALL_FRAMES == 8


def test_call_depth_exceeded() -> None:
    insns = _recursive(MAX_CALL_FRAMES - 1)  # needs 9 frames
    fault, _ = run_fault(Machine(insns))
    assert fault.kind == FaultKind.CALL_DEPTH
    assert "9 frames deep" in fault.message
    # the instruction that fails is the local call (pc 6), not the callee's first instruction
    assert fault.pc == 6
    assert fault.insn == insns[6]


def test_unbounded_recursion_is_call_depth_not_python_error() -> None:
    insns = Prog().mov(R0, 0).call_local("f").exit().label("f").call_local("f").exit().build()
    fault, _ = run_fault(Machine(insns))
    assert fault.kind == FaultKind.CALL_DEPTH


def test_kfunc_call_unsupported() -> None:
    insns = [Insn(0xB7, R0, imm=0), Insn(CALL, src=2, imm=1234), Insn(0x95)]
    fault, _ = run_fault(Machine(insns))
    assert fault.kind == FaultKind.UNSUPPORTED
    assert fault.pc == 1
    assert "kfunc" in fault.message and "1234" in fault.message


def test_legacy_packet_load_unsupported() -> None:
    insns = [Insn(0xBF, R6, R1), Insn(Cls.LD | Mode.ABS | Size.W, imm=0), Insn(0x95)]
    fault, _ = run_fault(Machine(insns))
    assert fault.kind == FaultKind.UNSUPPORTED and fault.pc == 1
    assert "legacy packet loads" in fault.message


def test_machine_reusable_after_fault() -> None:
    insns = Prog().jeq(R1, 0, "bad").mov(R1, 0).call_local("f").exit() \
                  .label("bad").ldx(8, R0, R1, 0).exit() \
                  .label("f").st(8, R10, -8, 3).ldx(8, R0, R10, -8).exit().build()
    machine = Machine(insns)
    for _ in range(3):
        assert machine.run(1).r0 == 3
        assert run_fault(machine, 0)[0].kind == FaultKind.OUT_OF_BOUNDS


# --- instruction counts when a run stops early -------------------------------------------


def test_executed_count_of_fault_inside_counted_loop() -> None:
    # walks 8-byte steps over 24 bytes: the 4th load faults; mov + 3 iterations of 4 + the load
    insns = (Prog().mov(R0, 0).label("l").ldx(8, R3, R1, 0).add(R0, "r3").add(R1, 8)
             .jne(R3, 99, "l").exit().build())
    result = run_with_memory(insns, bytes(24), 1000)
    assert result.fault is not None and result.fault.kind == FaultKind.OUT_OF_BOUNDS
    assert result.fault.pc == 1
    assert f"8-byte read at {CALLER_MEMORY_BASE + 24:#x} hits no memory" in result.fault.message
    assert result.insns_executed == 1 + 3 * 4 + 1


def test_executed_count_of_unwind_inside_counted_loop() -> None:
    # unwind(r6) for r6 = 2, 1, 0: the third call ends the program
    insns = (Prog().mov(R0, 0).mov(R6, 3).label("l").add(R6, -1).mov(R1, "r6").call(5)
             .jne(R0, 99, "l").exit().build())
    assert_ok(Machine(insns).run(), 0, 2 + 4 * 2 + 3)


# --- instruction counts when a run stops inside a callee ----------------------------------


def test_executed_count_of_fault_in_callee() -> None:
    # runs: mov r1, call f, ldx (faults) -- the two movs after the call never run
    insns = (Prog().mov(R1, 0).call_local("f").mov(R0, 0).mov(R0, 1).exit()
             .label("f").ldx(8, R0, R1, 0).exit().build())
    fault, result = run_fault(Machine(insns))
    assert fault.kind == FaultKind.OUT_OF_BOUNDS and fault.pc == 5
    assert result.insns_executed == 3


def test_executed_count_of_unwind_in_callee() -> None:
    insns = (Prog().mov(R1, 0).call_local("f").mov(R0, 0).mov(R0, 1).exit()
             .label("f").call(5).exit().build())
    assert_ok(Machine(insns).run(), 0, 3)


# ---------------------------------------------------------------------------
# RFC 9669 semantics through the VM
# ---------------------------------------------------------------------------


def run_r0(p: Prog, r1: int = 0) -> int:
    result = Machine(p.build()).run(r1)
    assert result.fault is None, result.fault
    assert result.r0 is not None
    return result.r0


DIVIDEND = 0xFEDC_BA98_7654_3210


@pytest.mark.parametrize("op", ["div", "mod", "sdiv", "smod"])
@pytest.mark.parametrize("wide", [True, False])
@pytest.mark.parametrize("reg_form", [True, False])
def test_division_by_zero(op: str, wide: bool, reg_form: bool) -> None:
    p = Prog().lddw(R0, DIVIDEND).mov(R2, 0)
    name = op if wide else op + "32"
    getattr(p, name)(R0, "r2" if reg_form else 0)
    result = Machine(p.exit().build()).run()
    assert result.fault is None
    is_div = op in ("div", "sdiv")
    expected = 0 if is_div else (DIVIDEND if wide else DIVIDEND & M32)
    assert result.r0 == expected


@pytest.mark.parametrize("op,a,b,expected", [
    ("sdiv", -7, 2, -3), ("smod", -7, 2, -1), ("sdiv", 7, -2, -3), ("smod", 7, -2, 1),
    ("sdiv", -(1 << 63), -1, -(1 << 63)), ("smod", -(1 << 63), -1, 0),
    ("sdiv32", -7, 2, (-3) & M32), ("smod32", -7, 2, (-1) & M32),
    ("sdiv32", -(1 << 31), -1, 1 << 31), ("smod32", -(1 << 31), -1, 0),
    ("div", -1, 2, M64 // 2), ("mod32", 0x1_0000_0007, 4, 3),
])
def test_signed_division(op: str, a: int, b: int, expected: int) -> None:
    p = Prog().lddw(R0, a).lddw(R1, b)
    getattr(p, op)(R0, "r1")
    assert run_r0(p.exit()) == expected & M64


def test_alu32_zero_extends_and_shift_masks() -> None:
    assert run_r0(Prog().lddw(R0, M64).add32(R0, 1).exit()) == 0
    assert run_r0(Prog().mov32(R0, -1).exit()) == M32
    assert run_r0(Prog().mov(R0, -1).exit()) == M64
    assert run_r0(Prog().mov(R0, 1).mov(R1, 65).lsh(R0, "r1").exit()) == 2
    assert run_r0(Prog().mov(R0, 1).mov(R1, 33).lsh32(R0, "r1").exit()) == 2
    assert run_r0(Prog().lddw(R0, 1 << 63).arsh(R0, 63).exit()) == M64
    assert run_r0(Prog().mov(R0, 5).neg(R0, wide=False).exit()) == (-5) & M32


def test_movsx_and_byte_swaps() -> None:
    assert run_r0(Prog().mov(R1, 0x80).movsx(R0, R1, 8).exit()) == M64 - 0x7F
    assert run_r0(Prog().mov(R1, 0x8000).movsx(R0, R1, 16, wide=False).exit()) == 0xFFFF8000
    assert run_r0(Prog().lddw(R1, 0x1_8000_0000).movsx(R0, R1, 32).exit()) == 0xFFFFFFFF_80000000
    v = 0x11223344_55667788
    assert run_r0(Prog().lddw(R0, v).endian(R0, 16, "be").exit()) == 0x8877
    assert run_r0(Prog().lddw(R0, v).endian(R0, 32, "le").exit()) == 0x55667788
    assert run_r0(Prog().lddw(R0, v).endian(R0, 64, "le").exit()) == v
    assert run_r0(Prog().lddw(R0, v).endian(R0, 64, "bswap").exit()) == 0x88776655_44332211


def test_local_call_preserves_callee_saved_and_has_own_frame() -> None:
    insns = (Prog()
             .mov(R6, 6).mov(R7, 7).mov(R8, 8).mov(R9, 9)
             .st(8, R10, -8, 0x1111).st(8, R10, -512, 0x2222)
             .mov(R1, 1).mov(R2, 2).mov(R3, 3).mov(R4, 4).mov(R5, 5)
             .call_local("f")
             # r0 = callee result; now check the caller's registers and frame
             .mov(R1, "r0")
             .mov(R0, 0)
             .jne(R6, 6, "bad").jne(R7, 7, "bad").jne(R8, 8, "bad").jne(R9, 9, "bad")
             .ldx(8, R2, R10, -8).jne(R2, 0x1111, "bad")
             .ldx(8, R2, R10, -512).jne(R2, 0x2222, "bad")
             .mov(R0, "r1").exit()
             .label("bad").mov(R0, -1).exit()
             # callee: fresh 512-byte frame, writes its own r10-8 and r10-512, clobbers r6..r9
             .label("f")
             .mov(R6, 60).mov(R7, 70).mov(R8, 80).mov(R9, 90)
             .st(8, R10, -8, 0x3333).st(8, R10, -512, 0x4444)
             .ldx(8, R0, R10, -8)
             .add(R0, "r1").add(R0, "r2").add(R0, "r3").add(R0, "r4").add(R0, "r5")
             .exit().build())
    assert Machine(insns).run().r0 == 0x3333 + 1 + 2 + 3 + 4 + 5


def test_callee_frame_is_distinct_and_caller_stack_reachable_by_pointer() -> None:
    insns = (Prog().st(8, R10, -16, 40).mov(R1, "r10").add(R1, -16).call_local("f")
             .ldx(8, R0, R10, -16).exit()
             # f: *(r1) += 2 through the caller's pointer; the callee's r10 differs from it
             .label("f").ldx(8, R2, R1, 0).add(R2, 2).stx(8, R1, 0, R2)
             .mov(R3, "r10").sub(R3, "r1").jeq(R3, 16, "same")
             .mov(R0, 0).exit()
             .label("same").mov(R0, 0).st(8, R1, 0, -1).exit().build())
    assert Machine(insns).run().r0 == 42


V64 = 0x0F0F_0000_F0F0_1234
OPERAND = 0x1111_2222_3333_4444


def _atomic_expected(op: str, size: int, old: int, operand: int) -> int:
    mask = (1 << (8 * size)) - 1
    o, v = old & mask, operand & mask
    new = {"add": (o + v) & mask, "or": o | v, "and": o & v, "xor": o ^ v, "xchg": v}[op]
    return (old & ~mask & M64) | new


@pytest.mark.parametrize("size", [4, 8])
@pytest.mark.parametrize("op,fetch", [(op, fetch) for op in ("add", "or", "and", "xor") for fetch in (False, True)]
                         + [("xchg", True)])
def test_atomic_ops_on_stack(size: int, op: str, fetch: bool) -> None:
    def prog(readout: str) -> Prog:
        p = Prog().lddw(R2, V64).stx(8, R10, -8, R2).lddw(R1, OPERAND)
        p.atomic(size, op, R10, -8, R1, fetch=fetch)
        if readout == "mem":
            return p.ldx(8, R0, R10, -8).exit()
        return p.mov(R0, "r1").exit()

    assert run_r0(prog("mem")) == _atomic_expected(op, size, V64, OPERAND)
    mask = (1 << (8 * size)) - 1
    assert run_r0(prog("src")) == ((V64 & mask) if fetch else OPERAND)


@pytest.mark.parametrize("size", [4, 8])
@pytest.mark.parametrize("success", [True, False])
def test_atomic_cmpxchg(size: int, success: bool) -> None:
    mask = (1 << (8 * size)) - 1
    # for 32 bits only the low half of r0 is compared: make the upper half differ
    expected_r0 = (V64 & mask) | (0xAAAA_0000_0000_0000 if size == 4 else 0)
    if not success:
        expected_r0 ^= 1

    def prog(readout: str) -> Prog:
        p = (Prog().lddw(R2, V64).stx(8, R10, -8, R2).lddw(R1, OPERAND).lddw(R0, expected_r0)
             .atomic(size, "cmpxchg", R10, -8, R1))
        if readout == "mem":
            return p.ldx(8, R0, R10, -8).exit()
        if readout == "src":
            return p.mov(R0, "r1").exit()
        return p.exit()

    new_mem = _atomic_expected("xchg", size, V64, OPERAND) if success else V64
    assert run_r0(prog("mem")) == new_mem
    assert run_r0(prog("r0")) == V64 & mask  # the old value, zero-extended
    assert run_r0(prog("src")) == OPERAND  # src is not written


def test_atomic_through_memory_pointer() -> None:
    insns = Prog().mov(R2, 5).atomic(8, "add", R1, 8, R2, fetch=True).ldx(8, R0, R1, 8) \
                  .add(R0, "r2").exit().build()
    mem = (1).to_bytes(8, "little") + (10).to_bytes(8, "little")
    assert run_with_memory(insns, mem, 1000).r0 == 15 + 10


@pytest.mark.parametrize("size,value,expected", [
    (1, 0x80, M64 - 0x7F), (1, 0x7F, 0x7F),
    (2, 0x8001, 0xFFFF_FFFF_FFFF_8001), (2, 0x7FFF, 0x7FFF),
    (4, 0x8000_0000, 0xFFFF_FFFF_8000_0000), (4, 0x7FFF_FFFF, 0x7FFF_FFFF),
])
def test_sign_extending_loads(size: int, value: int, expected: int) -> None:
    # from the stack (direct frame access) ...
    stack = (Prog().lddw(R1, value | 0xAB00_0000_0000_0000).stx(8, R10, -16, R1)
             .ldx(size, R0, R10, -16, signed=True).exit())
    assert run_r0(stack) == expected
    unsigned = (Prog().lddw(R1, value).stx(8, R10, -16, R1).ldx(size, R0, R10, -16).exit())
    assert run_r0(unsigned) == value
    # ... and through a pointer into caller memory (address-space path)
    mem = value.to_bytes(size, "little") + b"\xff" * 8
    result = run_with_memory(Prog().ldx(size, R0, R1, 0, signed=True).exit().build(), mem, 100)
    assert result.r0 == expected


def test_store_immediate_sign_extends() -> None:
    assert run_r0(Prog().st(8, R10, -8, -2).ldx(8, R0, R10, -8).exit()) == M64 - 1
    assert run_r0(Prog().st(8, R10, -8, -1).st(2, R10, -8, 0x12345).ldx(8, R0, R10, -8).exit()) \
        == 0xFFFF_FFFF_FFFF_2345


def test_jmp32_compares_low_halves() -> None:
    p = Prog().lddw(R1, 0x1_0000_0005).mov(R0, 0).jeq32(R1, 5, "yes").exit().label("yes").mov(R0, 1).exit()
    assert run_r0(p) == 1
    p = Prog().lddw(R1, 0x1_0000_0005).mov(R0, 0).jeq(R1, 5, "yes").exit().label("yes").mov(R0, 1).exit()
    assert run_r0(p) == 0
    p = Prog().lddw(R1, 0xFFFF_FFFF).mov(R0, 0).jslt32(R1, 0, "yes").exit().label("yes").mov(R0, 1).exit()
    assert run_r0(p) == 1


def test_unwind_helper() -> None:
    stop = Prog().mov(R0, 7).mov(R1, 0).call(5).mov(R0, 9).exit().build()
    assert_ok(Machine(stop).run(), 0, 3)
    go_on = Prog().mov(R1, 9).call(5).add(R0, 1).exit().build()
    assert_ok(Machine(go_on).run(), 10, 4)
    assert conformance_helpers().get(5) is not None


def test_unwind_inside_callee_ends_program() -> None:
    insns = (Prog().mov(R1, 0).call_local("f").mov(R0, 5).exit()
             .label("f").call(5).mov(R0, 6).exit().build())
    result = Machine(insns).run()
    assert result.r0 == 0 and result.fault is None


# ---------------------------------------------------------------------------
# Programs refused at construction
# ---------------------------------------------------------------------------


def test_jump_outside_program() -> None:
    with pytest.raises(ProgramError) as info:
        Machine(Prog().mov(R0, 0).ja(5).exit().build())
    assert info.value.pc == 1 and "outside the program" in info.value.reason
    with pytest.raises(ProgramError) as info:
        Machine(Prog().mov(R0, 0).jeq(R0, 0, -3).exit().build())
    assert info.value.pc == 1 and "outside the program" in info.value.reason


def test_local_call_outside_program() -> None:
    with pytest.raises(ProgramError) as info:
        Machine([Insn(CALL, src=1, imm=10), Insn(0x95)])
    assert info.value.pc == 0 and "call to 11 is outside the program" in info.value.reason


def test_jump_into_lddw() -> None:
    with pytest.raises(ProgramError) as info:
        Machine(Prog().mov(R0, 0).ja(1).lddw(R0, 1).exit().build())
    assert info.value.pc == 1
    assert "lands in the middle of the lddw at 2" in info.value.reason


def test_last_instruction_not_exit() -> None:
    with pytest.raises(ProgramError) as info:
        Machine(Prog().mov(R0, 0).mov(R0, 1).build())
    assert info.value.pc == 1 and "run past the last instruction" in info.value.reason
    # a final unconditional jump is fine
    Machine(Prog().mov(R0, 0).label("l").ja("l").build())


def test_empty_program() -> None:
    with pytest.raises(ProgramError) as info:
        Machine([])
    assert info.value.pc is None and "no instructions" in info.value.reason


def test_lddw_map_pseudo_source_needs_resolver() -> None:
    insns = Prog().lddw(R1, 3, src=1).mov(R0, 0).exit().build()
    with pytest.raises(ProgramError) as info:
        Machine(insns)
    assert info.value.pc == 0 and "MAP_FD" in info.value.reason
    calls: list[int] = []

    def resolve(pc: int, insn: Insn) -> int:
        calls.append(pc)
        return 0xFFFF_8881_0000_0000 + insn.imm

    resolved = Prog().lddw(R0, 3, src=1).exit().build()
    assert Machine(resolved, resolve_lddw=resolve).run().r0 == 0xFFFF_8881_0000_0003
    assert calls == [0]


def test_may_goto_falls_through_its_budget_then_jumps() -> None:
    """may_goto (0xe5) jumps once its frame has fallen through it 8,388,608 times (BPF_MAX_LOOPS)."""
    from interp.asm.kernel_syntax import assemble

    insns = assemble("r0 = 0\nl: r0 += 1\nmay_goto +1\ngoto l\nexit")
    result = Machine(insns, budget=30_000_000).run()
    assert result.fault is None and result.r0 == 8 * 1024 * 1024 + 1


def test_each_frame_has_its_own_may_goto_budget() -> None:
    from interp.asm.kernel_syntax import assemble

    # the callee's loop runs out of budget and returns; the caller's budget is untouched
    insns = assemble("call f\nmay_goto +1\nexit\nr0 = 99\nexit\n"
                     "f: r0 = 0\nl: r0 += 1\nmay_goto +1\ngoto l\nexit")
    result = Machine(insns, budget=30_000_000).run()
    assert result.fault is None and result.r0 == 8 * 1024 * 1024 + 1


@pytest.mark.parametrize("size, off", [(8, -12), (4, -6), (8, -4)])
def test_misaligned_atomic_faults(size: int, off: int) -> None:
    insns = Prog().st(8, R10, -16, 0).st(8, R10, -8, 0).mov(R1, 1).atomic(size, "add", R10, off, R1) \
        .mov(R0, 0).exit().build()
    result = Machine(insns).run()
    assert result.fault is not None and result.fault.kind == FaultKind.MISALIGNED and result.fault.pc == 3
    assert "atomic operation" in result.fault.message
