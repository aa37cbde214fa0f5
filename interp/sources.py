"""Reading a program from a file: assembly (either syntax), conformance `.data`, raw `.bin`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .asm import conformance_syntax, kernel_syntax
from .asm.common import AsmError
from .isa.insn import Insn, decode

ASSEMBLY_SUFFIXES = (".s", ".asm")


class SourceError(ValueError):
    """A program file that cannot be read as any supported format."""


@dataclass
class ProgramSource:
    path: Path
    insns: list[Insn]
    mem: bytes | None = None  # caller memory a conformance file supplies
    expected_r0: int | None = None
    syntax: str | None = None


def detect_syntax(text: str) -> str:
    """`conformance` when the text names registers as `%rN`, otherwise `kernel`."""
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return "conformance" if re.search(r"%r\d", code) else "kernel"


def assemble_text(text: str, syntax: str | None = None) -> tuple[list[Insn], str]:
    syntax = syntax or detect_syntax(text)
    if syntax == "conformance":
        return conformance_syntax.assemble(text), syntax
    return kernel_syntax.assemble(text), syntax


def read_program(path: Path, syntax: str | None = None) -> ProgramSource:
    """Read `path` by its suffix. Errors are `SourceError`, `AsmError` or `DecodeError`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    suffix = path.suffix.lower()
    if suffix == ".data":
        from .conformance import TestFileError, load_case_program, parse_test_file

        try:
            case = parse_test_file(path)
        except TestFileError as exc:
            raise SourceError(str(exc)) from None
        return ProgramSource(path, load_case_program(case), case.mem, case.result, "conformance")
    if suffix in ASSEMBLY_SUFFIXES:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{path} is not UTF-8 text; assembly files must be text") from None
        insns, used = assemble_text(text, syntax)
        if not insns:
            raise SourceError(f"{path} holds no instructions")
        return ProgramSource(path, insns, syntax=used)
    if suffix == ".bin":
        if not data:
            raise SourceError(f"{path} is empty; a program needs at least one instruction")
        return ProgramSource(path, decode(data))
    raise SourceError(
        f"{path}: unknown file type '{suffix}'; use .s/.asm (assembly), .data (conformance) or .bin (bytecode)"
    )


__all__ = ["AsmError", "ProgramSource", "SourceError", "assemble_text", "detect_syntax", "read_program"]
