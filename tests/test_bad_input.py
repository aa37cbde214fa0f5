"""Bad input of every kind ends in one line and exit 2 (or a fault, for a program), within the
command's limits: each class of input that once crashed, hung or took gigabytes, with the exact
input that showed it and others of its class."""

from __future__ import annotations

import dataclasses
import json
import struct
import sys
import time
from pathlib import Path

import pytest

from interp.asm.kernel_syntax import assemble
from interp.isa.insn import encode
from interp.kprobe import KprobeSession, PerfEvent
from interp.map_limits import creation_error
from interp.program import MapDef, Program
from interp.world import Environment
from verifier.cli import main

PROJECT = Path(__file__).resolve().parent.parent
KPROBE = str(PROJECT / "examples" / "count_writes.o")
LOOKUP = """
        r1 = 0
        *(u32 *)(r10 -4) = r1
        r2 = r10
        r2 += -4
        r1 = map[idx:0] ll
        call 1
        if r0 == 0 goto out
        r1 = 1
        *(u64 *)(r0 +0) = r1
out:    r0 = 0
        exit"""


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def bad_input(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one line a command refused its input with (exit 2)."""
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == "", (code, out, err)
    assert len(err.splitlines()) == 1 and err.startswith("bpfverify: "), err
    return err.strip()


def raw_program(tmp_path: Path, text: str, sidecar: object | str | None = None, name: str = "prog") -> str:
    (tmp_path / f"{name}.bin").write_bytes(encode(assemble(text)))
    if sidecar is not None:
        (tmp_path / f"{name}.json").write_text(sidecar if isinstance(sidecar, str) else json.dumps(sidecar))
    return str(tmp_path / f"{name}.bin")


# -- sidecars: one schema ------------------------------------------------------------------


@pytest.mark.parametrize("sidecar,message", [
    ({"prog_type": {}}, 'prog.json: prog_type must be a program type: a number of enum bpf_prog_type or a name '
                        'such as "kprobe", found {}'),
    ("[" * 100_000, "prog.json: not valid JSON: nested too deeply"),
    ('{"maps": ' + "[" * 5000 + "]" * 5000 + "}", "prog.json: not valid JSON: nested too deeply"),
    ({"prog_type": 1.0}, "prog.json: prog_type must be a program type"),
    ({"prog_type": True}, "prog.json: prog_type must be a program type"),
    ({"license": 5}, "prog.json: license must be a string of at most 128 characters, found 5"),
    ({"kern_version": -1}, "prog.json: kern_version must be an integer from 0 to 0xffffffff, found -1"),
    ({"mpas": []}, 'prog.json: unknown field "mpas" (known: kern_version, license, maps, prog_type)'),
    ({"maps": [{"type": 2, "key_size": 4.0, "value_size": 8, "max_entries": 1}]},
     "prog.json: maps[0].key_size must be an integer from 0 to 0xffffffff, found 4.0"),
    ({"maps": [{"type": 2, "key_size": 4, "value_size": 8, "max_entries": 1, "frozen": "yes"}]},
     'prog.json: maps[0].frozen must be true or false, found "yes"'),
    ({"maps": [{"type": 2, "key_size": 4, "value_size": 8}]}, "prog.json: maps[0]: missing field 'max_entries'"),
])
def test_sidecar_of_the_wrong_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str], sidecar: object,
                                    message: str) -> None:
    prog = raw_program(tmp_path, "r0 = 0\nexit", sidecar)
    for command in ("check", "run", "disasm", "cfg"):
        assert message in bad_input(capsys, command, prog)


# -- conformance files ----------------------------------------------------------------------


@pytest.mark.parametrize("result,message", [
    ("0xZZ", "malformed result section: '0xZZ' is not an integer"),
    ("0x1ffffffffffffffff", "malformed result section: 0x1ffffffffffffffff does not fit in 64 bits"),
])
def test_conformance_result_that_is_no_number(tmp_path: Path, capsys: pytest.CaptureFixture[str], result: str,
                                               message: str) -> None:
    path = tmp_path / "bad.data"
    path.write_text(f"-- asm\nmov %r0, 1\nexit\n-- result\n{result}\n")
    code, out, err = run_cli(capsys, "conformance", str(path))
    assert code == 0 and err == ""  # a malformed file is refused, as the suite's negative files are
    assert out.splitlines() == [f"refused  bad.data: bad.data: {message}", "1 passed, 0 failed"]
    assert bad_input(capsys, "run", str(path)) == f"bpfverify: error: bad.data: {message}"


def test_conformance_result_below_zero_is_twos_complement(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "minus.data"
    path.write_text("-- asm\nmov %r0, -1\nexit\n-- result\n-1\n")
    code, out, _ = run_cli(capsys, "conformance", str(path))
    assert code == 0 and out.strip() == "1 passed, 0 failed"


def test_conformance_file_that_cannot_be_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dir.data").mkdir()
    code, out, _ = run_cli(capsys, "conformance", str(tmp_path))
    assert code == 0 and out.splitlines()[0].startswith("refused  dir.data: cannot read ")


# -- the inputs of run --------------------------------------------------------------------------


@pytest.mark.parametrize("env,message", [
    ('{"pid":[1]}', 'env.json: pid must be an integer from 0 to 0xffffffff (a number, or a string "0x..."), found [1]'),
    ('{"__class__":1}', 'env.json: unknown field "__class__" (known: '
                        + ", ".join(sorted(f.name for f in dataclasses.fields(Environment) if f.init)) + ')'),
    ('{"next_ktime":1}', 'env.json: unknown field "next_ktime"'),
    ('{"under_cgroup":[1]}', 'env.json: under_cgroup must be an object {"INDEX": true or false}, found [1]'),
    ('{"perf_counters":5}', 'env.json: perf_counters must be an object {"INDEX": counter}, found 5'),
    ('{"perf_counters":{"x":1}}', 'env.json: perf_counters: key "x" must be a decimal index below 10^9'),
    ('{"under_cgroup":{"0":1}}', "env.json: under_cgroup.0 must be true or false, found 1"),
    ('{"ktime_ns":-5}', "env.json: ktime_ns must be an integer from 0 to 0xffffffffffffffff"),
    ('{"comm":"a-name-longer-than-15"}', "env.json: comm must be a string of at most 15 characters"),
    ('{"stack":' + json.dumps(list(range(200))) + "}", "env.json: stack must be a list of at most 127 addresses"),
    ('[1]', "env.json: the document must be a JSON object, found [1]"),
])
def test_run_env_of_the_wrong_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str], env: str, message: str) -> None:
    (tmp_path / "env.json").write_text(env)
    assert message in bad_input(capsys, "run", KPROBE, "--env", str(tmp_path / "env.json"))


def test_env_values_read_by_helpers_are_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # "next_ktime" was accepted as a field and replaced the method ktime_get_ns calls
    (tmp_path / "env.json").write_text('{"ktime_ns": "0xfffffffffffffff0", "time_step_ns": 32}')
    prog = raw_program(tmp_path, "call 5\ncall 5\nexit", {"prog_type": 2})
    code, out, _ = run_cli(capsys, "run", prog, "--env", str(tmp_path / "env.json"))
    assert code == 0 and out.startswith("r0 = 0x10 (16)")  # the clock wraps as a u64


@pytest.mark.parametrize("kmem,message", [
    ('[{"address":[1],"hex":"00"}]', "kmem.json: [0].address must be an integer from 0 to 0xffffffffffffffff"),
    ('[{"address":1,"hex":"0"}]', 'kmem.json: [0].hex must be whole hex bytes (two digits each), found "0"'),
    ('[{"address":1,"hex":"00","size":1}]', 'kmem.json: [0]: unknown field "size" (known: address, hex, symbol)'),
    ('[{"address":"0xffffffffffffffff","hex":"0000"}]', "kmem.json: [0]: 2 bytes at 0xffffffffffffffff run past"),
    ('[{"address":1,"hex":"0000"},{"address":2,"hex":"00"}]', "kmem.json: kernel memory at 0x2 (1 bytes) overlaps"),
    ('{"address":1}', "kmem.json: the document must be a list of at most 65536 chunks"),
])
def test_run_kmem_of_the_wrong_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str], kmem: str,
                                     message: str) -> None:
    (tmp_path / "kmem.json").write_text(kmem)
    assert message in bad_input(capsys, "run", KPROBE, "--kmem", str(tmp_path / "kmem.json"))


def test_many_kmem_chunks_load_in_linear_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 20,000 chunks took 20 s (each insertion rebuilt the list of starts); more did not end
    chunks = [{"address": hex(0xFFFF_8880_0000_0000 + 16 * i), "hex": "00" * 8} for i in range(20_000)]
    (tmp_path / "kmem.json").write_text(json.dumps(chunks[::-1]))
    start = time.monotonic()
    code, _, _ = run_cli(capsys, "run", KPROBE, "--kmem", str(tmp_path / "kmem.json"))
    assert code == 0 and time.monotonic() - start < 10
    (tmp_path / "many.json").write_text(json.dumps(chunks * 4))
    assert "the document must be a list of at most 65536 chunks" in bad_input(
        capsys, "run", KPROBE, "--kmem", str(tmp_path / "many.json"))


@pytest.mark.parametrize("maps,message", [
    ('[{"name":"bytes_by_pid"}]', "maps.json: [0]: missing field 'entries'"),
    ('[{"entries":[]}]', "maps.json: [0] must be an object"),
    ('[{"name":"bytes_by_pid","entries":[{"key":[1],"value":"00"}]}]', "maps.json: [0].entries[0].key must be"),
    ('[{"name":"bytes_by_pid","entries":[{"key":"00","value":{}}]}]', "maps.json: [0].entries[0].value must be"),
    ('[{"name":"bytes_by_pid","entries":[{"key":"00000000","value":"00"}]}]',
     "--maps " + "{dir}" + "/maps.json: map bytes_by_pid: value of key 00000000 has 1 bytes, the map's values have 8"),
    ('[{"name":"nope","entries":[]}]', '[0]: the program has no map "nope" (its maps: bytes_by_pid)'),
    ('{"r0": 1}', "maps.json: missing field 'maps'"),
])
def test_run_maps_of_the_wrong_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str], maps: str,
                                     message: str) -> None:
    (tmp_path / "maps.json").write_text(maps)
    err = bad_input(capsys, "run", KPROBE, "--maps", str(tmp_path / "maps.json"))
    assert message.replace("{dir}", str(tmp_path)) in err


@pytest.mark.parametrize("argv,message", [
    (["--regs", "ax=1\n2"], "bpfverify: usage error: --regs: register ax: '1\\n2' is not an integer"),
    (["--ncpus", "1000000000"], "--ncpus 1000000000: give a number of CPUs from 1 to 8192"),
    (["--ncpus", "0"], "--ncpus 0: give a number of CPUs from 1 to 8192"),
    (["--cpu", "-1"], "--cpu -1 is not one of the 1 CPUs"),
    (["--timeout", "nan"], "--timeout nan: give a number of seconds above 0"),
    (["--timeout", "1e30"], "--timeout 1e+30: give a number of seconds above 0 and at most 1e+06"),
    (["--budget", "0"], "--budget 0: give a positive number of instructions"),
    (["--max-memory", "-1"], "--max-memory -1: give a positive number of megabytes"),
    (["--max-entries", "-1"], "--max-entries -1: give a number of entries, 0 or more"),
])
def test_run_options_out_of_range(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert message in bad_input(capsys, "run", KPROBE, *argv)


# -- map sizes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("prog_type", [2, 1])
@pytest.mark.parametrize("max_entries,value_size,message", [
    (4294967295, 8, "maps[0]: max_entries 4294967295 of 8-byte values need 34359738360 bytes, more than the kernel "
                    "can allocate for a map (17179869184 bytes; ENOMEM)"),
    (1, 2**31, "maps[0]: value_size 2147483648 is larger than the kernel's limit for arrays, 2147483647 bytes (E2BIG)"),
])
def test_array_maps_the_kernel_would_not_create(tmp_path: Path, capsys: pytest.CaptureFixture[str], prog_type: int,
                                                max_entries: int, value_size: int, message: str) -> None:
    sidecar = {"prog_type": prog_type, "maps": [{"type": 2, "key_size": 4, "value_size": value_size,
                                                 "max_entries": max_entries}]}
    prog = raw_program(tmp_path, LOOKUP, sidecar)
    for command in ("check", "run", "disasm"):
        assert bad_input(capsys, command, prog) == f"bpfverify: error: prog.json: {message}"


def test_a_large_array_costs_only_the_elements_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 2^31 elements (16 GiB in the kernel, which creates it): the run touches one
    sidecar = {"prog_type": 2, "maps": [{"name": "big", "type": 2, "key_size": 4, "value_size": 8,
                                         "max_entries": 2**31}]}
    code, out, _ = run_cli(capsys, "run", raw_program(tmp_path, LOOKUP, sidecar), "--json")
    assert code == 0
    assert json.loads(out)["maps"] == [{"name": "big", "index": 0, "type": "array",
                                        "entries": [{"key": "00000000", "value": "0100000000000000"}]}]


def test_a_value_larger_than_the_run_may_hold_faults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sidecar = {"prog_type": 2, "maps": [{"name": "huge", "type": 2, "key_size": 4, "value_size": 2**31 - 1,
                                         "max_entries": 1}]}
    code, out, _ = run_cli(capsys, "run", raw_program(tmp_path, LOOKUP, sidecar))
    assert code == 1
    assert out.splitlines()[0] == (
        # (the stack frame's 512 bytes and the context's 168)
        "fault at insn 6 (call 1): memory-limit: map_lookup_elem: a value of map huge needs 2147483647 bytes, but "
        "the run already holds 680 bytes of its 128 MB (raise --max-memory)")


@pytest.mark.parametrize("mtype,key,value,entries,refused", [
    (2, 4, 2**31 - 1, 1, False), (2, 4, 2**31, 1, True),
    (1, 4, 4194248, 1, False), (1, 4, 4194304, 1, True), (1, 4, 8, 2**27, False), (1, 4, 8, 2**28, True),
    (6, 4, 32768, 1, False), (6, 4, 32769, 1, True), (5, 4, 32769, 1, True),
    (2, 4, 8, 2**31, False), (2, 4, 8, 2**32 - 1, True), (3, 4, 4, 2**32 - 1, True),
    (7, 4, 1016, 1, False), (7, 4, 1024, 1, True), (7, 4, 4096, 1, True), (7, 4, 12, 1, True),
])
def test_kernel_map_limits(mtype: int, key: int, value: int, entries: int, refused: bool) -> None:
    # as the running Linux 6.18 answered bpf(BPF_MAP_CREATE) for each (see tests below)
    assert (creation_error(MapDef("m", mtype, key, value, entries)) is not None) == refused


KERNEL_TOOLS = PROJECT.parent / "shared" / "tools"


@pytest.mark.kernel
@pytest.mark.parametrize("mtype,key,value,entries", [
    (2, 4, 2**31, 1), (1, 4, 4194304, 1), (1, 4, 4194248, 1), (1, 4, 8, 2**28), (6, 4, 32768, 1),
    (6, 4, 32769, 1), (5, 4, 32769, 1), (2, 4, 8, 2**32 - 1), (7, 4, 1016, 1), (7, 4, 1024, 1), (7, 4, 12, 1),
])
def test_kernel_map_limits_against_the_running_kernel(mtype: int, key: int, value: int, entries: int) -> None:
    if not (KERNEL_TOOLS / "kernel_verdict.py").is_file():
        pytest.skip("shared/tools/kernel_verdict.py not found")
    sys.path.insert(0, str(KERNEL_TOOLS))
    import os

    from kernel_verdict import create_map  # type: ignore[import-not-found]

    try:
        os.close(create_map({"type": mtype, "key_size": key, "value_size": value, "max_entries": entries}))
        created = True
    except PermissionError:
        pytest.skip("bpf() is not permitted here")
    except OSError:
        created = False
    assert (creation_error(MapDef("m", mtype, key, value, entries)) is None) == created


# -- helper sizes -----------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["-1", "-8", "0x7fffffffffffffff ll", "0x7fffffff", "0xffffffff ll"])
@pytest.mark.parametrize("helper,program", [
    ("get_current_comm", "r1 = r10\nr1 += -16\nr2 = {size}\ncall 16\nr0 = 0\nexit"),
    ("get_stack", "r6 = r1\nr2 = r10\nr2 += -64\nr3 = {size}\nr4 = 0\nr1 = r6\ncall 67\nr0 = 0\nexit"),
    ("probe_read", "r1 = r10\nr1 += -16\nr2 = {size}\nr3 = 0\ncall 4\nr0 = 0\nexit"),
    ("trace_printk", "r1 = r10\nr1 += -16\nr2 = {size}\ncall 6\nr0 = 0\nexit"),
    ("ringbuf_output", "r1 = map[idx:0] ll\nr2 = r10\nr2 += -16\nr3 = {size}\nr4 = 0\ncall 130\nr0 = 0\nexit"),
])
def test_helper_sizes_outside_the_contract_fault(tmp_path: Path, capsys: pytest.CaptureFixture[str], helper: str,
                                                 program: str, size: str) -> None:
    sidecar = {"prog_type": 2, "maps": [{"type": 27, "key_size": 0, "value_size": 0, "max_entries": 4096}]}
    start = time.monotonic()
    code, out, _ = run_cli(capsys, "run", raw_program(tmp_path, program.format(size=size), sidecar))
    assert code == 1 and time.monotonic() - start < 5
    shown = int(size.split()[0], 0)
    register = "r3" if helper in ("get_stack", "ringbuf_output") else "r2"
    assert f"helper-argument: {helper}: size {register} = {shown} is outside the helper's range" in out


def test_helper_memory_is_checked_before_it_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "run", raw_program(tmp_path, "r1 = r10\nr1 += -16\nr2 = 32\ncall 16\nexit",
                                                      {"prog_type": 2}))
    assert code == 1 and out.splitlines()[0] == (
        "fault at insn 3 (call 16): helper-argument: get_current_comm: r1 = 0xffffc900000001f0 must point to 32 "
        "writable bytes: 32-byte write at stack+496 runs past the end of the 512-byte stack; keep offset+size <= 512")


def test_get_stack_refuses_a_size_that_is_no_multiple_of_8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prog = raw_program(tmp_path, "r6 = r1\nr2 = r10\nr2 += -64\nr3 = 12\nr4 = 0\nr1 = r6\ncall 67\nexit",
                       {"prog_type": 2})
    code, out, _ = run_cli(capsys, "run", prog)
    assert code == 0 and out.startswith(f"r0 = {(-22) & (2**64 - 1):#x}")  # -EINVAL, the buffer cleared


# -- time limits on large programs -----------------------------------------------------------------


def straight_line(tmp_path: Path, count: int) -> str:
    body = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x07, 0, 0, 1) * (count - 2) + \
        struct.pack("<BBhi", 0x95, 0, 0, 0)
    (tmp_path / "long.bin").write_bytes(body)
    return str(tmp_path / "long.bin")


def branchy(tmp_path: Path, count: int) -> str:
    # if r0 > 5 goto +1; r0 += 1; ...: a block every two instructions
    pair = struct.pack("<BBhi", 0x25, 0, 1, 5) + struct.pack("<BBhi", 0x07, 0, 0, 1)
    body = struct.pack("<BBhi", 0xB7, 0, 0, 0) + pair * ((count - 2) // 2) + struct.pack("<BBhi", 0x95, 0, 0, 0)
    (tmp_path / "branchy.bin").write_bytes(body)
    return str(tmp_path / "branchy.bin")


def test_check_deadline_covers_the_whole_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the CFG of this program takes longer than the limit: it was built before the clock started
    program = branchy(tmp_path, 300_000)
    start = time.process_time()  # --timeout counts CPU time: how busy the machine is does not matter
    code, out, _ = run_cli(capsys, "check", program, "--timeout", "1")
    elapsed = time.process_time() - start
    assert code == 3 and elapsed < 1 + 2.5, elapsed
    assert out.splitlines()[0].startswith("branchy: unknown (300000 insns, ")


def test_run_of_a_long_function(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "run", straight_line(tmp_path, 60_000))
    assert code == 0 and out.splitlines()[:2] == ["r0 = 0xea5e (59998)", "insns executed: 60000"]


def test_run_time_limit_covers_translation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = branchy(tmp_path, 300_000)
    start = time.process_time()
    code, out, err = run_cli(capsys, "run", program, "--timeout", "1")
    assert code == 3 and out == "" and time.process_time() - start < 1 + 2.5
    assert err == f"bpfverify: {tmp_path / 'branchy.bin'}: the run ran past the command's 1 s time limit (raise --timeout)\n"


def test_a_time_limit_that_a_destructor_swallows_prints_no_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The timer's exception can land in a __del__ (z3's, often), which swallows it and has Python
    print it as "Exception ignored"; the next signal raises it again, so it is not shown. Other
    exceptions a destructor swallows still go to the hook there was before."""
    from verifier.cli_common import TimeLimit, time_limit

    shown: list[type] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda args: shown.append(args.exc_type))

    class Dying:
        def __init__(self, error: Exception) -> None:
            self.error = error

        def __del__(self) -> None:
            raise self.error

    with time_limit(60, "the analysis", 60):
        Dying(TimeLimit("the limit, swallowed"))  # (dropped at once: its __del__ raises into nowhere)
        Dying(ValueError("a bug of its own"))
    assert shown == [ValueError]


def test_a_command_that_waits_is_cut_short_on_the_wall_clock(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Waiting costs no CPU time, so the CPU-time limit would never end it: a wall-clock backstop
    (here 1 x the limit plus nothing, WALL_FACTOR x plus WALL_EXTRA_S seconds in use) does."""
    from verifier import cli, cli_common

    monkeypatch.setattr(cli_common, "WALL_FACTOR", 1)
    monkeypatch.setattr(cli_common, "WALL_EXTRA_S", 0.0)
    monkeypatch.setattr(cli, "read_program", lambda *_args: time.sleep(60))  # a pipe that never ends
    start = time.monotonic()
    code, out, err = run_cli(capsys, "check", str(tmp_path / "stuck.o"), "--timeout", "0.5")
    assert code == 3 and out == "" and time.monotonic() - start < 5
    assert err == (f"bpfverify: {tmp_path / 'stuck.o'}: unknown: loading the program waited 1 s of wall time, more "
                   "than 1 times the command's 0.5 s time limit of CPU time (raise --timeout)\n")


# -- ring buffer flags ----------------------------------------------------------------------------


@pytest.mark.parametrize("flags,reserved", [(0, True), (1, False), (2, False), (0xFFFFFFFF, False)])
def test_ringbuf_reserve_refuses_any_flags(flags: int, reserved: bool) -> None:
    # bpf_ringbuf_reserve returns NULL for any non-zero flags
    insns = assemble(f"r1 = map[idx:0] ll\nr2 = 16\nr3 = {flags:#x} ll\ncall 131\nif r0 == 0 goto out\n"
                     "r1 = r0\nr2 = 0\ncall 132\nr0 = 1\nout:\nexit")
    ring = MapDef("events", 27, 0, 0, 4096)
    program = Program("p", "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns), [ring])
    session = KprobeSession([program])
    event = PerfEvent(session)
    event.set_bpf(0)
    assert event.fire(session.context({})).r0 == (1 if reserved else 0)
    assert len(session.output) == (1 if reserved else 0)


@pytest.mark.parametrize("flags,result", [(0, 0), (1, 0), (3, 0), (4, -22)])
def test_ringbuf_output_refuses_unknown_flags(flags: int, result: int) -> None:
    insns = assemble(f"r1 = map[idx:0] ll\nr2 = r10\nr2 += -8\nr3 = 0\n*(u64 *)(r10 -8) = r3\nr3 = 8\n"
                     f"r4 = {flags}\ncall 130\nexit")
    program = Program("p", "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns),
                      [MapDef("events", 27, 0, 0, 4096)])
    session = KprobeSession([program])
    event = PerfEvent(session)
    event.set_bpf(0)
    assert event.fire(session.context({})).r0 == result & (2**64 - 1)


def test_long_string_reads_are_read_a_stretch_at_a_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # probe_read_kernel_str of 4 MiB into a map value, from 4 MiB of kernel memory without a NUL
    program = LOOKUP.replace("r1 = 1\n        *(u64 *)(r0 +0) = r1",
                             "r1 = r0\n        r2 = 4194304\n        r3 = 0xffff888000000000 ll\n        call 115")
    sidecar = {"prog_type": 2, "license": "GPL", "maps": [
        {"name": "buf", "type": 2, "key_size": 4, "value_size": 4194304, "max_entries": 1}]}
    (tmp_path / "kmem.json").write_text(json.dumps([{"address": "0xffff888000000000", "hex": "41" * 4194304}]))
    start = time.monotonic()
    code, out, _ = run_cli(capsys, "run", raw_program(tmp_path, program, sidecar), "--kmem", str(tmp_path / "kmem.json"),
                           "--json")
    assert code == 0 and time.monotonic() - start < 10
    value = bytes.fromhex(json.loads(out)["maps"][0]["entries"][0]["value"])
    assert value == b"A" * 4194303 + b"\0"


def test_cfg_time_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = branchy(tmp_path, 300_000)
    start = time.process_time()
    code, out, err = run_cli(capsys, "cfg", program, "--format", "json", "--timeout", "1")
    assert code == 3 and out == "" and time.process_time() - start < 1 + 2.5
    assert err.startswith(f"bpfverify: {tmp_path / 'branchy.bin'}: ")
    assert err.endswith("time limit (raise --timeout)\n") and len(err.splitlines()) == 1


def test_check_of_a_map_key_outside_the_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # found by the fuzzer: a constant key pointer below the frame ended in "negative shift count"
    program = LOOKUP.replace("r2 += -4", "r2 += -21252")
    code, out, err = run_cli(capsys, "check", raw_program(tmp_path, program, {"prog_type": 2, "license": "GPL", "maps": [
        {"name": "counts", "type": 2, "key_size": 4, "value_size": 8, "max_entries": 4}]}))
    assert code == 1 and err == ""
    assert "helper-memory: map_lookup_elem: r2 (key of map counts, 4 bytes) points to stack bytes [-21252, -21248), outside the 512-byte stack" in out


def test_global_data_larger_than_the_run_may_hold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # found by the fuzzer: element 0 of global data is made before the program runs
    sidecar = {"prog_type": 2, "maps": [{"name": ".rodata", "type": 2, "key_size": 4, "value_size": 200 << 20,
                                         "max_entries": 1, "initial_value_hex": "", "frozen": True}]}
    sidecar["maps"][0]["initial_value_hex"] = "00" * (200 << 20)
    code, out, err = run_cli(capsys, "run", raw_program(tmp_path, "r0 = 0\nexit", sidecar))
    assert code == 3 and out == ""
    assert err == ("bpfverify: error: a value of map .rodata needs 209715200 bytes, but the run already holds 0 bytes "
                   "of its 128 MB (raise --max-memory)\n")
