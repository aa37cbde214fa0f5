"""The containment campaign: the same records on local processes, on a Dask cluster and when an
interrupted run is resumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proofs.campaign import main

PROGRAMS = 46  # a whole chunk of 40 and a part of one


def records(path: Path) -> list[dict]:
    return sorted((json.loads(line) for line in path.read_text().splitlines()), key=lambda r: r["n"])


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local") / "campaign.jsonl"
    assert main(["--programs", str(PROGRAMS), "--jobs", "2", "--runs", "1", "--seed", "3", "--out", str(out)]) == 0
    return out


def test_a_campaign_writes_a_record_per_program_and_its_totals(local: Path) -> None:
    got = records(local)
    assert [r["n"] for r in got] == list(range(PROGRAMS))
    summary = json.loads(local.with_name(local.name + ".summary.json").read_text())
    assert summary["counts"]["programs"] == PROGRAMS and (summary["seed"], summary["runs"]) == (3, 1)
    assert summary["counts"]["accepted"] + summary["counts"]["rejected"] + summary["counts"].get("unknown", 0) \
        + summary["counts"].get("crashes", 0) == PROGRAMS


def test_a_resumed_campaign_runs_only_the_chunks_not_written_whole(local: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    full = records(local)
    out = tmp_path / "campaign.jsonl"
    # the first chunk whole, two programs of the second, and a lost one: the second runs again
    kept = full[:40] + full[40:42] + [{"n": 43, "lost": "killed"}]
    out.write_text("".join(json.dumps(r) + "\n" for r in kept))
    assert main(["--programs", str(PROGRAMS), "--runs", "1", "--seed", "3", "--out", str(out), "--resume"]) == 0
    assert "1 chunks kept from" in capsys.readouterr().err
    assert records(out) == full


def test_a_dask_cluster_gives_what_local_processes_give(local: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "dask.jsonl"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert main(["--programs", str(PROGRAMS), "--runs", "1", "--seed", "3", "--out", str(out),
                     "--scheduler", cluster.scheduler_address]) == 0
    assert records(out) == records(local)


def test_resuming_with_another_seed_or_nothing_to_resume_is_one_error(local: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["--programs", "5", "--out", str(tmp_path / "none.jsonl"), "--resume"])
    assert exit.value.code == 2 and "--resume: no earlier run at" in capsys.readouterr().err
    copy = tmp_path / "c.jsonl"
    copy.write_text(local.read_text())
    copy.with_name(copy.name + ".summary.json").write_text(local.with_name(local.name + ".summary.json").read_text())
    with pytest.raises(SystemExit):
        main(["--programs", str(PROGRAMS), "--runs", "1", "--seed", "4", "--out", str(copy), "--resume"])
    assert "was run with --seed 3 --runs 1" in capsys.readouterr().err


def test_a_scheduler_without_dask_installed_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # as where it is not installed
    assert main(["--programs", "3", "--out", str(tmp_path / "c.jsonl"), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert capsys.readouterr().err.strip() == ("proofs.campaign: --scheduler tcp://127.0.0.1:1: Dask distributed is "
                                               "not installed (pip install 'bpfverify[papers]')")


def test_a_campaign_without_the_checkout_s_generators_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "proofs.containment", None)  # as in an installed package without tests/
    assert main(["--programs", "3", "--out", str(tmp_path / "c.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("proofs.campaign: ")
    assert not (tmp_path / "c.jsonl").exists()
