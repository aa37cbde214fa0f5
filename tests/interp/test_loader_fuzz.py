"""Fuzzing the ELF loader with corrupted copies of real objects from the shared corpus.

Whatever the damage (flipped bytes, truncation, section headers whose size or offset lies), the
loader either returns programs or raises `LoaderError` with a one-line message; any other
exception, or a load that takes too long, is a failure."""

from __future__ import annotations

import struct
import time
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interp.loader import LoaderError, load_object
from interp.sources import describe, printable

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "ebpf-samples"
NAMES = [
    "linux/tracex1_kern.o",  # legacy object, .eh_frame, version section
    "new_linux/tracex2_kern.o",  # BTF maps, DWARF, .BTF.ext
    "cilium-examples/kprobe_bpf_bpfel.o",  # BTF maps, .BTF.ext
    "build/bpf2bpf.o",  # .text subprograms, call relocations
    "cilium-examples/tcx_bpf_bpfel.o",  # a .bss (SHT_NOBITS) global-data section
]
MAX_SECONDS = 5.0
# examples per hypothesis test: each test stays well under 30 s
FLIP_EXAMPLES, TRUNCATE_EXAMPLES, HEADER_EXAMPLES = 800, 300, 800

pytestmark = pytest.mark.skipif(
    not all((SAMPLES / name).exists() for name in NAMES), reason=f"ebpf-samples corpus not found at {SAMPLES}"
)


def _originals() -> dict[str, bytes]:
    return {name: (SAMPLES / name).read_bytes() for name in NAMES if (SAMPLES / name).exists()}


ORIGINALS = _originals()


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("loader-fuzz")


def check_load(workdir: Path, data: bytes, label: str) -> Path:
    """Load `data` as an object file: programs, or a one-line `LoaderError`, within the time bound.
    Returns the path the data was written to."""
    path = workdir / "fuzzed.o"
    path.write_bytes(data)
    start = time.monotonic()
    try:
        programs = load_object(path, target_btf=None)
    except LoaderError as exc:
        message = str(exc)
        assert message.strip(), f"{label}: LoaderError with an empty message"
        assert "\n" not in message and "\r" not in message, f"{label}: multi-line message {message!r}"
    except Exception as exc:  # noqa: BLE001 - anything but LoaderError is the failure under test
        pytest.fail(f"{label}: {type(exc).__name__} escaped the loader: {exc}\n{traceback.format_exc()}")
    else:
        assert isinstance(programs, list) and programs, f"{label}: load returned {programs!r}"
    elapsed = time.monotonic() - start
    assert elapsed < MAX_SECONDS, f"{label}: load took {elapsed:.1f} s"
    return path


def section_headers(data: bytes) -> list[int]:
    """Byte offsets of the section headers of a well-formed ELF64 object."""
    e_shoff = struct.unpack_from("<Q", data, 0x28)[0]
    e_shentsize, e_shnum = struct.unpack_from("<HH", data, 0x3A)
    assert e_shentsize == 64
    return [e_shoff + 64 * i for i in range(e_shnum)]


def test_originals_load(workdir: Path) -> None:
    for name, data in ORIGINALS.items():
        assert load_object(SAMPLES / name, target_btf=None), name
        check_load(workdir, data, name)


# ---------------------------------------------------------------------------
# hypothesis
# ---------------------------------------------------------------------------


@fuzz_settings(FLIP_EXAMPLES)
@given(name=st.sampled_from(NAMES),
       flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=1, max_value=255)),
                      min_size=1, max_size=12))
def test_flipped_bytes(workdir: Path, name: str, flips: list[tuple[int, int]]) -> None:
    data = bytearray(ORIGINALS[name])
    for where, mask in flips:
        data[where % len(data)] ^= mask
    check_load(workdir, bytes(data), f"{name} with bytes flipped {[(w % len(data), m) for w, m in flips]}")


@fuzz_settings(TRUNCATE_EXAMPLES)
@given(name=st.sampled_from(NAMES), fraction=st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_truncated(workdir: Path, name: str, fraction: float) -> None:
    original = ORIGINALS[name]
    length = int(len(original) * fraction)
    check_load(workdir, original[:length], f"{name} truncated to {length} bytes")


HEADER_VALUES = st.one_of(
    st.integers(min_value=0, max_value=1 << 16),
    st.integers(min_value=0, max_value=(1 << 64) - 1),
    st.sampled_from([0, 1, 7, 8, 9, 0x7FFFFFFF, 0x80000000, 1 << 32, (1 << 63) - 1, 1 << 63, (1 << 64) - 1]),
)


@fuzz_settings(HEADER_EXAMPLES)
@given(name=st.sampled_from(NAMES), section=st.integers(min_value=0), field=st.sampled_from(["sh_offset", "sh_size"]),
       value=HEADER_VALUES, relative=st.booleans())
def test_wrong_section_header(workdir: Path, name: str, section: int, field: str, value: int, relative: bool) -> None:
    data = bytearray(ORIGINALS[name])
    headers = section_headers(data)
    header = headers[section % len(headers)]
    where = header + (24 if field == "sh_offset" else 32)
    if relative:  # near the true value: off by a little, either way
        value = (struct.unpack_from("<Q", data, where)[0] + (value % 64) - 32) % (1 << 64)
    struct.pack_into("<Q", data, where, value)
    check_load(workdir, bytes(data), f"{name} section {section % len(headers)} {field}={value:#x}")


# ---------------------------------------------------------------------------
# deterministic sweeps over the smallest objects
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["linux/tracex1_kern.o", "cilium-examples/kprobe_bpf_bpfel.o"])
def test_every_truncation_at_slot_boundaries(workdir: Path, name: str) -> None:
    original = ORIGINALS[name]
    for length in range(0, len(original), 8):
        check_load(workdir, original[:length], f"{name} truncated to {length} bytes")


@pytest.mark.parametrize("name", NAMES)
def test_every_section_header_with_bad_size_or_offset(workdir: Path, name: str) -> None:
    original = ORIGINALS[name]
    for index, header in enumerate(section_headers(original)):
        true_offset, true_size = struct.unpack_from("<QQ", original, header + 24)
        for field, values in (
            ("sh_size", [0, 1, true_size + 1, true_size + 8, max(true_size - 1, 0), len(original),
                         1 << 32, 1 << 40, (1 << 64) - 1]),
            ("sh_offset", [0, len(original), len(original) - 1, true_offset + 1, (1 << 63), (1 << 64) - 1]),
        ):
            for value in values:
                data = bytearray(original)
                struct.pack_into("<Q", data, header + (24 if field == "sh_offset" else 32), value)
                check_load(workdir, bytes(data), f"{name} section {index} {field}={value:#x}")


# ---------------------------------------------------------------------------
# names from the file that hold control characters
# ---------------------------------------------------------------------------


def _strtab_replace(data: bytes, old: bytes, new: bytes) -> bytearray:
    """`data` with `old` replaced by `new` (same length) inside .strtab only."""
    assert len(old) == len(new)
    e_shstrndx = struct.unpack_from("<H", data, 0x3E)[0]
    header = section_headers(data)[e_shstrndx]
    offset, size = struct.unpack_from("<QQ", data, header + 24)
    where = data.find(old, offset, offset + size)
    assert where >= 0, old
    out = bytearray(data)
    out[where:where + len(old)] = new
    return out


@pytest.mark.parametrize("control", ["\n", "\r"])
def test_symbol_name_with_control_character_gives_one_line(workdir: Path, control: str) -> None:
    # the map's symbol no longer matches its BTF variable: refused, naming the map on one line
    data = _strtab_replace(ORIGINALS["cilium-examples/kprobe_bpf_bpfel.o"], b"kprobe_map\0",
                           f"kprobe{control}map\0".encode())
    path = check_load(workdir, bytes(data), f"map symbol named kprobe{control!r}map")
    with pytest.raises(LoaderError):
        load_object(path, target_btf=None)


@pytest.mark.parametrize("control", ["\n", "\r"])
def test_section_name_with_control_character_gives_one_line(workdir: Path, control: str) -> None:
    # a code section with a control character in its name and an unknown opcode in its code
    name = "linux/tracex1_kern.o"
    data = _strtab_replace(ORIGINALS[name], b"kprobe/__netif_receive_skb_core\0",
                           f"kprobe/__netif{control}receive_skb_core\0".encode())
    header = section_headers(data)[3]
    code_offset = struct.unpack_from("<Q", data, header + 24)[0]
    data[code_offset] = 0xFF  # no such opcode
    path = check_load(workdir, bytes(data), f"section named kprobe/__netif{control!r}receive_skb_core")
    [program] = load_object(path, target_btf=None)  # the invalid instruction is the verifier's to refuse
    assert program.invalid[0].startswith("unknown opcode 0xff")
    assert printable(describe(program)) == "kprobe/__netif" + repr(control)[1:-1] + "receive_skb_core"
