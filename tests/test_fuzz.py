"""The fuzzer of tests/fuzz.py, a few hundred inputs per input kind: whatever the damage, every
command ends with exit 0-3 and at most one line on stderr, never an internal error.

Long campaigns (forked runs, hang and memory bounds) are `python -m tests.fuzz --inputs N`."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import KINDS, judge, make_case, write_case
from verifier.cli import main

EXAMPLES = 200


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_fuzzed_inputs_end_cleanly(kind: str, tmp_path_factory: pytest.TempPathFactory,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path_factory.mktemp(f"fuzz-{kind}")

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.integers(min_value=0, max_value=2**32))
    def one(seed: int) -> None:
        case = make_case(kind, random.Random(seed))
        argv = write_case(case, folder)
        code = main(argv)
        _, err = capsys.readouterr()
        problem = judge(code, err, argv)
        assert problem is None, f"{problem}: bpfverify {' '.join(argv)} -> exit {code}, stderr {err[:500]!r}"

    one()


def test_judge_names_each_failure() -> None:
    assert judge(0, "", ["check", "f"]) is None
    assert judge(2, "bpfverify: error: x\n", ["check", "f"]) is None
    assert judge(70, "bpfverify: internal error: TypeError: x\n", ["run", "f"]) == "internal error"
    assert judge(1, "Traceback (most recent call last):\n", ["run", "f"]) == "traceback"
    assert judge(2, "bpfverify: error: a\nb\n", ["run", "f"]) == "multi-line error"
    assert judge(2, "", ["run", "f"]) == "bad input without a one-line error"
    assert judge(1, "    0: r0 = 0\n    1: exit\n", ["run", "f", "--trace"]) is None


def test_a_campaign_runs_forked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fuzz import main as campaign

    assert campaign(["--inputs", "12", "--jobs", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "12 inputs in" in out
    assert "tracebacks 0, internal errors 0, hangs (30 s) 0, multi-line errors 0, over 1024 MB 0, other 0" in out
