"""Rule-suite programs (`test_rules.CASES`) written as files `bpfverify` reads: raw bytecode with
its JSON sidecar (program type, license, maps)."""

from __future__ import annotations

import json
from pathlib import Path

from test_rules import CASES, Case, program

from interp.isa.insn import encode

SIDECAR_MAP_FIELDS = ("name", "type", "key_size", "value_size", "max_entries", "flags")


def case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def write_case(name: str, directory: Path, stem: str = "prog") -> Path:
    """`directory/stem.bin` (with `stem.json`) holding the rule case `name`."""
    rule = case(name)
    path = directory / f"{stem}.bin"
    path.write_bytes(encode(program(rule).insns))
    maps = [{k: v for k, v in m.to_json().items() if k in SIDECAR_MAP_FIELDS} for m in rule.maps]
    sidecar = {"prog_type": "kprobe", "license": rule.license, "maps": maps}
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    return path
