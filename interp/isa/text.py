"""Instructions as text, in the kernel/LLVM syntax the kernel verifier's log and `llvm-objdump`
print (`r0 = *(u64 *)(r1 +112)`, `if r1 > 0x5 goto +3`), written from the typed operations.
Jump and call targets are printed relative to the next instruction."""

from __future__ import annotations

from typing import Callable

from .insn import Insn
from .opcodes import AluOp, JmpOp, PseudoSrc
from .ops import (
    Alu,
    Atomic,
    AtomicKind,
    Branch,
    Call,
    CallIndirect,
    Exit,
    Imm,
    Invalid,
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
    lift,
)

ALU_SYMBOL = {
    AluOp.ADD: "+=", AluOp.SUB: "-=", AluOp.MUL: "*=", AluOp.DIV: "/=", AluOp.OR: "|=",
    AluOp.AND: "&=", AluOp.LSH: "<<=", AluOp.RSH: ">>=", AluOp.MOD: "%=", AluOp.XOR: "^=",
    AluOp.ARSH: "s>>=",
}
JMP_SYMBOL = {
    JmpOp.JEQ: "==", JmpOp.JNE: "!=", JmpOp.JGT: ">", JmpOp.JGE: ">=", JmpOp.JLT: "<",
    JmpOp.JLE: "<=", JmpOp.JSGT: "s>", JmpOp.JSGE: "s>=", JmpOp.JSLT: "s<", JmpOp.JSLE: "s<=",
    JmpOp.JSET: "&",
}
BYTES_TYPE = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
ATOMIC_SYMBOL = {AtomicKind.ADD: "+=", AtomicKind.OR: "|=", AtomicKind.AND: "&=", AtomicKind.XOR: "^="}

# How a map reference of a pseudo lddw is printed: (src, imm) -> text such as "map[events]".
MapNamer = Callable[[int, int], "str | None"]
# How a helper call is printed: helper id -> name such as "bpf_map_lookup_elem".
HelperNamer = Callable[[int], "str | None"]


def relative(offset: int) -> str:
    return f"+{offset}" if offset >= 0 else str(offset)


def _imm_text(imm: int) -> str:
    return f"{imm:#x}" if imm >= 0 else str(imm)


def format_insn(insn: Insn, pc: int | None = None, *, helper_name: HelperNamer | None = None,
                map_name: MapNamer | None = None) -> str:
    """One instruction in kernel syntax (jumps and local calls as offsets relative to the next pc)."""
    at = 0 if pc is None else pc
    op = lift(insn, at)
    if isinstance(op, Invalid):
        return f".insn {insn.encode().hex()}  // invalid: {op.reason}"
    return format_op(op, at, helper_name=helper_name, map_name=map_name)


def format_op(op: Op, pc: int, *, helper_name: HelperNamer | None = None, map_name: MapNamer | None = None) -> str:
    def rel(target: int) -> str:
        return relative(target - (pc + 1))

    if isinstance(op, Alu):
        reg = "w" if op.width == 32 else "r"
        src = f"{reg}{op.src.n}" if isinstance(op.src, Reg) else str(op.src.value)
        if op.op == AluOp.MOV:
            return f"{reg}{op.dst} = (s{op.extend}){src}" if op.extend else f"{reg}{op.dst} = {src}"
        symbol = ("s" if op.signed else "") + ALU_SYMBOL[op.op]
        return f"{reg}{op.dst} {symbol} {src}"
    if isinstance(op, Neg):
        reg = "w" if op.width == 32 else "r"
        return f"{reg}{op.dst} = -{reg}{op.dst}"
    if isinstance(op, Swap):
        return f"r{op.dst} = {op.kind.value}{op.bits} r{op.dst}"
    if isinstance(op, Exit):
        return "exit"
    if isinstance(op, Jump):
        return f"gotol {rel(op.target)}" if op.long else f"goto {rel(op.target)}"
    if isinstance(op, MayGoto):
        return f"may_goto {rel(op.target)}"
    if isinstance(op, CallIndirect):
        return f"callx r{op.reg}"
    if isinstance(op, LocalCall):
        return f"call pc{rel(op.target)}"
    if isinstance(op, KfuncCall):
        return f"call kfunc#{op.btf_id}"
    if isinstance(op, Call):
        name = helper_name(op.helper) if helper_name else None
        return f"call {name}#{op.helper}" if name else f"call {op.helper}"
    if isinstance(op, Branch):
        reg = "w" if op.width == 32 else "r"
        right = f"{reg}{op.right.n}" if isinstance(op.right, Reg) else _imm_text(op.right.value)
        return f"if {reg}{op.left} {JMP_SYMBOL[op.cond]} {right} goto {rel(op.target)}"
    if isinstance(op, (LoadImm64, LoadMapRef, LoadFuncRef, LoadBtfRef)):
        return f"r{op.dst} = {_lddw_operand(op, pc, map_name)} ll"
    if isinstance(op, PacketLoad):
        kind = BYTES_TYPE[op.size]
        if op.index is None:
            return f"r0 = *({kind} *)skb[{op.imm}]"
        return f"r0 = *({kind} *)skb[r{op.index} {relative(op.imm)}]"
    if isinstance(op, Load):
        kind = ("s" + BYTES_TYPE[op.size][1:]) if op.signed else BYTES_TYPE[op.size]
        return f"r{op.dst} = *({kind} *)(r{op.base} {relative(op.off)})"
    kind = BYTES_TYPE[op.size]
    mem = f"*({kind} *)(r{op.base} {relative(op.off)})"
    if isinstance(op, Store):
        return f"{mem} = {op.src.value}" if isinstance(op.src, Imm) else f"{mem} = r{op.src.n}"
    assert isinstance(op, Atomic)
    bits = "64" if op.size == 8 else ""
    ptr = f"({kind} *)(r{op.base} {relative(op.off)})"
    if op.kind == AtomicKind.XCHG:
        return f"r{op.src} = atomic{bits}_xchg({ptr}, r{op.src})"
    if op.kind == AtomicKind.CMPXCHG:
        return f"r0 = atomic{bits}_cmpxchg({ptr}, r0, r{op.src})"
    if op.fetch:
        return f"r{op.src} = atomic{bits}_fetch_{op.kind.value}({ptr}, r{op.src})"
    return f"lock {mem} {ATOMIC_SYMBOL[op.kind]} r{op.src}"


def _lddw_operand(op: LoadImm64 | LoadMapRef | LoadFuncRef | LoadBtfRef, pc: int, map_name: MapNamer | None) -> str:
    if isinstance(op, LoadImm64):
        return f"{op.value:#x}"
    if isinstance(op, LoadMapRef):
        name = map_name(op.pseudo, op.index) if map_name else None
        key = "fd" if op.pseudo in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE) else "idx"
        ref = f"map[{name}]" if name else f"map[{key}:{op.index}]"
        return f"{ref}[0]+{op.offset}" if op.by_value else ref
    if isinstance(op, LoadBtfRef):
        return f"btf_id[{op.btf_id}]"
    return f"func[pc{relative(op.target - (pc + 1))}]"


__all__ = ["ALU_SYMBOL", "BYTES_TYPE", "JMP_SYMBOL", "HelperNamer", "MapNamer", "format_insn", "format_op",
           "relative"]
