"""`bpfverify`: one command for running, assembling, disassembling and checking eBPF programs.

Exit codes: 0 success; 1 the program faulted or a check failed; 2 bad input or usage."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from interp.asm import conformance_syntax, kernel_syntax
from interp.asm.common import AsmError
from interp.conformance import TestFileError, judge, run_machine_with_memory, run_with_memory
from interp.core import CoreError
from interp.faults import ProgramError
from interp.image import ProgramImage
from interp.isa.insn import DecodeError, encode
from interp.listing import maps_text, program_json, program_text
from interp.loader import LoaderError
from interp.rawload import SidecarError
from interp.sources import SourceError, describe, read_program, select_programs
from interp.vm import DEFAULT_BUDGET

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

BAD_INPUT = (AsmError, DecodeError, ProgramError, SourceError, TestFileError, LoaderError, SidecarError,
             CoreError)


class UsageError(Exception):
    """Bad command-line usage, reported as one line with exit code 2."""


def _parse_hex(text: str, what: str) -> bytes:
    cleaned = "".join(text.split())
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise UsageError(f"{what} is not hex bytes: '{text[:40]}'") from None


def _memory_argument(args: argparse.Namespace) -> bytes | None:
    if args.mem is not None and args.mem_file is not None:
        raise UsageError("give --mem or --mem-file, not both")
    if args.mem is not None:
        return _parse_hex(args.mem, "--mem")
    if args.mem_file is not None:
        try:
            return Path(args.mem_file).read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read {args.mem_file}: {exc.strerror or exc}") from None
    return None


# -- run ---------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    source = read_program(Path(args.file), args.syntax, _target_btf(args))
    program = source.select(args.section)
    mem = _memory_argument(args)
    if mem is None:
        mem = source.mem or b""
    image = ProgramImage(program, budget=args.budget, entry_args=2)
    result = run_machine_with_memory(image.machine, mem)
    if args.json:
        print(json.dumps(result.to_json()))
    elif result.fault is not None:
        fault = result.fault
        print(f"fault at insn {fault.pc} ({fault.insn}): {fault.kind.value}: {fault.message}")
        print(f"insns executed: {result.insns_executed}")
    else:
        assert result.r0 is not None
        print(f"r0 = {result.r0:#x} ({result.r0})")
        print(f"insns executed: {result.insns_executed}")
    return EXIT_FAILED if result.fault is not None else EXIT_OK


# -- asm / disasm ----------------------------------------------------------------


def _target_btf(args: argparse.Namespace) -> str | None:
    btf = getattr(args, "btf", None)
    if btf is None:
        return "auto"
    if not Path(btf).is_file():
        raise SourceError(f"--btf {btf}: no such file")
    return btf


def cmd_asm(args: argparse.Namespace) -> int:
    source = read_program(Path(args.file), args.syntax)
    data = encode(source.select(args.section).insns)
    if args.output:
        try:
            Path(args.output).write_bytes(data)
        except OSError as exc:
            raise SourceError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    else:
        for i in range(0, len(data), 8):
            print(" ".join(f"{b:02x}" for b in data[i : i + 8]))
    return EXIT_OK


def cmd_disasm(args: argparse.Namespace) -> int:
    source = read_program(Path(args.file), None, _target_btf(args))
    programs = select_programs(source.programs, args.section)
    if not programs:
        source.select(args.section)  # raises: names what the file has
    if args.json:
        print(json.dumps({"file": str(source.path), "programs": [program_json(p) for p in programs]}))
        return EXIT_OK
    if len(source.programs) > 1 or source.programs[0].maps:
        first = source.programs[0]
        license_text = f", license {first.license}" if first.license else ""
        version = f", kern_version {first.kern_version:#x}" if first.kern_version is not None else ""
        count = len(source.programs)
        print(f"{source.path.name}: {count} program{'s' if count != 1 else ''}, {len(first.maps)} maps"
              f"{license_text}{version}")
        if first.maps:
            print(maps_text(first))
        for program in source.programs:
            print(f"  {describe(program):50} {program.prog_type:16} {program.entry_slots:6} insns "
                  f"{program.slots:6} linked")
        print()
    for program in programs:
        sys.stdout.write(program_text(program, args.syntax))
    return EXIT_OK


# -- conformance -------------------------------------------------------------------


def _conformance_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend(sorted(path.glob("*.data")))
        elif path.is_file():
            files.append(path)
        else:
            raise SourceError(f"{name}: no such file or directory")
    if not files:
        raise SourceError(f"no .data files in {', '.join(paths)}")
    return files


def cmd_conformance(args: argparse.Namespace) -> int:
    files = _conformance_files(args.paths)
    passed = failed = 0
    for path in files:
        negative = args.negative or "negative" in path.parent.name
        outcome = judge(path, negative=negative, budget=args.budget)
        if outcome.passed:
            passed += 1
            label = "refused" if outcome.expects_refusal else "ok"
        else:
            failed += 1
            label = "FAIL"
        if not outcome.passed or args.verbose or outcome.expects_refusal:
            print(f"{label:8} {path.name}: {outcome.message}")
    print(f"{passed} passed, {failed} failed")
    return EXIT_OK if failed == 0 else EXIT_FAILED


# -- bench ---------------------------------------------------------------------------


def cmd_bench(args: argparse.Namespace) -> int:
    files = _conformance_files(args.paths)
    mismatches = 0
    for path in files:
        source = read_program(path)
        best = float("inf")
        result = None
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = run_with_memory(source.insns, source.mem or b"", args.budget)
            best = min(best, time.perf_counter() - start)
        assert result is not None
        ok = result.fault is None and result.r0 == source.expected_r0
        mismatches += not ok
        status = "r0 ok" if ok else f"r0 WRONG ({result.r0!r}, expected {source.expected_r0!r})"
        rate = result.insns_executed / best / 1e6 if best > 0 else float("inf")
        print(f"{path.name:24} {result.insns_executed:>11,} insns {best:7.3f} s {rate:7.2f} M insns/s  {status}")
    return EXIT_OK if mismatches == 0 else EXIT_FAILED


# -- entry point ---------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bpfverify",
        description="Verify, run, assemble and disassemble eBPF programs for kprobes.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def syntax_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--syntax", choices=("kernel", "conformance"),
                       help="assembly syntax (default: detected; %%rN means conformance)")

    def program_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--section", help="the program to use: a section, a function, or SECTION:FUNCTION")
        p.add_argument("--btf", help="kernel BTF for CO-RE relocations (default: /sys/kernel/btf/vmlinux)")

    run = sub.add_parser("run", help="run a program in the interpreter and print r0")
    run.add_argument("file", help=".o (ELF), .bin (bytecode + .json sidecar), .s/.asm or .data")
    program_options(run)
    run.add_argument("--mem", help="hex bytes given to the program in r1 (length in r2)")
    run.add_argument("--mem-file", help="file whose bytes are given to the program in r1")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help="instruction budget")
    syntax_option(run)
    run.set_defaults(func=cmd_run)

    asm = sub.add_parser("asm", help="assemble to raw bytecode")
    asm.add_argument("file")
    asm.add_argument("-o", "--output", help="write raw bytecode here (default: hex on stdout)")
    asm.add_argument("--section", help="the program to take from a multi-program file")
    syntax_option(asm)
    asm.set_defaults(func=cmd_asm)

    dis = sub.add_parser("disasm", help="list and disassemble the programs of a file")
    dis.add_argument("file")
    program_options(dis)
    dis.add_argument("--syntax", choices=("kernel", "conformance"), default="kernel")
    dis.add_argument("--json", action="store_true")
    dis.set_defaults(func=cmd_disasm)

    conf = sub.add_parser("conformance", help="run eBPF conformance-suite files")
    conf.add_argument("paths", nargs="+", help="directories of .data files, or files")
    conf.add_argument("--negative", action="store_true",
                      help="every file must be refused (default for directories named *negative*)")
    conf.add_argument("-v", "--verbose", action="store_true", help="one line per file")
    conf.add_argument("--budget", type=int, default=10_000_000)
    conf.set_defaults(func=cmd_conformance)

    bench = sub.add_parser("bench", help="time the interpreter on benchmark programs")
    bench.add_argument("paths", nargs="*", default=["../shared/bench"],
                       help="benchmark .data files or directories (default: ../shared/bench)")
    bench.add_argument("--repeat", type=int, default=1, help="runs per program; the best is shown")
    bench.add_argument("--budget", type=int, default=10**9)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BAD_INPUT as exc:
        print(f"bpfverify: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UsageError as exc:
        print(f"bpfverify: usage error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("bpfverify: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # never a traceback for users; BPFVERIFY_DEBUG=1 shows it
        if os.environ.get("BPFVERIFY_DEBUG"):
            raise
        print(f"bpfverify: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
