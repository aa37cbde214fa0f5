"""The Linux 4.1 verifier's walk (its do_check): every path from the entry followed instruction by
instruction in the 4.1 domain (`domain`), the fall-through of each conditional jump first and the
jump's target later (a stack of pending states); a path ends at `exit`, or where a state already
shown safe at a pruning point (the target of a conditional jump, the instruction after a `goto`)
is at least as strict. The first broken rule ends the walk, as it ended 4.1's: it becomes an
`Alarm` (the obligation kind of our rule, our sentence and the 4.1 kernel's own) for the common
report. Each rule cites the 4.1 function that decides it.

Where 4.1 had a hole our interpreter would fault through, the walk keeps the program safe and
says so: a 32-bit move of a negative immediate is a constant whose 64-bit value 4.1 got wrong
(it decided comparisons against it), so such a comparison is followed both ways here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from interp import semantics
from interp.helper_ids import HELPER_NAMES
from interp.isa.opcodes import STACK_SIZE, AluOp, JmpOp, PseudoSrc
from interp.isa.ops import (
    Alu,
    Atomic,
    Branch,
    Call,
    CallIndirect,
    Exit,
    Imm,
    Jump,
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
    SwapKind,
)

from ..checker import Alarm
from ..obligations import Kind, Obligation
from .domain import (
    MASK64,
    NOT_INIT,
    SPILLABLE,
    UNKNOWN,
    Seen,
    Slot,
    State,
    const,
    subsumes,
)
from .domain import Reg as RegState
from .domain import RegType as T
from .helpers import (
    FUNC_MAX_ID,
    HELPER_ARRIVED,
    MAP_TYPE_ARRIVED,
    MAP_TYPES,
    NAMES,
    PROTOS,
    Arg,
    Proto,
    Ret,
)

if TYPE_CHECKING:
    from ..fixpoint import Analysis

_INT = semantics.IntBackend()  # the value of a moved immediate, as interp defines it

MAX_PROCESSED = 32768  # do_check: "BPF program is too large"
MAX_PENDING = 1024  # push_stack: "BPF program is too complex"
CALLER_SAVED = (0, 1, 2, 3, 4, 5)
EXPECTED = {Arg.PTR_TO_STACK: T.PTR_TO_STACK, Arg.PTR_TO_MAP_KEY: T.PTR_TO_STACK, Arg.PTR_TO_MAP_VALUE: T.PTR_TO_STACK,
            Arg.CONST_STACK_SIZE: T.CONST_IMM, Arg.CONST_MAP_PTR: T.CONST_PTR_TO_MAP}


@dataclass
class Refusal(Exception):
    """The first rule a path breaks: our rule's kind, our sentence, the 4.1 kernel's."""

    kind: Kind
    pc: int
    text: str
    kernel: str | None
    reg: int | None = None
    off: int = 0
    size: int = 0
    write: bool = False
    facts: dict[str, Any] = field(default_factory=dict)

    def alarm(self) -> Alarm:
        ob = Obligation(self.kind, self.pc, self.reg, self.off, self.size, self.write)
        facts = {**self.facts, "says": self.text, "kernel": self.kernel}
        return Alarm(ob, self.pc, (), None, facts, definite=True, ends_path=True)


def pruning_points(analysis: "Analysis") -> frozenset[int]:
    """Where 4.1 compares states (check_cfg marks them): each conditional jump's target and the
    instruction after each `goto`."""
    listing = analysis.cf.listing
    marks = set()
    for pc, op in listing.ops.items():
        if isinstance(op, Branch):
            marks.add(op.target)
        elif isinstance(op, Jump) and pc + 1 < listing.slots:
            marks.add(pc + 1)
    return frozenset(marks)


def _verb(write: bool) -> str:
    return "write" if write else "read"


class Walk:
    """One program's walk: the pruning points, the states kept at each, the first pointer type
    each 4-byte load went through, and the count of instructions walked."""

    def __init__(self, analysis: "Analysis") -> None:
        self.a = analysis
        self.listing = analysis.cf.listing
        self.marks = pruning_points(analysis)
        self.explored: dict[int, list[Seen]] = {}
        self.word_loads: dict[int, T] = {}  # pc of a 4-byte load -> the base's type first seen there
        self.ctx_size = analysis.ops.type.size(analysis.arch)
        self.processed = 0

    # -- the walk ------------------------------------------------------------------------------------
    def run(self) -> Alarm | None:
        try:
            self._walk()
        except Refusal as refusal:
            return refusal.alarm()
        return None

    def _walk(self) -> None:
        pending: list[tuple[int, State]] = []
        pc, state = 0, State.entry()
        while True:
            self.processed += 1
            if self.processed > MAX_PROCESSED:  # do_check
                raise Refusal(Kind.PROGRAM_SIZE, pc, f"the walk of every path went past {MAX_PROCESSED} "
                              "instructions, the most Linux 4.1 follows; make the program simpler",
                              f"BPF program is too large. Proccessed {self.processed} insn")
            self.a.tick()
            if pc in self.marks:  # is_state_visited
                seen = self.explored.setdefault(pc, [])
                if any(subsumes(old, state) for old in seen):
                    if not pending:
                        return
                    pc, state = pending.pop()
                    continue
                seen.append(Seen.of(state))
            outcome = self.step(pc, self.listing.ops[pc], state)
            if outcome is None:  # exit
                if not pending:
                    return
                pc, state = pending.pop()
                continue
            (pc, state), other = outcome
            if other is not None:
                pending.append(other)
                if len(pending) > MAX_PENDING:  # push_stack
                    raise Refusal(Kind.PROGRAM_SIZE, other[0], f"more than {MAX_PENDING} paths wait to be followed "
                                  "at once, the most Linux 4.1 keeps; make the program simpler",
                                  "BPF program is too complex")

    def step(self, pc: int, op: Op, state: State
             ) -> tuple[tuple[int, State], tuple[int, State] | None] | None:
        """The state after `op` (at the next pc), and a pending path; None at exit."""
        insn = self.listing.by_pc[pc]
        nxt = pc + insn.slots
        why = self.a.profile.unsupported(op)
        if why is not None or isinstance(op, (CallIndirect, KfuncCall, LoadFuncRef, LoadBtfRef)):
            raise Refusal(Kind.SUPPORTED, pc, f"{why or 'this call or reference'}; Linux 4.1 does not know the "
                          "instruction", _unknown_kernel_message(insn.opcode, op), facts={"what": why})
        if isinstance(op, Alu):
            return (nxt, self.alu(pc, op, state)), None
        if isinstance(op, (Neg, Swap)):
            return (nxt, self.unary(pc, op, state)), None
        if isinstance(op, LoadImm64):  # check_ld_imm: a 64-bit constant is an unknown value
            self.dst(pc, state, op.dst)
            return (nxt, state.set(op.dst, UNKNOWN)), None
        if isinstance(op, LoadMapRef):
            return (nxt, self.map_ref(pc, op, state)), None
        if isinstance(op, Load):
            return (nxt, self.load(pc, op, state)), None
        if isinstance(op, Store):
            return (nxt, self.store(pc, op, state)), None
        if isinstance(op, Atomic):
            return (nxt, self.xadd(pc, op, state)), None
        if isinstance(op, PacketLoad):  # check_ld_abs: may_access_skb() is false for kprobes
            raise Refusal(Kind.SUPPORTED, pc, "packet loads (ld_abs, ld_ind) are for socket filters; Linux 4.1 "
                          "refuses them in kprobe programs",
                          "BPF_LD_ABS and BPF_LD_IND instructions not allowed for this program type",
                          facts={"what": "packet load"})
        if isinstance(op, Jump):
            return (op.target, state), None
        if isinstance(op, Branch):
            return self.branch(pc, op, state, nxt)
        if isinstance(op, Call):
            return (nxt, self.call(pc, op, state)), None
        if isinstance(op, Exit):  # do_check: r0 must be readable at exit
            if state.reg(0).type == T.NOT_INIT:
                raise Refusal(Kind.R0_SET_AT_EXIT, pc, "r0 is not set on this path to exit; set r0 (the program's "
                              "result) before exit", "R0 !read_ok", reg=0)
            return None
        raise AssertionError(f"unexpected operation {op!r}")  # LocalCall, MayGoto: unsupported above

    # -- registers -----------------------------------------------------------------------------------
    def src(self, pc: int, state: State, n: int) -> RegState:
        """check_reg_arg(SRC_OP): a register read must have been written."""
        reg = state.reg(n)
        if reg.type == T.NOT_INIT:
            raise Refusal(Kind.INITIALISED, pc, f"r{n} is read before it is written on this path; initialise "
                          f"r{n} first", f"R{n} !read_ok", reg=n, facts={"reg": n, "role": "read"})
        return reg

    def dst(self, pc: int, state: State, n: int) -> None:
        """check_reg_arg(DST_OP): r10 is never written."""
        if n == 10:
            raise Refusal(Kind.FRAME_POINTER_READ_ONLY, pc, "r10 is the read-only frame pointer; write another "
                          "register", "frame pointer is read only", reg=10)

    def alu(self, pc: int, op: Alu, state: State) -> State:
        """check_alu_op: a move copies a register (64-bit) or makes a constant (an immediate); any
        other operation makes an unknown value, but the frame pointer plus an immediate (64-bit
        add) is a stack pointer. Pointers may be added, multiplied, ... freely: the result is an
        unknown value, refused only where it is dereferenced."""
        if op.op == AluOp.MOV:
            if isinstance(op.src, Reg):
                source = self.src(pc, state, op.src.n)
            self.dst(pc, state, op.dst)
            if isinstance(op.src, Imm):
                return state.set(op.dst, const(op.src.value, semantics.alu(_INT, op, 0)))
            return state.set(op.dst, source if op.width == 64 else UNKNOWN)
        if isinstance(op.src, Reg):
            self.src(pc, state, op.src.n)
        target = self.src(pc, state, op.dst)
        if op.op in (AluOp.DIV, AluOp.MOD) and isinstance(op.src, Imm) and op.src.value == 0:
            raise Refusal(Kind.VALID_IMMEDIATE, pc, "division by the constant 0; Linux 4.1 refuses it at load",
                          "div by zero", facts={"op": op.op, "width": op.width, "imm": 0})
        self.dst(pc, state, op.dst)
        if op.op == AluOp.ADD and op.width == 64 and isinstance(op.src, Imm) and target.type == T.FRAME_PTR:
            return state.set(op.dst, RegState(T.PTR_TO_STACK, op.src.value))
        return state.set(op.dst, UNKNOWN)

    def unary(self, pc: int, op: Neg | Swap, state: State) -> State:
        """check_alu_op (BPF_NEG, BPF_END): the result is an unknown value."""
        assert not (isinstance(op, Swap) and op.kind == SwapKind.SWAP)
        self.src(pc, state, op.dst)
        self.dst(pc, state, op.dst)
        return state.set(op.dst, UNKNOWN)

    def map_ref(self, pc: int, op: LoadMapRef, state: State) -> State:
        """check_ld_imm (and replace_map_fd_with_map_ptr): a map pointer, for the map types 4.1 has."""
        maps = self.a.maps
        if op.index >= len(maps):
            raise Refusal(Kind.VALID_MAP_REFERENCE, pc, f"the instruction names map {op.index}, but the program has "
                          f"{len(maps)}", f"fd {op.index} is not pointing to valid bpf_map",
                          facts={"why": "index", "index": op.index, "count": len(maps)})
        mdef = maps[op.index]
        if mdef.type not in MAP_TYPES:
            arrived = f", which arrived in Linux {MAP_TYPE_ARRIVED[mdef.type]}" if mdef.type in MAP_TYPE_ARRIVED else ""
            raise Refusal(Kind.VALID_MAP_REFERENCE, pc, f"map {mdef.name} is a {mdef.type_name} map{arrived}: Linux "
                          "4.1 creates hash and array maps only",
                          "bpf(BPF_MAP_CREATE): EINVAL (unknown map type), before the program loads",
                          facts={"why": "kind", "map": mdef.name})
        if mdef.flags or mdef.read_only_for_programs:
            # 4.1's map_create knows no flags (bpf_attr ends at max_entries), and its maps are writable:
            # a map read-only for programs is one it could not have made
            raise Refusal(Kind.VALID_MAP_REFERENCE, pc, f"map {mdef.name} has flags {mdef.flags:#x} or is read-only "
                          "for programs; Linux 4.1 creates maps without flags (they arrived in Linux 4.6), all "
                          "writable", "bpf(BPF_MAP_CREATE): EINVAL (map_flags unknown), before the program loads",
                          facts={"why": "flags", "map": mdef.name})
        self.dst(pc, state, op.dst)
        return state.set(op.dst, RegState(T.CONST_PTR_TO_MAP, map=op.index))

    # -- memory --------------------------------------------------------------------------------------
    def load(self, pc: int, op: Load, state: State) -> State:
        """do_check (BPF_LDX): the base is read, r10 is not written, the access checked; a 4-byte
        load used through the context on one path may not be used through another pointer."""
        base = self.src(pc, state, op.base)
        self.dst(pc, state, op.dst)
        state = self.access(pc, state, op.base, op.off, op.size, False, op.dst)
        if op.size == 4:
            first = self.word_loads.setdefault(pc, base.type)
            if first != base.type and T.PTR_TO_CTX in (first, base.type):
                raise Refusal(Kind.CTX_ONE_POINTER_KIND, pc, f"r{op.base} is {base.describe()} here and "
                              f"{'the context pointer' if first == T.PTR_TO_CTX else 'another pointer'} on another "
                              "path; Linux 4.1 rewrites context loads in place, so use separate loads for each",
                              "same insn cannot be used with different pointers", reg=op.base)
        return state

    def store(self, pc: int, op: Store, state: State) -> State:
        """do_check (BPF_STX, BPF_ST): the value and the base are read, the access checked."""
        value = None
        if isinstance(op.src, Reg):
            self.src(pc, state, op.src.n)
            value = op.src.n
        self.src(pc, state, op.base)
        return self.access(pc, state, op.base, op.off, op.size, True, value)

    def xadd(self, pc: int, op: Atomic, state: State) -> State:
        """check_xadd: both registers read; the memory must be readable and writable."""
        self.src(pc, state, op.src)
        self.src(pc, state, op.base)
        state = self.access(pc, state, op.base, op.off, op.size, False, None)
        return self.access(pc, state, op.base, op.off, op.size, True, None)

    def access(self, pc: int, state: State, n: int, off: int, size: int, write: bool, value: int | None) -> State:
        """check_mem_access: the offset (the instruction's own) aligned to the size, then by the
        base's type: a map value within its size, the context within pt_regs and read only, the
        frame pointer within the stack; no other register (a stack pointer fp+k included) may be
        dereferenced. A read's destination `value` becomes unknown, or the spilled register."""
        base = state.reg(n)
        where = dict(reg=n, off=off, size=size, write=write)
        verb = _verb(write)
        if off % size:
            kind = {T.FRAME_PTR: Kind.STACK_ALIGNED, T.PTR_TO_CTX: Kind.CTX_ALIGNED,
                    T.PTR_TO_MAP_VALUE: Kind.MAP_VALUE_ALIGNED, T.PTR_TO_MAP_VALUE_OR_NULL: Kind.NOT_NULL}.get(
                        base.type, Kind.DEREFERENCEABLE)
            raise Refusal(kind, pc, f"{size}-byte {verb} at offset {off} through r{n} ({base.describe()}): Linux 4.1 "
                          "needs the instruction's offset to be a multiple of the access size",
                          f"misaligned access off {off} size {size}", **where)
        if base.type == T.PTR_TO_MAP_VALUE:  # check_map_access
            mdef = self.a.maps[base.map] if base.map is not None else None
            assert mdef is not None
            if off < 0 or off + size > mdef.value_size:
                raise Refusal(Kind.MAP_VALUE_IN_BOUNDS, pc, f"{size}-byte {verb} at offset {off} of a value of map "
                              f"{mdef.name} ({mdef.value_size} bytes) is out of bounds; Linux 4.1 reads and writes "
                              "map values at constant offsets within the value only",
                              f"invalid access to map value, value_size={mdef.value_size} off={off} size={size}",
                              **where)
            return state.set(value, UNKNOWN) if not write and value is not None else state
        if base.type == T.PTR_TO_CTX:  # check_ctx_access: kprobe_prog_is_valid_access
            kernel = f"invalid bpf_context access off={off} size={size}"
            # (4.1 checks the start only; the end too here, which every 64-bit pt_regs, a multiple of 8
            # bytes, already implies for an aligned access)
            if off < 0 or off >= self.ctx_size or off + size > self.ctx_size:
                raise Refusal(Kind.CTX_IN_BOUNDS, pc, f"{size}-byte {verb} of struct pt_regs at offset {off} is out "
                              f"of bounds: sizeof(struct pt_regs) is {self.ctx_size} on {self.a.arch}", kernel, **where)
            if write:
                raise Refusal(Kind.CTX_READ_ONLY, pc, f"{size}-byte write to struct pt_regs at offset {off}: the "
                              "context is read-only; copy the value to the stack first", kernel, **where)
            return state.set(value, UNKNOWN) if value is not None else state
        if base.type == T.FRAME_PTR:
            if off >= 0 or off < -STACK_SIZE:
                raise Refusal(Kind.STACK_IN_BOUNDS, pc, f"{size}-byte {verb} at fp{off:+d} leaves the "
                              f"{STACK_SIZE}-byte stack; offsets must be within [-{STACK_SIZE}, -{size}]",
                              f"invalid stack off={off} size={size}", **where)
            if write:
                return self.stack_write(pc, state, off, size, value)
            return self.stack_read(pc, state, off, size, value)
        if base.type == T.PTR_TO_MAP_VALUE_OR_NULL:
            raise Refusal(Kind.NOT_NULL, pc, f"{size}-byte {verb} through r{n}, which may be NULL "
                          f"(map_value_or_null); compare r{n} itself with 0 first (Linux 4.1 learns nothing from "
                          "comparing a copy of it)", f"R{n} invalid mem access 'map_value_or_null'", **where)
        hint = {
            T.UNKNOWN_VALUE: " (Linux 4.1 forgets what a pointer is once arithmetic moves it: put the offset in the "
                             "instruction instead)",
            T.PTR_TO_STACK: " (Linux 4.1 accesses the stack through r10 or a copy of it only, with the offset in the "
                            "instruction)",
            T.CONST_IMM: "", T.CONST_PTR_TO_MAP: " (pass it to the map helpers instead)",
        }.get(base.type, "")
        raise Refusal(Kind.DEREFERENCEABLE, pc, f"{size}-byte {verb} through r{n}, {base.describe()}, which Linux 4.1 "
                      f"does not dereference{hint}", f"R{n} invalid mem access '{base.type.kernel_name}'",
                      facts={"type": base.type.value}, **where)

    def stack_write(self, pc: int, state: State, off: int, size: int, value: int | None) -> State:
        """check_stack_write: a pointer to a map value, the stack or the context is spilled whole
        (8 bytes); anything else marks its bytes as data."""
        reg = state.reg(value) if value is not None else None
        if reg is not None and reg.type in SPILLABLE:
            if size != 8:
                raise Refusal(Kind.WHOLE_POINTER_SPILL, pc, f"{size}-byte store of r{value} ({reg.describe()}) at "
                              f"fp{off:+d}: Linux 4.1 spills pointers whole, as 8-byte stores",
                              "invalid size of register spill", reg=value, off=off, size=size, write=True)
            return state.write_stack(off, size, reg)
        return state.write_stack(off, size, None)

    def stack_read(self, pc: int, state: State, off: int, size: int, value: int | None) -> State:
        """check_stack_read: a spilled register is read back whole; other bytes must all be data."""
        marks = state.slot_types(off, size)
        where = dict(reg=10, off=off, size=size)
        if marks[0] == Slot.SPILL.value:
            if size != 8:
                raise Refusal(Kind.WHOLE_POINTER_FILL, pc, f"{size}-byte read at fp{off:+d} of a spilled pointer; "
                              "read it back whole, as 8 bytes", "invalid size of register spill", **where)
            if any(m != Slot.SPILL.value for m in marks[1:]):
                raise Refusal(Kind.WHOLE_POINTER_FILL, pc, f"8-byte read at fp{off:+d}: part of the pointer spilled "
                              "there was overwritten", "corrupted spill memory", **where)
            spilled = state.spilled(off)
            return state.set(value, spilled) if value is not None and spilled is not None else state
        for i, mark in enumerate(marks):
            if mark != Slot.MISC.value:
                raise Refusal(Kind.STACK_INITIALISED, pc, f"{size}-byte read at fp{off:+d}: byte fp{off + i:+d} is "
                              "not written on this path (or holds part of a spilled pointer); Linux 4.1 refuses such "
                              "reads", f"invalid read from stack off {off}+{i} size {size}", **where)
        return state.set(value, UNKNOWN) if value is not None else state

    # -- jumps ---------------------------------------------------------------------------------------
    def branch(self, pc: int, op: Branch, state: State, nxt: int
               ) -> tuple[tuple[int, State], tuple[int, State] | None]:
        """check_cond_jmp_op: `==`/`!=` of a constant against the same immediate is decided; any
        other comparison is followed both ways. Comparing a map lookup's result itself with 0 makes
        it a map value on the non-NULL side and 0 on the other; `==`/`!=` of any register with an
        immediate makes it that constant on the side where they are equal."""
        if isinstance(op.right, Reg):
            self.src(pc, state, op.right.n)
        left = self.src(pc, state, op.left)
        equality = isinstance(op.right, Imm) and op.cond in (JmpOp.JEQ, JmpOp.JNE)
        if equality and left.type == T.CONST_IMM and left.imm == op.right.value:
            if left.value == op.right.value & MASK64:
                return ((op.target if op.cond == JmpOp.JEQ else nxt), state), None
            # 4.1 decided this one too, but the register's 64-bit value is not the immediate's
            # (a 32-bit move of a negative immediate): both ways are followed, soundly
        taken, fallthrough = state, state
        if equality:
            imm = op.right.value
            equal = const(imm, 0 if left.type == T.PTR_TO_MAP_VALUE_OR_NULL and imm == 0 else None)
            if left.type == T.PTR_TO_MAP_VALUE_OR_NULL and imm == 0:
                non_null = RegState(T.PTR_TO_MAP_VALUE, map=left.map)
                same, other = (equal, non_null)
            else:
                same, other = equal, left
            if op.cond == JmpOp.JEQ:
                taken, fallthrough = state.set(op.left, same), state.set(op.left, other)
            else:
                taken, fallthrough = state.set(op.left, other), state.set(op.left, same)
        return (nxt, fallthrough), (op.target, taken)

    # -- helper calls --------------------------------------------------------------------------------
    def call(self, pc: int, op: Call, state: State) -> State:
        """check_call: the helper is one of the program type's, GPL-only ones need a GPL-compatible
        license, each argument is checked (check_func_arg); then r1-r5 are unset and r0 is an
        unknown value or, from a map lookup, a map value pointer or NULL."""
        helper = op.helper
        proto = PROTOS.get(helper)
        if proto is None:
            # (named from the id table, helpers of other program types too; id 0 is no helper)
            name = HELPER_NAMES.get(helper) if helper != 0 else None
            name = name or f"helper {helper}"
            kernel = f"invalid func {helper}" if not 0 <= helper < FUNC_MAX_ID else f"unknown func {helper}"
            arrived = f" ({name} arrived for kprobes in Linux {HELPER_ARRIVED[helper]})" if helper in HELPER_ARRIVED else ""
            raise Refusal(Kind.HELPER_ALLOWED, pc, f"{name}: Linux 4.1 kprobe programs may call only "
                          f"{', '.join(sorted(NAMES))}{arrived}", kernel, facts={"helper": helper})
        if proto.gpl_only and not self.a.program.is_gpl_compatible:
            raise Refusal(Kind.GPL_COMPATIBLE, pc, f"{proto.name} is GPL-only and the license "
                          f"{self.a.program.license!r} is not GPL-compatible; declare a GPL-compatible license",
                          "cannot call GPL only function from proprietary program", facts={"helper": helper})
        map_index: int | None = None
        for i in range(1, 6):
            arg = proto.args[i - 1] if i <= len(proto.args) else Arg.DONTCARE
            map_index = self.argument(pc, state, proto, i, arg, map_index)
        regs = {n: NOT_INIT for n in CALLER_SAVED}
        if proto.ret == Ret.MAP_VALUE_OR_NULL:
            regs[0] = RegState(T.PTR_TO_MAP_VALUE_OR_NULL, map=map_index)
        else:
            regs[0] = UNKNOWN
        return state.set_many(regs)

    def argument(self, pc: int, state: State, proto: Proto, n: int, arg: Arg, map_index: int | None) -> int | None:
        """check_func_arg: argument `n` against its type; the map the call is about, once known."""
        if arg == Arg.DONTCARE:
            return map_index
        reg = state.reg(n)
        if reg.type == T.NOT_INIT:
            raise Refusal(Kind.INITIALISED, pc, f"{proto.name}: r{n} (argument {n}) is not set on this path; "
                          f"initialise r{n} first", f"R{n} !read_ok", reg=n, facts={"reg": n, "role": "read"})
        if arg == Arg.ANYTHING:
            return map_index
        expected = EXPECTED[arg]
        if reg.type != expected:
            what = {T.PTR_TO_STACK: "a stack pointer made as r10 plus a constant (`rN = r10; rN += -K`)",
                    T.CONST_IMM: "a constant moved into the register (`rN = K`; Linux 4.1 knows no other numbers)",
                    T.CONST_PTR_TO_MAP: "a map pointer (`rN = map ll`)"}[expected]
            raise Refusal(Kind.HELPER_STATIC_ARGUMENTS, pc, f"{proto.name}: r{n} is {reg.describe()}, but argument "
                          f"{n} must be {what}", f"R{n} type={reg.type.kernel_name} expected={expected.kernel_name}",
                          reg=n, facts={"arg": arg.value})
        if arg == Arg.CONST_MAP_PTR:
            return reg.map
        if arg in (Arg.PTR_TO_MAP_KEY, Arg.PTR_TO_MAP_VALUE):
            assert map_index is not None  # every 4.1 prototype names the map first
            mdef = self.a.maps[map_index]
            size = mdef.key_size if arg == Arg.PTR_TO_MAP_KEY else mdef.value_size
            self.stack_boundary(pc, state, proto, n, size, f"the {'key' if arg == Arg.PTR_TO_MAP_KEY else 'value'} "
                                f"of map {mdef.name}")
        elif arg == Arg.CONST_STACK_SIZE:
            self.stack_boundary(pc, state, proto, n - 1, reg.imm, f"a buffer of r{n} = {reg.imm} bytes", size_reg=n)
        return map_index

    def stack_boundary(self, pc: int, state: State, proto: Proto, n: int, size: int, what: str,
                       size_reg: int | None = None) -> None:
        """check_stack_boundary: the `size` bytes at the stack pointer in `n` lie within the stack
        and are all written as data (not a spilled pointer)."""
        reg = state.reg(n)
        if reg.type != T.PTR_TO_STACK:  # (checked as that argument's own type before)
            raise Refusal(Kind.HELPER_STATIC_ARGUMENTS, pc, f"{proto.name}: r{n} is {reg.describe()}, not a stack "
                          "pointer", None, reg=n)
        off = reg.imm
        kernel = f"invalid stack type R{n} off={off} access_size={size}"
        if size <= 0:
            raise Refusal(Kind.HELPER_STATIC_ARGUMENTS, pc, f"{proto.name}: {what}: the size must be positive",
                          kernel, reg=size_reg if size_reg is not None else n)
        if off >= 0 or off < -STACK_SIZE or off + size > 0:
            raise Refusal(Kind.HELPER_MEMORY, pc, f"{proto.name}: r{n} (fp{off:+d}) with {what} does not fit in "
                          f"the {STACK_SIZE}-byte stack", kernel, reg=n, off=off, size=size)
        writes = proto.name == "probe_read"  # it writes its buffer: later kernels let it be unwritten
        for i, mark in enumerate(state.slot_types(off, size)):
            if mark != Slot.MISC.value:
                later = " (helpers filling unwritten stack, as probe_read does, arrived in Linux 4.6)" if writes else ""
                raise Refusal(Kind.HELPER_MEMORY_INITIALISED, pc, f"{proto.name}: r{n} points to {what} at "
                              f"fp{off:+d}, and byte fp{off + i:+d} is not written as data on this path (Linux 4.1 "
                              "passes helpers only stack it saw written, never a spilled pointer); initialise the "
                              f"whole buffer first{later}", f"invalid indirect read from stack off {off}+{i} size {size}",
                              reg=n, off=off, size=size, facts={"raw_stack": writes})


def _unknown_kernel_message(opcode: int, op: Op) -> str | None:
    """What 4.1 says of an instruction it does not know (None: it took the encoding for another one)."""
    cls, code = opcode & 0x07, opcode & 0xF0
    if cls == 0x06:
        return "unknown insn class 6"
    if isinstance(op, (Branch, MayGoto)):
        return f"invalid BPF_JMP opcode {code:x}"
    if isinstance(op, (LocalCall, CallIndirect, KfuncCall)):
        return "BPF_CALL uses reserved fields"
    if isinstance(op, Alu):
        return "BPF_MOV uses reserved fields" if op.op == AluOp.MOV else "BPF_ALU uses reserved fields"
    if isinstance(op, Load):
        return "BPF_LDX uses reserved fields"
    if isinstance(op, Atomic):
        return "BPF_XADD uses reserved fields"
    if isinstance(op, (LoadMapRef, LoadFuncRef, LoadBtfRef)) and getattr(op, "pseudo", None) != PseudoSrc.MAP_FD:
        return "unrecognized bpf_ld_imm64 insn"
    return None


def kernel_words(alarm: Alarm) -> str | None:
    """What 4.1 says of a refusal made before its walk (bpf_prog_load, check_cfg); None where it
    printed nothing of its own."""
    facts = alarm.facts
    if alarm.kind == Kind.PROGRAM_SIZE:
        return "bpf_prog_load: EINVAL (insn_cnt >= BPF_MAXINSNS), before the verifier runs"
    if alarm.kind == Kind.KERN_VERSION:
        return "bpf_prog_load: EINVAL (kern_version != LINUX_VERSION_CODE), before the verifier runs"
    if alarm.kind == Kind.NO_BACK_EDGE:
        return f"back-edge from insn {alarm.pc} to {facts['head']}"
    if alarm.kind == Kind.REACHABLE and "count" in facts:
        return f"unreachable insn {alarm.pc}"
    if alarm.kind == Kind.PROGRAM_TYPE:
        return "bpf_prog_load: EINVAL (unknown program type)"
    return None


def run(analysis: "Analysis") -> None:
    """The 4.1 walk of `analysis`' program: its first refusal joins the analysis' alarms."""
    found = Walk(analysis).run()
    if found is not None:
        analysis.alarms.append(found)


__all__ = ["MAX_PENDING", "MAX_PROCESSED", "Refusal", "Walk", "kernel_words", "pruning_points", "run"]
