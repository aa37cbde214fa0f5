"""A refuted claim about an ALU operation or a branch, as a program the interpreter runs.

z3's model gives abstract operands (a scalar each) and concrete values inside them for which the
(mutated) domain code loses the concrete result. The witness program reads the two concrete
values from the context (pt_regs `di` and `si`), narrows each register towards its abstract
operand with masks and conditional jumps that every concrete value of it passes (so the run goes
on with the model's values), applies the operation, and returns. The analysis is run on it with
the mutated domain and the run is compared with the analysis' invariants at every instruction
(`proofs.containment`): the first instruction where the concrete value lies outside the abstract
one is the bug, shown as the analysis' value beside the run's. The analysis reduces
the narrowed operands, which may take them away from the model's: so the concrete pair
is chosen by z3 from the analysis' own operands at the operation, among those the narrowing
lets through, as one whose result the analysis' value after the operation loses; when there is
none, `proofs.mutants` asks for further models. The report says which witness showed the bug."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import z3

from interp import semantics
from interp.isa.opcodes import JmpOp
from interp.isa.ops import Alu, Neg, Reg, Swap
from interp.isa.text import JMP_SYMBOL, format_op
from interp.pt_regs import layout_for
from verifier.check import check_program
from verifier.domains.scalar import Scalar
from verifier.domains.tnum import M32, M64, Tnum

from . import symbolic
from .claims import NARROWING, Z3
from .containment import run_on_context
from .contracts import NATURAL
from .gamma import SCALAR_FIELDS, scalar_gamma, scalar_var, tnum_var
from .programs import program_of
from .symbolic import term

REGS = layout_for("x86_64")


@dataclass
class Witness:
    text: str  # the program, kernel syntax
    x: int
    y: int
    shown: str  # what the replay found: the analysis' value beside the run's, or why nothing
    shows: bool = False  # the run left the analysis' invariant


def _signed(value: int, wide: int) -> int:
    return value - (1 << wide) if value >> (wide - 1) else value


def _operand(model: dict[str, int], name: str, wide: int) -> dict[str, int]:
    """The abstract operand `name` of the model: a scalar's fields, or a tnum's (a claim about a
    tnum operation), whose bounds are then those of its type."""
    if f"{name}.value" in model or f"{name}.mask" in model:
        fields = {f: (lowest if f.endswith("min") else highest) for f, (lowest, highest) in NATURAL.items()}
        prefix = name
    else:
        fields = {f: _signed(model.get(f"{name}.{f}", 0), wide) for f in SCALAR_FIELDS}
        prefix = f"{name}.tnum"
    fields["value"] = model.get(f"{prefix}.value", 0)
    fields["mask"] = model.get(f"{prefix}.mask", M64 if f"{prefix}.value" not in model else 0)
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
    """The program for an ALU instruction, a (JmpOp, taken, width) branch, or NARROWING (a
    register narrowed towards the model's scalar `s`: each conditional jump refines it and
    reduces it again), or None."""
    lines = [f"r6 = *(u64 *)(r1 +{REGS.offset_of('di')})", f"r7 = *(u64 *)(r1 +{REGS.offset_of('si')})"]
    if operation == NARROWING:
        return "\n".join(lines[:1] + _narrowing(6, _operand(model, "s", wide)) + ["r0 = r6", "exit", "out: r0 = 0", "exit"])
    lines += _narrowing(6, _operand(model, "a", wide))
    # a shift's amount (a tnum claim's `k`) is a constant, as the analysis needs it to be
    lines += [f"r7 = {model.get('k', 0)}"] if "k" in model else _narrowing(7, _operand(model, "b", wide))
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
    """Run the witness under the analysis as the domain code now is (the mutant applied). The
    concrete pair is the model's, or, for an ALU operation, one z3 picks from the values the
    analysis itself gives the operands at the operation (they may differ from the model's: it
    reduces them) whose result the analysis' value after it loses, if there is one."""
    text = witness_text(operation, model, wide)
    if text is None:
        return None
    x, y = model.get("x", 0) & M64, model.get("y", model.get("k", 0)) & M64
    program = program_of(text, "witness")
    result = check_program(program)
    if isinstance(operation, (Alu, Neg, Swap)):
        x, y = _losing_pair(program, result, operation, model, wide) or (x, y)
    context = bytearray(REGS.size)
    context[REGS.offset_of("di"):REGS.offset_of("di") + 8] = x.to_bytes(8, "little")
    context[REGS.offset_of("si"):REGS.offset_of("si") + 8] = y.to_bytes(8, "little")
    violation = run_on_context(program, result, bytes(context))
    if violation is None:
        return Witness(text, x, y, f"not shown: the run stays inside the analysis ({result.verdict})")
    return Witness(text, x, y, f"insn {violation.pc}: {violation.message}", shows=True)


def _losing_pair(program: Any, result: Any, operation: Any, model: dict[str, int], wide: int) -> tuple[int, int] | None:
    """x, y that pass the witness' narrowing (inside the model's operands), lie in the analysis'
    operands at the operation, and whose result lies outside the analysis' value after it."""
    index = len(program.insns) - 5  # the operation, then r0 = r6, exit, out: r0 = 0, exit
    pc = sum(insn.slots for insn in program.insns[:index])
    before, after = result.states.get(pc), result.states.get(pc + 1)
    if before is None or after is None:
        return None
    a, b, r = before.top.regs[6], before.top.regs[7], after.top.regs[6]
    if not (a.is_scalar and b.is_scalar and r.is_scalar):
        return None
    symbolic.set_width(136)  # the width scalar_gamma builds its terms at (check() sets its own per claim)
    x, y = z3.BitVec("x", 64), z3.BitVec("y", 64)
    solver = z3.Solver()
    solver.set("rlimit", 5_000_000)
    solver.add(scalar_gamma(_scalar(_operand(model, "a", wide)), x), scalar_gamma(a.value, x),
               scalar_gamma(b.value, y), z3.Not(scalar_gamma(r.value, semantics.alu(Z3, operation, x, y))))
    if "k" in model:
        solver.add(y == model["k"])
    else:
        solver.add(scalar_gamma(_scalar(_operand(model, "b", wide)), y))
    if solver.check() != z3.sat:
        return None
    found = solver.model()
    return found.eval(x, model_completion=True).as_long(), found.eval(y, model_completion=True).as_long()


def _scalar(fields: dict[str, int]) -> Scalar:
    return Scalar(Tnum(fields["value"] & M64, fields["mask"] & M64), *(fields[f] for f in SCALAR_FIELDS))


def _operand_terms(domain: str, name: str) -> Any:
    return tnum_var(name) if domain == "tnum" else scalar_var(name).tnum


def not_constant(domain: str, name: str = "a") -> list[Any]:
    """A model's first operand is not a constant: two constants are computed outright, not by
    the operation's code, so a witness of them shows nothing."""
    conditions = [term(_operand_terms(domain, name).mask) != 0]
    if domain == "scalar":
        a = scalar_var(name)
        conditions += [term(a.umin) < term(a.umax), term(a.smin) < term(a.smax)]
    return conditions


def both_signs(domain: str, name: str = "a") -> list[Any]:
    """The first operand holds negative and non-negative values (its sign bit unknown): a bug the
    reduction would otherwise hide, by finding a wrong result empty, shows there."""
    conditions = [(term(_operand_terms(domain, name).mask) >> 63) & 1 == 1]
    if domain == "scalar":
        a = scalar_var(name)
        conditions += [term(a.smin) < 0, term(a.smax) >= 0]
    return conditions


def changes(operation: Any) -> list[Any]:
    """An ALU operation's result is not its first operand (not a shift by 0, an addition of 0...)."""
    if not isinstance(operation, (Alu, Neg, Swap)):
        return []
    x, y = z3.BitVec("x", 64), z3.BitVec("y", 64)
    return [semantics.alu(Z3, operation, x, y) != x]


def different(domain: str, model: dict[str, int], name: str = "a") -> Any:
    """Another model than `model`: other concrete values or another first operand."""
    t = _operand_terms(domain, name)
    names = [("x", z3.BitVec("x", 64)), ("y", z3.BitVec("y", 64))]
    names += [(str(term(t.value)), term(t.value)), (str(term(t.mask)), term(t.mask))]
    return z3.Or(*(v != model[n] for n, v in names if n in model))


__all__ = ["NARROWING", "Witness", "both_signs", "changes", "different", "not_constant", "replay", "witness_text"]
