"""`bpfverify kernel check`, `bpfverify kernel attach` and `bpfverify check --compare-kernel` as a
user runs them: the kernel's verdict beside ours, refusals, and one line where bpf() is refused."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

import interp.kernel
from interp.kernel import load as kernel_load
from interp.kernel.probes import PMU_ROOT, TRACEFS_ROOTS
from verifier.cli import main

PROJECT = Path(__file__).resolve().parent.parent
COUNT_WRITES = str(PROJECT / "examples" / "count_writes.o")
UNCHECKED = str(PROJECT / "examples" / "unchecked_lookup.o")
COSTS = r"\(processed \d+ insns, \d+ states, \d+ us\)"

TARGET = """
#include <stdlib.h>
long f(long a, long b) { return a + b; }
int main(int argc, char **argv) { return f(argc > 1 ? atol(argv[1]) : 1, 2) == 0; }
"""
COUNTER = """
struct { __uint(type, 2); __uint(max_entries, 1); __type(key, u32); __type(value, u64); } calls SEC(".maps");
SEC("uprobe/f") int count_calls(struct pt_regs *ctx) {
    u32 key = 0;
    u64 *v = bpf_map_lookup_elem(&calls, &key);
    if (v) __sync_fetch_and_add(v, 1);
    return 0;
}"""


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def target(compile_native: Callable[[str, str], Path]) -> Path:
    return compile_native("probed", TARGET)


@pytest.fixture
def uninitialised_read(tmp_path: Path) -> str:
    """A program the kernel accepts (privileged) and bpfverify refuses under --strict: it reads stack never written."""
    path = tmp_path / "stale.s"
    path.write_text("r0 = *(u64 *)(r10 -8)\nexit\n")
    return str(path)


# -- kernel check -----------------------------------------------------------------------------------


@pytest.mark.kernel
def test_kernel_check_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "kernel", "check", COUNT_WRITES)
    lines = out.splitlines()
    assert code == 0 and err == ""
    assert re.fullmatch(rf"kprobe/ksys_write:count_writes: kernel accepted {COSTS}", lines[0]), lines[0]
    assert re.fullmatch(r"  stats: processed \d+ insns, max_states_per_insn \d+, total_states \d+, peak_states \d+, "
                        r"verification time \d+ us, stack depth 16", lines[1]), lines[1]
    assert lines[2] == "  log:" and lines[-1].startswith("    processed ")


@pytest.mark.kernel
def test_kernel_check_rejected_prints_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "kernel", "check", UNCHECKED)
    lines = out.splitlines()
    assert code == 1
    assert re.fullmatch(rf"kprobe/ksys_write:over_budget: kernel rejected \(EACCES\): R0 invalid mem access "
                        rf"'map_value_or_null' {COSTS}", lines[0]), lines[0]
    assert "    8: (79) r1 = *(u64 *)(r0 +0)" in lines
    code, out, _ = run_cli(capsys, "kernel", "check", UNCHECKED, "--json")
    entry = json.loads(out)["programs"][0]
    assert (entry["verdict"], entry["errno"], entry["stats"]["processed_insns"]) == ("rejected", "EACCES", 8)


def test_kernel_check_refused_bpf_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                              uninitialised_read: str) -> None:
    reason = "bpf() is not permitted here (BPF_PROG_LOAD: Operation not permitted (EPERM))"
    monkeypatch.setattr(kernel_load, "unavailable_reason", lambda: reason)
    monkeypatch.setattr(interp.kernel, "unavailable_reason", lambda: reason)
    assert run_cli(capsys, "kernel", "check", COUNT_WRITES) == (2, "", f"bpfverify: kernel: {reason}\n")
    code, out, err = run_cli(capsys, "check", "--strict", "--compare-kernel", uninitialised_read)
    assert code == 1 and out.startswith("stale: rejected") and err == f"bpfverify: kernel not asked: {reason}\n"


# -- check --compare-kernel -------------------------------------------------------------------------


@pytest.mark.kernel
def test_check_compare_kernel_agreeing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "check", "--compare-kernel", UNCHECKED)
    lines = out.splitlines()
    assert code == 1
    assert lines[0].startswith("kprobe/ksys_write:over_budget: rejected")
    assert "possible-null-dereference" in lines[1]
    assert re.fullmatch(rf"  kernel: rejected \(EACCES\): R0 invalid mem access 'map_value_or_null' {COSTS}",
                        lines[2]), lines[2]
    assert len(lines) == 3


@pytest.mark.kernel
def test_check_compare_kernel_marks_disagreements(capsys: pytest.CaptureFixture[str], uninitialised_read: str) -> None:
    code, out, _ = run_cli(capsys, "check", "--strict", "--compare-kernel", uninitialised_read)
    lines = out.splitlines()
    assert code == 1
    assert re.fullmatch(rf"  kernel: accepted {COSTS}", lines[-2]), lines[-2]
    assert lines[-1] == "  DISAGREEMENT (ours-stricter): bpfverify rejects a program the kernel accepts"
    code, out, _ = run_cli(capsys, "check", "--strict", "--compare-kernel", "--format", "json",
                             uninitialised_read)
    entry = json.loads(out)["programs"][0]
    assert (entry["verdict"], entry["kernel"]["verdict"], entry["agreement"]) == ("rejected", "accepted",
                                                                                  "ours-stricter")
    assert entry["errors"][0]["code"] == "stack-uninitialised-read"


def test_check_compare_kernel_is_not_sarif(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "check", "--compare-kernel", "--format", "sarif", COUNT_WRITES)
    assert (code, out) == (2, "")
    assert err == "bpfverify: usage error: --compare-kernel prints text or json, not sarif\n"


# -- kernel attach ----------------------------------------------------------------------------------


def test_attach_refuses_what_check_rejects(capsys: pytest.CaptureFixture[str], target: Path) -> None:
    code, out, err = run_cli(capsys, "kernel", "attach", UNCHECKED, "--uprobe", f"{target}:f", "--duration", "0.1")
    assert (code, out) == (1, "")
    assert err.splitlines()[0] == "kprobe/ksys_write:over_budget: rejected by bpfverify (linux-6.18)"
    assert err.splitlines()[-1] == ("bpfverify: refused to load a program bpfverify did not accept "
                                    "(--force loads it anyway)")


@pytest.mark.kernel
def test_attach_force_loads_and_prints_the_kernels_verdict(capsys: pytest.CaptureFixture[str], target: Path,
                                                           uninitialised_read: str) -> None:
    code, out, err = run_cli(capsys, "kernel", "attach", UNCHECKED, "--uprobe", f"{target}:f", "--force")
    assert (code, out) == (1, "")
    assert "bpfverify: --force: loading a program bpfverify rejected" in err.splitlines()
    assert any(re.fullmatch(rf"kernel: rejected \(EACCES\): R0 invalid mem access 'map_value_or_null' {COSTS}", line)
               for line in err.splitlines()), err
    # the kernel accepts this one: it is attached, and detached after the duration
    code, out, err = run_cli(capsys, "kernel", "attach", uninitialised_read, "--uprobe", f"{target}:f", "--force",
                             "--duration", "0.2")
    assert code == 0, err
    report = json.loads(out)
    assert report["kernel"]["verdict"] == "accepted" and report["maps"] == []
    assert re.search(rf"^kernel: accepted {COSTS}$", err, re.MULTILINE)


@pytest.mark.kernel
def test_attach_counts_firings_and_prints_the_maps(capsys: pytest.CaptureFixture[str], target: Path,
                                                   compile_bpf: Callable[[str, str], Path]) -> None:
    obj = compile_bpf("count_calls", COUNTER)
    outcome: dict[str, int] = {}
    attach = threading.Thread(target=lambda: outcome.setdefault("code", main(
        ["kernel", "attach", str(obj), "--uprobe", f"{target}:f", "--count", "3", "--duration", "30"])))
    attach.start()
    while attach.is_alive():  # call f until the command has seen three firings
        subprocess.run([str(target), "5"], check=False)
        time.sleep(0.05)
    out, err = capsys.readouterr()
    assert outcome["code"] == 0, err
    report = json.loads(out)
    assert report["program"] == "uprobe/f:count_calls" and report["attached_to"].startswith(f"uprobe {target}:f")
    assert report["firings"] >= 3
    (calls,) = report["maps"]
    assert calls["name"] == "calls" and calls["type"] == "array"
    assert int.from_bytes(bytes.fromhex(calls["entries"][0]["value"]), "little") >= report["firings"]
    assert re.search(r"^detached after [\d.]+ s; fired \d+ times$", err, re.MULTILINE)


@pytest.mark.parametrize("argv, message", [
    (["--uprobe", "/no/such/binary:f"], "bpfverify: usage error: --uprobe /no/such/binary:f: no such file /no/such/binary"),
    (["--uprobe", "f"], "bpfverify: usage error: --uprobe f: give BINARY:SYMBOL (or BINARY:0xOFFSET)"),
    (["--uprobe", "/bin/true:f", "--count", "0"], "bpfverify: usage error: --count 0: give a positive number of firings"),
])
def test_attach_bad_arguments_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert run_cli(capsys, "kernel", "attach", COUNT_WRITES, *argv) == (2, "", message + "\n")


@pytest.mark.kernel
def test_attach_to_a_missing_function_or_kprobe(capsys: pytest.CaptureFixture[str], target: Path) -> None:
    code, out, err = run_cli(capsys, "kernel", "attach", COUNT_WRITES, "--uprobe", f"{target}:nothing")
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == f"bpfverify: {target} has no function 'nothing' in its symbol tables"
    if (PMU_ROOT / "kprobe").exists() or any((root / "kprobe_events").exists() for root in TRACEFS_ROOTS):
        return  # this kernel has kprobes; attaching to ksys_write would really probe it
    code, out, err = run_cli(capsys, "kernel", "attach", COUNT_WRITES)  # the section's kprobe/ksys_write
    assert (code, out) == (2, "")
    assert err.splitlines()[-1].startswith("bpfverify: this kernel has no kprobes (no kprobe PMU and no tracefs")
