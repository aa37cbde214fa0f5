"""Loading programs into the running kernel (`interp.kernel`): verdicts, errno, the whole log and
its statistics, maps created as loaders create them (.rodata frozen, initial values set), setup
errors named, and no file descriptor left open on any path. The log readers and the refusal
where bpf() is not permitted are tested without the kernel."""

from __future__ import annotations

import dataclasses
import errno
import os
from pathlib import Path
from typing import Callable

import pytest

from interp import kernel
from interp.asm.kernel_syntax import assemble
from interp.kernel import load as kernel_load
from interp.kernel.maps import KernelMaps
from interp.kernel.probes import ProbeError, attach_kprobe, attach_uprobe
from interp.loader import load_object
from interp.program import MapDef, Program, Relocation

PROJECT = Path(__file__).resolve().parents[2]
EXAMPLES = PROJECT / "examples"

FAILING_PATH_LOG = """\
0: R1=ctx() R10=fp0
; unsigned int pid = bpf_get_current_pid_tgid() >> 32; @ unchecked_lookup.c:20
0: (85) call bpf_get_current_pid_tgid#14      ; R0=scalar()
8: (79) r1 = *(u64 *)(r0 +0)
R0 invalid mem access 'map_value_or_null'
verification time 69 usec
stack depth 8
processed 8 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0
"""


def kprobe_program(asm: str, maps: list[MapDef] | None = None, name: str = "p") -> Program:
    insns = assemble(asm)
    return Program(name, "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns), maps or [],
                   license="GPL")


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


# -- the log, without the kernel ------------------------------------------------------------


def test_statistics_and_reason_are_read_from_the_log() -> None:
    stats = kernel.parse_stats(FAILING_PATH_LOG)
    assert (stats.processed_insns, stats.total_states, stats.peak_states, stats.verification_time_us,
            stats.stack_depth) == (8, 1, 1, 69, "8")
    assert kernel.first_reason(FAILING_PATH_LOG) == "R0 invalid mem access 'map_value_or_null'"
    # log level 0 (statistics only): the judgement stands alone
    assert kernel.first_reason("back-edge from insn 1 to 0\nprocessed 0 insns (limit 1000000) max_states_per_insn 0 "
                               "total_states 0 peak_states 0 mark_read 0\n") == "back-edge from insn 1 to 0"
    assert kernel.first_reason("") is None


def test_refused_bpf_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel_load, "_prog_load", lambda *args: (None, errno.EPERM, None))
    reason = kernel_load.unavailable_reason.__wrapped__()
    assert reason == ("bpf() is not permitted here (BPF_PROG_LOAD: Operation not permitted (EPERM)); it needs "
                      "root or CAP_BPF with CAP_PERFMON")
    monkeypatch.setattr(kernel_load, "unavailable_reason", lambda: reason)
    with pytest.raises(kernel.KernelUnavailable, match=r"^bpf\(\) is not permitted here"):
        kernel.kernel_verdict(kprobe_program("r0 = 0\nexit"))


# -- verdicts, logs and statistics ---------------------------------------------------------------


@pytest.mark.kernel
def test_accepted_program_with_statistics() -> None:
    verdict = kernel.kernel_verdict(load_object(EXAMPLES / "count_writes.o")[0])
    assert (verdict.verdict, verdict.errno, verdict.reason) == ("accepted", 0, None)
    assert verdict.stats.processed_insns is not None and verdict.stats.processed_insns >= 20
    assert verdict.stats.verification_time_us is not None and verdict.stats.stack_depth == "16"
    assert verdict.log.rstrip().splitlines()[-1].startswith(f"processed {verdict.stats.processed_insns} insns")


@pytest.mark.kernel
def test_rejected_program_errno_reason_and_failing_path() -> None:
    verdict = kernel.kernel_verdict(load_object(EXAMPLES / "unchecked_lookup.o")[0])
    assert (verdict.verdict, verdict.errno_name) == ("rejected", "EACCES")
    assert verdict.reason == "R0 invalid mem access 'map_value_or_null'"
    assert "8: (79) r1 = *(u64 *)(r0 +0)" in verdict.log.splitlines()  # log level 1: the failing path
    assert verdict.stats.processed_insns == 8


@pytest.mark.kernel
def test_the_log_buffer_grows_until_the_whole_log_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    # a counted loop at log level 2 writes a line per instruction walked: far more than 512 bytes
    program = kprobe_program("r0 = 0\nr1 = 40\nloop: r0 += r1\nr1 += -1\nif r1 != 0 goto loop\nexit")
    whole = kernel.kernel_verdict(program, log_level=2)
    assert whole.loads == 1 and len(whole.log) > 4096
    monkeypatch.setattr(kernel_load, "INITIAL_LOG_SIZE", 512)
    grown = kernel.kernel_verdict(program, log_level=2)
    assert grown.verdict == "accepted" and grown.loads > 1 and not grown.log_truncated
    without_time = [line for line in grown.log.splitlines() if not line.startswith("verification time")]
    assert without_time == [line for line in whole.log.splitlines() if not line.startswith("verification time")]


@pytest.mark.kernel
def test_bytecode_is_judged_as_it_stands() -> None:
    # r1 = 7 ll with a second slot whose opcode is not 0, then r0 = 0; exit: no `Program` can hold it
    lddw = bytes.fromhex("1801000007000000") + bytes.fromhex("0100000000000000")
    end = bytes.fromhex("b700000000000000") + bytes.fromhex("9500000000000000")
    verdict = kernel.bytecode_verdict(lddw + end, log_level=0)
    assert (verdict.verdict, verdict.errno_name, verdict.reason) == ("rejected", "EINVAL", "invalid bpf_ld_imm64 insn")
    assert kernel.bytecode_verdict(lddw[:8] + bytes(8) + end).accepted


@pytest.mark.kernel
def test_rodata_is_frozen_so_the_kernel_reads_its_constants(compile_bpf: Callable[[str, str], Path]) -> None:
    obj = compile_bpf("rodata_len", """
const volatile u32 len = 8;
SEC("kprobe/f") int copy(struct pt_regs *ctx) {
    char buf[8];
    bpf_probe_read_kernel(buf, len, (void *)ctx->di);
    return buf[0];
}""")
    program = load_object(obj)[0]
    assert kernel.kernel_verdict(program).verdict == "accepted"
    # the same map left writable and unfrozen: its value is any number, an unbounded size
    thawed = dataclasses.replace(program, maps=[dataclasses.replace(m, frozen=False) for m in program.maps])
    verdict = kernel.kernel_verdict(thawed)
    assert verdict.verdict == "rejected" and verdict.reason is not None and "R2" in verdict.reason


@pytest.mark.kernel
def test_global_data_holds_its_initial_values(compile_bpf: Callable[[str, str], Path]) -> None:
    obj = compile_bpf("globals", """
u64 counter = 0x1122334455667788;
u64 zeroed;
SEC("kprobe/f") int touch(struct pt_regs *ctx) { zeroed = counter + 1; return 0; }""")
    with kernel.load_program(load_object(obj)[0]) as loaded:
        assert loaded.verdict.accepted and loaded.maps is not None
        dumped = {d["name"]: d["entries"] for d in loaded.maps.dump()}
    assert dumped == {".data": [{"key": "00000000", "value": "8877665544332211"}],
                      ".bss": [{"key": "00000000", "value": "0000000000000000"}]}


@pytest.mark.kernel
def test_setup_errors_name_their_cause() -> None:
    unresolved = kprobe_program("call 1\nr0 = 0\nexit")
    unresolved.relocations.append(Relocation(0, "extern", "memset"))
    verdict = kernel.kernel_verdict(unresolved)
    assert (verdict.verdict, verdict.reason) == ("setup-error", "unresolved extern relocation at insn 0: memset")
    bad = MapDef("bad", 1, 0, 8, 4)  # a hash map with 0-byte keys
    verdict = kernel.kernel_verdict(kprobe_program("r1 = map[idx:0] ll\nr0 = 0\nexit", [bad]))
    assert (verdict.verdict, verdict.errno_name) == ("setup-error", "EINVAL")
    assert verdict.reason == ("map 'bad' (hash, key 0 B, value 8 B, 4 entries) could not be created: "
                              "BPF_MAP_CREATE: Invalid argument (EINVAL)")
    verdict = kernel.kernel_verdict(kprobe_program("r1 = map[idx:3] ll\nr0 = 0\nexit", [MapDef("a", 2, 4, 8, 1)]))
    assert (verdict.verdict, verdict.reason) == ("setup-error", "insn 0 refers to map 3, but the program has 1 maps")


@pytest.mark.kernel
def test_no_file_descriptor_outlives_a_load_or_attach(compile_bpf: Callable[[str, str], Path]) -> None:
    good = MapDef("good", 2, 4, 8, 4)
    bad = MapDef("bad", 1, 0, 8, 4)
    uses_both = "r1 = map[idx:0] ll\nr1 = map[idx:1] ll\nr0 = 0\nexit"
    tracepoint = dataclasses.replace(kprobe_program("r0 = 0\nexit"), prog_type="tracepoint", section="tracepoint/a/b")
    before = open_fds()
    for _ in range(2):
        assert kernel.kernel_verdict(load_object(EXAMPLES / "count_writes.o")[0]).accepted
        assert kernel.kernel_verdict(load_object(EXAMPLES / "unchecked_lookup.o")[0]).verdict == "rejected"
        assert kernel.kernel_verdict(kprobe_program(uses_both, [good, bad])).verdict == "setup-error"
        with pytest.raises(kernel_load.MapSetupError):
            KernelMaps(kprobe_program(uses_both, [good, bad]))
        with kernel.load_program(load_object(EXAMPLES / "count_writes.o")[0]) as loaded:
            assert loaded.prog_fd is not None
            with pytest.raises(ProbeError, match="has no function 'no_such_function'"):
                attach_uprobe(loaded.prog_fd, Path("/bin/true"), "no_such_function")
            with attach_uprobe(loaded.prog_fd, Path("/bin/true"), "0x0"):
                pass
            try:
                attach_kprobe(loaded.prog_fd, "ksys_write").close()
            except ProbeError:
                pass  # a kernel without kprobes (CONFIG_KPROBES off) says so
        with kernel.load_program(tracepoint) as loaded:  # a tracepoint program does not go on a uprobe
            assert loaded.prog_fd is not None
            with pytest.raises(ProbeError, match="cannot attach the program to uprobe"):
                attach_uprobe(loaded.prog_fd, Path("/bin/true"), "0x0")
    assert open_fds() == before
