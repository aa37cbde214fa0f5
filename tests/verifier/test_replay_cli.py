"""`bpfverify replay REPORT.json`: a saved `check --format json` report's counterexamples run again
(exit 0 when each run ends as the report says, 1 when one does not, 2 for a report it cannot use)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rule_files import write_case

from verifier.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    program = write_case("lookup without null check", tmp_path)
    assert main(["check", str(program), "--format", "json"]) == 1
    path = tmp_path / "r.json"
    path.write_text(capsys.readouterr().out)
    return path


def edit(path: Path, change: Any) -> Path:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return path


def test_report_holds_what_a_replay_needs(report: Path) -> None:
    doc = json.loads(report.read_text())
    assert doc["arch"] == "x86_64" and doc["file"].endswith("prog.bin")
    finding = doc["programs"][0]["errors"][0]
    assert (finding["pc"], finding["proof"]["fault"]) == (6, "out-of-bounds")
    assert finding["proof"]["replay"]["fault"]["kind"] == "out-of-bounds"
    assert finding["proof"]["slice"][-1] == {"pc": 6, "insn": "r0 = *(u64 *)(r0 +0)", "source": None}


def test_round_trip_reproduces(capsys: pytest.CaptureFixture[str], report: Path) -> None:
    code, out, err = run(capsys, "replay", str(report))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "prog",
        "  insn 6 (possible-null-dereference): the run faults at insn 6 (out-of-bounds): 8-byte read at 0x0 hits no "
        "memory the program may access; only pointers into the stack, the context, and map values may be dereferenced",
        "    matches the report (a fault at insn 6, out-of-bounds)",
    ]


def test_selecting_by_section_and_finding(capsys: pytest.CaptureFixture[str], report: Path) -> None:
    assert run(capsys, "replay", str(report), "--section", "prog", "--finding", "6")[0] == 0
    code, out, err = run(capsys, "replay", str(report), "--finding", "5")
    assert (code, out) == (2, "")
    assert err == "bpfverify: error: r.json: no finding with a replayed counterexample at insn 5\n"


def test_a_run_that_ends_otherwise_does_not_match(capsys: pytest.CaptureFixture[str], report: Path) -> None:
    def key_present(doc: dict[str, Any]) -> None:  # the map now holds the key: the lookup finds a value
        doc["programs"][0]["errors"][0]["proof"]["counterexample"]["maps"] = [
            {"index": 0, "name": "h", "entries": [{"key": "00000000", "value": "0100000000000000"}]}]

    code, out, _ = run(capsys, "replay", str(edit(report, key_present)))
    assert code == 1
    assert out.splitlines()[1:] == ["  insn 6 (possible-null-dereference): the run ended without a fault",
                                    "    does not match the report (a fault at insn 6, out-of-bounds)"]


@pytest.mark.parametrize("change, message", [
    (lambda doc: doc.pop("programs"), "r.json: missing field 'programs'"),
    (lambda doc: doc["programs"][0]["errors"][0].update(pc=-1),
     "r.json: programs[0].errors[0].pc must be an integer from 0 to 0xffffffff, found -1"),
    (lambda doc: doc["programs"][0]["errors"][0]["proof"]["counterexample"]["env"].update(pid="x"),
     "r.json: programs[0].errors[0].proof.counterexample.env.pid must be an integer from 0 to 0xffffffff"),
    (lambda doc: doc.update(file="missing.bin"), "r.json: the program file missing.bin does not exist"),
])
def test_bad_reports_are_one_line_exit_2(capsys: pytest.CaptureFixture[str], report: Path, change: Any,
                                         message: str) -> None:
    code, out, err = run(capsys, "replay", str(edit(report, change)))
    assert (code, out) == (2, "")
    assert err.startswith(f"bpfverify: error: {message}") and len(err.splitlines()) == 1


def test_not_json_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("kprobe/f: rejected\n")
    code, _, err = run(capsys, "replay", str(path))
    assert code == 2
    assert err == "bpfverify: error: r.json: not valid JSON: Expecting value: line 1 column 1 (char 0)\n"
