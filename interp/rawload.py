"""Raw bytecode (`.bin`, 8 bytes per slot) with an optional sidecar `.json` of the same stem:

    {"prog_type": 2, "license": "GPL", "kern_version": 0,
     "maps": [{"name": "counts", "type": 2, "key_size": 4, "value_size": 8, "max_entries": 4,
               "flags": 0, "initial_value_hex": "...", "frozen": true, "inner_idx": 1}]}

An `lddw` with src 1 or 2 (or 5 or 6) and imm N refers to `maps[N]`, the format that
`shared/tools/kernel_verdict.py` reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .isa.insn import decode
from .program import MapDef, Program
from .sections import PROG_TYPE_IDS, PROG_TYPE_NAMES

ATTACH_KIND = {"kprobe": "kprobe", "tracepoint": "tracepoint", "raw_tracepoint": "raw_tp",
               "perf_event": "perf_event", "xdp": "xdp", "sched_cls": "tc", "socket_filter": "socket"}


class SidecarError(ValueError):
    """A sidecar JSON file that does not describe a program."""


def _int_field(obj: dict[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = obj.get(key, default)
    if value is None:
        raise SidecarError(f"{where}: missing field '{key}'")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SidecarError(f"{where}: field '{key}' must be a non-negative integer, found {value!r}")
    return value


def _map(spec: Any, index: int, where: str) -> MapDef:
    where = f"{where} maps[{index}]"
    if not isinstance(spec, dict):
        raise SidecarError(f"{where}: expected an object, found {type(spec).__name__}")
    initial = None
    if "initial_value_hex" in spec:
        try:
            initial = bytes.fromhex(str(spec["initial_value_hex"]))
        except ValueError:
            raise SidecarError(f"{where}: initial_value_hex is not hex") from None
    inner = spec.get("inner_idx")
    if inner is not None:
        inner = _int_field(spec, "inner_idx", where)
    mdef = MapDef(
        name=str(spec.get("name", f"map{index}")),
        type=_int_field(spec, "type", where),
        key_size=_int_field(spec, "key_size", where),
        value_size=_int_field(spec, "value_size", where),
        max_entries=_int_field(spec, "max_entries", where),
        flags=_int_field(spec, "flags", where, 0),
        origin="sidecar",
        initial_value=initial,
        frozen=bool(spec.get("frozen", False)),
        inner_idx=inner,
    )
    if initial is not None and len(initial) != mdef.value_size:
        raise SidecarError(f"{where}: initial_value_hex holds {len(initial)} bytes, value_size is {mdef.value_size}")
    return mdef


def read_sidecar(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SidecarError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SidecarError(f"{path.name}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SidecarError(f"{path.name}: expected a JSON object")
    return data


def load_raw(path: Path, data: bytes) -> Program:
    """A `.bin` program, described by `path.with_suffix('.json')` when that exists."""
    sidecar_path = path.with_suffix(".json")
    sidecar = read_sidecar(sidecar_path) if sidecar_path.exists() else {}
    where = sidecar_path.name
    prog_type = sidecar.get("prog_type", "kprobe")
    if isinstance(prog_type, int) and not isinstance(prog_type, bool):
        if prog_type not in PROG_TYPE_NAMES:
            raise SidecarError(f"{where}: unknown prog_type {prog_type}")
        prog_type = PROG_TYPE_NAMES[prog_type]
    if prog_type not in PROG_TYPE_IDS:
        raise SidecarError(f"{where}: unknown prog_type {prog_type!r}")
    maps_spec = sidecar.get("maps", [])
    if not isinstance(maps_spec, list):
        raise SidecarError(f"{where}: 'maps' must be a list")
    maps = [_map(spec, i, where) for i, spec in enumerate(maps_spec)]
    for i, mdef in enumerate(maps):
        if mdef.inner_idx is not None and mdef.inner_idx >= len(maps):
            raise SidecarError(f"{where} maps[{i}]: inner_idx {mdef.inner_idx} is not a map of this sidecar")
    kern_version = sidecar.get("kern_version")
    if kern_version is not None:
        kern_version = _int_field(sidecar, "kern_version", where)
    invalid: dict[int, str] = {}
    insns = decode(data, invalid=invalid)
    program = Program(
        name=path.stem, section="", prog_type=prog_type, attach_kind=ATTACH_KIND.get(prog_type, "unknown"),
        attach_to=None, insns=insns, entry_slots=sum(i.slots for i in insns), maps=maps,
        license=str(sidecar.get("license", "")), kern_version=kern_version, path=path, invalid=invalid,
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
