"""Campaigns give the same result on local worker processes, on a Dask cluster, and when an
interrupted run is resumed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from papers.soundness_campaign import run_campaign

CLASSES = ["helper-stack-write", "general"]


def options(out: Path, resume: bool = False) -> argparse.Namespace:
    return argparse.Namespace(count=16, seed=5, chunk=4, runs=1, jobs=2, out=out, resume=resume)


def classes_of(summary: object) -> dict:
    return summary.to_json()["classes"]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("local") / "campaign.jsonl"
    return classes_of(run_campaign(options(out), CLASSES, ask=False)), out


def test_a_dask_cluster_gives_what_local_processes_give(local: tuple[dict, Path], tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    expected, _ = local
    assert sum(c["counts"]["programs"] for c in expected.values()) == 16
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        got = classes_of(run_campaign(options(tmp_path / "dask.jsonl"), CLASSES, ask=False, scheduler=cluster))
    assert got == expected


def test_a_resumed_campaign_judges_only_what_is_missing(local: tuple[dict, Path], tmp_path: Path) -> None:
    expected, full = local
    records = [json.loads(line) for line in full.read_text().splitlines()]
    first = {(r["kind"], r["chunk"]) for r in records[:4]}
    partial = [r for r in records if (r["kind"], r["chunk"]) in first]
    # a chunk whose worker was lost is judged again, whatever of it was written
    lost = {"kind": records[0]["kind"], "chunk": records[0]["chunk"], "n": -1, "ours": "lost", "crash": "killed"}
    out = tmp_path / "campaign.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in partial + [lost]))
    got = classes_of(run_campaign(options(out, resume=True), CLASSES, ask=False))
    assert got == expected
    again = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(again) == len(records) and not any(r["ours"] == "lost" for r in again)
    assert sorted(r["key"] for r in again) == sorted(r["key"] for r in records)


def test_a_scheduler_that_is_not_an_address_is_one_error(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    from verifier.scale import SchedulerError

    with pytest.raises(SchedulerError, match="^--scheduler nowhere: missing port number in address 'nowhere'$"):
        run_campaign(options(tmp_path / "c.jsonl"), CLASSES, ask=False, scheduler="nowhere")
