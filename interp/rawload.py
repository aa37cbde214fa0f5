"""Raw bytecode (`.bin`, 8 bytes per slot) with an optional sidecar `.json` of the same stem:

    {"prog_type": 2, "license": "GPL", "kern_version": 0,
     "maps": [{"name": "counts", "type": 2, "key_size": 4, "value_size": 8, "max_entries": 4,
               "flags": 0, "initial_value_hex": "...", "frozen": true, "inner_idx": 1}]}

An `lddw` with src 1 or 2 (or 5 or 6) and imm N refers to `maps[N]`, the format that
`shared/tools/kernel_verdict.py` reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import json_input
from .isa.insn import decode
from .json_input import HEX_BYTES, JsonInputError, to_bytes, uint
from .map_limits import creation_error
from .program import MapDef, Program
from .sections import PROG_TYPE_IDS, PROG_TYPE_NAMES

ATTACH_KIND = {"kprobe": "kprobe", "tracepoint": "tracepoint", "raw_tracepoint": "raw_tp",
               "perf_event": "perf_event", "xdp": "xdp", "sched_cls": "tc", "socket_filter": "socket"}


class SidecarError(ValueError):
    """A sidecar JSON file that does not describe a program."""


_U32 = uint(32)
MAP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "an object describing a map",
    "properties": {
        "name": {"type": "string", "maxLength": 256, "description": "a string of at most 256 characters"},
        "type": _U32, "key_size": _U32, "value_size": _U32, "max_entries": _U32, "flags": _U32,
        "initial_value_hex": HEX_BYTES,
        "frozen": {"type": "boolean", "description": "true or false"},
        "inner_idx": _U32,
    },
    "required": ["type", "key_size", "value_size", "max_entries"],
    "additionalProperties": False,
}
SIDECAR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "a JSON object",
    "properties": {
        "prog_type": {"type": ["integer", "string"], "enum": sorted(PROG_TYPE_NAMES) + sorted(PROG_TYPE_IDS),
                      "description": "a program type: a number of enum bpf_prog_type or a name such as "
                                     "\"kprobe\""},
        "license": {"type": "string", "maxLength": 128, "description": "a string of at most 128 characters"},
        "kern_version": _U32,
        "maps": {"type": "array", "items": MAP_SCHEMA, "description": "a list of maps"},
    },
    "additionalProperties": False,
}


def _map(spec: dict[str, Any], index: int, where: str) -> MapDef:
    where = f"{where}: maps[{index}]"
    initial = None
    if "initial_value_hex" in spec:
        try:
            initial = to_bytes(spec["initial_value_hex"], f"{where}.initial_value_hex")
        except JsonInputError as exc:
            raise SidecarError(str(exc)) from None
    mdef = MapDef(
        name=spec.get("name", f"map{index}"),
        type=spec["type"],
        key_size=spec["key_size"],
        value_size=spec["value_size"],
        max_entries=spec["max_entries"],
        flags=spec.get("flags", 0),
        origin="sidecar",
        initial_value=initial,
        frozen=spec.get("frozen", False),
        inner_idx=spec.get("inner_idx"),
    )
    if initial is not None and len(initial) != mdef.value_size:
        raise SidecarError(f"{where}: initial_value_hex holds {len(initial)} bytes, value_size is {mdef.value_size}")
    refusal = creation_error(mdef)
    if refusal is not None:
        raise SidecarError(f"{where}: {refusal}")
    return mdef


def read_sidecar(path: Path) -> dict[str, Any]:
    try:
        return json_input.load(path, SIDECAR_SCHEMA)
    except JsonInputError as exc:
        raise SidecarError(str(exc)) from None


def load_raw(path: Path, data: bytes) -> Program:
    """A `.bin` program, described by `path.with_suffix('.json')` when that exists."""
    sidecar_path = path.with_suffix(".json")
    sidecar = read_sidecar(sidecar_path) if sidecar_path.exists() else {}
    where = sidecar_path.name
    prog_type = sidecar.get("prog_type", "kprobe")
    if isinstance(prog_type, int):
        prog_type = PROG_TYPE_NAMES[prog_type]
    maps = [_map(spec, i, where) for i, spec in enumerate(sidecar.get("maps", []))]
    for i, mdef in enumerate(maps):
        if mdef.inner_idx is not None and mdef.inner_idx >= len(maps):
            raise SidecarError(f"{where}: maps[{i}]: inner_idx {mdef.inner_idx} is not a map of this sidecar")
    kern_version = sidecar.get("kern_version")
    invalid: dict[int, str] = {}
    insns = decode(data, invalid=invalid)
    program = Program(
        name=path.stem, section="", prog_type=prog_type, attach_kind=ATTACH_KIND.get(prog_type, "unknown"),
        attach_to=None, insns=insns, entry_slots=sum(i.slots for i in insns), maps=maps,
        license=sidecar.get("license", ""), kern_version=kern_version, path=path, invalid=invalid,
    )
    for insn_pc, insn in _with_pcs(insns):
        if insn.is_lddw and insn.src in (1, 2, 5, 6) and (insn.imm & 0xFFFFFFFF) >= len(maps):
            raise SidecarError(
                f"insn {insn_pc}: lddw refers to map {insn.imm & 0xFFFFFFFF}, but "
                f"{'the sidecar ' + where if sidecar else 'no sidecar ' + where} defines {len(maps)} maps"
            )
    return program


def _with_pcs(insns: list) -> list[tuple[int, Any]]:
    out, pc = [], 0
    for insn in insns:
        out.append((pc, insn))
        pc += insn.slots
    return out
