"""`bpfverify replay REPORT.json`: run the counterexamples of a saved `check --format json` report
again on the interpreter and say whether each run ends as the report says (the same fault at the
same instruction, or no fault).

The report names the program file, each program by section and name, and for each finding its
pc, the fault its rule names and z3's proof (counterexample and replay); the report is checked
against `REPORT_SCHEMA` before anything reads it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from interp import json_input
from interp.json_input import JsonInputError, uint
from interp.maps import MAPS_SCHEMA
from interp.program import Program
from interp.sources import SourceError, describe, read_program
from interp.world import ENV_SCHEMA, KMEM_SCHEMA

from .cli_common import EXIT_FAILED, EXIT_OK

_COUNTEREXAMPLE: dict[str, Any] = {
    "type": "object", "description": "a counterexample {\"regs\", \"maps\", \"kmem\", \"env\", ...}",
    "properties": {
        "regs": {"type": "object", "additionalProperties": uint(64), "description": "registers by name"},
        "maps": MAPS_SCHEMA, "kmem": KMEM_SCHEMA, "env": ENV_SCHEMA, "cpu": uint(32),
        "path": {"type": "array", "items": uint(32), "description": "a list of pcs"},
    },
    "required": ["regs", "maps", "kmem", "env"],
}
_FAULT: dict[str, Any] = {
    "type": ["object", "null"], "description": "a fault {\"pc\", \"kind\", \"message\"} or null",
    "properties": {"pc": uint(32), "kind": {"type": "string", "description": "a string"}},
    "required": ["pc", "kind"],
}
_FINDING: dict[str, Any] = {
    "type": "object", "description": "a finding {\"pc\", \"code\", \"proof\", ...}",
    "properties": {
        "pc": uint(32), "code": {"type": "string", "description": "a string"},
        "proof": {"type": "object", "description": "z3's proof {\"status\", \"counterexample\", \"replay\", ...}",
                  "properties": {"fault": {"type": "string", "description": "a fault kind"},
                                 "counterexample": _COUNTEREXAMPLE,
                                 "replay": {"type": "object", "description": "a replay {\"confirmed\", \"fault\"}",
                                            "properties": {"fault": _FAULT}, "required": ["fault"]}}},
    },
    "required": ["pc", "code"],
}
_FINDINGS: dict[str, Any] = {"type": "array", "items": _FINDING, "description": "a list of findings"}
REPORT_SCHEMA: dict[str, Any] = {
    "type": "object", "description": "the output of `bpfverify check --format json`",
    "properties": {
        "file": {"type": "string", "description": "the program file's path"},
        "arch": {"enum": ["x86_64", "arm64"], "description": "x86_64 or arm64"},
        "programs": {"type": "array", "description": "a list of programs", "items": {
            "type": "object", "description": "a program {\"section\", \"name\", \"errors\", \"warnings\"}",
            "properties": {"section": {"type": "string", "description": "a string"},
                           "name": {"type": "string", "description": "a string"},
                           "errors": _FINDINGS, "warnings": _FINDINGS},
            "required": ["section", "name", "errors"]}},
    },
    "required": ["file", "programs"],
}


def _program_file(report: dict[str, Any], report_path: Path) -> Path:
    """The report's program file: as written (relative to here), else beside the report."""
    path = Path(report["file"])
    if path.exists() or path.is_absolute():
        return path
    beside = report_path.parent / path
    return beside if beside.exists() else path


def _expected(proof: dict[str, Any]) -> dict[str, Any] | None:
    return proof["replay"]["fault"]


def _outcome(fault: dict[str, Any] | None) -> str:
    return f"a fault at insn {fault['pc']}, {fault['kind']}" if fault else "no fault"


def replay_finding(program: Program, finding: dict[str, Any], arch: str) -> tuple[bool, list[str]]:
    """Replay one finding's counterexample: whether the run ends as the report says, and what to print."""
    # (z3 and the kprobe runtime: for this command only)
    from .witness import Counterexample, replay

    proof = finding["proof"]

    cx = Counterexample.from_json(proof["counterexample"])
    run = replay(program, cx, finding["pc"], proof.get("fault", ""), arch)
    expected = _expected(proof)
    got = run.fault
    head = f"insn {finding['pc']} ({finding['code']})"
    if got is not None:
        lines = [f"{head}: the run faults at insn {got['pc']} ({got['kind']}): {got['message']}"]
    else:
        lines = [f"{head}: {run.reason or 'the run ends without a fault'}"]
    same = (got is None and expected is None) or (
        got is not None and expected is not None and (got["pc"], got["kind"]) == (expected["pc"], expected["kind"]))
    lines.append(f"  {'matches' if same else 'does not match'} the report ({_outcome(expected)})")
    return same, lines


def cmd_replay(args: argparse.Namespace) -> int:
    report_path = Path(args.report)
    report = json_input.load(report_path, REPORT_SCHEMA)
    path = _program_file(report, report_path)
    if not path.exists():
        raise SourceError(f"{report_path.name}: the program file {report['file']} does not exist")
    source = read_program(path)
    arch = report.get("arch", "x86_64")
    chosen = [p for p in report["programs"]
              if args.section is None or args.section in (p["section"], p["name"], f"{p['section']}:{p['name']}")]
    replayed = 0
    failed = 0
    for doc in chosen:
        findings = [f for f in doc["errors"] + doc.get("warnings", [])
                    if "counterexample" in f.get("proof", {}) and "replay" in f["proof"]
                    and (args.finding is None or f["pc"] == args.finding)]
        if not findings:
            continue
        programs = [p for p in source.programs if (p.section, p.name) == (doc["section"], doc["name"])]
        if not programs:
            raise SourceError(f"{report_path.name}: {path} has no program {doc['name']} in section "
                              f"{doc['section']!r}")
        print(describe(programs[0]))
        for finding in findings:
            same, lines = replay_finding(programs[0], finding, arch)
            replayed += 1
            failed += not same
            for line in lines:
                print(f"  {line}")
    if not replayed:
        where = "".join([f" in {args.section}" if args.section else "",
                         f" at insn {args.finding}" if args.finding is not None else ""])
        raise JsonInputError(f"{report_path.name}: no finding with a replayed counterexample{where}")
    return EXIT_OK if not failed else EXIT_FAILED


def register(sub: Any) -> None:
    """Add `replay` to the `bpfverify` subcommands."""
    parser = sub.add_parser("replay", help="run the counterexamples of a saved check --format json report again "
                                           "(exit 0 when each run ends as the report says, 1 otherwise)")
    parser.add_argument("report", help="the output of `bpfverify check FILE --format json`")
    parser.add_argument("--section", help="only this program: a section, a function, or SECTION:FUNCTION")
    parser.add_argument("--finding", type=int, metavar="PC", help="only the finding at this instruction")
    parser.set_defaults(func=cmd_replay)


__all__ = ["REPORT_SCHEMA", "cmd_replay", "register", "replay_finding"]
