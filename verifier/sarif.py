"""Check results as SARIF 2.1.0, the format code-scanning tools read: one rule per error code,
one result per finding, located at its source line where the object has line info and at the
program and instruction otherwise."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from .check import ProgramResult
from .errors import RULES, Finding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _version() -> str:
    try:
        return metadata.version("bpfverify")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _location(file: str, result: ProgramResult, finding: Finding) -> dict[str, Any]:
    program = result.program
    physical: dict[str, Any] = {"artifactLocation": {"uri": file}}
    if finding.source:
        path, _, line = finding.source.rpartition(":")
        if path and line.isdigit():
            uri = path[2:] if path.startswith("./") else path
            physical = {"artifactLocation": {"uri": uri}, "region": {"startLine": int(line)}}
    logical = {"name": f"insn {finding.pc}", "fullyQualifiedName": f"{program.section}:{program.name}+{finding.pc}",
               "kind": "instruction"}
    return {"physicalLocation": physical, "logicalLocations": [logical]}


def to_sarif(file: str, profile: str, results: list[ProgramResult]) -> dict[str, Any]:
    rule_ids = sorted(RULES)
    index = {rule: i for i, rule in enumerate(rule_ids)}
    sarif_results = []
    for result in results:
        for finding in result.findings:
            sarif_results.append({
                "ruleId": finding.code, "ruleIndex": index[finding.code], "level": finding.severity,
                "message": {"text": finding.message},
                "locations": [_location(file, result, finding)],
                "properties": {"section": result.program.section, "program": result.program.name, "pc": finding.pc},
            })
    programs = [{"section": r.program.section, "name": r.program.name, "verdict": r.verdict,
                 **({"reason": r.reason} if r.reason else {})} for r in results]
    driver = {"name": "bpfverify", "version": _version(), "rules": [
        {"id": rule, "shortDescription": {"text": RULES[rule]}} for rule in rule_ids]}
    run = {"tool": {"driver": driver}, "artifacts": [{"location": {"uri": file}}], "results": sarif_results,
           "invocations": [{"executionSuccessful": all(r.verdict != "unknown" for r in results)}],
           "properties": {"profile": profile, "programs": programs}}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


__all__ = ["to_sarif"]
