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


def test_invalid_encodings_are_rejected_at_their_pc() -> None:
    """Bytes that are not an instruction are the kernel verifier's refusal (invalid-instruction, exit 1),
    not a file that cannot be read: each is reported at its pc, under every profile."""
    import struct

    from interp.isa import decode

    def slot(opcode: int, regs: int = 0, off: int = 0, imm: int = 0) -> bytes:
        return struct.pack("<BBhi", opcode, regs, off, imm)

    exit_ = slot(0x95)
    cases = [
        (slot(0xB7) + slot(0xFF) + exit_, 1, "unknown opcode 0xff"),
        (slot(0xB7, imm=0) + slot(0x07, 0x10) + exit_, 1, "reserved field 'src'"),  # r0 += 0 with src 1
        (slot(0x18, 0x11, 0, 0) + slot(0, 0, 0, 1) + slot(0xB7) + exit_, 0,
         "lddw of a map (src 1) must have 0 in the imm of its second slot"),
        (slot(0x18) + slot(0x07) + slot(0xB7) + exit_, 0, "second slot of lddw"),
        (slot(0xB7) + slot(0xE6) + exit_, 1, "unknown opcode 0xe6"),  # may_goto exists in the JMP class only
    ]
    for profile in ("linux-6.18", "linux-4.1"):
        for data, pc, phrase in cases:
            invalid: dict[int, str] = {}
            insns = decode(data, invalid=invalid)
            program = Program("t", "kprobe/f", "kprobe", "kprobe", "f", insns, len(data) // 8, [], license="GPL",
                              kern_version=0x40100, invalid=invalid)
            result = check_program(program, profile)
            assert result.verdict == "rejected"
            assert [(f.pc, f.code) for f in result.findings] == [(pc, "invalid-instruction")], phrase
            assert phrase in result.findings[0].message


def test_may_goto_is_linux_6_9() -> None:
    asm = "r0 = 0\nl: r0 += 1\nmay_goto +1\ngoto l\nr0 = 0\nexit"
    assert check_program(_program(asm)).verdict == "accepted"
    result = check_program(_program("r0 = 0\nmay_goto +0\nexit"), "linux-4.1")
    assert [(f.pc, f.code) for f in result.findings] == [(1, "unsupported-instruction")]
    assert "may_goto arrived in Linux 6.9" in result.findings[0].message
