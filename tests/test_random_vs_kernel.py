"""The random-programs-against-the-kernel campaign: a record per program with both verdicts, the
same records on local processes, on a Dask cluster and when an interrupted run is resumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from papers.random_vs_kernel import CHUNK, main

pytestmark = pytest.mark.kernel
PROGRAMS = CHUNK + 5  # a whole chunk and a part of one


def records(path: Path) -> list[dict]:
    return sorted((json.loads(line) for line in path.read_text().splitlines()), key=lambda r: r["n"])


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("local") / "random.jsonl"
    status = main(["--programs", str(PROGRAMS), "--jobs", "2", "--seed", "7", "--out", str(out)])
    if status == 2:
        pytest.skip("bpf() is not permitted here")
    assert status == 0
    return out


def test_every_program_gets_both_verdicts_and_the_pairs_add_up(local: Path) -> None:
    got = records(local)
    assert [r["n"] for r in got] == list(range(PROGRAMS))
    judged = [r for r in got if "kernel" in r]
    assert len(judged) >= PROGRAMS - 5  # the generator's text assembles nearly always
    assert {r["kernel"] for r in judged} == {"accept", "reject"}
    for record in judged:
        assert ("asm" in record) == ((record["kernel"] == "accept") != (record["ours"] == "accepted"))
        assert ("codes" in record) == (record["ours"] != "accepted")
    summary = json.loads(local.with_name(local.name + ".summary.json").read_text())
    assert sum(summary["pairs"].values()) == len(judged) and summary["counts"]["programs"] == PROGRAMS
    assert summary["kernel_rejects_we_accept"] == []


def test_a_resumed_campaign_runs_only_the_chunks_not_written_whole(local: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    full = records(local)
    out = tmp_path / "random.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in full[:CHUNK + 2]))  # the second chunk cut short
    assert main(["--programs", str(PROGRAMS), "--seed", "7", "--out", str(out), "--resume"]) == 0
    assert "1 chunks kept from" in capsys.readouterr().err
    assert records(out) == full


def test_a_dask_cluster_gives_what_local_processes_give(local: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "dask.jsonl"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert main(["--programs", str(PROGRAMS), "--seed", "7", "--out", str(out),
                     "--scheduler", cluster.scheduler_address]) == 0
    assert records(out) == records(local)


def test_resuming_another_campaign_is_one_error(local: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "c.jsonl"
    copy.write_text(local.read_text())
    copy.with_name(copy.name + ".summary.json").write_text(local.with_name(local.name + ".summary.json").read_text())
    with pytest.raises(SystemExit) as exit:
        main(["--programs", str(PROGRAMS), "--seed", "8", "--out", str(copy), "--resume"])
    assert exit.value.code == 2
    assert f"--resume: {copy} was run with --seed 7 --programs {PROGRAMS}" in capsys.readouterr().err
