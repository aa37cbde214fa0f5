"""Every object of the shared corpus loads, and every MANIFEST row's program is found with its
program type and instruction slots (entry function alone, and linked with subprograms)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from interp.loader import LoaderError, load_object
from interp.program import Program

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "ebpf-samples"

pytestmark = pytest.mark.skipif(not (SAMPLES / "MANIFEST.tsv").exists(), reason="ebpf-samples corpus not found")


@pytest.fixture(scope="module")
def loaded() -> dict[str, list[Program]]:
    out = {}
    for path in sorted(SAMPLES.rglob("*.o")):
        relative = str(path.relative_to(SAMPLES))
        if relative.startswith("invalid/"):
            continue
        out[relative] = load_object(path, target_btf=None)
    return out


def test_every_valid_object_loads(loaded: dict[str, list[Program]]) -> None:
    assert len(loaded) == 162
    assert all(programs for programs in loaded.values())


def test_invalid_objects_are_refused_with_one_line() -> None:
    with pytest.raises(LoaderError) as info:
        load_object(SAMPLES / "invalid" / "badsymsize.o")
    message = str(info.value)
    assert "malformed ELF object" in message and "\n" not in message and message.startswith("badsymsize.o")


def test_an_invalid_instruction_is_kept_for_the_verifier_to_refuse() -> None:
    """An object is read as far as it is a program; an instruction that is not one is the
    verifier's to refuse at its pc, as the kernel's loader does."""
    [program] = load_object(SAMPLES / "invalid" / "invalid-lddw.o")
    assert program.invalid == {program.slots - 2: "lddw needs a second slot but the program ends here"}


def test_manifest_rows_match(loaded: dict[str, list[Program]]) -> None:
    with open(SAMPLES / "MANIFEST.tsv", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == 527
    mismatches = []
    for row in rows:
        programs = [p for p in loaded[row["file"]] if p.section == row["section"] and p.name == row["function"]]
        if len(programs) != 1:
            mismatches.append(f"{row['file']} {row['section']} {row['function']}: found {len(programs)}")
            continue
        program = programs[0]
        got = (program.prog_type, program.attach_kind, program.entry_slots, program.slots)
        expected = (row["prog_type"], row["kind"], int(row["insn_slots"]), int(row["linked_insn_slots"]))
        if got != expected:
            mismatches.append(f"{row['file']} {row['section']} {row['function']}: {got} != {expected}")
    assert mismatches == []


def test_seed_sample_model(loaded: dict[str, list[Program]]) -> None:
    # the seed's own tracex2: legacy maps, kern_version, and map references by index
    programs = {p.section: p for p in loaded["linux/tracex2_kern.o"]}
    write = programs["kprobe/sys_write"]
    assert write.license == "GPL"
    assert [(m.name, m.type_name, m.key_size, m.value_size, m.max_entries, m.origin) for m in write.maps] == [
        ("my_map", "hash", 8, 8, 1024, "legacy"),
        ("my_hist_map", "percpu_hash", 40, 8, 1024, "legacy"),  # struct hist_key: comm[16] + 3 u64
    ]
    assert write.kern_version is not None
    lookups = [insn for insn in write.insns if write.map_of(insn) is not None]
    assert {write.map_of(insn).name for insn in lookups} == {"my_hist_map"}


def test_btf_line_info_and_maps(loaded: dict[str, list[Program]]) -> None:
    program = next(p for p in loaded["new_linux/tracex2_kern.o"] if p.name == "bpf_prog2")
    assert [(m.name, m.type_name, m.origin) for m in program.maps] == [
        ("my_map", "hash", "btf"), ("my_hist_map", "percpu_hash", "btf")]
    assert str(program.source_lines[0]).endswith("tracex2_kern.c:26")
    assert program.source_lines[0].text.strip() == "int bpf_prog2(struct pt_regs *ctx)"
    assert str(program.insns[5 - 1]) == "r3 = *(u64 *)(r1 +152)"


def test_subprograms_are_appended(loaded: dict[str, list[Program]]) -> None:
    program = next(p for p in loaded["build/bpf2bpf.o"] if p.name == "func")
    assert (program.entry_slots, program.slots) == (37, 58)
    assert program.functions[0] == (0, "func")
    pcs = [pc for pc, _ in program.functions[1:]]
    assert pcs and pcs[0] == 37
    # every local call lands on an appended function's first instruction
    pc = 0
    for insn in program.insns:
        if insn.is_local_call:
            assert insn.call_target(pc) in pcs
        pc += insn.slots


@pytest.mark.parametrize("relative", ["build/bpf2bpf.o", "new_linux/tracex2_kern.o", "linux/spintest_kern.o",
                                      "cilium-examples/kprobe_bpf_bpfel.o"])
def test_a_selected_program_loads_as_the_whole_object_loads_it(relative: str,
                                                               loaded: dict[str, list[Program]]) -> None:
    """`check --section` loads only the program it names (and the functions it calls): each one
    the same, instructions, maps, source lines and relocations, as a load of every program."""
    from interp.sources import describe, select_programs

    whole = loaded[relative]
    for program in whole:
        for select in (describe(program), program.name, program.section):
            chosen = load_object(SAMPLES / relative, target_btf=None, select=select)
            expected = select_programs(whole, select)
            assert [vars(p) for p in chosen] == [vars(p) for p in expected]


def test_a_selection_that_names_no_program_gives_every_program(loaded: dict[str, list[Program]]) -> None:
    programs = load_object(SAMPLES / "linux/spintest_kern.o", target_btf=None, select="kprobe/no_such_function")
    assert [vars(p) for p in programs] == [vars(p) for p in loaded["linux/spintest_kern.o"]]


def test_symbols_read_with_struct_are_those_pyelftools_reads() -> None:
    from interp import loader

    for relative in ("falco/probe.o", "new_linux/tracex2_kern.o", "build/bpf2bpf.o"):
        path = SAMPLES / relative
        reader = loader._Loader(path, path.read_bytes(), None)
        table = reader.elf.get_section_by_name(".symtab")
        by_pyelftools = [(s.name, s["st_shndx"] if isinstance(s["st_shndx"], int) else 0, s["st_value"],
                          s["st_size"], s["st_info"]["type"], s["st_info"]["bind"]) for s in table.iter_symbols()]
        assert [(s.name, s.section, s.value, s.size, s.kind, s.binding) for s in reader.symbols] == by_pyelftools
