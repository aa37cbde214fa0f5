"""Rules about the whole program rather than one instruction: its type, its unresolved
references, its kern_version under linux-4.1."""

from __future__ import annotations

from interp.asm.kernel_syntax import assemble
from interp.program import Program, Relocation
from verifier.check import check_program


def _program(asm: str, prog_type: str = "kprobe", relocations: list[Relocation] | None = None,
             kern_version: int | None = 0x40100) -> Program:
    insns = assemble(asm)
    program = Program("t", f"{prog_type}/f", prog_type, prog_type, "f", insns, sum(i.slots for i in insns), [],
                      license="GPL", kern_version=kern_version)
    program.relocations = relocations or []
    return program


def test_a_program_type_the_profile_does_not_load() -> None:
    result = check_program(_program("r0 = 0\nexit", prog_type="xdp"))
    assert result.verdict == "rejected"
    assert [(f.pc, f.code, f.message) for f in result.findings] == [
        (0, "program-type", "linux-6.18 does not load xdp programs (it loads kprobe, perf_event, raw_tracepoint, "
                            "tracepoint); choose another profile")]


def test_an_unresolved_extern_call_is_reported_and_not_followed() -> None:
    # `call -1` is how an object calls an extern the loader could not resolve (memset here)
    asm = "r1 = r10\nr1 += -8\ncall pc-1\nr0 = 0\nexit"
    result = check_program(_program(asm, relocations=[Relocation(2, "extern", "call of undefined function memset")]))
    assert result.verdict == "rejected"
    assert [(f.pc, f.code) for f in result.findings] == [(2, "unresolved-relocation")]
    assert "memset" in result.findings[0].message


def test_kern_version_must_match_under_linux_4_1() -> None:
    result = check_program(_program("r0 = 0\nexit", kern_version=0x40400), "linux-4.1")
    assert [(f.code, f.message) for f in result.findings] == [
        ("kern-version-mismatch", "the program declares kern_version 0x40400, but linux-4.1 requires kern_version "
                                  "0x40100 (the target's LINUX_VERSION_CODE; set it with --kern-version or in the "
                                  "object's version section)")]
    assert check_program(_program("r0 = 0\nexit"), "linux-4.1").verdict == "accepted"
