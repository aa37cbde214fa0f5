"""Reading programs from any supported file: ELF objects (`.o`), raw bytecode (`.bin` with an
optional `.json` sidecar), assembly (`.s`/`.asm`, either syntax) and conformance `.data` files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .isa.insn import Insn
from .program import Program

ASSEMBLY_SUFFIXES = (".s", ".asm")


class SourceError(ValueError):
    """A program file that cannot be read as any supported format."""


@dataclass
class ProgramSource:
    path: Path
    programs: list[Program]
    mem: bytes | None = None  # caller memory a conformance file supplies
    expected_r0: int | None = None
    syntax: str | None = None

    def select(self, section: str | None = None) -> Program:
        """The one program named by `section` (a section name, a function name, or
        `section:function`), or the only program when `section` is None."""
        matches = select_programs(self.programs, section)
        if len(matches) == 1:
            return matches[0]
        names = ", ".join(describe(p) for p in (matches or self.programs))
        if not matches:
            raise SourceError(f"{self.path.name}: no program matches --section {section}; it has: {names}")
        raise SourceError(f"{self.path.name} has {len(matches)} programs{' in ' + section if section else ''}; "
                          f"choose one with --section: {names}")

    @property
    def insns(self) -> list[Insn]:
        return self.select().insns


def describe(program: Program) -> str:
    if program.section and program.name != program.section:
        return f"{program.section}:{program.name}"
    return program.section or program.name


def printable(text: str) -> str:
    """`text` for one line of output: control characters (a section name may hold any) escaped."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def select_programs(programs: list[Program], section: str | None) -> list[Program]:
    if section is None:
        return list(programs)
    exact = [p for p in programs if describe(p) == section]
    if exact:
        return exact
    return [p for p in programs if section in (p.section, p.name)]


def detect_syntax(text: str) -> str:
    """`conformance` when the text names registers as `%rN`, otherwise `kernel`."""
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return "conformance" if re.search(r"%r\d", code) else "kernel"


def assemble_text(text: str, syntax: str | None = None) -> tuple[list[Insn], str]:
    # (the assemblers are imported for assembly input only: reading an object needs neither)
    from .asm import conformance_syntax, kernel_syntax

    syntax = syntax or detect_syntax(text)
    if syntax == "conformance":
        return conformance_syntax.assemble(text), syntax
    return kernel_syntax.assemble(text), syntax


def _program(path: Path, insns: list[Insn], prog_type: str = "kprobe") -> Program:
    return Program(name=path.stem, section="", prog_type=prog_type, attach_kind=prog_type,
                   attach_to=None, insns=insns, entry_slots=sum(i.slots for i in insns), path=path)


def read_program(path: Path, syntax: str | None = None, target_btf: Any = "auto",
                 select: str | None = None) -> ProgramSource:
    """Read `path` by its suffix. Errors are `SourceError`, `AsmError`, `DecodeError`,
    `LoaderError` or `SidecarError`, each naming the problem. `select`: the caller wants only
    the programs it names (`select_programs`); an object then loads only those (where it names
    none, every program, so that `ProgramSource.select` can say what there is)."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise SourceError(f"{path} is a directory; give a program file") from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    suffix = path.suffix.lower()
    if suffix == ".o" or data[:4] == b"\x7fELF":
        from .loader import load_object

        return ProgramSource(path, load_object(path, target_btf, select))
    if suffix == ".data":
        from .conformance import TestFileError, load_case_program, parse_test_file

        try:
            case = parse_test_file(path)
        except TestFileError as exc:
            raise SourceError(str(exc)) from None
        return ProgramSource(path, [_program(path, load_case_program(case), "unknown")], case.mem,
                             case.result, "conformance")
    if suffix in ASSEMBLY_SUFFIXES:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{path} is not UTF-8 text; assembly files must be text") from None
        insns, used = assemble_text(text, syntax)
        if not insns:
            raise SourceError(f"{path} holds no instructions")
        return ProgramSource(path, [_program(path, insns)], syntax=used)
    if suffix == ".bin":
        if not data:
            raise SourceError(f"{path} is empty; a program needs at least one instruction")
        from .rawload import load_raw

        return ProgramSource(path, [load_raw(path, data)])
    raise SourceError(
        f"{path}: unknown file type '{suffix}'; use .o (ELF object), .bin (bytecode), "
        ".s/.asm (assembly) or .data (conformance)"
    )


__all__ = ["ProgramSource", "SourceError", "assemble_text", "describe", "detect_syntax",
           "read_program", "select_programs"]
