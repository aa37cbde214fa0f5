"""Check results as SARIF 2.1.0, the format code-scanning tools read: one rule per error code,
one result per finding, located at its source line where the object has line info and at the
program and instruction otherwise. Where z3 judged a finding, the result's properties carry the
judgement, the counterexample and its replay, and its `codeFlows` the counterexample's slice."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from interp.program import Program

from .check import ProgramResult
from .errors import RULES, Finding
from .evidence import verdict_line

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _version() -> str:
    try:
        return metadata.version("bpfverify")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _location(file: str, program: Program, pc: int, source: str | None) -> dict[str, Any]:
    """Where an instruction is: its source line where known (else the object file), and
    `SECTION:FUNCTION+PC` as a logical location."""
    physical: dict[str, Any] = {"artifactLocation": {"uri": file}}
    if source:
        path, _, line = source.rpartition(":")
        if path and line.isdigit():
            uri = path[2:] if path.startswith("./") else path
            physical = {"artifactLocation": {"uri": uri}, "region": {"startLine": int(line)}}
    logical = {"name": f"insn {pc}", "fullyQualifiedName": f"{program.section}:{program.name}+{pc}",
               "kind": "instruction"}
    return {"physicalLocation": physical, "logicalLocations": [logical]}


def _code_flows(file: str, program: Program, proof: dict[str, Any]) -> list[dict[str, Any]]:
    """The counterexample's slice as one thread flow: the instructions the fault depends on, in run order."""
    steps = [{"location": {**_location(file, program, step["pc"], step["source"]), "message": {"text": step["insn"]}}}
             for step in proof.get("slice", [])]
    if not steps:
        return []
    return [{"message": {"text": verdict_line(proof)}, "threadFlows": [{"locations": steps}]}]


def _result(file: str, result: ProgramResult, finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    program = result.program
    properties: dict[str, Any] = {"section": program.section, "program": program.name, "pc": finding.pc}
    if finding.kernel_message is not None:
        properties["kernelMessage"] = finding.kernel_message
    out: dict[str, Any] = {"ruleId": finding.code, "ruleIndex": index[finding.code], "level": finding.severity,
                           "message": {"text": finding.message},
                           "locations": [_location(file, program, finding.pc, finding.source)]}
    if finding.proof is not None:
        proof = finding.proof
        properties["proof"] = {key: proof[key] for key in ("status", "confirmed", "reason", "fault") if key in proof}
        properties["proof"]["summary"] = verdict_line(proof)
        for key in ("counterexample", "replay"):
            if key in proof:
                properties[key] = proof[key]
        flows = _code_flows(file, program, proof)
        if flows:
            out["codeFlows"] = flows
    out["properties"] = properties
    return out


def to_sarif(file: str, profile: str, results: list[ProgramResult]) -> dict[str, Any]:
    rule_ids = sorted(RULES)
    index = {rule: i for i, rule in enumerate(rule_ids)}
    sarif_results = [_result(file, result, finding, index) for result in results for finding in result.findings]
    programs = [{"section": r.program.section, "name": r.program.name, "verdict": r.verdict,
                 **({"reason": r.reason} if r.reason else {})} for r in results]
    driver = {"name": "bpfverify", "version": _version(), "rules": [
        {"id": rule, "shortDescription": {"text": RULES[rule]}} for rule in rule_ids]}
    run = {"tool": {"driver": driver}, "artifacts": [{"location": {"uri": file}}], "results": sarif_results,
           "invocations": [{"executionSuccessful": all(r.verdict != "unknown" for r in results)}],
           "properties": {"profile": profile, "programs": programs}}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


__all__ = ["to_sarif"]
