"""The kernel/LLVM assembly syntax, as the kernel verifier log and llvm-objdump print it.

    r0 = *(u64 *)(r1 +8)        if r1 s> 0x5 goto +3       w2 = w3
    call 1                      lock *(u64 *)(r10 -8) += r1
    r1 = 0x1234 ll              r1 = map[idx:0] ll          exit

The assembler also takes lines pasted from a verifier log (`12: (b7) r0 = 0`) or from
llvm-objdump (`12: b7 00 00 00 00 00 00 00  r0 = 0`), labels (`name:`), `goto label`,
`call pc+N`, `call name#N`, and the LLVM spellings of atomics (`xchg_64`, `cmpxchg_64`)."""

from __future__ import annotations

import re
from typing import Callable

from ..isa.insn import Insn
from ..isa.opcodes import (
    CALL,
    CALLX,
    EXIT,
    JA,
    JA32,
    LDDW,
    MAY_GOTO,
    SRC_X,
    AluOp,
    AtomicOp,
    Cls,
    Mode,
    PseudoSrc,
    Size,
)
from ..isa.text import ALU_SYMBOL, JMP_SYMBOL, format_insn
from .common import (
    LABEL_RE,
    AsmError,
    Assembly,
    parse_imm32,
    parse_imm64,
    parse_int,
    parse_off16,
)

SYMBOL_ALU = {v: k for k, v in ALU_SYMBOL.items()}
SIGNED_SYMBOL = {"s/=": AluOp.DIV, "s%=": AluOp.MOD}
SYMBOL_JMP = {v: k for k, v in JMP_SYMBOL.items()}
SIZE_TYPE = {Size.B: "u8", Size.H: "u16", Size.W: "u32", Size.DW: "u64"}
TYPE_SIZE = {"u8": Size.B, "u16": Size.H, "u32": Size.W, "u64": Size.DW}
SIGNED_TYPE_SIZE = {"s8": Size.B, "s16": Size.H, "s32": Size.W}
ATOMIC_SYMBOL = {AtomicOp.ADD: "+=", AtomicOp.OR: "|=", AtomicOp.AND: "&=", AtomicOp.XOR: "^="}
ATOMIC_NAME = {AtomicOp.ADD: "add", AtomicOp.OR: "or", AtomicOp.AND: "and", AtomicOp.XOR: "xor"}


def disassemble(insns: list[Insn], *, numbered: bool = True) -> str:
    lines, pc = [], 0
    for insn in insns:
        text = format_insn(insn, pc)
        lines.append(f"{pc:5d}: {text}" if numbered else text)
        pc += insn.slots
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------

_R = r"([rw])(\d+)"
_NUM = r"[+-]?(?:0[xX][0-9a-fA-F]+|\d+)"
_MEMREF = r"\*\(\s*([us]\d+)\s*\*\s*\)\s*\(\s*r(\d+)\s*(?:([+-])\s*(0[xX][0-9a-fA-F]+|\d+))?\s*\)"
_TARGET = r"(?:pc)?([+-]\s*\d+|[A-Za-z_.$][\w.$]*)"

_LOG_PREFIX = re.compile(r"^\s*\d+:\s*(?:\([0-9a-fA-F]{2}\)\s*)?")
_OBJDUMP_PREFIX = re.compile(r"^\s*\d+:\s+(?:[0-9a-fA-F]{2}\s){8}(?:(?:[0-9a-fA-F]{2}\s){8})?\s*")
_OBJDUMP_LABEL = re.compile(r"^\s*[0-9a-fA-F]+\s+<([^>]+)>:\s*$")
_COMMENT = re.compile(r"(//|;|(?:^|\s)#(?!\d)).*$")

_FORMS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^exit$"), "exit"),
    (re.compile(rf"^goto\s+{_TARGET}$"), "ja"),
    (re.compile(rf"^gotol\s+{_TARGET}$"), "ja32"),
    (re.compile(rf"^may_goto\s+{_TARGET}$"), "may_goto"),
    (re.compile(rf"^if\s+{_R}\s*(==|!=|s>=|s<=|s>|s<|>=|<=|>|<|&)\s*({_NUM}|[rw]\d+)\s+goto\s+{_TARGET}$"), "jcond"),
    (re.compile(r"^callx\s+r(\d+)$"), "callx"),
    (re.compile(r"^call\s+(.+)$"), "call"),
    (re.compile(rf"^lock\s+{_MEMREF}\s*(\+=|\|=|&=|\^=)\s*{_R}$"), "atomic"),
    (re.compile(rf"^{_R}\s*=\s*atomic(64)?_fetch_(add|or|and|xor)\(\s*\(\s*(u32|u64)\s*\*\s*\)\s*\(\s*r(\d+)\s*(?:([+-])\s*(0[xX][0-9a-fA-F]+|\d+))?\s*\)\s*,\s*{_R}\s*\)$"), "atomic_fetch"),
    (re.compile(rf"^{_R}\s*=\s*atomic(64)?_xchg\(\s*\(\s*(u32|u64)\s*\*\s*\)\s*\(\s*r(\d+)\s*(?:([+-])\s*(0[xX][0-9a-fA-F]+|\d+))?\s*\)\s*,\s*{_R}\s*\)$"), "atomic_xchg"),
    (re.compile(rf"^{_R}\s*=\s*atomic(64)?_cmpxchg\(\s*\(\s*(u32|u64)\s*\*\s*\)\s*\(\s*r(\d+)\s*(?:([+-])\s*(0[xX][0-9a-fA-F]+|\d+))?\s*\)\s*,\s*[rw]0\s*,\s*{_R}\s*\)$"), "atomic_cmpxchg"),
    (re.compile(rf"^{_R}\s*=\s*xchg(32)?_(32|64)\(\s*r(\d+)\s*(?:([+-])\s*(0[xX][0-9a-fA-F]+|\d+))?\s*,\s*{_R}\s*\)$"), "llvm_xchg"),
    (re.compile(rf"^{_R}\s*=\s*cmpxchg(32)?_(32|64)\(\s*r(\d+)\s*(?:([+-])\s*(0[xX][0-9a-fA-F]+|\d+))?\s*,\s*[rw]0\s*,\s*{_R}\s*\)$"), "llvm_cmpxchg"),
    (re.compile(rf"^{_MEMREF}\s*=\s*({_NUM}|[rw]\d+)$"), "store"),
    (re.compile(rf"^{_R}\s*=\s*{_MEMREF}$"), "load"),
    (re.compile(rf"^r(\d+)\s*=\s*\*\(\s*(u8|u16|u32)\s*\*\s*\)\s*skb\[\s*(?:r(\d+)\s*)?({_NUM})?\s*\]$"), "ld_packet"),
    (re.compile(r"^r(\d+)\s*=\s*(.+?)\s+ll$"), "lddw"),
    (re.compile(rf"^{_R}\s*=\s*(be|le|bswap)(16|32|64)\s+{_R}$"), "endian"),
    (re.compile(rf"^{_R}\s*=\s*-\s*{_R}$"), "neg"),
    (re.compile(rf"^{_R}\s*=\s*\(\s*s(8|16|32)\s*\)\s*{_R}$"), "movsx"),
    (re.compile(rf"^{_R}\s*(=|\+=|-=|\*=|/=|\|=|&=|<<=|>>=|%=|\^=|s>>=|s/=|s%=)\s*({_NUM}|[rw]\d+)$"), "alu"),
]


def _register(text: str, n: int) -> int:
    value = int(text)
    if value > 10:
        raise AsmError(n, f"Invalid register r{value}: registers are r0..r10")
    return value


def _mem_offset(sign: str | None, value: str | None, n: int) -> int:
    if sign is None:
        return 0
    return parse_off16(sign + value, n)


def _target(text: str, n: int) -> tuple[int, str | None]:
    text = text.replace(" ", "")
    if text[:1] in "+-":
        return parse_int(text, n, "jump offset"), None
    return 0, text


def _check16(delta: int, n: int) -> int:
    if not -(1 << 15) <= delta < (1 << 15):
        raise AsmError(n, f"Invalid jump offset {delta}: it does not fit in 16 bits; use gotol")
    return delta


def assemble(text: str, *, resolve_map: Callable[[str], tuple[int, int]] | None = None,
             resolve_helper: Callable[[str], int] | None = None) -> list[Insn]:
    """Assemble kernel-syntax text. `resolve_map(name)` gives (pseudo src, imm) for `map[name]`;
    `resolve_helper(name)` gives the id for `call name`."""
    asm = Assembly()
    for number, raw in enumerate(text.splitlines(), start=1):
        m = _OBJDUMP_LABEL.match(raw)
        if m:
            asm.define_label(m.group(1), number)
            continue
        objdump = _OBJDUMP_PREFIX.match(raw)
        line = raw[objdump.end():] if objdump else _LOG_PREFIX.sub("", raw)
        line = _COMMENT.sub("", line).strip()
        if not line:
            continue
        line = asm.take_label(line, number)
        if line:
            _assemble_line(asm, line, number, resolve_map, resolve_helper)
    return asm.finish()


def _assemble_line(asm: Assembly, line: str, n: int,
                   resolve_map: Callable[[str], tuple[int, int]] | None,
                   resolve_helper: Callable[[str], int] | None) -> None:
    for pattern, form in _FORMS:
        m = pattern.match(line)
        if m:
            break
    else:
        raise AsmError(n, f"Invalid instruction '{line}': not a form of the kernel assembly syntax")
    g = m.groups()
    if form == "exit":
        asm.append(Insn(EXIT))
    elif form == "ja":
        delta, label = _target(g[0], n)
        asm.append(Insn(JA, off=_check16(delta, n)), label, n, "off")
    elif form == "ja32":
        delta, label = _target(g[0], n)
        asm.append(Insn(JA32, imm=delta), label, n, "imm")
    elif form == "may_goto":
        delta, label = _target(g[0], n)
        asm.append(Insn(MAY_GOTO, off=_check16(delta, n)), label, n, "off")
    elif form == "jcond":
        width, dst, symbol, operand, target = g
        cls = Cls.JMP32 if width == "w" else Cls.JMP
        delta, label = _target(target, n)
        delta = _check16(delta, n)
        op = SYMBOL_JMP[symbol]
        if operand[0] in "rw":
            insn = Insn(cls | op | SRC_X, _register(dst, n), _register(operand[1:], n), delta)
        else:
            insn = Insn(cls | op, _register(dst, n), 0, delta, parse_imm32(operand, n))
        asm.append(insn, label, n, "off")
    elif form == "callx":
        asm.append(Insn(CALLX, _register(g[0], n)))
    elif form == "call":
        _assemble_call(asm, g[0].strip(), n, resolve_helper)
    elif form == "atomic":
        kind, reg, sign, off, symbol, _, src = g
        size = TYPE_SIZE.get(kind)
        if size not in (Size.W, Size.DW):
            raise AsmError(n, f"Invalid atomic access size '{kind}': atomics are u32 or u64")
        op = {v: k for k, v in ATOMIC_SYMBOL.items()}[symbol]
        asm.append(Insn(Cls.STX | Mode.ATOMIC | size, _register(reg, n), _register(src, n),
                        _mem_offset(sign, off, n), int(op)))
    elif form in ("atomic_fetch", "atomic_xchg", "atomic_cmpxchg"):
        if form == "atomic_fetch":
            _, fetch_dst, _, name, kind, reg, sign, off, _, src = g
            imm = int({v: k for k, v in ATOMIC_NAME.items()}[name] | AtomicOp.FETCH)
        else:
            _, fetch_dst, _, kind, reg, sign, off, _, src = g
            imm = int(AtomicOp.XCHG if form == "atomic_xchg" else AtomicOp.CMPXCHG)
        size = TYPE_SIZE[kind]
        asm.append(Insn(Cls.STX | Mode.ATOMIC | size, _register(reg, n), _register(src, n),
                        _mem_offset(sign, off, n), imm))
    elif form in ("llvm_xchg", "llvm_cmpxchg"):
        _, _, _, bits, reg, sign, off, _, src = g
        size = Size.DW if bits == "64" else Size.W
        imm = int(AtomicOp.XCHG if form == "llvm_xchg" else AtomicOp.CMPXCHG)
        asm.append(Insn(Cls.STX | Mode.ATOMIC | size, _register(reg, n), _register(src, n),
                        _mem_offset(sign, off, n), imm))
    elif form == "store":
        kind, reg, sign, off, value = g
        size = TYPE_SIZE.get(kind)
        if size is None:
            raise AsmError(n, f"Invalid store type '{kind}': stores use u8, u16, u32 or u64")
        dst, offset = _register(reg, n), _mem_offset(sign, off, n)
        if value[0] in "rw":
            asm.append(Insn(Cls.STX | Mode.MEM | size, dst, _register(value[1:], n), offset))
        else:
            asm.append(Insn(Cls.ST | Mode.MEM | size, dst, 0, offset, parse_imm32(value, n)))
    elif form == "load":
        _, dst, kind, reg, sign, off = g
        if kind in TYPE_SIZE:
            opcode = Cls.LDX | Mode.MEM | TYPE_SIZE[kind]
        elif kind in SIGNED_TYPE_SIZE:
            opcode = Cls.LDX | Mode.MEMSX | SIGNED_TYPE_SIZE[kind]
        else:
            raise AsmError(n, f"Invalid load type '{kind}': loads use u8..u64 or s8..s32")
        asm.append(Insn(opcode, _register(dst, n), _register(reg, n), _mem_offset(sign, off, n)))
    elif form == "ld_packet":
        dst, kind, index, off = g
        if dst != "0":
            raise AsmError(n, "Invalid packet load: legacy packet loads always write r0")
        size = TYPE_SIZE[kind]
        if index is None:
            asm.append(Insn(Cls.LD | Mode.ABS | size, imm=parse_imm32(off or "0", n)))
        else:
            asm.append(Insn(Cls.LD | Mode.IND | size, src=_register(index, n), imm=parse_imm32(off or "0", n)))
    elif form == "lddw":
        asm.append(_lddw(_register(g[0], n), g[1].strip(), n, asm, resolve_map))
    elif form == "endian":
        w1, dst, kind, bits, w2, dst2 = g
        if dst != dst2:
            raise AsmError(n, "Invalid byte swap: source and destination must be the same register")
        if kind == "bswap":
            opcode = Cls.ALU64 | AluOp.END
        else:
            opcode = Cls.ALU | AluOp.END | (SRC_X if kind == "be" else 0)
        asm.append(Insn(opcode, _register(dst, n), imm=int(bits)))
    elif form == "neg":
        w1, dst, w2, dst2 = g
        if dst != dst2 or w1 != w2:
            raise AsmError(n, "Invalid negation: write 'rN = -rN' with the same register")
        cls = Cls.ALU if w1 == "w" else Cls.ALU64
        asm.append(Insn(cls | AluOp.NEG, _register(dst, n)))
    elif form == "movsx":
        w1, dst, bits, w2, src = g
        cls = Cls.ALU if w1 == "w" else Cls.ALU64
        if cls == Cls.ALU and bits == "32":
            raise AsmError(n, "Invalid sign extension: a 32-bit register takes (s8) or (s16)")
        asm.append(Insn(cls | AluOp.MOV | SRC_X, _register(dst, n), _register(src, n), int(bits)))
    else:  # alu
        width, dst, symbol, operand = g
        cls = Cls.ALU if width == "w" else Cls.ALU64
        if symbol == "=":
            op, off = AluOp.MOV, 0
        elif symbol in SIGNED_SYMBOL:
            op, off = SIGNED_SYMBOL[symbol], 1
        else:
            op, off = SYMBOL_ALU[symbol], 0
        if operand[0] in "rw":
            if operand[0] != width:
                raise AsmError(n, f"Invalid operand '{operand}': mix of 32-bit (w) and 64-bit (r) registers")
            asm.append(Insn(cls | op | SRC_X, _register(dst, n), _register(operand[1:], n), off))
        else:
            asm.append(Insn(cls | op, _register(dst, n), 0, off, parse_imm32(operand, n)))


def _assemble_call(asm: Assembly, target: str, n: int, resolve_helper: Callable[[str], int] | None) -> None:
    m = re.match(r"^pc\s*([+-]\s*\d+)$", target)
    if m:
        asm.append(Insn(CALL, src=1, imm=parse_int(m.group(1).replace(" ", ""), n)))
        return
    m = re.match(r"^kfunc#(\d+)$", target)
    if m:
        asm.append(Insn(CALL, src=2, imm=int(m.group(1))))
        return
    m = re.match(r"^[\w.$]*#(\d+)$", target)
    if m:
        asm.append(Insn(CALL, imm=int(m.group(1))))
        return
    if re.match(rf"^{_NUM}$", target):
        asm.append(Insn(CALL, imm=parse_imm32(target, n)))
        return
    if LABEL_RE.match(target):
        if resolve_helper is not None:
            try:
                asm.append(Insn(CALL, imm=resolve_helper(target)))
                return
            except KeyError:
                pass
        asm.append(Insn(CALL, src=1), target, n, "imm")  # a local function by label
        return
    raise AsmError(n, f"Invalid call target '{target}': expected a helper id, name#id, pc+N or a label")


def _lddw(dst: int, operand: str, n: int, asm: Assembly,
          resolve_map: Callable[[str], tuple[int, int]] | None) -> Insn:
    m = re.match(r"^map\[\s*(fd|idx):\s*(\d+)\s*\](?:\[0\]\s*\+\s*(\d+))?$", operand)
    if m:
        value = m.group(3) is not None
        if m.group(1) == "fd":
            src = PseudoSrc.MAP_VALUE if value else PseudoSrc.MAP_FD
        else:
            src = PseudoSrc.MAP_IDX_VALUE if value else PseudoSrc.MAP_IDX
        hi = int(m.group(3)) if value else 0
        return Insn(LDDW, dst, src, 0, int(m.group(2)) | (hi << 32))
    m = re.match(r"^map\[\s*([^\]:]+)\s*\](?:\[0\]\s*\+\s*(\d+))?$", operand)
    if m:
        if resolve_map is None:
            raise AsmError(n, f"Unknown map '{m.group(1)}': name maps as map[idx:N] or map[fd:N]")
        try:
            src, imm = resolve_map(m.group(1))
        except KeyError:
            raise AsmError(n, f"Unknown map '{m.group(1)}': the program defines no such map") from None
        if m.group(2) is not None:
            src = PseudoSrc.MAP_VALUE if src == PseudoSrc.MAP_FD else PseudoSrc.MAP_IDX_VALUE
            imm |= int(m.group(2)) << 32
        return Insn(LDDW, dst, src, 0, imm)
    m = re.match(r"^btf_id\[\s*(\d+)\s*\]$", operand)
    if m:
        return Insn(LDDW, dst, PseudoSrc.BTF_ID, 0, int(m.group(1)))
    m = re.match(r"^func\[\s*pc\s*([+-]\s*\d+)\s*\]$", operand)
    if m:
        return Insn(LDDW, dst, PseudoSrc.FUNC, 0, parse_int(m.group(1).replace(" ", ""), n) & 0xFFFFFFFF)
    return Insn(LDDW, dst, 0, 0, parse_imm64(operand, n))
