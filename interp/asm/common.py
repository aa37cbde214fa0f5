"""What both assembly syntaxes share: errors, number parsing, label resolution."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..isa.insn import Insn
from ..isa.ops import to_signed


class AsmError(ValueError):
    """A line of assembly that cannot be assembled; `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


_INT = re.compile(r"^[+-]?(0[xX][0-9a-fA-F]+|[0-9]+)$")


def parse_int(text: str, line: int, what: str = "number") -> int:
    text = text.strip()
    if not _INT.match(text):
        raise AsmError(line, f"Invalid {what} '{text}': expected a decimal or 0x-prefixed hex integer")
    return int(text, 0) if not re.match(r"^[+-]?0[0-9]", text) else int(text, 10)


def parse_imm32(text: str, line: int) -> int:
    """A 32-bit immediate: signed decimal, or hex up to 0xffffffff read as a bit pattern."""
    value = parse_int(text, line, "immediate")
    is_hex = "x" in text.lower()
    if is_hex and 0 <= value <= 0xFFFFFFFF:
        return to_signed(value, 32)
    if -(1 << 31) <= value < (1 << 31):
        return value
    raise AsmError(line, f"Invalid immediate '{text.strip()}': it does not fit in 32 bits")


def parse_off16(text: str, line: int) -> int:
    """A 16-bit offset: signed decimal, or hex up to 0xffff read as a bit pattern."""
    value = parse_int(text, line, "offset")
    stripped = text.strip().lstrip("+")
    if stripped.lower().startswith("0x") and 0 <= value <= 0xFFFF:
        return value - (1 << 16) if value & 0x8000 else value
    if -(1 << 15) <= value < (1 << 15):
        return value
    raise AsmError(line, f"Invalid offset '{text.strip()}': it does not fit in 16 bits")


def parse_imm64(text: str, line: int) -> int:
    value = parse_int(text, line, "immediate")
    if -(1 << 63) <= value < (1 << 64):
        return value & ((1 << 64) - 1)
    raise AsmError(line, f"Invalid immediate '{text.strip()}': it does not fit in 64 bits")


LABEL_RE = re.compile(r"^[A-Za-z_.$][\w.$]*$")


LABEL_DEFINITION = re.compile(r"^([A-Za-z_.$][\w.$]*):\s*(.*)$")


@dataclass
class PendingTarget:
    """An instruction whose jump offset (or call immediate) names a label."""

    index: int  # position in the instruction list
    label: str
    line: int
    field: str  # "off" or "imm"


@dataclass
class Assembly:
    """Instructions being assembled, with labels resolved at the end."""

    insns: list[Insn] = field(default_factory=list)
    pcs: list[int] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    pending: list[PendingTarget] = field(default_factory=list)
    slot: int = 0

    def take_label(self, line: str, number: int) -> str:
        """Define the label that starts `line` (`name:`), if any; the rest of the line."""
        m = LABEL_DEFINITION.match(line)
        if not m:
            return line
        self.define_label(m.group(1), number)
        return m.group(2).strip()

    def define_label(self, name: str, line: int) -> None:
        if name in self.labels:
            raise AsmError(line, f"Duplicate label '{name}': each label may be defined once")
        self.labels[name] = self.slot

    def append(self, insn: Insn, label: str | None = None, line: int = 0, field_name: str = "off") -> None:
        if label is not None:
            self.pending.append(PendingTarget(len(self.insns), label, line, field_name))
        self.insns.append(insn)
        self.pcs.append(self.slot)
        self.slot += insn.slots

    def finish(self) -> list[Insn]:
        for target in self.pending:
            if target.label not in self.labels:
                raise AsmError(target.line, f"Undefined label '{target.label}': define it with '{target.label}:'")
            pc = self.pcs[target.index]
            delta = self.labels[target.label] - (pc + 1)
            insn = self.insns[target.index]
            if target.field == "off":
                if not -(1 << 15) <= delta < (1 << 15):
                    raise AsmError(target.line, f"Jump to '{target.label}' is too far for a 16-bit offset; use gotol")
                insn = Insn(insn.opcode, insn.dst, insn.src, delta, insn.imm)
            else:
                insn = Insn(insn.opcode, insn.dst, insn.src, insn.off, delta)
            self.insns[target.index] = insn
        return self.insns


def signed_offset(value: int) -> str:
    return f"+{value}" if value >= 0 else str(value)
