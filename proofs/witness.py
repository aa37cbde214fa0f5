"""A refuted claim about an ALU operation or a branch, as a program the interpreter runs.

z3's model gives abstract operands (a scalar each) and concrete values inside them for which the
(mutated) domain code loses the concrete result. The witness program reads the two concrete
values from the context (pt_regs `di` and `si`), narrows each register towards its abstract
operand with masks and conditional jumps that every concrete value of it passes (so the run goes
on with the model's values), applies the operation, and returns. The analysis is run on it with
the mutated domain and the run is compared with the analysis' invariants at every instruction
(`proofs.containment`): the first instruction where the concrete value lies outside the abstract
one is the bug, shown as the analysis' value beside the run's. The analysis may narrow the
operands differently from the model's (it reduces them), so a witness does not always show
the bug; the report says which did."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from interp.isa.opcodes import JmpOp
from interp.isa.ops import Alu, Neg, Reg, Swap
from interp.isa.text import JMP_SYMBOL, format_op
from interp.pt_regs import layout_for
from verifier.check import check_program
from verifier.domains.tnum import M32, M64

from .containment import run_on_context
from .contracts import NATURAL
from .gamma import SCALAR_FIELDS
from .programs import program_of

REGS = layout_for("x86_64")


@dataclass
class Witness:
    text: str  # the program, kernel syntax
    x: int
    y: int
    shown: str  # what the replay found: the analysis' value beside the run's, or why nothing


def _signed(value: int, wide: int) -> int:
    return value - (1 << wide) if value >> (wide - 1) else value


def _operand(model: dict[str, int], name: str, wide: int) -> dict[str, int]:
    fields = {f: _signed(model.get(f"{name}.{f}", 0), wide) for f in SCALAR_FIELDS}
    fields["value"] = model.get(f"{name}.tnum.value", 0)
    fields["mask"] = model.get(f"{name}.tnum.mask", M64)
    return fields


def _narrowing(reg: int, s: dict[str, int]) -> list[str]:
    """Instructions that keep only values the abstract operand allows (they pass on the model's)."""
    lines = []
    if s["mask"] != M64:
        lines += [f"r8 = {(s['value'] | s['mask']) & M64:#x} ll", f"r{reg} &= r8",
                  f"r8 = {s['value'] & M64:#x} ll", f"r{reg} |= r8"]
    for field, (lowest, highest) in NATURAL.items():
        if s[field] == (lowest if field.endswith("min") else highest):
            continue  # a bound at its type's end narrows nothing
        width = "w" if "32" in field else "r"
        symbol = ("s" if field.startswith("s") else "") + ("<" if field.endswith("min") else ">")
        lines += [f"r8 = {s[field] & (M32 if width == 'w' else M64):#x} ll", f"if {width}{reg} {symbol} {width}8 goto out"]
    return lines


def witness_text(operation: Any, model: dict[str, int], wide: int) -> str | None:
    """The program for an ALU instruction or a (JmpOp, taken, width) branch, or None."""
    lines = [f"r6 = *(u64 *)(r1 +{REGS.offset_of('di')})", f"r7 = *(u64 *)(r1 +{REGS.offset_of('si')})"]
    lines += _narrowing(6, _operand(model, "a", wide)) + _narrowing(7, _operand(model, "b", wide))
    if isinstance(operation, (Alu, Neg, Swap)):
        moved = replace(operation, dst=6, src=Reg(7)) if isinstance(operation, Alu) else replace(operation, dst=6)
        lines += [format_op(moved, 0), "r0 = r6", "exit"]
    elif isinstance(operation, tuple):
        op, taken, width = operation
        reg = "r" if width == 64 else "w"
        jump = f"if {reg}6 {JMP_SYMBOL[JmpOp(op)]} {reg}7 goto edge"
        if op == JmpOp.JSET:
            jump = f"if {reg}6 & {reg}7 goto edge"
        if taken:  # the taken edge alone reaches `edge`
            lines += [jump, "r0 = 0", "exit", "edge: r0 = r6", "r0 += r7", "exit"]
        else:  # the fall-through alone goes on
            lines += [jump.replace("goto edge", "goto out"), "r0 = r6", "r0 += r7", "exit"]
    else:
        return None
    return "\n".join(lines + ["out: r0 = 0", "exit"])


def replay(operation: Any, model: dict[str, int], wide: int) -> Witness | None:
    """Run the witness under the analysis as the domain code now is (the mutant applied)."""
    text = witness_text(operation, model, wide)
    if text is None:
        return None
    x, y = model.get("x", 0) & M64, model.get("y", 0) & M64
    program = program_of(text, "witness")
    context = bytearray(REGS.size)
    context[REGS.offset_of("di"):REGS.offset_of("di") + 8] = x.to_bytes(8, "little")
    context[REGS.offset_of("si"):REGS.offset_of("si") + 8] = y.to_bytes(8, "little")
    result = check_program(program)
    violation = run_on_context(program, result, bytes(context))
    if violation is None:
        return Witness(text, x, y, f"not shown: the run stays inside the analysis ({result.verdict})")
    return Witness(text, x, y, f"insn {violation.pc}: {violation.message}")


__all__ = ["Witness", "replay", "witness_text"]
