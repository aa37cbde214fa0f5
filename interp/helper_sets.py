"""Which helpers each program type may call, as probed from a running kernel and kept as data
(`interp/data/linux-6.18-helpers.json`, written by `python -m interp.probe_helpers`).

Per program type: the helpers it allows, each with whether it is GPL-only for that type (the
kernel gives some types their own prototypes: perf_event's `get_stackid` is not GPL-only), and
the helpers the type offers but refuses whatever the arguments, with the kernel's reason."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .helper_ids import HELPER_NAMES

DATA_FILE = Path(__file__).resolve().parent / "data" / "linux-6.18-helpers.json"


@dataclass(frozen=True)
class TypeHelpers:
    name: str
    prog_type: int
    allowed: dict[int, bool]  # helper id -> GPL-only
    refused: dict[int, str]  # helper id -> the kernel's reason

    def names(self) -> frozenset[str]:
        return frozenset(HELPER_NAMES[i] for i in self.allowed)

    def to_json(self) -> dict[str, Any]:
        return {
            "prog_type": self.prog_type,
            "allowed": [{"id": i, "name": HELPER_NAMES.get(i, f"#{i}"), "gpl_only": g}
                        for i, g in sorted(self.allowed.items())],
            "refused": [{"id": i, "name": HELPER_NAMES.get(i, f"#{i}"), "reason": r}
                        for i, r in sorted(self.refused.items())],
        }


@dataclass(frozen=True)
class HelperSets:
    kernel_release: str
    machine: str
    command: str
    types: dict[str, TypeHelpers]

    def to_json(self) -> dict[str, Any]:
        return {
            "kernel_release": self.kernel_release,
            "machine": self.machine,
            "command": self.command,
            "program_types": {name: t.to_json() for name, t in self.types.items()},
        }

    def dumps(self) -> str:
        """JSON with one helper per line, so that a change of the kernel shows as a small diff."""
        lines = ["{"]
        for key in ("kernel_release", "machine", "command"):
            lines.append(f' "{key}": {json.dumps(getattr(self, key))},')
        lines.append(' "program_types": {')
        for n, (name, t) in enumerate(self.types.items()):
            obj = t.to_json()
            lines.append(f'  "{name}": {{')
            lines.append(f'   "prog_type": {obj["prog_type"]},')
            for key in ("allowed", "refused"):
                rows = [f"    {json.dumps(row)}" for row in obj[key]]
                lines.append(f'   "{key}": [' + ("\n" + ",\n".join(rows) + "\n   ]" if rows else "]")
                             + ("," if key == "allowed" else ""))
            lines.append("  }" + ("," if n < len(self.types) - 1 else ""))
        lines.append(" }")
        lines.append("}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_json(cls, obj: Any, where: str) -> "HelperSets":
        try:
            types = {}
            for name, t in obj["program_types"].items():
                allowed = {int(h["id"]): bool(h["gpl_only"]) for h in t["allowed"]}
                refused = {int(h["id"]): str(h["reason"]) for h in t["refused"]}
                unknown = sorted(i for i in [*allowed, *refused] if i not in HELPER_NAMES)
                if unknown:
                    raise ValueError(f"{where}: helper id {unknown[0]} of {name} is not in enum bpf_func_id")
                types[name] = TypeHelpers(name, int(t["prog_type"]), allowed, refused)
            return cls(str(obj["kernel_release"]), str(obj["machine"]), str(obj["command"]), types)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{where}: not a helper-set file (missing or malformed {exc})") from None

    @classmethod
    def from_file(cls, path: Path) -> "HelperSets":
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")), path.name)
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path.name}: not valid JSON: {exc}") from None


@functools.cache
def linux_6_18() -> HelperSets:
    """The helper sets of the linux-6.18 profile."""
    return HelperSets.from_file(DATA_FILE)
