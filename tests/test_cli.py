"""`bpfverify` as a user runs it: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.cli import main

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLE = PROJECT / "examples" / "sum_args.s"
MEM_1_41 = "01 00 00 00 00 00 00 00 29 00 00 00 00 00 00 00"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_example_prints_r0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "run", str(EXAMPLE), "--mem", MEM_1_41)
    assert code == 0
    assert out.splitlines() == ["r0 = 0x2a (42)", "insns executed: 7"]
    assert err == ""


def test_run_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    mem = tmp_path / "mem.bin"
    mem.write_bytes(bytes.fromhex(MEM_1_41.replace(" ", "")))
    code, out, _ = run_cli(capsys, "run", str(EXAMPLE), "--mem-file", str(mem), "--json")
    assert code == 0
    assert json.loads(out) == {"r0": 42, "insns_executed": 7, "fault": None}


def test_run_fault_json_and_exit_code(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    prog = tmp_path / "bad.s"
    prog.write_text("r1 = 5\nr0 = *(u64 *)(r1 +0)\nexit\n")
    code, out, _ = run_cli(capsys, "run", str(prog), "--json")
    assert code == 1
    fault = json.loads(out)["fault"]
    assert fault["pc"] == 1
    assert fault["kind"] == "out-of-bounds"
    assert fault["insn"] == "r0 = *(u64 *)(r1 +0)"
    assert "hits no memory" in fault["message"]


def test_run_conformance_data_and_bin(capsys: pytest.CaptureFixture[str], tmp_path: Path, conformance_dir: Path) -> None:
    code, out, _ = run_cli(capsys, "run", str(conformance_dir / "tests" / "ldxh-same-reg.data"), "--json")
    assert code == 0 and json.loads(out)["r0"] == 0x1234  # the file's -- result
    binary = tmp_path / "prog.bin"
    assert run_cli(capsys, "asm", str(EXAMPLE), "-o", str(binary))[0] == 0
    code, out, _ = run_cli(capsys, "run", str(binary), "--mem", MEM_1_41)
    assert code == 0 and out.startswith("r0 = 0x2a")


def test_asm_and_disasm(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "asm", str(EXAMPLE))
    assert code == 0
    assert out.splitlines()[0] == "b7 00 00 00 00 00 00 00"
    binary = tmp_path / "prog.bin"
    run_cli(capsys, "asm", str(EXAMPLE), "-o", str(binary))
    code, out, _ = run_cli(capsys, "disasm", str(binary))
    assert code == 0
    assert out.splitlines()[0] == "; program prog: type kprobe (kprobe), 7 insns"
    assert out.splitlines()[2] == "    1: if r2 < 0x10 goto +4"
    code, out, _ = run_cli(capsys, "disasm", str(binary), "--syntax", "conformance")
    assert out.splitlines()[2] == "jlt %r2, 16, +4"
    listing = tmp_path / "listing.s"
    listing.write_text(out)
    run_cli(capsys, "asm", str(listing), "-o", str(tmp_path / "again.bin"))
    assert (tmp_path / "again.bin").read_bytes() == binary.read_bytes()
    code, out, _ = run_cli(capsys, "disasm", str(binary), "--json")
    rows = json.loads(out)["programs"][0]["insns"]
    assert rows[2] == {"pc": 2, "opcode": 0x79, "dst": 3, "src": 1, "off": 0, "imm": 0,
                       "text": "r3 = *(u64 *)(r1 +0)"}


def test_conformance_command(capsys: pytest.CaptureFixture[str], conformance_dir: Path) -> None:
    code, out, _ = run_cli(capsys, "conformance", str(conformance_dir / "tests"))
    assert code == 0
    assert out.splitlines()[-1] == "313 passed, 0 failed"
    code, out, _ = run_cli(capsys, "conformance", str(conformance_dir / "tests_negative"))
    assert code == 0
    lines = out.splitlines()
    assert lines[-1] == "60 passed, 0 failed"
    assert sum(line.startswith("refused ") for line in lines) == 60


def test_conformance_reports_failures(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.data"
    wrong.write_text("-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n")
    code, out, _ = run_cli(capsys, "conformance", str(wrong))
    assert code == 1
    assert out.splitlines() == ["FAIL     wrong.data: r0=0x1, expected 0x2", "0 passed, 1 failed"]


def test_bench_checks_r0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    small = tmp_path / "small.data"
    small.write_text("-- asm\nmov %r0, 0\nmov %r1, 1000\nl:\nadd %r0, %r1\nsub %r1, 1\njne %r1, 0, l\nexit\n-- result\n0x7a314\n")
    code, out, _ = run_cli(capsys, "bench", str(small))
    assert code == 0
    assert "3,003 insns" in out and "r0 ok" in out


BAD_INPUTS = [
    ("trunc.bin", b"\xb7\x00\x00\x00\x01\x00\x00\x00\x95\x00\x00", "truncated bytecode: 11 bytes is not a multiple of 8"),
    ("unknown.bin", b"\xff" + b"\x00" * 7 + b"\x95" + b"\x00" * 7, "insn 0: invalid instruction: unknown opcode 0xff"),
    ("jump.bin", b"\x05\x00\x05\x00\x00\x00\x00\x00\x95" + b"\x00" * 7, "jump to 6 is outside the program"),
    ("bad.s", b"r0 = 1\nr0 +== 3\nexit\n", "line 2: Invalid instruction 'r0 +== 3'"),
    ("bad_conf.s", b"mov %r0, 1\nldxq %r0, %r1\nexit\n", "line 2: Invalid mnemonic 'ldxq'"),
    ("falloff.s", b"r0 = 1\n", "execution can run past the last instruction"),
    ("empty.bin", b"", "is empty"),
    ("prog.xyz", b"r0 = 0\n", "unknown file type '.xyz'"),
    ("binary.s", b"\xff\xfe\x00", "is not UTF-8 text"),
]


@pytest.mark.parametrize("name,content,phrase", BAD_INPUTS)
def test_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      name: str, content: bytes, phrase: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = run_cli(capsys, "run", str(path))
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("bpfverify: error: ")
    assert phrase in err


def test_missing_file_and_bad_mem(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "run", "/nonexistent/prog.bin")
    assert code == 2 and "No such file" in err
    code, _, err = run_cli(capsys, "run", str(EXAMPLE), "--mem", "zz")
    assert code == 2 and err.strip() == "bpfverify: usage error: --mem is not hex bytes: 'zz'"


def test_console_entry_point_has_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x07")
    proc = subprocess.run([sys.executable, "-m", "verifier.cli", "run", str(bad)],
                          capture_output=True, text=True, cwd=PROJECT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1


SAMPLES = PROJECT.parent / "shared" / "corpus" / "ebpf-samples"
needs_corpus = pytest.mark.skipif(not SAMPLES.is_dir(), reason="ebpf-samples corpus not found")


@needs_corpus
def test_run_kprobe_json_and_seeding_the_next_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    kmem = tmp_path / "kmem.json"
    kmem.write_text(json.dumps([{"address": "0xffffc90000010000", "hex": "67452381ffffffff",
                                 "symbol": "stack"}]))
    args = ["run", str(SAMPLES / "linux/tracex2_kern.o"), "--section", "kprobe/kfree_skb",
            "--regs", "sp=0xffffc90000010000", "--kmem", str(kmem), "--json"]
    code, out, _ = run_cli(capsys, *args)
    assert code == 0
    first = json.loads(out)
    assert (first["r0"], first["stored"], first["fault"]) == (0, False, None)
    assert first["maps"][0] == {"name": "my_map", "index": 0, "type": "hash",
                                "entries": [{"key": "67452381ffffffff", "value": "0100000000000000"}]}
    previous = tmp_path / "previous.json"
    previous.write_text(out)
    code, out, _ = run_cli(capsys, *args, "--maps", str(previous))
    assert json.loads(out)["maps"][0]["entries"] == [{"key": "67452381ffffffff", "value": "0200000000000000"}]


@needs_corpus
def test_run_kprobe_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "run", str(SAMPLES / "linux/trace_output_kern.o"), "--regs", "di=1")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "r0 = 0x0 (0)" and lines[2] == "event dropped (r0 = 0)"
    assert lines[3].startswith("output: perf_event_output: map=my_map cpu=0 data=")


@needs_corpus
def test_run_kprobe_trace(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "run", str(SAMPLES / "linux/tracex4_kern.o"), "--section",
                           "kprobe/kmem_cache_free", "--regs", "si=0x10", "--trace")
    assert code == 0
    assert out.splitlines()[0] == "    0: r1 = *(u64 *)(r1 +104)  ; r1=0x10 r10=0xffffc90000000200"


def test_trace_shows_a_local_call_before_its_callee(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "call.s"
    source.write_text("r1 = 1\ncall f\nr0 = 0\nexit\nf: r0 = 2\nexit\n")
    code, out, _ = run_cli(capsys, "run", str(source), "--trace")
    assert code == 0
    assert [line.split(":")[0].strip() for line in out.splitlines()[:6]] == ["0", "1", "4", "5", "2", "3"]


@needs_corpus
@pytest.mark.parametrize("extra,phrase", [
    (["--regs", "zz=1"], "pt_regs has no register 'zz'"),
    (["--regs", "di"], "needs the form NAME=VALUE"),
    (["--cpu", "3"], "--cpu 3 is not one of the 1 CPUs"),
    (["--kmem", "/nonexistent.json"], "cannot read /nonexistent.json"),
    (["--section", "nope"], "no program matches --section nope"),
])
def test_run_kprobe_bad_input(capsys: pytest.CaptureFixture[str], extra: list[str], phrase: str) -> None:
    code, out, err = run_cli(capsys, "run", str(SAMPLES / "linux/tracex4_kern.o"),
                             *(["--section", "kprobe/kmem_cache_free"] if "--section" not in extra else []), *extra)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and phrase in err


@needs_corpus
def test_run_kprobe_bad_maps_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    maps = tmp_path / "maps.json"
    maps.write_text(json.dumps([{"name": "my_map", "entries": [{"key": "01", "value": "02"}]}]))
    code, _, err = run_cli(capsys, "run", str(SAMPLES / "linux/tracex4_kern.o"), "--section",
                           "kprobe/kmem_cache_free", "--maps", str(maps))
    assert code == 2 and "key 01 has 1 bytes, the map's keys have 8" in err


@needs_corpus
def test_disasm_object_lists_programs_and_maps(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "disasm", str(SAMPLES / "new_linux/tracex2_kern.o"), "--section", "bpf_prog2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "tracex2_kern.o: 2 programs, 2 maps, license GPL, kern_version 0x50f00"
    assert "  map 0: my_map hash key 8 value 8 entries 1024 (btf)" in lines
    assert "; int bpf_prog2(struct pt_regs *ctx) @ tracex2_kern.c:26" in lines
    assert "   10: r1 = map[my_map] ll" in lines
    assert "   13: call bpf_map_lookup_elem#1" in lines
    code, out, _ = run_cli(capsys, "disasm", str(SAMPLES / "new_linux/tracex2_kern.o"), "--json")
    programs = json.loads(out)["programs"]
    assert [(p["name"], p["prog_type"], p["insn_slots"]) for p in programs] == [
        ("bpf_prog2", "kprobe", 29), ("bpf_prog3", "kprobe", 89)]
    assert programs[0]["insns"][0]["source"]["line"] == 26


def test_check_example_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "check", str(PROJECT / "examples" / "count_writes.o"))
    assert code == 0
    assert out.startswith("kprobe/ksys_write:count_writes: accepted (24 insns")


def test_check_rejects_with_code_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    prog = tmp_path / "bad.s"
    prog.write_text("*(u64 *)(r1 +0) = 5\nr0 = 0\nexit\n")
    code, out, _ = run_cli(capsys, "check", str(prog), "--format", "json")
    assert code == 1
    program = json.loads(out)["programs"][0]
    assert program["verdict"] == "rejected"
    assert program["errors"][0]["pc"] == 0 and program["errors"][0]["code"] == "ctx-write"


def test_check_unchecked_lookup_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "check", str(PROJECT / "examples" / "unchecked_lookup.o"))
    assert code == 1
    first, finding = out.splitlines()[:2]  # (z3's judgement follows: test_report_text)
    assert first.startswith("kprobe/ksys_write:over_budget: rejected (13 insns, ")
    assert finding == (
        "  insn 8 (./examples/unchecked_lookup.c:24): possible-null-dereference: 8-byte read through r0, which may "
        "be NULL (map_value_or_null); compare r0 with 0 before dereferencing it")


def test_check_sarif(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "check", str(PROJECT / "examples" / "unchecked_lookup.o"), "--format", "sarif")
    assert code == 1
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    [result] = run["results"]
    assert result["ruleId"] == "possible-null-dereference" and rules[result["ruleIndex"]] == result["ruleId"]
    location = result["locations"][0]
    assert location["physicalLocation"] == {"artifactLocation": {"uri": "examples/unchecked_lookup.c"},
                                            "region": {"startLine": 24}}
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "kprobe/ksys_write:over_budget+8"
    assert run["properties"]["programs"] == [{"section": "kprobe/ksys_write", "name": "over_budget",
                                              "verdict": "rejected"}]
    code, out, _ = run_cli(capsys, "check", str(PROJECT / "examples" / "count_writes.o"), "--format", "sarif")
    assert code == 0 and json.loads(out)["runs"][0]["results"] == []


def test_reading_uninitialised_stack_is_a_warning(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The kernel lets privileged programs read stack they did not write: accepted with a warning, in every
    format; --strict (the rules for unprivileged programs) makes it an error."""
    prog = tmp_path / "padding.s"
    prog.write_text("r0 = *(u64 *)(r10 -8)\nexit\n")
    code, out, _ = run_cli(capsys, "check", str(prog))
    assert code == 0
    assert out.splitlines()[1] == ("  insn 0: warning: stack-uninitialised-read: 8-byte read at stack offset -8 reads "
                                   "byte -8, which is not initialised on some path to here; write it first")
    code, out, _ = run_cli(capsys, "check", str(prog), "--format", "json")
    program = json.loads(out)["programs"][0]
    assert code == 0 and program["verdict"] == "accepted" and program["errors"] == []
    assert [(w["code"], w["severity"]) for w in program["warnings"]] == [("stack-uninitialised-read", "warning")]
    code, out, _ = run_cli(capsys, "check", str(prog), "--format", "sarif")
    [result] = json.loads(out)["runs"][0]["results"]
    assert code == 0 and result["level"] == "warning"
    code, out, _ = run_cli(capsys, "check", str(prog), "--strict")
    assert code == 1 and "rejected" in out and "  insn 0: stack-uninitialised-read: " in out


def test_check_resource_limit_is_unknown(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    prog = tmp_path / "long.s"
    prog.write_text("r0 = 0\n" + "r0 += 1\n" * 3000 + "exit\n")
    code, out, _ = run_cli(capsys, "check", str(prog), "--max-work", "100")
    assert code == 3
    assert "unknown" in out and "--max-work" in out


def test_check_linux_4_1_profile(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    prog = tmp_path / "time.s"
    prog.write_text("call 14\nexit\n")  # get_current_pid_tgid arrived in Linux 4.2
    binary = tmp_path / "time.bin"
    run_cli(capsys, "asm", str(prog), "-o", str(binary))
    (tmp_path / "time.json").write_text(json.dumps({"prog_type": 2, "license": "GPL", "kern_version": 0x40100}))
    code, out, _ = run_cli(capsys, "check", str(binary), "--profile", "linux-4.1", "--kern-version", "0x40100")
    assert code == 1 and "unknown-helper" in out and "kern-version" not in out
    assert "    linux-4.1 kernel: invalid func 14" in out.splitlines()
    code, out, _ = run_cli(capsys, "check", str(prog), "--profile", "linux-4.1")
    assert "kern-version-mismatch" in out  # an assembly file declares no version


def test_check_memory_budget(tmp_path: Path) -> None:
    # a subprocess: the budget is a process limit. It is counted on top of what is already in
    # use, so 100 MB is plenty here, and 1 MB runs out: one line, exit 3 (unknown)
    prog = tmp_path / "branches.s"
    prog.write_text("r0 = 0\n" + "".join(f"r{2 + i % 7} = {i}\n*(u64 *)(r10 -{8 + 8 * (i % 60)}) = r{2 + i % 7}\n"
                                          f"if r{2 + i % 7} > {i % 5} goto +1\nr0 += 1\n" for i in range(1000)) + "exit\n")
    def check(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "verifier.cli", "check", str(prog), *extra],
                              capture_output=True, text=True, timeout=120, cwd=PROJECT)
    roomy = check("--max-memory", "400")
    assert roomy.returncode == 0 and "accepted" in roomy.stdout
    tight = check("--max-memory", "1")
    assert tight.returncode == 3
    assert tight.stdout.splitlines()[1] == "  unknown: the analysis used more than its 1 MB of memory (raise --max-memory)"


def test_check_rejects_a_bad_memory_budget(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "check", str(PROJECT / "examples" / "count_writes.o"), "--max-memory", "0")
    assert code == 2 and err == "bpfverify: usage error: --max-memory 0: give a positive number of megabytes\n"


def test_check_names_why_a_loop_is_unbounded(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    prog = tmp_path / "loop.s"
    prog.write_text("r2 = *(u64 *)(r1 +112)\nr0 = 0\nl: r0 += 1\nif r0 != r2 goto l\nexit\n")
    code, out, _ = run_cli(capsys, "check", str(prog), "--max-unroll", "200")
    assert code == 1
    assert out.splitlines()[1] == (
        "  insn 3: unbounded-loop: the loop at insn 2 may not terminate: no exit was found within 101 iterations "
        "(200 instruction steps; --max-unroll follows longer loops): r0 steps by +1 (now 0x65); the loop leaves only "
        "through insn 3 `if r0 != r2 goto -2` (r0 is 0x65, r2 is scalar); bound it with a counter that the loop "
        "condition checks against a constant")


@pytest.mark.parametrize("option", ["--max-unroll", "--max-work", "--timeout"])
def test_check_refuses_non_positive_budgets(capsys: pytest.CaptureFixture[str], option: str) -> None:
    code, _, err = run_cli(capsys, "check", str(PROJECT / "examples" / "count_writes.o"), option, "0")
    wanted = "give a number of seconds above 0" if option == "--timeout" else "give a positive number"
    assert code == 2 and err.startswith(f"bpfverify: usage error: {option} 0: {wanted}")


def test_cfg_json_and_dot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    prog = tmp_path / "loop.s"
    prog.write_text("r0 = 0\nr1 = 4\nl: r0 += 1\nr1 -= 1\nif r1 != 0 goto l\nexit\n")
    code, out, _ = run_cli(capsys, "cfg", str(prog), "--format", "json")
    main = json.loads(out)["functions"][0]
    assert code == 0 and main["back_edges"] == [[2, 2]] and main["loops"] == {"2": [2]}
    code, out, _ = run_cli(capsys, "cfg", str(prog), "--format", "dot")
    assert out.startswith("digraph cfg {") and "constraint=false" in out


@pytest.mark.parametrize("argv,phrase", [
    ([], "the following arguments are required: COMMAND"),
    (["frob"], "invalid choice: 'frob'"),
    (["check", "x.o", "--profile", "linux-5"], "invalid choice: 'linux-5'"),
    (["check", str(EXAMPLE.parent / "count_writes.o"), "--kern-version", "abc"], "--kern-version abc is not an integer"),
])
def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], phrase: str) -> None:
    code = main(argv)
    _, err = capsys.readouterr()
    assert code == 2 and len(err.splitlines()) == 1 and phrase in err


def test_check_imports_only_what_checking_needs() -> None:
    """`check` of an accepted object starts without z3 (no alarm to judge, no loop to bound), the
    JSON Schema validator, the table printer, the assemblers, the kprobe runtime or the kernel probes:
    those are the slowest imports, and each command that needs one imports it."""
    script = ("import sys\nfrom verifier.cli import main\n"
              f"code = main(['check', {str(PROJECT / 'examples' / 'count_writes.o')!r}])\n"
              "heavy = ('z3', 'jsonschema', 'tabulate', 'interp.asm.kernel_syntax', 'interp.kprobe',\n"
              "         'interp.kernel.probes', 'verifier.smt', 'verifier.linux41.walk', 'verifier.explain')\n"
              "print(code, [m for m in heavy if m in sys.modules])\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines()[-1] == "0 []", done.stderr


def test_check_section_of_an_object_with_a_bad_section_is_bad_input(tmp_path: Path) -> None:
    """An error of a module loaded on the way (the loader's) is still bad input: one line, exit 2."""
    broken = tmp_path / "broken.o"
    broken.write_bytes(b"\x7fELF" + bytes(60))
    done = subprocess.run([sys.executable, "-m", "verifier.cli", "check", str(broken), "--section", "kprobe/x"],
                          cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("bpfverify: error: ") and done.stderr.count("\n") == 1
