"""Every rule in both directions: a safe variant accepted, an unsafe one rejected with its code.
Each case is labelled with the running Linux 6.18 kernel's verdict; `test_labels_match_the_kernel`
asks the kernel itself (through `shared/tools/kernel_verdict.py`) where `bpf()` is allowed."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from interp.asm.kernel_syntax import assemble
from interp.isa import encode
from interp.program import MapDef, Program
from verifier.check import check_program

KERNEL_VERDICT = Path(__file__).resolve().parents[2].parent / "shared" / "tools" / "kernel_verdict.py"

HASH = MapDef("h", 1, 4, 8, 16)
ARRAY = MapDef("a", 2, 4, 16, 4)
RINGBUF = MapDef("rb", 27, 0, 0, 4096)


@dataclass
class Case:
    name: str
    asm: str
    kernel: str  # the running kernel's verdict: "accept" or "reject"
    code: str | None = None  # our code when rejected (None: accepted)
    maps: tuple[MapDef, ...] = ()
    profile: str = "linux-6.18"
    license: str = "GPL"


LOOKUP = "r1 = map[idx:0] ll\nr2 = r10\nr2 += -4\n*(u32 *)(r10 -4) = 0\ncall 1\n"

CASES = [
    # the context: read-only, aligned, within sizeof(struct pt_regs)
    Case("ctx read di", "r0 = *(u64 *)(r1 +112)\nexit", "accept"),
    Case("ctx read last field", "r0 = *(u64 *)(r1 +160)\nexit", "accept"),
    Case("ctx 4-byte read aligned", "r0 = *(u32 *)(r1 +4)\nexit", "accept"),
    Case("ctx st write", "*(u64 *)(r1 +0) = 5\nr0 = 0\nexit", "reject", "ctx-write"),
    Case("ctx stx write", "r2 = 1\n*(u64 *)(r1 +8) = r2\nr0 = 0\nexit", "reject", "ctx-write"),
    Case("ctx atomic write", "r2 = 1\nlock *(u64 *)(r1 +8) += r2\nr0 = 0\nexit", "reject", "ctx-write"),
    Case("ctx misaligned 8 at 3", "r0 = *(u64 *)(r1 +3)\nexit", "reject", "ctx-misaligned"),
    Case("ctx out of bounds 168", "r0 = *(u64 *)(r1 +168)\nexit", "reject", "ctx-out-of-bounds"),
    Case("ctx negative offset", "r0 = *(u64 *)(r1 -8)\nexit", "reject", "ctx-out-of-bounds"),
    Case("ctx moved by constant", "r1 += 8\nr0 = *(u64 *)(r1 +0)\nexit", "reject", "ctx-modified-pointer"),
    # registers
    Case("r0 set", "r0 = 0\nexit", "accept"),
    Case("r0 uninitialised", "exit", "reject", "r0-uninitialised-at-exit"),
    Case("uninitialised register read", "r0 = r5\nexit", "reject", "uninitialised-register"),
    Case("r1..r5 gone after call", "call 5\nr0 = r1\nexit", "reject", "uninitialised-register"),
    Case("r10 write", "r10 = 0\nr0 = 0\nexit", "reject", "frame-pointer-write"),
    Case("r10 copy", "r2 = r10\nr0 = 0\nexit", "accept"),
    # the stack
    Case("stack write then read", "*(u64 *)(r10 -8) = 1\nr0 = *(u64 *)(r10 -8)\nexit", "accept"),
    # the kernel lets privileged programs read uninitialised stack; we refuse it (it leaks kernel data)
    Case("stack read uninitialised", "r0 = *(u64 *)(r10 -8)\nexit", "accept", "stack-uninitialised-read"),
    Case("stack below 512", "*(u64 *)(r10 -520) = 1\nr0 = 0\nexit", "reject", "stack-out-of-bounds"),
    Case("stack above frame", "*(u64 *)(r10 +0) = 1\nr0 = 0\nexit", "reject", "stack-out-of-bounds"),
    Case("stack deepest slot", "*(u64 *)(r10 -512) = 1\nr0 = 0\nexit", "accept"),
    Case("stack misaligned", "*(u64 *)(r10 -12) = 1\nr0 = 0\nexit", "reject", "stack-misaligned"),
    Case("spilled pointer kept", "*(u64 *)(r10 -8) = r1\nr2 = *(u64 *)(r10 -8)\nr0 = *(u64 *)(r2 +112)\nexit", "accept"),
    # maps
    Case("lookup with null check", LOOKUP + "if r0 == 0 goto +1\nr0 = *(u64 *)(r0 +0)\nr0 = 0\nexit", "accept", maps=(HASH,)),
    Case("lookup without null check", LOOKUP + "r0 = *(u64 *)(r0 +0)\nexit", "reject", "possible-null-dereference", maps=(HASH,)),
    Case("array const key no check", LOOKUP + "r0 = *(u64 *)(r0 +0)\nexit", "accept", maps=(ARRAY,)),
    Case("array key out of range", "r1 = map[idx:0] ll\nr2 = r10\nr2 += -4\n*(u32 *)(r10 -4) = 9\ncall 1\n"
         "r0 = *(u64 *)(r0 +0)\nexit", "reject", "possible-null-dereference", maps=(ARRAY,)),
    Case("map value in bounds", LOOKUP + "if r0 == 0 goto +1\nr0 = *(u64 *)(r0 +8)\nr0 = 0\nexit", "accept", maps=(ARRAY,)),
    Case("map value past end", LOOKUP + "if r0 == 0 goto +1\nr0 = *(u64 *)(r0 +12)\nr0 = 0\nexit", "reject",
         "map-value-out-of-bounds", maps=(ARRAY,)),
    Case("uninitialised key", "r1 = map[idx:0] ll\nr2 = r10\nr2 += -4\ncall 1\nr0 = 0\nexit", "accept",
         "stack-uninitialised-read", maps=(HASH,)),
    Case("update with value", "*(u32 *)(r10 -4) = 1\n*(u64 *)(r10 -16) = 2\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\n"
         "r3 = r10\nr3 += -16\nr4 = 0\ncall 2\nr0 = 0\nexit", "accept", maps=(HASH,)),
    Case("key is not a pointer", "r1 = map[idx:0] ll\nr2 = 0\ncall 1\nr0 = 0\nexit", "reject", "helper-argument", maps=(HASH,)),
    Case("map argument not a map", "r1 = r10\nr2 = r10\ncall 1\nr0 = 0\nexit", "reject", "helper-argument"),
    Case("bounded index into value", "r6 = *(u64 *)(r1 +112)\n" + LOOKUP + "if r0 == 0 goto +5\nr1 = r6\nr1 &= 7\n"
         "r0 += r1\nr0 = *(u8 *)(r0 +0)\nr0 = 0\nexit", "accept", maps=(ARRAY,)),
    Case("unbounded index into value", "r6 = *(u64 *)(r1 +112)\n" + LOOKUP + "if r0 == 0 goto +4\nr1 = r6\n"
         "r0 += r1\nr0 = *(u8 *)(r0 +0)\nr0 = 0\nexit", "reject", "map-value-out-of-bounds", maps=(ARRAY,)),
    Case("arithmetic before null check", LOOKUP + "r0 += 8\nr0 = 0\nexit", "reject", "pointer-arithmetic", maps=(HASH,)),
    # helpers
    Case("probe_read into stack", "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 4\nr0 = 0\nexit", "accept"),
    Case("probe_read beyond stack", "r1 = r10\nr1 += -8\nr2 = 16\nr3 = 0\ncall 4\nr0 = 0\nexit", "reject", "helper-memory"),
    Case("probe_read zero size", "r1 = r10\nr1 += -8\nr2 = 0\nr3 = 0\ncall 4\nr0 = 0\nexit", "accept"),
    Case("size is a pointer", "r1 = r10\nr1 += -8\nr2 = r10\nr3 = 0\ncall 4\nr0 = 0\nexit", "reject", "helper-argument"),
    Case("gpl helper without gpl", "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 4\nr0 = 0\nexit", "reject",
         "gpl-only-helper", license="Proprietary"),
    Case("ktime_get_ns", "call 5\nexit", "accept"),
    Case("unknown helper", "call 9999\nr0 = 0\nexit", "reject", "unknown-helper"),
    Case("not a kprobe helper", "call 23\nr0 = 0\nexit", "reject", "unknown-helper"),
    Case("get_current_comm", "r1 = r10\nr1 += -16\nr2 = 16\ncall 16\nr0 = 0\nexit", "accept"),
    Case("ringbuf reserve submit", "r1 = map[idx:0] ll\nr2 = 8\nr3 = 0\ncall 131\nif r0 == 0 goto +3\n"
         "r1 = r0\nr2 = 0\ncall 132\nr0 = 0\nexit", "accept", maps=(RINGBUF,)),
    Case("ringbuf record leaked", "r1 = map[idx:0] ll\nr2 = 8\nr3 = 0\ncall 131\nr0 = 0\nexit", "reject",
         "unreleased-reference", maps=(RINGBUF,)),
    # pointers
    Case("bitwise on pointer", "r1 &= 7\nr0 = 0\nexit", "reject", "pointer-arithmetic"),
    Case("32-bit pointer arithmetic", "w1 += 1\nr0 = 0\nexit", "reject", "pointer-arithmetic"),
    Case("scalar dereference", "r1 = 0\nr0 = *(u64 *)(r1 +0)\nexit", "reject", "invalid-dereference"),
    # control flow and loops
    Case("forward branch", "r0 = *(u64 *)(r1 +112)\nif r0 > 5 goto +1\nr0 = 0\nexit", "accept"),
    Case("bounded loop", "r0 = 0\nr1 = 10\nl: r0 += 1\nr1 -= 1\nif r1 != 0 goto l\nexit", "accept"),
    Case("unbounded loop", "r0 = 0\nl: r0 += 1\ngoto l", "reject", "unbounded-loop"),
    Case("loop on unknown bound", "r2 = *(u64 *)(r1 +112)\nr0 = 0\nl: r0 += 1\nif r0 != r2 goto l\nexit", "reject",
         "unbounded-loop"),
    Case("loop bounded by input", "r2 = *(u64 *)(r1 +112)\nr2 &= 63\nr0 = 0\nl: r0 += 1\nif r0 < r2 goto l\nexit", "accept"),
    Case("unreachable code", "r0 = 0\nexit\nr0 = 1\nexit", "reject", "unreachable-instruction"),
    Case("local call", "call f\nexit\nf: r0 = 1\nexit", "accept"),
    Case("callee returns its stack", "call f\nr0 = 0\nexit\nf: r0 = r10\nr0 += -8\nexit", "reject", "return-stack-pointer"),
]

SEED_CASES = [
    Case("4.1 ktime_get_ns", "call 5\nexit", "accept", "unknown-helper", profile="linux-4.1"),
    Case("4.1 back-edge", "r0 = 0\nr1 = 10\nl: r1 -= 1\nif r1 != 0 goto l\nexit", "accept", "back-edge", profile="linux-4.1"),
    Case("4.1 probe_read needs initialised stack", "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 4\nr0 = 0\nexit", "accept",
         "stack-uninitialised-read", profile="linux-4.1"),
    Case("4.1 jmp32", "r0 = 0\nif w0 > 1 goto +0\nexit", "accept", "unsupported-instruction", profile="linux-4.1"),
]


def program(case: Case) -> Program:
    insns = assemble(case.asm)
    return Program(case.name, "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns),
                   list(case.maps), license=case.license, kern_version=0x40100)


@pytest.mark.parametrize("case", CASES + SEED_CASES, ids=lambda c: c.name)
def test_verdict_and_code(case: Case) -> None:
    result = check_program(program(case), case.profile)
    if case.code is None:
        assert result.verdict == "accepted", [str(f) for f in result.findings]
    else:
        assert result.verdict == "rejected"
        assert case.code in {f.code for f in result.findings}, [str(f) for f in result.findings]


def test_every_rejection_names_the_instruction() -> None:
    result = check_program(program(CASES[6]))  # ctx misaligned 8 at 3
    finding = result.findings[0]
    assert finding.pc == 0
    assert finding.message == ("8-byte read of struct pt_regs at offset 3: context loads must be aligned: "
                               "offset 3 is not a multiple of 8")


def _kernel(case: Case, tmp: Path) -> str | None:
    binary = tmp / "prog.bin"
    binary.write_bytes(encode(program(case).insns))
    maps = [{"type": m.type, "key_size": m.key_size, "value_size": m.value_size, "max_entries": m.max_entries,
             "flags": m.flags} for m in case.maps]
    (tmp / "prog.json").write_text(json.dumps({"prog_type": 2, "license": case.license, "maps": maps}))
    # kernel_verdict patches map fds into src 1/2 loads; index-style loads name the same maps
    data = bytearray(binary.read_bytes())
    for i in range(0, len(data), 8):
        if data[i] == 0x18 and data[i + 1] >> 4 in (5, 6):
            data[i + 1] = (data[i + 1] & 0x0F) | ((data[i + 1] >> 4) - 4) << 4
    binary.write_bytes(bytes(data))
    proc = subprocess.run([sys.executable, str(KERNEL_VERDICT), str(binary)], capture_output=True, text=True, timeout=60)
    if proc.returncode == 2:
        return None
    return proc.stdout.splitlines()[0]


@pytest.mark.kernel
def test_labels_match_the_kernel(tmp_path: Path) -> None:
    if not KERNEL_VERDICT.exists():
        pytest.skip("shared/tools/kernel_verdict.py not found")
    first = _kernel(CASES[0], tmp_path)
    if first is None:
        pytest.skip("bpf() is not permitted here")
    wrong = []
    for case in CASES + SEED_CASES:
        verdict = _kernel(case, tmp_path)
        if verdict != case.kernel:
            wrong.append(f"{case.name}: kernel says {verdict}, label says {case.kernel}")
    assert not wrong, "\n".join(wrong)
