"""Both assembly syntaxes: exact encodings, round trips, and one-line errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from interp.asm import conformance_syntax as conf
from interp.asm import kernel_syntax as kern
from interp.asm.common import AsmError
from interp.conformance import load_case_program, parse_test_file
from interp.isa import Insn, decode, encode
from interp.sources import detect_syntax

KERNEL_CASES = [
    ("r0 = *(u64 *)(r1 +8)", Insn(0x79, 0, 1, 8)),
    ("r0 = *(u64 *)(r1 + 8)", Insn(0x79, 0, 1, 8)),
    ("w0 = *(u32 *)(r1 + 4)", Insn(0x61, 0, 1, 4)),
    ("r0 = *(s16 *)(r1 -2)", Insn(0x89, 0, 1, -2)),
    ("if r1 s> 0x5 goto +3", Insn(0x65, 1, 0, 3, 5)),
    ("if r1 s> 5 goto pc+3", Insn(0x65, 1, 0, 3, 5)),
    ("if w1 > w2 goto -2", Insn(0x2E, 1, 2, -2)),
    ("if r1 & 0x10 goto +1", Insn(0x45, 1, 0, 1, 0x10)),
    ("if r1 == 0xffffffff goto +1", Insn(0x15, 1, 0, 1, -1)),
    ("w2 = w3", Insn(0xBC, 2, 3)),
    ("r2 = -7", Insn(0xB7, 2, 0, 0, -7)),
    ("r4 s>>= 3", Insn(0xC7, 4, 0, 0, 3)),
    ("r4 s/= r2", Insn(0x3F, 4, 2, 1)),
    ("w4 s%= 3", Insn(0x94, 4, 0, 1, 3)),
    ("r0 = (s8)r1", Insn(0xBF, 0, 1, 8)),
    ("w0 = (s16)w1", Insn(0xBC, 0, 1, 16)),
    ("r0 = -r0", Insn(0x87, 0)),
    ("r0 = be16 r0", Insn(0xDC, 0, imm=16)),
    ("r0 = le32 r0", Insn(0xD4, 0, imm=32)),
    ("r0 = bswap64 r0", Insn(0xD7, 0, imm=64)),
    ("call 1", Insn(0x85, imm=1)),
    ("call bpf_map_lookup_elem#1", Insn(0x85, imm=1)),
    ("call pc+5", Insn(0x85, src=1, imm=5)),
    ("callx r2", Insn(0x8D, 2)),
    ("lock *(u64 *)(r10 -8) += r1", Insn(0xDB, 10, 1, -8, 0)),
    ("lock *(u32 *)(r10 -8) ^= w1", Insn(0xC3, 10, 1, -8, 0xA0)),
    ("r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)", Insn(0xDB, 10, 1, -8, 0x01)),
    ("r1 = atomic64_xchg((u64 *)(r10 -8), r1)", Insn(0xDB, 10, 1, -8, 0xE1)),
    ("r0 = atomic_cmpxchg((u32 *)(r10 -8), r0, r1)", Insn(0xC3, 10, 1, -8, 0xF1)),
    ("r1 = xchg_64(r10 - 8, r1)", Insn(0xDB, 10, 1, -8, 0xE1)),
    ("w0 = cmpxchg32_32(r10 - 4, w0, w1)", Insn(0xC3, 10, 1, -4, 0xF1)),
    ("*(u32 *)(r10 -4) = 7", Insn(0x62, 10, 0, -4, 7)),
    ("*(u16 *)(r10 - 2) = w1", Insn(0x6B, 10, 1, -2)),
    ("r1 = 0x1234 ll", Insn(0x18, 1, 0, 0, 0x1234)),
    ("r1 = -1 ll", Insn(0x18, 1, 0, 0, (1 << 64) - 1)),
    ("r1 = map[idx:2] ll", Insn(0x18, 1, 5, 0, 2)),
    ("r1 = map[fd:3][0]+8 ll", Insn(0x18, 1, 2, 0, 3 | (8 << 32))),
    ("r0 = *(u8 *)skb[12]", Insn(0x30, 0, 0, 0, 12)),
    ("r0 = *(u16 *)skb[r3 +2]", Insn(0x48, 0, 3, 0, 2)),
    ("gotol +70000", Insn(0x06, imm=70000)),
    ("goto -1", Insn(0x05, off=-1)),
    ("exit", Insn(0x95)),
]


@pytest.mark.parametrize("text,expected", KERNEL_CASES)
def test_kernel_syntax_encodes(text: str, expected: Insn) -> None:
    assert kern.assemble(text) == [expected]


@pytest.mark.parametrize("text,expected", KERNEL_CASES)
def test_kernel_syntax_prints_what_it_reads(text: str, expected: Insn) -> None:
    printed = kern.format_insn(expected)
    assert kern.assemble(printed) == [expected]


def test_kernel_prints_the_issue_examples() -> None:
    assert str(Insn(0x79, 0, 1, 8)) == "r0 = *(u64 *)(r1 +8)"
    assert str(Insn(0x65, 1, 0, 3, 5)) == "if r1 s> 0x5 goto +3"
    assert str(Insn(0xBC, 2, 3)) == "w2 = w3"
    assert str(Insn(0xDB, 10, 1, -8, 0)) == "lock *(u64 *)(r10 -8) += r1"
    assert str(Insn(0x18, 1, 0, 0, 0x1234)) == "r1 = 0x1234 ll"


def test_labels_and_pasted_listings() -> None:
    text = """
    start:
        r0 = 0
        if r1 == 0 goto done   // comment
    loop:
        r0 += 1                ; another comment
        r1 -= 1
        if r1 != 0 goto loop
    done:
        exit
    """
    insns = kern.assemble(text)
    assert insns[1] == Insn(0x15, 1, 0, 3, 0)
    assert insns[4] == Insn(0x55, 1, 0, -3, 0)
    log = "0: (b7) r0 = 0\n1: (95) exit\n"
    assert kern.assemble(log) == [Insn(0xB7), Insn(0x95)]
    objdump = (
        "0000000000000000 <prog>:\n"
        "       0:\t18 01 00 00 34 12 00 00 00 00 00 00 00 00 00 00\tr1 = 0x1234 ll\n"
        "       2:\t95 00 00 00 00 00 00 00\texit\n"
    )
    assert kern.assemble(objdump) == [Insn(0x18, 1, 0, 0, 0x1234), Insn(0x95)]


def test_local_call_to_label() -> None:
    insns = kern.assemble("call helper_fn\nexit\nhelper_fn:\nr0 = 1\nexit\n")
    assert insns[0] == Insn(0x85, src=1, imm=1)


@pytest.mark.parametrize(
    "text,line,phrase",
    [
        ("r0 = 1\nr0 +== 3\nexit", 2, "Invalid instruction 'r0 +== 3'"),
        ("r11 = 1", 1, "Invalid register r11"),
        ("r0 = 0x100000000", 1, "does not fit in 32 bits"),
        ("goto nowhere", 1, "Undefined label 'nowhere'"),
        ("a:\na:\nexit", 2, "Duplicate label 'a'"),
        ("r0 = *(u64 *)(r1 +40000)", 1, "does not fit in 16 bits"),
        ("w0 += r1", 1, "mix of 32-bit (w) and 64-bit (r) registers"),
        ("lock *(u8 *)(r10 -8) += r1", 1, "atomics are u32 or u64"),
    ],
)
def test_kernel_syntax_errors(text: str, line: int, phrase: str) -> None:
    with pytest.raises(AsmError) as info:
        kern.assemble(text)
    assert info.value.line == line
    assert phrase in info.value.message


@pytest.mark.parametrize(
    "text,line,phrase",
    [
        ("mov %r0, 1\nldxq %r0, %r1", 2, "Invalid mnemonic 'ldxq'"),
        ("or %r0, %r50", 1, "Invalid register"),
        ("lock or [%r10-8]", 1, "Invalid number of operands for lock"),
        ("lddw %r0", 1, "Invalid number of operands for lddw"),
        ("ldxb %r0, %r1", 1, "Invalid memory operand"),
        ("mov32 %r0, 2147483648", 1, "does not fit in 32 bits"),
        ("ja NOT_A_LABEL", 1, "Undefined label 'NOT_A_LABEL'"),
    ],
)
def test_conformance_syntax_errors(text: str, line: int, phrase: str) -> None:
    with pytest.raises(AsmError) as info:
        conf.assemble(text)
    assert info.value.line == line
    assert phrase in info.value.message


def test_conformance_implicit_exit_label() -> None:
    insns = conf.assemble("jeq %r1, 0, exit\nmov %r0, 1\nexit\n")
    assert insns[0] == Insn(0x15, 1, 0, 1, 0)


def test_syntax_detection() -> None:
    assert detect_syntax("mov %r0, 1\nexit") == "conformance"
    assert detect_syntax("r0 = 1 # %r0 in a comment\nexit") == "kernel"


def _conformance_programs(conformance_dir: Path) -> list[tuple[str, bytes]]:
    out = []
    for path in sorted((conformance_dir / "tests").glob("*.data")):
        out.append((path.name, encode(load_case_program(parse_test_file(path)))))
    return out


def test_every_conformance_program_round_trips_in_both_syntaxes(conformance_dir: Path) -> None:
    programs = _conformance_programs(conformance_dir)
    assert len(programs) == 313
    for name, data in programs:
        insns = decode(data)
        kernel_text = kern.disassemble(insns)  # numbered, like a verifier log
        assert encode(kern.assemble(kernel_text)) == data, name
        conformance_text = conf.disassemble(insns)
        assert encode(conf.assemble(conformance_text)) == data, name


def test_pseudo_loads_round_trip_in_conformance_syntax() -> None:
    insns = [Insn(0x18, 1, src, 0, 7 | (16 << 32 if src in (2, 6) else 0)) for src in range(1, 7)]
    insns.append(Insn(0x95))
    text = conf.disassemble(insns)
    assert conf.assemble(text) == insns
    assert kern.assemble(kern.disassemble(insns)) == insns


LLVM_MC = shutil.which("llvm-mc") or shutil.which("llvm-mc-14")


@pytest.mark.skipif(LLVM_MC is None, reason="llvm-mc is not installed")
def test_kernel_syntax_matches_llvm_mc(tmp_path: Path) -> None:
    # the subset of the syntax that LLVM 14's BPF assembler reads
    lines = [
        "r0 = *(u64 *)(r1 + 8)", "if r1 s> 5 goto +3", "if w1 > w2 goto -2", "w2 = w3",
        "r2 = r3", "w2 += 7", "r4 s>>= 3", "call 1", "lock *(u64 *)(r10 - 8) += r1",
        "lock *(u32 *)(r10 - 8) += w1", "r1 = 0x1234 ll", "r0 = be16 r0", "r0 = le64 r0",
        "w0 = -w0", "*(u32 *)(r10 - 4) = w1", "*(u16 *)(r10 - 2) = r1",
        "r0 = *(u8 *)(r1 + 0)", "w0 = *(u32 *)(r1 + 4)", "r0 = -1", "r1 = -1 ll",
        "if r1 != r2 goto +0", "goto +1", "exit",
    ]
    source = tmp_path / "prog.s"
    source.write_text("\n".join(lines) + "\n")
    out = subprocess.run([LLVM_MC, "-triple", "bpfel", "-mattr=+alu32", "-show-encoding", str(source)],
                         capture_output=True, text=True, check=True).stdout
    encodings = []
    for line in out.splitlines():
        if "encoding: [" in line:
            hex_bytes = line.split("encoding: [")[1].split("]")[0].replace("0x", "").split(",")
            encodings.append(bytes(int(b, 16) for b in hex_bytes))
    assert len(encodings) == len(lines)
    for line, expected in zip(lines, encodings):
        assert encode(kern.assemble(line)) == expected, line
