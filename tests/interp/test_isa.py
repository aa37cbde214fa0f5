"""The RFC 9669 instruction layout: validity of fields, decoding, encoding and printing.

A hypothesis strategy generates valid instructions of every opcode family; they must pass
`check_fields` and survive the byte round trip both ways. The negative tests make each reserved
field, unknown opcode, bad register and malformed slot fail with a `DecodeError` naming it."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interp.asm import kernel_syntax as kern
from interp.isa import SLOT_BYTES, DecodeError, Insn, check_fields, decode, encode, pcs

ALU, ALU64, JMP, JMP32 = 0x04, 0x07, 0x05, 0x06
X = 0x08
SIZES = {"W": 0x00, "H": 0x08, "B": 0x10, "DW": 0x18}
ATOMIC_IMMS = [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xA0, 0xA1, 0xE1, 0xF1]
BINARY_ALU_OPS = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xA0, 0xB0, 0xC0]
COND_JUMP_OPS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0]

EXAMPLES = settings(max_examples=300, deadline=None)

# ---------------------------------------------------------------------------
# Strategies for valid instructions
# ---------------------------------------------------------------------------

regs = st.integers(0, 10)
off16 = st.one_of(
    st.sampled_from([0, 1, -1, 0x7FFF, -0x8000]), st.integers(-(1 << 15), (1 << 15) - 1)
)
imm32 = st.one_of(
    st.sampled_from([0, 1, -1, 0x7FFFFFFF, -0x80000000]), st.integers(-(1 << 31), (1 << 31) - 1)
)
imm64 = st.one_of(
    st.sampled_from([0, 1, 0xFFFFFFFF, 0x1_00000000, 0x80000000, (1 << 64) - 1, 1 << 63]),
    st.integers(0, (1 << 64) - 1),
)
alu_classes = st.sampled_from([ALU, ALU64])
jmp_classes = st.sampled_from([JMP, JMP32])


@st.composite
def alu_binary_insns(draw: st.DrawFn) -> Insn:
    """ADD..ARSH and MOV, immediate and register forms; signed DIV/MOD with off=1."""
    op = draw(st.sampled_from(BINARY_ALU_OPS))
    opcode = op | draw(alu_classes)
    off = draw(st.sampled_from([0, 1])) if op in (0x30, 0x90) else 0
    if draw(st.booleans()):
        return Insn(opcode | X, draw(regs), draw(regs), off, 0)
    return Insn(opcode, draw(regs), 0, off, draw(imm32))


@st.composite
def movsx_insns(draw: st.DrawFn) -> Insn:
    cls = draw(alu_classes)
    off = draw(st.sampled_from([8, 16, 32] if cls == ALU64 else [8, 16]))
    return Insn(0xB0 | X | cls, draw(regs), draw(regs), off, 0)


@st.composite
def neg_insns(draw: st.DrawFn) -> Insn:
    return Insn(0x80 | draw(alu_classes), draw(regs))


@st.composite
def end_insns(draw: st.DrawFn) -> Insn:
    """le (0xd4), be (0xdc) and bswap (0xd7) of 16, 32 or 64 bits."""
    return Insn(draw(st.sampled_from([0xD4, 0xDC, 0xD7])), draw(regs), 0, 0,
                draw(st.sampled_from([16, 32, 64])))


@st.composite
def cond_jump_insns(draw: st.DrawFn) -> Insn:
    opcode = draw(st.sampled_from(COND_JUMP_OPS)) | draw(jmp_classes)
    if draw(st.booleans()):
        return Insn(opcode | X, draw(regs), draw(regs), draw(off16), 0)
    return Insn(opcode, draw(regs), 0, draw(off16), draw(imm32))


@st.composite
def control_insns(draw: st.DrawFn) -> Insn:
    """JA, JA32 (gotol), calls of every kind, callx and exit."""
    kind = draw(st.sampled_from(["ja", "ja32", "helper", "local", "kfunc", "callx", "exit"]))
    if kind == "ja":
        return Insn(0x05, off=draw(off16))
    if kind == "ja32":
        return Insn(0x06, imm=draw(imm32))
    if kind == "callx":
        return Insn(0x8D, dst=draw(regs))
    if kind == "exit":
        return Insn(0x95)
    return Insn(0x85, 0, {"helper": 0, "local": 1, "kfunc": 2}[kind], 0, draw(imm32))


@st.composite
def lddw_insns(draw: st.DrawFn) -> Insn:
    src = draw(st.integers(0, 6))
    imm = draw(imm64)
    if src in (1, 5):  # a map reference: the second slot's imm is reserved
        imm &= 0xFFFFFFFF
    return Insn(0x18, draw(regs), src, 0, imm)


@st.composite
def memory_insns(draw: st.DrawFn) -> Insn:
    """LDX MEM (all sizes), LDX MEMSX (B/H/W), ST MEM, STX MEM, atomics (W/DW)."""
    kind = draw(st.sampled_from(["ldx", "ldxsx", "st", "stx", "atomic"]))
    if kind == "ldx":
        return Insn(0x61 | draw(st.sampled_from(list(SIZES.values()))), draw(regs), draw(regs),
                    draw(off16), 0)
    if kind == "ldxsx":
        return Insn(0x81 | draw(st.sampled_from([SIZES["B"], SIZES["H"], SIZES["W"]])),
                    draw(regs), draw(regs), draw(off16), 0)
    if kind == "st":
        return Insn(0x62 | draw(st.sampled_from(list(SIZES.values()))), draw(regs), 0,
                    draw(off16), draw(imm32))
    if kind == "stx":
        return Insn(0x63 | draw(st.sampled_from(list(SIZES.values()))), draw(regs), draw(regs),
                    draw(off16), 0)
    return Insn(draw(st.sampled_from([0xC3, 0xDB])), draw(regs), draw(regs), draw(off16),
                draw(st.sampled_from(ATOMIC_IMMS)))


@st.composite
def legacy_packet_insns(draw: st.DrawFn) -> Insn:
    """LD ABS/IND of 1, 2 or 4 bytes (RFC 9669 section 5.5, legacy)."""
    size = draw(st.sampled_from([SIZES["B"], SIZES["H"], SIZES["W"]]))
    if draw(st.booleans()):
        return Insn(0x20 | size, imm=draw(imm32))
    return Insn(0x40 | size, 0, draw(regs), 0, draw(imm32))


valid_insns = st.one_of(
    alu_binary_insns(), movsx_insns(), neg_insns(), end_insns(), cond_jump_insns(),
    control_insns(), lddw_insns(), memory_insns(), legacy_packet_insns(),
)


def _slot(opcode: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", opcode, (dst & 0xF) | ((src & 0xF) << 4), off, imm)


# ---------------------------------------------------------------------------
# Valid instructions: field checks and round trips
# ---------------------------------------------------------------------------


@EXAMPLES
@given(valid_insns)
def test_valid_insns_pass_check_fields(insn: Insn) -> None:
    assert check_fields(insn) is None


@EXAMPLES
@given(valid_insns)
def test_single_insn_round_trip(insn: Insn) -> None:
    data = encode([insn])
    assert len(data) == SLOT_BYTES * insn.slots
    assert data == insn.encode()
    assert data[0] == insn.opcode
    assert decode(data) == [insn]
    assert decode(data, check_reserved=False) == [insn]


@EXAMPLES
@given(st.lists(valid_insns, max_size=12))
def test_program_round_trip_both_ways(insns: list[Insn]) -> None:
    data = encode(insns)
    decoded = decode(data)
    assert decoded == insns
    assert encode(decoded) == data
    assert len(data) == SLOT_BYTES * sum(insn.slots for insn in insns)
    expected_pcs, pc = [], 0
    for insn in insns:
        expected_pcs.append(pc)
        pc += 2 if insn.opcode == 0x18 else 1
    assert pcs(decoded) == expected_pcs


KNOWN_OPCODES = sorted(
    {0x18, 0x05, 0x06, 0x85, 0x8D, 0x95, 0xC3, 0xDB, 0xD4, 0xDC, 0xD7, 0x84, 0x87, 0xE5}
    | {op | c | x for op in BINARY_ALU_OPS for c in (ALU, ALU64) for x in (0, X)}
    | {op | c | x for op in COND_JUMP_OPS for c in (JMP, JMP32) for x in (0, X)}
    | {base | size for base in (0x61, 0x62, 0x63) for size in SIZES.values()}
    | {0x81 | size for size in (SIZES["B"], SIZES["H"], SIZES["W"])}
)


@EXAMPLES
@given(st.lists(
    st.tuples(st.sampled_from(KNOWN_OPCODES), st.integers(0, 255), off16,
              st.one_of(st.sampled_from([0, 16, 32, 64, 1, 0xE1]), imm32)),
    min_size=1, max_size=6,
))
def test_bytes_that_decode_re_encode_identically(fields: list[tuple[int, int, int, int]]) -> None:
    """Random fields under known opcodes: whatever decodes re-encodes to the same bytes."""
    data = b"".join(struct.pack("<BBhi", *f) for f in fields)
    try:
        insns = decode(data)
    except DecodeError as error:
        assert 0 <= error.pc < len(fields)
        return
    assert all(check_fields(insn) is None for insn in insns)
    assert encode(insns) == data


@EXAMPLES
@given(valid_insns)
def test_kernel_syntax_reads_back_what_str_prints(insn: Insn) -> None:
    if insn.opcode == 0x18 and insn.src in (1, 3, 4, 5):
        # these pseudo loads use only the first slot's imm (RFC 9669 section 5.4)
        insn = Insn(0x18, insn.dst, insn.src, 0, insn.imm & 0xFFFFFFFF)
    if insn.opcode == 0x85 and insn.src == 2:
        insn = Insn(0x85, 0, 2, 0, insn.imm & 0x7FFFFFFF)  # kfunc BTF ids are positive
    text = str(insn)
    assert text and "\n" not in text
    assert kern.assemble(text) == [insn]


# ---------------------------------------------------------------------------
# Reserved fields
# ---------------------------------------------------------------------------

# (description, a valid instruction, the fields the RFC reserves for it)
RESERVED = [
    ("alu64 add imm", Insn(0x07, 1, 0, 0, 5), ["src", "off"]),
    ("alu32 add reg", Insn(0x0C, 1, 2), ["imm", "off"]),
    ("alu64 mov reg", Insn(0xBF, 1, 2), ["imm"]),
    ("alu32 mov imm", Insn(0xB4, 1, 0, 0, 5), ["src", "off"]),
    ("alu64 sdiv imm", Insn(0x37, 1, 0, 1, 5), ["src"]),
    ("alu32 smod reg", Insn(0x9C, 1, 2, 1), ["imm"]),
    ("alu64 lsh imm", Insn(0x67, 1, 0, 0, 3), ["src", "off"]),
    ("alu64 neg", Insn(0x87, 1), ["src", "off", "imm"]),
    ("alu32 neg", Insn(0x84, 1), ["src", "off", "imm"]),
    ("le16", Insn(0xD4, 1, 0, 0, 16), ["src", "off"]),
    ("be32", Insn(0xDC, 1, 0, 0, 32), ["src", "off"]),
    ("bswap64", Insn(0xD7, 1, 0, 0, 64), ["src", "off"]),
    ("ja", Insn(0x05, 0, 0, 3), ["dst", "src", "imm"]),
    ("ja32", Insn(0x06, 0, 0, 0, 3), ["dst", "src", "off"]),
    ("jeq imm", Insn(0x15, 1, 0, 2, 7), ["src"]),
    ("jsgt32 reg", Insn(0x6E, 1, 2, 2), ["imm"]),
    ("call helper", Insn(0x85, 0, 0, 0, 1), ["dst", "off"]),
    ("call local", Insn(0x85, 0, 1, 0, 4), ["dst", "off"]),
    ("callx", Insn(0x8D, 3), ["src", "off", "imm"]),
    ("exit", Insn(0x95), ["dst", "src", "off", "imm"]),
    ("lddw", Insn(0x18, 1, 0, 0, 0x1234), ["off"]),
    ("ldx dw", Insn(0x79, 0, 1, 8), ["imm"]),
    ("ldxsx h", Insn(0x89, 0, 1, 8), ["imm"]),
    ("st w", Insn(0x62, 10, 0, -4, 7), ["src"]),
    ("stx b", Insn(0x73, 10, 1, -1), ["imm"]),
    ("ld abs", Insn(0x20, 0, 0, 0, 12), ["dst", "src", "off"]),
    ("ld ind", Insn(0x40, 0, 1, 0, 12), ["dst", "off"]),
]
RESERVED_CASES = [
    pytest.param(insn, field, id=f"{name}-{field}")
    for name, insn, fields in RESERVED for field in fields
]


def _with(insn: Insn, field: str, value: int) -> Insn:
    values = {f: getattr(insn, f) for f in ("opcode", "dst", "src", "off", "imm")}
    values[field] = value
    return Insn(**values)


def test_reserved_case_bases_are_valid() -> None:
    for name, insn, _ in RESERVED:
        assert check_fields(insn) is None, name


@pytest.mark.parametrize(("insn", "field"), RESERVED_CASES)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_reserved_field_nonzero_is_rejected(insn: Insn, field: str, data: st.DataObject) -> None:
    if field in ("dst", "src"):
        value = data.draw(st.integers(1, 10), label=field)  # a valid register, but reserved here
    elif field == "off":
        value = data.draw(off16.filter(bool), label=field)
    else:
        value = data.draw(imm32.filter(bool), label=field)
    bad = _with(insn, field, value)
    problem = check_fields(bad)
    assert problem is not None and f"reserved field '{field}'" in problem
    prefix = Insn(0xB7, 0, 0, 0, 0)  # the error reports the slot index of the bad instruction
    with pytest.raises(DecodeError) as caught:
        decode(encode([prefix, bad]))
    assert caught.value.pc == 1
    assert f"reserved field '{field}'" in caught.value.reason
    assert str(caught.value).startswith("insn 1: ")
    # without the reserved-field check the instruction decodes as it was written
    assert decode(encode([prefix, bad]), check_reserved=False) == [prefix, bad]


def test_error_pc_counts_slots_after_lddw() -> None:
    data = encode([Insn(0x18, 1, 0, 0, 1 << 40), Insn(0x95, 1)])
    with pytest.raises(DecodeError) as caught:
        decode(data)
    assert caught.value.pc == 2
    assert "reserved field 'dst'" in caught.value.reason


# ---------------------------------------------------------------------------
# Unknown opcodes and invalid registers
# ---------------------------------------------------------------------------

UNKNOWN_OPCODES = [
    pytest.param(0xFF, id="0xff-alu64-op-0xf0"),
    pytest.param(0xE4, id="0xe4-alu-op-0xe0"),
    pytest.param(0x8F, id="0x8f-neg64-reg"),
    pytest.param(0x8C, id="0x8c-neg32-reg"),
    pytest.param(0xDF, id="0xdf-bswap-reg"),
    pytest.param(0x8E, id="0x8e-call-in-jmp32"),
    pytest.param(0x86, id="0x86-call-in-jmp32"),
    pytest.param(0x96, id="0x96-exit-in-jmp32"),
    pytest.param(0x9E, id="0x9e-exit-reg-in-jmp32"),
    pytest.param(0x9D, id="0x9d-exit-reg"),
    pytest.param(0x0D, id="0x0d-ja-reg"),
    pytest.param(0x0E, id="0x0e-ja32-reg"),
    pytest.param(0xE6, id="0xe6-may-goto-in-jmp32"),
    pytest.param(0xED, id="0xed-may-goto-reg"),
    pytest.param(0xF6, id="0xf6-jmp32-op-0xf0"),
    pytest.param(0x00, id="0x00-ld-imm-w"),
    pytest.param(0x10, id="0x10-ld-imm-b"),
    pytest.param(0x38, id="0x38-ld-abs-dw"),
    pytest.param(0x58, id="0x58-ld-ind-dw"),
    pytest.param(0x01, id="0x01-ldx-imm"),
    pytest.param(0x99, id="0x99-ldxsx-dw"),
    pytest.param(0xC1, id="0xc1-ldx-atomic"),
    pytest.param(0xC2, id="0xc2-st-atomic"),
    pytest.param(0x82, id="0x82-st-memsx"),
    pytest.param(0x83, id="0x83-stx-memsx"),
    pytest.param(0xD3, id="0xd3-atomic-b"),
    pytest.param(0xCB, id="0xcb-atomic-h"),
]


@pytest.mark.parametrize("opcode", UNKNOWN_OPCODES)
@pytest.mark.parametrize("check_reserved", [True, False], ids=["strict", "lax"])
def test_unknown_opcode_is_rejected(opcode: int, check_reserved: bool) -> None:
    insn = Insn(opcode, 0, 0, 0, 0)
    problem = check_fields(insn)
    assert problem is not None and problem.startswith("unknown opcode")
    assert f"{opcode:#04x}" in problem
    with pytest.raises(DecodeError) as caught:
        decode(encode([insn]), check_reserved=check_reserved)
    assert caught.value.pc == 0
    assert caught.value.reason.startswith("unknown opcode")


@pytest.mark.parametrize("imm", [0x02, 0x10, 0xE0, 0xF0, 0x80, 0x81, -1])
@pytest.mark.parametrize("check_reserved", [True, False], ids=["strict", "lax"])
def test_unknown_atomic_operation_is_rejected(imm: int, check_reserved: bool) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(encode([Insn(0xDB, 10, 1, -8, imm)]), check_reserved=check_reserved)
    assert "unknown atomic operation" in caught.value.reason


@EXAMPLES
@given(st.integers(0, 255))
def test_opcode_byte_alone_decides_unknown(opcode: int) -> None:
    """Every opcode byte is either known (valid for some fields) or rejected in both modes."""
    imm = 0 if opcode in (0xC3, 0xDB) else 16  # a known atomic operation; a byte-swap width
    data = _slot(opcode, imm=imm) + (_slot(0) if opcode == 0x18 else b"")
    lax_problem = None
    try:
        decode(data, check_reserved=False)
    except DecodeError as error:
        lax_problem = error.reason
    if opcode in KNOWN_OPCODES or opcode in (0x20, 0x28, 0x30, 0x40, 0x48, 0x50):
        assert lax_problem is None
    else:
        assert lax_problem is not None and "unknown" in lax_problem


@pytest.mark.parametrize(("insn", "field"), [
    pytest.param(Insn(0xB7, 11, 0, 0, 1), "dst", id="mov-dst-r11"),
    pytest.param(Insn(0xBF, 1, 11), "src", id="mov-src-r11"),
    pytest.param(Insn(0xBF, 15, 1), "dst", id="mov-dst-r15"),
    pytest.param(Insn(0x79, 12, 1, 0), "dst", id="ldx-dst-r12"),
    pytest.param(Insn(0x7B, 10, 13, -8), "src", id="stx-src-r13"),
    pytest.param(Insn(0x1D, 1, 14, 1), "src", id="jeq-src-r14"),
    pytest.param(Insn(0x8D, 11), "dst", id="callx-r11"),
    pytest.param(Insn(0x18, 11, 0, 0, 1), "dst", id="lddw-dst-r11"),
    pytest.param(Insn(0xDB, 11, 1, 0, 0), "dst", id="atomic-dst-r11"),
])
def test_register_above_r10_is_rejected(insn: Insn, field: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(encode([insn]))
    reason = caught.value.reason
    assert f"r{getattr(insn, field)}" in reason and f"'{field}'" in reason


@pytest.mark.parametrize("insn", [
    pytest.param(Insn(0xB7, 11, 0, 0, 1), id="dst-r11"),
    pytest.param(Insn(0xBF, 0, 12), id="src-r12"),
    pytest.param(Insn(0x18, 0, 7, 0, 1), id="lddw-src-7"),
])
def test_lax_decoding_still_rejects_what_is_not_a_reserved_field(insn: Insn) -> None:
    """`check_reserved=False` tolerates non-zero reserved fields, nothing else: r11..r15 do not
    exist and lddw has no pseudo source 7, so such bytes are not an instruction in either mode."""
    with pytest.raises(DecodeError):
        decode(encode([insn]), check_reserved=False)


# ---------------------------------------------------------------------------
# Other malformed fields and slots
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("insn", "phrase"), [
    pytest.param(Insn(0xD4, 1, 0, 0, 8), "byte swap width", id="le8"),
    pytest.param(Insn(0xDC, 1, 0, 0, 0), "byte swap width", id="be0"),
    pytest.param(Insn(0xD7, 1, 0, 0, 128), "byte swap width", id="bswap128"),
    pytest.param(Insn(0xBF, 1, 2, 24), "offset 24", id="movsx64-24"),
    pytest.param(Insn(0xBC, 1, 2, 32), "offset 32", id="movsx32-32"),
    pytest.param(Insn(0x3F, 1, 2, 2), "offset 2", id="div-off-2"),
    pytest.param(Insn(0x94, 1, 0, -1, 3), "offset -1", id="mod32-off-minus1"),
    pytest.param(Insn(0x85, 0, 3, 0, 1), "src=3", id="call-src-3"),
    pytest.param(Insn(0x18, 1, 7, 0, 1), "src=7", id="lddw-src-7"),
])
def test_invalid_field_values_are_rejected(insn: Insn, phrase: str) -> None:
    problem = check_fields(insn)
    assert problem is not None and phrase in problem
    with pytest.raises(DecodeError) as caught:
        decode(encode([insn]))
    assert phrase in caught.value.reason


def test_movsx_imm_form_offset_is_reserved() -> None:
    """Sign-extending moves exist only in the register form."""
    with pytest.raises(DecodeError, match="reserved field 'off'"):
        decode(encode([Insn(0xB7, 1, 0, 8, 5)]))


@pytest.mark.parametrize("length", [1, 7, 9, 15, 17, 23])
@pytest.mark.parametrize("check_reserved", [True, False], ids=["strict", "lax"])
def test_length_not_a_multiple_of_8(length: int, check_reserved: bool) -> None:
    data = (encode([Insn(0xB7)]) * 3)[:length]
    with pytest.raises(DecodeError) as caught:
        decode(data, check_reserved=check_reserved)
    assert caught.value.reason.startswith("truncated bytecode")
    assert str(length) in caught.value.reason


def test_empty_program_decodes_to_nothing() -> None:
    assert decode(b"") == []
    assert encode([]) == b""


@pytest.mark.parametrize("check_reserved", [True, False], ids=["strict", "lax"])
def test_lddw_missing_second_slot(check_reserved: bool) -> None:
    data = encode([Insn(0xB7), Insn(0x18, 1, 0, 0, 5)])[:-SLOT_BYTES]
    with pytest.raises(DecodeError) as caught:
        decode(data, check_reserved=check_reserved)
    assert caught.value.pc == 1
    assert "lddw" in caught.value.reason and "second slot" in caught.value.reason


@pytest.mark.parametrize("second", [
    pytest.param(_slot(0x95), id="opcode"),
    pytest.param(_slot(0xB7), id="opcode-mov"),
    pytest.param(_slot(0, dst=1), id="dst"),
    pytest.param(_slot(0, src=1), id="src"),
    pytest.param(_slot(0, off=1), id="off"),
])
def test_lddw_second_slot_must_be_blank(second: bytes) -> None:
    data = _slot(0x18, 1, 0, 0, 5) + second
    with pytest.raises(DecodeError) as caught:
        decode(data)
    assert caught.value.pc == 1
    assert "second slot of lddw" in caught.value.reason


def test_lddw_second_slot_imm_is_the_high_half() -> None:
    data = _slot(0x18, 3, 0, 0, -1) + _slot(0, imm=-0x80000000)
    assert decode(data) == [Insn(0x18, 3, 0, 0, 0x80000000_FFFFFFFF)]
    assert encode(decode(data)) == data


def test_lddw_second_slot_fields_tolerated_when_lax() -> None:
    data = _slot(0x18, 1, 0, 0, 5) + _slot(0, dst=1, off=3, imm=2)
    assert decode(data, check_reserved=False) == [Insn(0x18, 1, 0, 0, (2 << 32) | 5)]


@pytest.mark.parametrize(("data", "expected"), [
    (bytes.fromhex("b701000005000000"), Insn(0xB7, 1, 0, 0, 5)),
    (bytes.fromhex("bf21000000000000"), Insn(0xBF, 1, 2)),
    (bytes.fromhex("7a0af8ffffffffff"), Insn(0x7A, 10, 0, -8, -1)),
    (bytes.fromhex("7b1af8ff00000000"), Insn(0x7B, 10, 1, -8)),
    (bytes.fromhex("6d12030000000000"), Insn(0x6D, 2, 1, 3)),
    (bytes.fromhex("6502fdff05000000"), Insn(0x65, 2, 0, -3, 5)),
    (bytes.fromhex("18010000efbeadde000000000df0adba"), Insn(0x18, 1, 0, 0, 0xBAADF00D_DEADBEEF)),
    (bytes.fromhex("0600000000800000"), Insn(0x06, imm=0x8000)),
    (bytes.fromhex("bf12080000000000"), Insn(0xBF, 2, 1, 8)),
])
def test_exact_byte_layout(data: bytes, expected: Insn) -> None:
    """Little-endian fields; dst in the low nibble of byte 1 and src in the high nibble."""
    assert decode(data) == [expected]
    assert encode([expected]) == data


# ---------------------------------------------------------------------------
# Printing in kernel syntax
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("insn", "text"), [
    (Insn(0x79, 0, 1, 8, 0), "r0 = *(u64 *)(r1 +8)"),
    (Insn(0x65, 1, 0, 3, 5), "if r1 s> 0x5 goto +3"),
    (Insn(0xBC, 2, 3), "w2 = w3"),
    (Insn(0xDB, 10, 1, -8, 0), "lock *(u64 *)(r10 -8) += r1"),
    (Insn(0x18, 1, 0, 0, 0x1234), "r1 = 0x1234 ll"),
    (Insn(0x95), "exit"),
    (Insn(0x85, 0, 0, 0, 1), "call 1"),
    (Insn(0x85, 0, 1, 0, -3), "call pc-3"),
    (Insn(0x8D, 4), "callx r4"),
    (Insn(0x05, 0, 0, -2), "goto -2"),
    (Insn(0x06, 0, 0, 0, 70000), "gotol +70000"),
    (Insn(0x2E, 1, 2, -2), "if w1 > w2 goto -2"),
    (Insn(0x15, 1, 0, 1, -1), "if r1 == -1 goto +1"),
    (Insn(0xB7, 2, 0, 0, -7), "r2 = -7"),
    (Insn(0x3F, 4, 2, 1), "r4 s/= r2"),
    (Insn(0x94, 4, 0, 1, 3), "w4 s%= 3"),
    (Insn(0xBF, 0, 1, 8), "r0 = (s8)r1"),
    (Insn(0x87, 0), "r0 = -r0"),
    (Insn(0xDC, 0, 0, 0, 16), "r0 = be16 r0"),
    (Insn(0xD4, 0, 0, 0, 32), "r0 = le32 r0"),
    (Insn(0xD7, 0, 0, 0, 64), "r0 = bswap64 r0"),
    (Insn(0x89, 0, 1, -2), "r0 = *(s16 *)(r1 -2)"),
    (Insn(0x62, 10, 0, -4, 7), "*(u32 *)(r10 -4) = 7"),
    (Insn(0x73, 10, 1, -1), "*(u8 *)(r10 -1) = r1"),
    (Insn(0xC3, 10, 1, -4, 0xE1), "r1 = atomic_xchg((u32 *)(r10 -4), r1)"),
    (Insn(0xDB, 10, 1, -8, 0xF1), "r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r1)"),
    (Insn(0xDB, 10, 1, -8, 0x41), "r1 = atomic64_fetch_or((u64 *)(r10 -8), r1)"),
])
def test_str_prints_kernel_syntax(insn: Insn, text: str) -> None:
    assert str(insn) == text
