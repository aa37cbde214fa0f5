"""`bpfverify corpus` as a user runs it: one row per program in table, CSV and JSON, filters and
sorting, a file that cannot be loaded or a worker that dies costing one row only, `--compare`
between two runs, and (where bpf() is allowed) the kernel's verdict beside ours."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
from pathlib import Path

import pytest

from verifier.cli import main
from verifier.workers import WorkerPool

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLES = str(PROJECT / "examples")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_rows_as_csv(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "corpus", EXAMPLES, "--format", "csv")
    assert code == 0
    rows = csv_rows(out)
    assert [(r["file"], r["section"], r["type"], r["verdict"], r["error"], r["alarms"]) for r in rows] == [
        ("count_writes.o", "kprobe/ksys_write:count_writes", "kprobe", "accepted", "", "0"),
        ("unchecked_lookup.o", "kprobe/ksys_write:over_budget", "kprobe", "rejected", "possible-null-dereference", "1"),
    ]
    assert rows[1]["detail"].startswith("8-byte read through r0, which may be NULL")
    assert float(rows[0]["time_s"]) >= 0 and rows[0]["insns"] == "24"
    assert re.fullmatch(r"2 programs from 2 files in [\d.]+ s \(1 jobs, profile linux-6.18\); 0 programs of other "
                        r"types not checked \(--types\)\nours: 1 accepted, 1 rejected, 0 unknown, 0 error\n", err), err


def test_table_filter_sort_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "corpus", EXAMPLES, "--filter", "verdict=rej*", "--jobs", "2")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["file", "section", "type", "insns", "verdict", "error", "time_s", "mem_mb", "alarms"]
    assert lines[2].split()[:6] == ["unchecked_lookup.o", "kprobe/ksys_write:over_budget", "kprobe", "13", "rejected",
                                    "possible-null-dereference"]
    assert lines[3] == "" and "1 rows kept by --filter" in lines
    code, out, _ = run_cli(capsys, "corpus", EXAMPLES, "--format", "csv", "--sort=-insns")
    assert [r["insns"] for r in csv_rows(out)] == ["24", "13"]
    code, out, _ = run_cli(capsys, "corpus", EXAMPLES, "--format", "csv", "--filter", "!count*", "--filter", "insns<20")
    assert [r["file"] for r in csv_rows(out)] == ["unchecked_lookup.o"]
    target = tmp_path / "run.json"
    assert run_cli(capsys, "corpus", EXAMPLES, "--format", "json", "-o", str(target))[:2] == (0, "")
    document = json.loads(target.read_text())
    assert document["profile"] == "linux-6.18" and [r["verdict"] for r in document["programs"]] == ["accepted",
                                                                                                    "rejected"]


@pytest.mark.parametrize("argv, message", [
    (["--filter", "nope=1"], "bpfverify: corpus: --filter nope=1: no column 'nope'; the columns are file, section, "
                             "type, insns, verdict, error, time_s, mem_mb, alarms, detail"),
    (["--filter", "insns>many"], "bpfverify: corpus: --filter insns>many: insns is a number, 'many' is not"),
    (["--sort", "speed"], "bpfverify: corpus: --sort speed: no column 'speed'; the columns are file, section, type, "
                          "insns, verdict, error, time_s, mem_mb, alarms, detail"),
    (["--jobs", "0"], "bpfverify: corpus: --jobs 0: give a positive number"),
])
def test_bad_options_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert run_cli(capsys, "corpus", EXAMPLES, *argv) == (2, "", message + "\n")


def test_a_dask_cluster_gives_the_rows_local_processes_give(capsys: pytest.CaptureFixture[str]) -> None:
    distributed = pytest.importorskip("distributed")
    _, local, _ = run_cli(capsys, "corpus", EXAMPLES, "--format", "csv", "--jobs", "2")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        code, out, err = run_cli(capsys, "corpus", EXAMPLES, "--format", "csv", "--scheduler",
                                 cluster.scheduler_address)
    assert code == 0 and f"(on {cluster.scheduler_address}, profile linux-6.18)" in err
    same = ("file", "section", "type", "insns", "verdict", "error", "alarms", "detail")
    assert [[r[k] for k in same] for r in csv_rows(out)] == [[r[k] for k in same] for r in csv_rows(local)]


def test_a_scheduler_that_is_no_address_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("distributed")
    code, out, err = run_cli(capsys, "corpus", EXAMPLES, "--scheduler", "no-such-scheme://x")
    assert (code, out) == (2, "") and err.startswith("bpfverify: corpus: --scheduler no-such-scheme://x: ")
    assert len(err.splitlines()) == 1


SAMPLES = PROJECT.parent / "shared" / "corpus" / "ebpf-samples"


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="ebpf-samples corpus not found")
def test_linux_4_1_profile_checks_each_object_against_its_own_version(capsys: pytest.CaptureFixture[str],
                                                                       tmp_path: Path) -> None:
    # the samples built with a version section (0x41300) and their siblings built for 5.15: the kern_version
    # each 4.1 loader passed is the object's own, so only the features 4.1 lacks refuse them
    (tmp_path / "linux").mkdir()
    (tmp_path / "new_linux").mkdir()
    for name in ("linux/tracex2_kern.o", "linux/tracex4_kern.o", "new_linux/tracex1_kern.o"):
        (tmp_path / name).write_bytes((SAMPLES / name).read_bytes())
    paths = [str(tmp_path / "linux"), str(tmp_path / "new_linux")]
    code, out, _ = run_cli(capsys, "corpus", *paths, "--profile", "linux-4.1", "--format", "csv")
    rows = {(r["file"], r["section"]): r for r in csv_rows(out)}
    assert code == 0
    assert {key: (r["verdict"], r["error"]) for key, r in rows.items()} == {
        ("linux/tracex2_kern.o", "kprobe/kfree_skb"): ("accepted", ""),
        ("linux/tracex2_kern.o", "kprobe/sys_write"): ("rejected", "unknown-helper"),
        ("linux/tracex4_kern.o", "kprobe/kmem_cache_free"): ("accepted", ""),
        ("linux/tracex4_kern.o", "kretprobe/kmem_cache_alloc_node"): ("accepted", ""),
        ("new_linux/tracex1_kern.o", "kprobe/__netif_receive_skb_core:bpf_prog1"): ("rejected", "unknown-helper"),
    }
    assert "(get_current_pid_tgid arrived for kprobes in Linux 4.2)" in rows[
        ("linux/tracex2_kern.o", "kprobe/sys_write")]["detail"]
    assert rows[("new_linux/tracex1_kern.o", "kprobe/__netif_receive_skb_core:bpf_prog1")]["detail"].startswith(
        "probe_read_kernel: Linux 4.1 kprobe programs may call only ")
    # check agrees, program by program
    code, out, _ = run_cli(capsys, "check", str(tmp_path / "linux" / "tracex4_kern.o"), "--profile", "linux-4.1")
    assert code == 0 and out.count(": accepted") == 2
    # a target named on the command line is what every object must match
    code, out, _ = run_cli(capsys, "corpus", paths[0], "--profile", "linux-4.1", "--format", "csv",
                           "--kern-version", "0x40100")
    assert code == 0 and {r["error"] for r in csv_rows(out)} == {"kern-version-mismatch"}
    code, out, _ = run_cli(capsys, "check", str(tmp_path / "linux" / "tracex4_kern.o"), "--profile", "linux-4.1",
                           "--kern-version", "0x41300")
    assert code == 0


@pytest.mark.parametrize("command", ["corpus", "check"])
@pytest.mark.parametrize("value, message", [
    ("4.1", "--kern-version 4.1 is not an integer (e.g. 0x40100 for 4.1.0)"),
    ("0x100000000", "--kern-version 0x100000000 is out of range: a LINUX_VERSION_CODE is from 0 to 0xffffffff"),
])
def test_bad_kern_version_is_one_line(capsys: pytest.CaptureFixture[str], command: str, value: str,
                                      message: str) -> None:
    assert run_cli(capsys, command, str(PROJECT / "examples" / "count_writes.o"), "--profile", "linux-4.1",
                   "--kern-version", value) == (2, "", f"bpfverify: usage error: {message}\n")


def test_missing_paths_and_empty_directories(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run_cli(capsys, "corpus", str(tmp_path / "nothing")) == (
        2, "", f"bpfverify: corpus: {tmp_path / 'nothing'}: no such file or directory\n")
    assert run_cli(capsys, "corpus", str(tmp_path)) == (2, "", f"bpfverify: corpus: no .o files in {tmp_path}\n")
    assert run_cli(capsys, "corpus") == (2, "", "bpfverify: corpus: give files or directories of objects "
                                                "(or --compare A B)\n")


def test_a_file_that_cannot_be_loaded_is_one_row(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "broken.o").write_bytes(b"\x7fELF" + bytes(12))
    (tmp_path / "good.o").write_bytes((PROJECT / "examples" / "count_writes.o").read_bytes())
    code, out, _ = run_cli(capsys, "corpus", str(tmp_path), "--format", "csv")
    rows = csv_rows(out)
    assert code == 0
    assert [(r["file"], r["verdict"], r["error"]) for r in rows] == [("broken.o", "error", "load-error"),
                                                                     ("good.o", "accepted", "")]
    assert rows[0]["detail"].startswith("broken.o")


def test_compare_two_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    before = tmp_path / "a.csv"
    run_cli(capsys, "corpus", EXAMPLES, "--format", "csv", "-o", str(before))
    rows = csv_rows(before.read_text())
    rows[0]["verdict"] = "rejected"
    rows[0]["time_s"] = str(float(rows[0]["time_s"]) * 2 or 1)
    after = tmp_path / "b.csv"
    with open(after, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[:1])
    code, out, err = run_cli(capsys, "corpus", "--compare", str(before), str(after), "--format", "csv")
    assert code == 0
    joined = csv_rows(out)
    assert [(r["file"], r["verdict_a"], r["verdict_b"], r["verdict_diff"]) for r in joined] == [
        ("count_writes.o", "accepted", "rejected", "MISMATCH"), ("unchecked_lookup.o", "rejected", "", "only A")]
    assert err.splitlines()[0] == "1 programs in both runs: 1 verdict changes; 1 only in A, 0 only in B"
    code, out, _ = run_cli(capsys, "corpus", "--compare", str(before), str(after), "--filter", "verdict_diff=MISMATCH")
    assert out.splitlines()[0].split()[:5] == ["file", "section", "verdict_a", "verdict_b", "verdict_diff"]
    assert len([line for line in out.splitlines() if line.startswith("count_writes.o")]) == 1
    assert run_cli(capsys, "corpus", "--compare", str(before), str(tmp_path / "none.csv")) == (
        2, "", f"bpfverify: corpus: cannot read {tmp_path / 'none.csv'}: No such file or directory\n")


@pytest.mark.kernel
def test_compare_kernel_agreement_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "corpus", EXAMPLES, "--compare-kernel", "--jobs", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[9:] == ["kernel", "kernel_reason", "kernel_insns", "kernel_time_us", "agreement"]
    assert lines[-6:] == [
        "agreement with the running kernel (2 programs):",
        "  kernel    ours      programs",
        "  --------  --------  ----------",
        "  accepted  accepted  1",
        "  rejected  rejected  1",
        "disagreements: 0",
    ]
    code, out, _ = run_cli(capsys, "corpus", EXAMPLES, "--compare-kernel", "--format", "csv")
    rows = csv_rows(out)
    assert [(r["kernel"], r["agreement"]) for r in rows] == [("accepted", "agree"), ("rejected", "agree")]
    assert rows[1]["kernel_reason"] == "R0 invalid mem access 'map_value_or_null'" and rows[1]["kernel_insns"] == "8"


# -- the worker processes ----------------------------------------------------------------------


def _work(task: str, options: None) -> str:
    if task == "crash":
        os._exit(3)
    if task == "hang":
        time.sleep(60)
    return task.upper()


def test_a_worker_that_dies_or_hangs_costs_one_task() -> None:
    start = time.monotonic()
    with WorkerPool(2, _work, None, deadline_s=1.0, on_lost=lambda task, why: f"lost {task}: {why}") as pool:
        results = dict(pool.run(["a", "crash", "b", "hang", "c", "d"]))
    assert results == {"a": "A", "b": "B", "c": "C", "d": "D", "crash": "lost crash: the worker process died (exit code 3)",
                       "hang": "lost hang: still running after 1 s; stopped"}
    assert time.monotonic() - start < 20
