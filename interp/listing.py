"""Printing a `Program` for people (kernel syntax with map names and source lines) and machines."""

from __future__ import annotations

from typing import Any

from .asm import conformance_syntax
from .helper_ids import helper_name
from .isa.text import format_insn
from .program import Program
from .sources import describe


def program_summary(program: Program) -> dict[str, Any]:
    return {
        "section": program.section,
        "name": program.name,
        "prog_type": program.prog_type,
        "attach_kind": program.attach_kind,
        "attach_to": program.attach_to,
        "insn_slots": program.entry_slots,
        "linked_insn_slots": program.slots,
        "license": program.license,
        "kern_version": program.kern_version,
        "maps": [program.maps[i].name for i in program.used_maps],
        "functions": [{"pc": pc, "name": name} for pc, name in program.functions],
    }


def program_json(program: Program) -> dict[str, Any]:
    out = program_summary(program)
    rows = []
    pc = 0
    for insn in program.insns:
        row: dict[str, Any] = {
            "pc": pc, "opcode": insn.opcode, "dst": insn.dst, "src": insn.src, "off": insn.off,
            "imm": insn.imm,
            "text": format_insn(insn, pc, helper_name=helper_name, map_name=program.map_name),
        }
        line = program.source_lines.get(pc)
        if line is not None:
            row["source"] = {"file": line.file, "line": line.line, "column": line.column, "text": line.text}
        rows.append(row)
        pc += insn.slots
    out["insns"] = rows
    out["map_definitions"] = [m.to_json() for m in program.maps]
    out["relocations"] = [r.to_json() for r in program.relocations]
    return out


def program_header(program: Program) -> str:
    attach = f" attach {program.attach_to}" if program.attach_to else ""
    linked = f" ({program.slots} linked)" if program.slots != program.entry_slots else ""
    used = [program.maps[i].name for i in program.used_maps]
    maps = f", maps: {', '.join(used)}" if used else ""
    return (f"program {describe(program)}: type {program.prog_type} ({program.attach_kind}{attach}), "
            f"{program.entry_slots} insns{linked}{maps}")


def insn_text(program: Program, insn: Any, pc: int) -> str:
    """One instruction of `program` in kernel syntax, with map and helper names."""
    return format_insn(insn, pc, helper_name=helper_name, map_name=program.map_name)


def insn_texts(program: Program) -> dict[int, str]:
    """Each instruction in kernel syntax, by pc, with map and helper names."""
    texts, pc = {}, 0
    for insn in program.insns:
        texts[pc] = insn_text(program, insn, pc)
        pc += insn.slots
    return texts


def program_text(program: Program, syntax: str = "kernel") -> str:
    """A listing that assembles back: kernel syntax numbered like a verifier log, conformance
    syntax plain; everything else is a comment."""
    comment = "#" if syntax == "conformance" else ";"
    lines = [f"{comment} {program_header(program)}"]
    functions = dict(program.functions)
    last_line = None
    pc = 0
    for insn in program.insns:
        if pc in functions and pc != 0:
            lines.append(f"{functions[pc]}:")
        source = program.source_lines.get(pc)
        if source is not None and source.line and (source.file, source.line) != last_line:
            lines.append(f"{comment} {source.text.strip()} @ {source.file.rsplit('/', 1)[-1]}:{source.line}")
            last_line = (source.file, source.line)
        if syntax == "conformance":
            lines.append(conformance_syntax.format_insn(insn, pc))
        else:
            text = format_insn(insn, pc, helper_name=helper_name, map_name=program.map_name)
            lines.append(f"{pc:5d}: {text}")
        pc += insn.slots
    for reloc in program.relocations:
        if not reloc.resolved:
            lines.append(f"{comment} unresolved {reloc.kind} relocation at insn {reloc.pc}: {reloc.description}")
    return "\n".join(lines) + "\n"


def maps_text(program: Program) -> str:
    lines = []
    for i, m in enumerate(program.maps):
        extra = " frozen" if m.frozen else ""
        lines.append(f"  map {i}: {m.name} {m.type_name} key {m.key_size} value {m.value_size} "
                     f"entries {m.max_entries} ({m.origin}{extra})")
    return "\n".join(lines)
