"""The eBPF conformance suite's `.data` files: parse, run, and judge them.

A file has sections `-- asm` (conformance syntax) or `-- raw` (bytecode), optional `-- mem`
(bytes handed to the program in r1, with their length in r2), and `-- result` (expected r0) or
`-- error` (the program must be refused)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .asm.common import AsmError
from .asm.conformance_syntax import assemble
from .faults import ProgramError
from .isa.insn import DecodeError, Insn, decode
from .memory import CALLER_MEMORY_BASE, Region, RegionKind
from .vm import Machine, RunResult

IGNORED_SECTIONS = ("c", "no register offset")
KNOWN_SECTIONS = ("asm", "raw", "mem", "result", "error") + IGNORED_SECTIONS


class TestFileError(ValueError):
    """A conformance file that is malformed as a file (not as a program)."""


@dataclass
class TestCase:
    path: Path
    asm: str | None
    raw: bytes | None
    mem: bytes
    result: int | None
    error: str | None
    asm_first_line: int = 1  # file line number of the first asm line


def parse_test_file(path: Path) -> TestCase:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise TestFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    sections: dict[str, list[str]] = {}
    starts: dict[str, int] = {}
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("--"):
            name = line[2:].strip()
            if name not in KNOWN_SECTIONS:
                raise TestFileError(f"{path.name} line {number}: unknown section '{line.strip()}'")
            current = name
            sections.setdefault(name, [])
            starts[name] = number + 1
            continue
        if current is not None:
            sections[current].append(line)
    asm = "\n".join(sections["asm"]) if "asm" in sections else None
    raw = _parse_raw(sections["raw"], path) if "raw" in sections else None
    mem = _parse_hex_bytes(" ".join(sections.get("mem", [])), path, "mem")
    result_lines = [ln.strip() for ln in sections.get("result", []) if ln.strip()]
    result = _parse_result(result_lines[-1], path) if result_lines else None
    error_lines = [ln.strip() for ln in sections.get("error", []) if ln.strip()]
    error = error_lines[-1] if error_lines else ("" if "error" in sections else None)
    if (asm is None or not asm.strip()) and raw is None:
        raise TestFileError(f"{path.name}: no instructions (neither an asm nor a raw section)")
    return TestCase(path, asm, raw, mem, result, error, starts.get("asm", 1))


def _parse_result(text: str, path: Path) -> int:
    """The expected r0: a 64-bit integer (decimal or 0x hex; negative values as two's complement)."""
    try:
        value = int(text, 0)
    except ValueError:
        raise TestFileError(f"{path.name}: malformed result section: {text[:40]!r} is not an integer") from None
    if not -(1 << 63) <= value < 1 << 64:
        raise TestFileError(f"{path.name}: malformed result section: {text[:40]} does not fit in 64 bits")
    return value & ((1 << 64) - 1)


def _parse_hex_bytes(text: str, path: Path, what: str) -> bytes:
    try:
        return bytes(int(tok, 16) for tok in text.split())
    except ValueError as exc:
        raise TestFileError(f"{path.name}: malformed {what} section: {exc}") from None


def _parse_raw(lines: list[str], path: Path) -> bytes:
    out = bytearray()
    for line in lines:
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        if all(re.fullmatch(r"0[xX][0-9a-fA-F]{1,16}", t) for t in tokens) and any(len(t) > 4 for t in tokens):
            for t in tokens:  # one 64-bit little-endian slot per token
                out += int(t, 16).to_bytes(8, "little")
        else:
            out += _parse_hex_bytes(" ".join(tokens), path, "raw")
    return bytes(out)


def load_case_program(case: TestCase) -> list[Insn]:
    if case.raw is not None:
        return decode(case.raw)
    assert case.asm is not None
    try:
        return assemble(case.asm)
    except AsmError as exc:
        # report the file's line number, not the section's
        raise AsmError(exc.line + case.asm_first_line - 1, exc.message) from None


def run_with_memory(insns: list[Insn], mem: bytes, budget: int) -> RunResult:
    """Run `insns` with `mem` at r1 and its length in r2."""
    return run_machine_with_memory(Machine(insns, budget=budget, entry_args=2), mem)


def run_machine_with_memory(machine: Machine, mem: bytes) -> RunResult:
    """Run with `mem` at r1 (writable, no alignment rule) and its length in r2."""
    if mem:
        machine.space.map(Region(RegionKind.CALLER_MEMORY, "", CALLER_MEMORY_BASE, bytearray(mem)))
        return machine.run(CALLER_MEMORY_BASE, len(mem))
    return machine.run(0, 0)


@dataclass
class Outcome:
    path: Path
    kind: str  # "ok" (r0 as expected), "mismatch" (another r0), "refused" (not run to its end)
    message: str
    expects_refusal: bool

    @property
    def passed(self) -> bool:
        if not self.expects_refusal:
            return self.kind == "ok"
        return self.kind != "ok" and not self.message.startswith("wrong error")


def judge(path: Path, negative: bool = False, budget: int = 10_000_000) -> Outcome:
    """Run one file. A file passes when r0 equals its result; a file with an error section, or
    any file when `negative`, passes when it is refused (or gives another r0). Where the refusal
    is an assembler error and the file names the error, the message must contain it."""
    try:
        case = parse_test_file(path)
    except TestFileError as exc:
        return Outcome(path, "refused", str(exc), True)
    expects_refusal = negative or case.error is not None
    try:
        insns = load_case_program(case)
        result = run_with_memory(insns, case.mem, budget)
    except AsmError as exc:
        if case.error and case.error not in exc.message:
            return Outcome(path, "refused", f"wrong error: '{exc}', expected '{case.error}'", expects_refusal)
        return Outcome(path, "refused", str(exc), expects_refusal)
    except (DecodeError, ProgramError) as exc:
        return Outcome(path, "refused", str(exc), expects_refusal)
    if result.fault is not None:
        fault = result.fault
        return Outcome(path, "refused", f"{fault.kind.value} fault at insn {fault.pc}: {fault.message}",
                       expects_refusal)
    expected = case.result or 0
    if result.r0 != expected:
        return Outcome(path, "mismatch", f"r0={result.r0:#x}, expected {expected:#x}", expects_refusal)
    return Outcome(path, "ok", f"r0={result.r0:#x}", expects_refusal)
