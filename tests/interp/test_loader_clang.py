"""The ELF loader against objects compiled here from small C sources with `clang -target bpf`.

Each test compiles a program into a temporary directory and checks the exact model the loader
builds from it: maps (legacy `maps`, BTF `.maps`, global data), the `lddw` instructions that refer
to them, subprogram linking, CO-RE relocations and `-g` line info. Expected values are derived
independently of the loader: from the C source, or from the object read with pyelftools. The raw
`.bin` + `.json` sidecar format is covered at the end."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from interp.btf import Btf, Kind
from interp.isa.insn import Insn, decode, encode, pcs
from interp.loader import LoaderError, load_object
from interp.program import MapDef, Program, Relocation, SourceLine
from interp.rawload import SidecarError
from interp.sources import read_program

CLANG = shutil.which("clang")
VMLINUX = Path("/sys/kernel/btf/vmlinux")

pytestmark = pytest.mark.skipif(CLANG is None, reason="clang is not installed; cannot compile BPF test programs")

LDDW, CALL, EXIT = 0x18, 0x85, 0x95

PRELUDE = """\
#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_probe_read_kernel)(void *dst, unsigned int size, const void *src) = (void *)113;
"""


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def compile_c(tmp_path: Path, name: str, source: str, *, debug: bool = False) -> Path:
    """Compile `source` (the prelude prepended) to `tmp_path/name.o`."""
    src = tmp_path / f"{name}.c"
    src.write_text(PRELUDE + source)
    obj = tmp_path / f"{name}.o"
    cmd = [CLANG, "-O2", "-target", "bpf", "-c", str(src), "-o", str(obj)]
    if debug:
        cmd.insert(1, "-g")
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"clang failed:\n{result.stderr}"
    return obj


def source_line_no(src: Path, needle: str) -> int:
    """1-based line number of the only line of `src` containing `needle`."""
    hits = [i for i, line in enumerate(src.read_text().splitlines(), 1) if needle in line]
    assert len(hits) == 1, f"{needle!r} found on lines {hits}"
    return hits[0]


class Elf:
    """The object as pyelftools reads it, for computing expectations without the loader."""

    def __init__(self, path: Path) -> None:
        self.handle = open(path, "rb")
        self.elf = ELFFile(self.handle)

    def close(self) -> None:
        self.handle.close()

    def section(self, name: str):
        section = self.elf.get_section_by_name(name)
        assert section is not None, name
        return section

    def section_index(self, name: str) -> int:
        for i, section in enumerate(self.elf.iter_sections()):
            if section.name == name:
                return i
        raise AssertionError(name)

    def symbols(self) -> dict[str, object]:
        return {s.name: s for s in self.elf.get_section_by_name(".symtab").iter_symbols() if s.name}

    def symbols_in(self, section: str, kind: str) -> list:
        index = self.section_index(section)
        syms = [s for s in self.elf.get_section_by_name(".symtab").iter_symbols()
                if s["st_shndx"] == index and s["st_info"]["type"] == kind]
        return sorted(syms, key=lambda s: s["st_value"])

    def code(self, section: str, start: int = 0, end: int | None = None) -> list[Insn]:
        """The instructions of `section` (byte range [start, end)) as compiled."""
        raw = self.section(section).data()[start:end]
        return decode(raw, check_reserved=False)

    def function_code(self, section: str, function: str) -> list[Insn]:
        sym = self.symbols()[function]
        return self.code(section, sym["st_value"], sym["st_value"] + sym["st_size"])

    def relocated_slots(self, section: str) -> set[int]:
        rel = self.elf.get_section_by_name(".rel" + section)
        return {r["r_offset"] // 8 for r in rel.iter_relocations()} if rel is not None else set()


def only(programs: list[Program]) -> Program:
    assert len(programs) == 1, [p.name for p in programs]
    return programs[0]


def by_name(programs: list[Program], name: str) -> Program:
    matches = [p for p in programs if p.name == name]
    assert len(matches) == 1, (name, [p.name for p in programs])
    return matches[0]


def lddws(program: Program) -> list[tuple[int, Insn]]:
    return [(pc, insn) for pc, insn in zip(pcs(program.insns), program.insns) if insn.opcode == LDDW]


def insn_at(program: Program, pc: int) -> Insn:
    table = dict(zip(pcs(program.insns), program.insns))
    assert pc in table, f"pc {pc} is not the start of an instruction"
    return table[pc]


def assert_only_relocated_slots_changed(program: Program, compiled: list[Insn], relocated: set[int]) -> None:
    """The entry function's loaded code equals the compiled code except at relocated slots."""
    loaded = program.insns[: len(compiled)]
    assert len(loaded) == len(compiled)
    for pc, (got, want) in zip(pcs(compiled), zip(loaded, compiled)):
        if pc in relocated:
            assert got.opcode == want.opcode and got.dst == want.dst, (pc, str(got), str(want))
        else:
            assert got == want, (pc, str(got), str(want))


# ---------------------------------------------------------------------------
# (a) legacy maps, license, version
# ---------------------------------------------------------------------------

LEGACY = """
struct bpf_map_def { unsigned int type, key_size, value_size, max_entries, map_flags; };
struct bpf_map_def SEC("maps") counts = {1, 4, 8, 16, 0};
struct bpf_map_def SEC("maps") stats = {6, 4, 16, 32, 1};
char _license[] SEC("license") = "GPL";
unsigned int _version SEC("version") = 0x40f00;

SEC("kprobe/sys_write")
int probe(void *ctx)
{
    int key = 0;
    long *a = bpf_map_lookup_elem(&counts, &key);
    long *b = bpf_map_lookup_elem(&stats, &key);
    if (!a || !b)
        return 0;
    return *a + *b;
}
"""


def test_legacy_maps_license_and_version(tmp_path: Path) -> None:
    obj = compile_c(tmp_path, "legacy", LEGACY)
    program = only(load_object(obj, target_btf=None))

    assert (program.name, program.section) == ("probe", "kprobe/sys_write")
    assert (program.prog_type, program.attach_kind, program.attach_to) == ("kprobe", "kprobe", "sys_write")
    assert program.license == "GPL" and program.is_gpl_compatible
    assert program.kern_version == 0x40F00
    assert program.maps == [
        MapDef("counts", 1, 4, 8, 16, 0, "legacy"),
        MapDef("stats", 6, 4, 16, 32, 1, "legacy"),
    ]
    assert program.functions == [(0, "probe")]
    assert program.relocations == [] and program.source_lines == {}

    # the two lookups load map 0 then map 1 into r1, each followed by `call 1` (map_lookup_elem)
    refs = lddws(program)
    assert [insn for _, insn in refs] == [Insn(LDDW, 1, 1, 0, 0), Insn(LDDW, 1, 1, 0, 1)]
    assert [program.map_of(insn).name for _, insn in refs] == ["counts", "stats"]
    assert [str(insn) for _, insn in refs] == ["r1 = map[fd:0] ll", "r1 = map[fd:1] ll"]
    assert program.used_maps == [0, 1]
    calls = [pc for pc, insn in zip(pcs(program.insns), program.insns) if insn == Insn(CALL, 0, 0, 0, 1)]
    assert len(calls) == 2 and refs[0][0] < calls[0] < refs[1][0] < calls[1]

    elf = Elf(obj)
    try:
        compiled = elf.code("kprobe/sys_write")
        relocated = elf.relocated_slots("kprobe/sys_write")
    finally:
        elf.close()
    assert relocated == {pc for pc, _ in refs}
    assert program.entry_slots == program.slots == sum(i.slots for i in compiled)
    assert_only_relocated_slots_changed(program, compiled, relocated)


def test_legacy_map_in_map_and_iproute2_layout(tmp_path: Path) -> None:
    # 24-byte bpf_map_def with inner_map_idx
    obj = compile_c(tmp_path, "legacy_mim", """
struct bpf_map_def { unsigned int type, key_size, value_size, max_entries, map_flags, inner_map_idx; };
struct bpf_map_def SEC("maps") inner = {2, 4, 4, 1, 0, 0};
struct bpf_map_def SEC("maps") outer = {12, 4, 4, 8, 0, 0};
char _license[] SEC("license") = "GPL";
SEC("kprobe/sys_open")
int probe(void *ctx)
{
    int key = 0;
    return bpf_map_lookup_elem(&outer, &key) != 0;
}
""")
    program = only(load_object(obj, target_btf=None))
    assert program.maps == [
        MapDef("inner", 2, 4, 4, 1, 0, "legacy"),
        MapDef("outer", 12, 4, 4, 8, 0, "legacy", inner_idx=0),
    ]
    assert program.kern_version is None
    assert [insn for _, insn in lddws(program)] == [Insn(LDDW, 1, 1, 0, 1)]

    # iproute2's 36-byte struct bpf_elf_map: id, pinning, inner_id, inner_idx follow the flags
    obj = compile_c(tmp_path, "elfmap", """
struct bpf_elf_map { unsigned int type, size_key, size_value, max_elem, flags, id, pinning, inner_id, inner_idx; };
struct bpf_elf_map SEC("maps") pinned = {1, 8, 4, 128, 0, 0, 2, 0, 0};
char _license[] SEC("license") = "GPL";
SEC("classifier")
int cls(void *ctx)
{
    long key = 0;
    return bpf_map_lookup_elem(&pinned, &key) != 0;
}
""")
    program = only(load_object(obj, target_btf=None))
    assert (program.prog_type, program.attach_kind, program.attach_to) == ("sched_cls", "tc", None)
    assert program.maps == [MapDef("pinned", 1, 8, 4, 128, 0, "legacy", pinning=2)]


def test_legacy_maps_of_unequal_size_are_refused(tmp_path: Path) -> None:
    # a 20-byte map and a 4-byte object in "maps": not map definitions of equal size
    obj = compile_c(tmp_path, "badmaps", """
struct bpf_map_def { unsigned int type, key_size, value_size, max_entries, map_flags; };
struct bpf_map_def SEC("maps") counts = {1, 4, 8, 16, 0};
unsigned int SEC("maps") stray = 3;
char _license[] SEC("license") = "GPL";
SEC("kprobe/sys_write")
int probe(void *ctx)
{
    int key = 0;
    return bpf_map_lookup_elem(&counts, &key) != 0;
}
""")
    with pytest.raises(LoaderError) as info:
        load_object(obj, target_btf=None)
    message = str(info.value)
    assert message.startswith("badmaps.o: ") and "section maps" in message and "\n" not in message


# ---------------------------------------------------------------------------
# (b) BTF-defined maps
# ---------------------------------------------------------------------------

BTF_MAPS = """
char _license[] SEC("license") = "Dual BSD/GPL";

struct {
    __uint(type, 1);
    __uint(max_entries, 64);
    __uint(map_flags, 1);
    __type(key, unsigned int);
    __type(value, unsigned long long);
} counts SEC(".maps");

struct {
    __uint(type, 27);
    __uint(max_entries, 4096);
} events SEC(".maps");

struct {
    __uint(type, 4);
    __uint(key_size, 4);
    __uint(value_size, 4);
} perf SEC(".maps");

struct inner {
    __uint(type, 2);
    __uint(max_entries, 8);
    __type(key, unsigned int);
    __type(value, long long);
};

struct {
    __uint(type, 12);
    __uint(max_entries, 4);
    __type(key, unsigned int);
    __array(values, struct inner);
} outer SEC(".maps");

SEC("kprobe/do_sys_open")
int probe(void *ctx)
{
    unsigned int key = 0;
    unsigned long long *v = bpf_map_lookup_elem(&counts, &key);
    void *in = bpf_map_lookup_elem(&outer, &key);
    void *e = bpf_map_lookup_elem(&events, &key);
    void *p = bpf_map_lookup_elem(&perf, &key);
    if (!v || !in || !e || !p)
        return 0;
    return *v;
}
"""


def test_btf_maps(tmp_path: Path) -> None:
    obj = compile_c(tmp_path, "btfmaps", BTF_MAPS, debug=True)
    program = only(load_object(obj, target_btf=None))
    assert (program.prog_type, program.attach_to, program.license) == ("kprobe", "do_sys_open", "Dual BSD/GPL")

    expected = {
        "counts": MapDef("counts", 1, 4, 8, 64, 1, "btf"),
        "events": MapDef("events", 27, 0, 0, 4096, 0, "btf"),
        "perf": MapDef("perf", 4, 4, 4, 0, 0, "btf"),
        # map-in-map values are map fds: value_size 4; the inner template comes from `values`
        "outer": MapDef("outer", 12, 4, 4, 4, 0, "btf", inner=MapDef("outer.inner", 2, 4, 8, 8, 0, "btf")),
    }
    elf = Elf(obj)
    try:
        order = [s.name for s in elf.symbols_in(".maps", "STT_OBJECT")]  # maps in section order
        assert elf.elf.get_section_by_name(".BTF") is not None
    finally:
        elf.close()
    assert sorted(order) == sorted(expected)
    assert program.maps == [expected[name] for name in order]
    assert program.maps[order.index("outer")].to_json()["inner"]["name"] == "outer.inner"

    refs = lddws(program)
    assert all(insn.src == 1 and insn.dst == 1 and insn.off == 0 for _, insn in refs)
    assert [program.maps[insn.imm].name for _, insn in refs] == ["counts", "outer", "events", "perf"]
    assert [insn.imm for _, insn in refs] == [order.index(n) for n in ("counts", "outer", "events", "perf")]


def test_btf_maps_without_btf_are_refused(tmp_path: Path) -> None:
    # without -g there is no .BTF to describe the .maps section
    obj = compile_c(tmp_path, "nobtf", BTF_MAPS, debug=False)
    with pytest.raises(LoaderError) as info:
        load_object(obj, target_btf=None)
    message = str(info.value)
    assert message.startswith("nobtf.o: ") and ".maps" in message and ".BTF" in message and "\n" not in message


# ---------------------------------------------------------------------------
# (c) global data
# ---------------------------------------------------------------------------

GLOBAL_DATA = """
char _license[] SEC("license") = "GPL";
int pad_data = 7;
int counter = 42;
static volatile int hidden = 9;
const volatile int threshold = 5;
const volatile long long limit = 0x1122334455667788LL;
int hits;
long long big;

SEC("kprobe/sys_read")
int probe(void *ctx)
{
    hits++;
    big = 3;
    return counter + threshold + limit + pad_data + hidden;
}
"""


def test_global_data_maps(tmp_path: Path) -> None:
    obj = compile_c(tmp_path, "globals", GLOBAL_DATA)
    program = only(load_object(obj, target_btf=None))

    elf = Elf(obj)
    try:
        syms = elf.symbols()
        sizes = {name: elf.section(name)["sh_size"] for name in (".data", ".rodata", ".bss")}
        data_bytes = elf.section(".data").data()
        rodata_bytes = elf.section(".rodata").data()
        assert elf.section(".bss")["sh_type"] == "SHT_NOBITS"
    finally:
        elf.close()
    offset = {name: syms[name]["st_value"] for name in
              ("pad_data", "counter", "hidden", "threshold", "limit", "hits", "big")}
    assert sizes == {".data": 12, ".rodata": 16, ".bss": 16}

    # initial values, built from the C initialisers at the symbols' offsets
    data = bytearray(12)
    for name, value in (("pad_data", 7), ("counter", 42), ("hidden", 9)):
        struct.pack_into("<i", data, offset[name], value)
    rodata = bytearray(16)
    struct.pack_into("<i", rodata, offset["threshold"], 5)
    struct.pack_into("<q", rodata, offset["limit"], 0x1122334455667788)
    assert (bytes(data), bytes(rodata)) == (data_bytes, rodata_bytes)

    assert program.maps == [
        MapDef(".data", 2, 4, 12, 1, 0, "data", initial_value=bytes(data)),
        MapDef(".rodata", 2, 4, 16, 1, 0, "data", initial_value=bytes(rodata), frozen=True),
        MapDef(".bss", 2, 4, 16, 1, 0, "data", initial_value=bytes(16)),
    ]

    # every global is reached through an lddw src=2, imm = map index | offset << 32
    refs = [insn for _, insn in lddws(program)]
    assert all(insn.src == 2 and insn.off == 0 for insn in refs)
    got = sorted((program.maps[insn.imm & 0xFFFFFFFF].name, insn.imm >> 32) for insn in refs)
    section_of = {"pad_data": ".data", "counter": ".data", "hidden": ".data", "threshold": ".rodata",
                  "limit": ".rodata", "hits": ".bss", "big": ".bss"}
    assert got == sorted((section_of[name], offset[name]) for name in section_of)
    assert program.used_maps and sorted(program.used_maps) == [0, 1, 2]
    index = {".data": 0, ".rodata": 1, ".bss": 2}
    assert str(Insn(LDDW, 1, 2, 0, index[".data"] | (offset["counter"] << 32))) == \
        f"r1 = map[fd:0][0]+{offset['counter']} ll"


STRINGS_AND_SUBPROG_DATA = """
static long (*bpf_trace_printk)(const char *fmt, unsigned int fmt_size, ...) = (void *)6;
struct bpf_map_def { unsigned int type, key_size, value_size, max_entries, map_flags; };
struct bpf_map_def SEC("maps") counts = {2, 4, 8, 1, 0};
char _license[] SEC("license") = "GPL";
int total = 3;

static __attribute__((noinline)) int bump(int x)
{
    int key = 0;
    long *v = bpf_map_lookup_elem(&counts, &key);
    total += x;
    return v ? *v : 0;
}

SEC("kprobe/sys_exit")
int probe(void *ctx)
{
    bpf_trace_printk("hi\\n", 4);
    bpf_trace_printk("bye %d\\n", 8, 1);
    return bump(2);
}
"""


def test_string_literals_and_maps_used_by_a_subprogram(tmp_path: Path) -> None:
    obj = compile_c(tmp_path, "strings", STRINGS_AND_SUBPROG_DATA)
    program = only(load_object(obj, target_btf=None))
    elf = Elf(obj)
    try:
        strings = elf.section(".rodata.str1.1").data()
    finally:
        elf.close()
    assert sorted(strings.split(b"\0")[:-1]) == [b"bye %d\n", b"hi\n"]
    # legacy maps first, then global data sections in section order
    assert program.maps == [
        MapDef("counts", 2, 4, 8, 1, 0, "legacy"),
        MapDef(".data", 2, 4, 4, 1, 0, "data", initial_value=struct.pack("<i", 3)),
        MapDef(".rodata.str1.1", 2, 4, len(strings), 1, 0, "data", initial_value=strings, frozen=True),
    ]
    bump = dict((name, pc) for pc, name in program.functions)["bump"]
    assert program.functions == [(0, "probe"), (bump, "bump")]
    in_probe = [insn for pc, insn in lddws(program) if pc < bump]
    in_bump = [insn for pc, insn in lddws(program) if pc >= bump]
    # the format strings, by offset into the merged string section
    assert all(insn.src == 2 and insn.imm & 0xFFFFFFFF == 2 for insn in in_probe)
    assert [strings[insn.imm >> 32:].split(b"\0")[0] for insn in in_probe] == [b"hi\n", b"bye %d\n"]
    # relocations of .text (map and .data) are applied in the appended subprogram
    assert sorted((insn.src, insn.imm) for insn in in_bump) == [(1, 0), (2, 1)]


# ---------------------------------------------------------------------------
# (d) subprograms
# ---------------------------------------------------------------------------

SUBPROGRAMS = """
char _license[] SEC("license") = "GPL";

static __attribute__((noinline)) int helper(int x)
{
    return x * 3 + 1;
}

static __attribute__((noinline)) int other(int x)
{
    return helper(x ^ 9) - 7;
}

SEC("kprobe/sys_write")
int first(void *ctx)
{
    return helper((long)ctx) + 2;
}

SEC("kprobe/sys_read")
int second(void *ctx)
{
    return other((long)ctx) + helper((long)ctx & 5);
}
"""


def local_call_targets(program: Program) -> list[tuple[int, int]]:
    """(pc, target pc) of every local call."""
    out = []
    for pc, insn in zip(pcs(program.insns), program.insns):
        if insn.opcode == CALL and insn.src == 1:
            assert (insn.dst, insn.off) == (0, 0)
            out.append((pc, pc + 1 + insn.imm))
    return out


def test_subprogram_is_appended_and_call_relocated(tmp_path: Path) -> None:
    obj = compile_c(tmp_path, "subprog", SUBPROGRAMS)
    programs = load_object(obj, target_btf=None)
    assert sorted(p.name for p in programs) == ["first", "second"]  # .text holds no program

    elf = Elf(obj)
    try:
        helper = elf.function_code(".text", "helper")
        other = elf.function_code(".text", "other")
        first_code = elf.function_code("kprobe/sys_write", "first")
        second_code = elf.function_code("kprobe/sys_read", "second")
    finally:
        elf.close()
    size = lambda insns: sum(i.slots for i in insns)  # noqa: E731

    first = by_name(programs, "first")
    assert (first.section, first.attach_to) == ("kprobe/sys_write", "sys_write")
    assert first.entry_slots == size(first_code) < first.slots == size(first_code) + size(helper)
    assert first.functions == [(0, "first"), (first.entry_slots, "helper")]
    # the call now lands on the appended copy of helper, whose code is unchanged
    assert [t for _, t in local_call_targets(first)] == [first.entry_slots]
    assert first.insns[len(first_code):] == helper
    assert [i for i in first.insns[: len(first_code)] if not (i.opcode == CALL and i.src == 1)] == \
        [i for i in first_code if not (i.opcode == CALL and i.src == 1)]

    # second calls other, which calls helper: appended code is scanned for calls too,
    # and helper, also called from second, is appended once
    second = by_name(programs, "second")
    other_pc = second.entry_slots
    helper_pc = other_pc + size(other)
    assert second.functions == [(0, "second"), (other_pc, "other"), (helper_pc, "helper")]
    assert second.entry_slots == size(second_code) and second.slots == helper_pc + size(helper)
    targets = local_call_targets(second)
    in_entry = [t for pc, t in targets if pc < other_pc]
    in_other = [t for pc, t in targets if other_pc <= pc < helper_pc]
    assert in_entry == [other_pc, helper_pc]
    assert in_other == [helper_pc]
    assert not [t for pc, t in targets if pc >= helper_pc]
    assert second.insns[len(second_code) + len(other):] == helper

    # each program has its own linked copy of helper
    assert first.insns[len(first_code):] == second.insns[len(second_code) + len(other):]
    assert first.insns is not second.insns


def test_global_subprogram_and_single_text_program(tmp_path: Path) -> None:
    obj = compile_c(tmp_path, "globalsub", """
char _license[] SEC("license") = "GPL";
__attribute__((noinline)) int global_helper(int x)
{
    return x + 40;
}
SEC("xdp")
int prog(void *ctx)
{
    return global_helper(2) & 3;
}
""")
    program = only(load_object(obj, target_btf=None))
    assert (program.name, program.prog_type, program.attach_kind) == ("prog", "xdp", "xdp")
    assert program.functions == [(0, "prog"), (program.entry_slots, "global_helper")]
    assert [t for _, t in local_call_targets(program)] == [program.entry_slots]

    # an object whose only code is .text: the function there is the program
    obj = compile_c(tmp_path, "textonly", """
int lonely(void *ctx)
{
    return 17;
}
""")
    program = only(load_object(obj, target_btf=None))
    assert (program.name, program.section, program.prog_type) == ("lonely", ".text", "unknown")
    assert program.insns == [Insn(0xB7, 0, 0, 0, 17), Insn(EXIT)]


CALLBACKS = """
char _license[] SEC("license") = "GPL";
static long (*bpf_loop)(unsigned int nr, void *fn, void *ctx, unsigned long flags) = (void *)181;

static __attribute__((noinline)) int twice(int x) { return x * 2 + 5; }
static long cb(unsigned int i, void *ctx) { return twice(i) > 3; }
static long cb2(unsigned int i, void *ctx) { return i > 7; }

SEC("xdp")
int one(void *ctx)
{
    bpf_loop(4, cb, 0, 0);
    return bpf_loop(8, cb2, 0, 0);
}

SEC("xdp")
int two(void *ctx)
{
    return twice((long)ctx) + 1;
}
"""


def test_callbacks_and_two_programs_in_one_section(tmp_path: Path) -> None:
    obj = compile_c(tmp_path, "callbacks", CALLBACKS, debug=True)
    programs = load_object(obj, target_btf=None)
    assert [(p.name, p.section, p.prog_type) for p in programs] == [("one", "xdp", "xdp"), ("two", "xdp", "xdp")]

    elf = Elf(obj)
    try:
        code = {name: elf.function_code(section, name) for section, name in
                (("xdp", "one"), ("xdp", "two"), (".text", "cb"), (".text", "cb2"), (".text", "twice"))}
    finally:
        elf.close()
    size = {name: sum(i.slots for i in insns) for name, insns in code.items()}

    one = by_name(programs, "one")
    assert one.entry_slots == size["one"]
    where = {name: pc for pc, name in one.functions}
    assert one.functions[0] == (0, "one") and set(where) == {"one", "cb", "cb2", "twice"}
    assert one.slots == sum(size[n] for n in where)
    # `r2 = cb ll` / `r2 = cb2 ll` become function references (src 4), pc-relative like calls
    funcs = [(pc, insn) for pc, insn in lddws(one)]
    assert [(insn.dst, insn.src) for _, insn in funcs] == [(2, 4), (2, 4)]
    assert [pc + 1 + insn.imm for pc, insn in funcs] == [where["cb"], where["cb2"]]
    # cb's own call to twice (pc-relative inside .text) lands on the appended twice
    assert [t for pc, t in local_call_targets(one)] == [where["twice"]]
    assert where["cb"] <= local_call_targets(one)[0][0] < where["cb"] + size["cb"]
    # each appended function keeps its code, apart from the call in cb
    for name in ("cb2", "twice"):
        start = pcs(one.insns).index(where[name])
        assert one.insns[start:start + len(code[name])] == code[name]

    # the second function of the section is a program of its own, with its own copy of twice
    two = by_name(programs, "two")
    assert two.entry_slots == size["two"]
    assert two.functions == [(0, "two"), (size["two"], "twice")]
    assert [t for _, t in local_call_targets(two)] == [size["two"]]
    assert two.insns[len(code["two"]):] == code["twice"]
    src = tmp_path / "callbacks.c"
    assert two.source_lines[0].line == source_line_no(src, "return twice((long)ctx) + 1;")
    assert two.source_lines[size["two"]].line == source_line_no(src, "static __attribute__((noinline)) int twice")


# ---------------------------------------------------------------------------
# (e) CO-RE
# ---------------------------------------------------------------------------

CORE = """
char _license[] SEC("license") = "GPL";
struct task_struct {
    int pid;
    int tgid;
} __attribute__((preserve_access_index));

SEC("kprobe/wake_up_new_task")
int read_pid(struct task_struct *t)
{
    int pid = 0;
    bpf_probe_read_kernel(&pid, sizeof(pid), &t->pid);
    return pid;
}

SEC("kprobe/do_exit")
int direct(struct task_struct *t)
{
    return __builtin_preserve_access_index(t->tgid);
}

static __attribute__((noinline)) int sub_tgid(struct task_struct *t)
{
    return __builtin_preserve_access_index(t->tgid) + 1;
}

SEC("kprobe/do_fork")
int via_sub(struct task_struct *t)
{
    return sub_tgid(t) * 2;
}
"""

# a "kernel" whose task_struct has another layout; pid is at 24, tgid at 20
TARGET = """
struct task_struct {
    long state;
    void *stack;
    unsigned int flags;
    int tgid;
    int pid;
};
struct task_struct anchor;
"""

# a "kernel" where task_struct has no tgid at all
TARGET_NO_TGID = """
struct task_struct {
    long state;
    int pid;
};
struct task_struct anchor;
"""


def btf_of(obj: Path) -> bytes:
    elf = Elf(obj)
    try:
        return elf.section(".BTF").data()
    finally:
        elf.close()


def core_sites(program: Program) -> list[tuple[int, Relocation]]:
    return [(r.pc, r) for r in program.relocations if r.kind == "core"]


def check_core_against(programs: list[Program], compiled: list[Program], pid: int, tgid: int) -> None:
    """Each CO-RE site is resolved and the instruction carries the target offset."""
    read_pid = by_name(programs, "read_pid")
    ((pc, relo),) = core_sites(read_pid)
    assert relo.resolved and relo.pc == pc
    before, after = insn_at(by_name(compiled, "read_pid"), pc), insn_at(read_pid, pc)
    assert before.is_alu and before.imm == 0  # `rX = offsetof(pid)` as compiled: 0
    assert after == Insn(before.opcode, before.dst, before.src, before.off, pid)

    direct = by_name(programs, "direct")
    ((pc, relo),) = core_sites(direct)
    before, after = insn_at(by_name(compiled, "direct"), pc), insn_at(direct, pc)
    assert relo.resolved and before.opcode == 0x61 and before.off == 4  # ldxw rX, [rY + 4]
    assert after == Insn(before.opcode, before.dst, before.src, tgid, before.imm)

    via_sub = by_name(programs, "via_sub")
    ((pc, relo),) = core_sites(via_sub)
    assert relo.resolved and pc >= via_sub.entry_slots  # the site is in the appended subprogram
    assert via_sub.functions == [(0, "via_sub"), (via_sub.entry_slots, "sub_tgid")]
    before, after = insn_at(by_name(compiled, "via_sub"), pc), insn_at(via_sub, pc)
    assert before.opcode == 0x61 and before.off == 4
    assert after == Insn(before.opcode, before.dst, before.src, tgid, before.imm)

    # nothing but the relocated instructions differs
    for program, original in ((read_pid, by_name(compiled, "read_pid")), (direct, by_name(compiled, "direct")),
                              (via_sub, by_name(compiled, "via_sub"))):
        sites = {pc for pc, _ in core_sites(program)}
        for pc, (a, b) in zip(pcs(program.insns), zip(program.insns, original.insns)):
            if pc not in sites:
                assert a == b, (program.name, pc)


def test_core_unresolved_without_target(tmp_path: Path) -> None:
    obj = compile_c(tmp_path, "core", CORE, debug=True)
    programs = load_object(obj, target_btf=None)
    assert sorted(p.name for p in programs) == ["direct", "read_pid", "via_sub"]

    elf = Elf(obj)
    try:
        compiled = {name: elf.function_code(section, name) for section, name in
                    (("kprobe/wake_up_new_task", "read_pid"), ("kprobe/do_exit", "direct"))}
    finally:
        elf.close()
    for name in ("read_pid", "direct"):
        program = by_name(programs, name)
        assert program.insns == compiled[name]  # kept as compiled
        ((pc, relo),) = core_sites(program)
        assert not relo.resolved
        assert "task_struct" in relo.description and "unresolved" in relo.description
        assert "\n" not in relo.description
        insn_at(program, pc)
    read_pid = by_name(programs, "read_pid")
    ((pc, relo),) = core_sites(read_pid)
    assert "0:0" in relo.description  # access path: task_struct, member 0 (pid)
    assert insn_at(read_pid, pc).is_alu and insn_at(read_pid, pc).imm == 0
    ((pc, relo),) = core_sites(by_name(programs, "direct"))
    assert "0:1" in relo.description and pc == 0
    assert not core_sites(by_name(programs, "via_sub"))[0][1].resolved


def test_core_resolved_against_given_btf(tmp_path: Path) -> None:
    obj = compile_c(tmp_path, "core", CORE, debug=True)
    compiled = load_object(obj, target_btf=None)
    target_raw = btf_of(compile_c(tmp_path, "target", TARGET, debug=True))

    # target BTF as a Btf and as a path to the raw BTF bytes
    target_file = tmp_path / "target.btf"
    target_file.write_bytes(target_raw)
    for target in (Btf(target_raw), str(target_file)):
        check_core_against(load_object(obj, target_btf=target), compiled, pid=24, tgid=20)


def test_core_field_missing_in_target_is_recorded(tmp_path: Path) -> None:
    obj = compile_c(tmp_path, "core", CORE, debug=True)
    compiled = load_object(obj, target_btf=None)
    programs = load_object(obj, target_btf=Btf(btf_of(compile_c(tmp_path, "t2", TARGET_NO_TGID, debug=True))))

    read_pid = by_name(programs, "read_pid")
    ((pc, relo),) = core_sites(read_pid)
    assert relo.resolved and insn_at(read_pid, pc).imm == 8
    direct = by_name(programs, "direct")
    ((pc, relo),) = core_sites(direct)
    assert not relo.resolved and "does not exist" in relo.description
    assert direct.insns == by_name(compiled, "direct").insns


def test_core_unreadable_target_is_recorded(tmp_path: Path) -> None:
    obj = compile_c(tmp_path, "core", CORE, debug=True)
    bogus = tmp_path / "bogus.btf"
    bogus.write_bytes(b"not btf at all, just some bytes")
    for target in (str(bogus), str(tmp_path / "missing.btf")):
        programs = load_object(obj, target_btf=target)
        for program in programs:
            ((_, relo),) = core_sites(program)
            assert not relo.resolved and "\n" not in relo.description


CORE_KINDS = """
char _license[] SEC("license") = "GPL";
struct sig { int pad; int count; } __attribute__((preserve_access_index));
struct task_struct___old {
    int pid;
    struct sig s;
    int gone;
} __attribute__((preserve_access_index));

SEC("kprobe/a")
int nested(struct task_struct___old *t)
{
    return __builtin_preserve_access_index(t->s.count);
}

SEC("kprobe/b")
int anon(struct task_struct___old *t)
{
    return __builtin_preserve_access_index(t->pid);
}

SEC("kprobe/c")
int exists(struct task_struct___old *t)
{
    return __builtin_preserve_field_info(t->gone, 2) * 10 + __builtin_preserve_field_info(t->pid, 2);
}

SEC("kprobe/d")
int fsize(struct task_struct___old *t)
{
    return __builtin_preserve_field_info(t->s, 1);
}

SEC("kprobe/e")
int tsize(void *ctx)
{
    return __builtin_preserve_type_info(*(struct task_struct___old *)0, 1);
}
"""

# the target: pid inside an anonymous union at 8; s at 16 (size 24) with count at +16; size 40
TARGET_KINDS = """
struct sig { long a; long b; int count; };
struct task_struct { long x; union { int pid; unsigned int upid; }; char c; struct sig s; };
struct task_struct anchor;
"""


def test_core_flavours_nested_paths_and_other_kinds(tmp_path: Path) -> None:
    obj = compile_c(tmp_path, "kinds", CORE_KINDS, debug=True)
    compiled = load_object(obj, target_btf=None)
    target = Btf(btf_of(compile_c(tmp_path, "target", TARGET_KINDS, debug=True)))
    programs = load_object(obj, target_btf=target)
    assert [p.name for p in programs] == [p.name for p in compiled]

    def sites(name: str, progs: list[Program]) -> list[tuple[Insn, Relocation]]:
        program = by_name(progs, name)
        return [(insn_at(program, r.pc), r) for r in program.relocations if r.kind == "core"]

    for program in compiled:  # unresolved, kept as compiled, before a target is given
        assert program.relocations and all(not r.resolved for r in program.relocations)

    # task_struct___old is a flavour of task_struct; s.count goes through two members
    ((insn, relo),) = sites("nested", programs)
    ((before, _),) = sites("nested", compiled)
    assert relo.resolved and "0:1:1" in relo.description
    assert (before.opcode, before.off) == (0x61, 8) and (insn.opcode, insn.off) == (0x61, 32)
    # pid is found through the target's anonymous union
    ((insn, relo),) = sites("anon", programs)
    assert relo.resolved and (insn.opcode, insn.off) == (0x61, 8)
    # FIELD_EXISTS: pid exists (1), gone does not (0)
    got = sorted((r.description.split(" access ")[1].split(" ")[0], insn.imm, r.resolved)
                 for insn, r in sites("exists", programs))
    assert got == [("0:0", 1, True), ("0:2", 0, True)]
    assert all(r.description.startswith("FIELD_EXISTS") for _, r in sites("exists", programs))
    # FIELD_BYTE_SIZE of s and TYPE_SIZE of the struct follow the target
    ((insn, relo),) = sites("fsize", programs)
    assert relo.resolved and relo.description.startswith("FIELD_BYTE_SIZE") and insn.imm == 24
    ((insn, relo),) = sites("tsize", programs)
    assert relo.resolved and relo.description.startswith("TYPE_SIZE") and insn.imm == 40
    ((before, _),) = sites("tsize", compiled)
    assert before.imm == 16


def _member_offset(btf: Btf, type_id: int, name: str) -> int | None:
    """Byte offset of member `name` of struct `type_id`, through anonymous members."""
    t = btf.skip_modifiers(type_id)
    for member in t.members:
        if member.name == name:
            return member.bit_offset // 8
        inner = btf.skip_modifiers(member.type_id)
        if not member.name and inner.kind in (Kind.STRUCT, Kind.UNION):
            found = _member_offset(btf, inner.id, name)
            if found is not None:
                return member.bit_offset // 8 + found
    return None


@pytest.mark.skipif(not VMLINUX.exists(), reason="the running kernel exposes no BTF at /sys/kernel/btf/vmlinux")
def test_core_resolved_against_running_kernel(tmp_path: Path) -> None:
    kernel = Btf(VMLINUX.read_bytes())
    structs = [t for t in kernel.by_name("task_struct") if t.kind == Kind.STRUCT]
    assert len(structs) == 1
    pid = _member_offset(kernel, structs[0].id, "pid")
    tgid = _member_offset(kernel, structs[0].id, "tgid")
    assert pid is not None and tgid is not None and pid not in (0, 4)

    obj = compile_c(tmp_path, "core", CORE, debug=True)
    compiled = load_object(obj, target_btf=None)
    check_core_against(load_object(obj, target_btf="auto"), compiled, pid=pid, tgid=tgid)
    check_core_against(load_object(obj, target_btf=VMLINUX), compiled, pid=pid, tgid=tgid)
    check_core_against(load_object(obj), compiled, pid=pid, tgid=tgid)  # "auto" is the default


# ---------------------------------------------------------------------------
# (f) line info
# ---------------------------------------------------------------------------

LINES = """
struct bpf_map_def { unsigned int type, key_size, value_size, max_entries, map_flags; };
struct bpf_map_def SEC("maps") counts = {2, 4, 8, 1, 0};
char _license[] SEC("license") = "GPL";

SEC("kprobe/sys_close")
int probe(void *ctx)
{
    int key = 0;
    long *value = bpf_map_lookup_elem(&counts, &key);
    if (!value)
        return 0;
    return *value + 1;
}
"""


def test_line_info(tmp_path: Path) -> None:
    obj = compile_c(tmp_path, "lines", LINES, debug=True)
    src = tmp_path / "lines.c"
    text = src.read_text().splitlines()
    program = only(load_object(obj, target_btf=None))

    header = source_line_no(src, "int probe(void *ctx)")
    first = program.source_lines[0]
    assert first == SourceLine(str(src), header, first.column, "int probe(void *ctx)")
    assert str(first) == f"{src}:{header}"

    starts = set(pcs(program.insns))
    assert program.source_lines and set(program.source_lines) <= starts
    for pc, line in program.source_lines.items():
        assert line.file == str(src)
        if line.line:
            assert line.text == text[line.line - 1], (pc, line)
            assert header <= line.line <= header + 7

    # pcs count slots: the lddw takes two, and the lines after it are at slot numbers
    ((lddw_pc, lddw),) = lddws(program)
    assert lddw == Insn(LDDW, 1, 1, 0, 0)
    assert program.source_lines[lddw_pc].line == source_line_no(src, "bpf_map_lookup_elem(&counts")
    branch_pc = next(pc for pc, insn in zip(pcs(program.insns), program.insns) if insn.is_conditional_jump)
    assert branch_pc > lddw_pc + 1
    assert program.source_lines[branch_pc].line == source_line_no(src, "if (!value)")
    exit_pc = pcs(program.insns)[-1]
    assert all(pc <= exit_pc for pc in program.source_lines)


def test_line_info_follows_linked_subprograms(tmp_path: Path) -> None:
    obj = compile_c(tmp_path, "sublines", SUBPROGRAMS, debug=True)
    src = tmp_path / "sublines.c"
    programs = load_object(obj, target_btf=None)
    helper_header = source_line_no(src, "static __attribute__((noinline)) int helper(int x)")
    other_header = source_line_no(src, "static __attribute__((noinline)) int other(int x)")
    helper_body = source_line_no(src, "return x * 3 + 1;")

    first = by_name(programs, "first")
    helper_pc = dict((name, pc) for pc, name in first.functions)["helper"]
    assert first.source_lines[helper_pc].line == helper_header
    assert first.source_lines[helper_pc].text == "static __attribute__((noinline)) int helper(int x)"
    assert {line.line for pc, line in first.source_lines.items() if pc > helper_pc} == {helper_body}
    assert all(line.line == source_line_no(src, "return helper((long)ctx) + 2;")
               for pc, line in first.source_lines.items() if pc < helper_pc)

    second = by_name(programs, "second")
    where = dict((name, pc) for pc, name in second.functions)
    assert second.source_lines[0].line == source_line_no(src, "int second(void *ctx)")
    # clang attributes other's first instruction to its header or to its only statement
    assert second.source_lines[where["other"]].line in (other_header, source_line_no(src, "return helper(x ^ 9) - 7;"))
    assert {line.line for pc, line in second.source_lines.items() if where["other"] <= pc < where["helper"]} <= \
        {other_header, other_header + 2}
    assert second.source_lines[where["helper"]].line == helper_header


# ---------------------------------------------------------------------------
# (g) raw bytecode with a JSON sidecar
# ---------------------------------------------------------------------------

RAW = [
    Insn(LDDW, 1, 1, 0, 0),  # r1 = map[fd:0] ll
    Insn(LDDW, 2, 2, 0, 1 | (8 << 32)),  # r2 = map[fd:1][0]+8 ll
    Insn(0xB7, 0, 0, 0, 0),  # r0 = 0
    Insn(EXIT),
]

SIDECAR = {
    "prog_type": 6,
    "license": "GPL",
    "kern_version": 0x50A00,
    "maps": [
        {"name": "counts", "type": 1, "key_size": 4, "value_size": 8, "max_entries": 16, "flags": 1},
        {"name": ".rodata", "type": 2, "key_size": 4, "value_size": 16, "max_entries": 1,
         "initial_value_hex": "05000000000000008877665544332211", "frozen": True},
        {"name": "outer", "type": 12, "key_size": 4, "value_size": 4, "max_entries": 2, "inner_idx": 0},
    ],
}


def write_raw(tmp_path: Path, insns: list[Insn], sidecar: object | None, name: str = "prog") -> Path:
    path = tmp_path / f"{name}.bin"
    path.write_bytes(encode(insns))
    if sidecar is not None:
        text = sidecar if isinstance(sidecar, str) else json.dumps(sidecar)
        (tmp_path / f"{name}.json").write_text(text)
    return path


def test_raw_bytecode_with_sidecar(tmp_path: Path) -> None:
    path = write_raw(tmp_path, RAW, SIDECAR)
    source = read_program(path)
    program = source.select()
    assert (program.name, program.section) == ("prog", "")
    assert (program.prog_type, program.attach_kind, program.attach_to) == ("xdp", "xdp", None)
    assert program.insns == RAW and program.entry_slots == program.slots == 6
    assert (program.license, program.kern_version) == ("GPL", 0x50A00)
    assert program.maps == [
        MapDef("counts", 1, 4, 8, 16, 1, "sidecar"),
        MapDef(".rodata", 2, 4, 16, 1, 0, "sidecar",
               initial_value=bytes.fromhex("05000000000000008877665544332211"), frozen=True),
        MapDef("outer", 12, 4, 4, 2, 0, "sidecar", inner_idx=0),
    ]
    assert program.map_of(RAW[0]).name == "counts" and program.map_of(RAW[1]).name == ".rodata"
    assert program.used_maps == [0, 1]

    # prog_type by name, and no sidecar at all: a kprobe without maps
    named = dict(SIDECAR, prog_type="sched_cls")
    assert read_program(write_raw(tmp_path, RAW, named, "named")).select().attach_kind == "tc"
    bare = read_program(write_raw(tmp_path, RAW[2:], None, "bare")).select()
    assert (bare.prog_type, bare.maps, bare.license, bare.kern_version) == ("kprobe", [], "", None)


@pytest.mark.parametrize("sidecar,insns,phrases", [
    pytest.param("{not json", RAW[2:], ["prog.json", "not valid JSON"], id="not-json"),
    pytest.param("[1, 2]", RAW[2:], ["prog.json", "JSON object"], id="not-object"),
    pytest.param({"maps": [{"type": 1, "value_size": 8, "max_entries": 1}]}, RAW[2:],
                 ["maps[0]", "missing field 'key_size'"], id="missing-key-size"),
    pytest.param({"maps": [{"type": 1, "key_size": -4, "value_size": 8, "max_entries": 1}]}, RAW[2:],
                 ["maps[0].key_size must be an integer from 0 to 0xffffffff, found -4"], id="negative-key-size"),
    pytest.param({"maps": [{"type": 2, "key_size": 4, "value_size": 8, "max_entries": 1}]},
                 [Insn(LDDW, 1, 1, 0, 3), Insn(0xB7, 0, 0, 0, 0), Insn(EXIT)],
                 ["insn 0", "map 3", "defines 1 maps"], id="lddw-map-3-of-1"),
    pytest.param({"maps": [{"type": 2, "key_size": 4, "value_size": 8, "max_entries": 1}]},
                 [Insn(0xB7, 0, 0, 0, 0), Insn(LDDW, 1, 2, 0, 1 | (4 << 32)), Insn(EXIT)],
                 ["insn 1", "map 1", "defines 1 maps"], id="map-value-out-of-range"),
    pytest.param({"maps": [{"type": 2, "key_size": 4, "value_size": 8, "max_entries": 1,
                            "initial_value_hex": "0011"}]}, RAW[2:],
                 ["maps[0]", "2 bytes", "value_size is 8"], id="initial-value-size"),
    pytest.param({"maps": [{"type": 2, "key_size": 4, "value_size": 8, "max_entries": 1,
                            "initial_value_hex": "zz"}]}, RAW[2:], ["maps[0].initial_value_hex must be a string of hex bytes, found \"zz\""], id="initial-value-hex"),
    pytest.param({"maps": [{"type": 12, "key_size": 4, "value_size": 4, "max_entries": 1, "inner_idx": 5}]},
                 RAW[2:], ["maps[0]", "inner_idx 5"], id="inner-idx"),
    pytest.param({"prog_type": 999}, RAW[2:], ["prog_type must be a program type", "found 999"], id="prog-type-int"),
    pytest.param({"prog_type": "nonsense"}, RAW[2:], ["prog_type must be a program type", 'found "nonsense"'], id="prog-type-name"),
    pytest.param({"maps": {"a": 1}}, RAW[2:], ['maps must be a list of maps, found {"a": 1}'], id="maps-not-list"),
    pytest.param({"maps": [7]}, RAW[2:], ["maps[0] must be an object describing a map, found 7"], id="map-not-object"),
])
def test_bad_sidecars_are_refused(tmp_path: Path, sidecar: object, insns: list[Insn], phrases: list[str]) -> None:
    path = write_raw(tmp_path, insns, sidecar)
    with pytest.raises(SidecarError) as info:
        read_program(path)
    message = str(info.value)
    assert "\n" not in message
    for phrase in phrases:
        assert phrase in message, (phrase, message)


def test_raw_lddw_without_sidecar_is_refused(tmp_path: Path) -> None:
    path = write_raw(tmp_path, [Insn(LDDW, 1, 1, 0, 0), Insn(EXIT)], None, "nomaps")
    with pytest.raises(SidecarError) as info:
        read_program(path)
    assert "no sidecar nomaps.json" in str(info.value) and "defines 0 maps" in str(info.value)
