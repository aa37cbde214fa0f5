"""What z3 made of a finding, in the reports' words.

`proof_json` is the finding's `proof` in JSON reports: the judgement (`smt.Judgement.to_json`),
the fault its rule names (what a replay must reach) and, with a counterexample, its slice: the
instructions of the counterexample's path the fault depends on (`slice.backward_slice`), each
with its text and source line. `proof_lines` turns such a proof into the text report's lines,
from the JSON alone, so that a saved report reads the same."""

from __future__ import annotations

from bisect import bisect_right
from functools import cache
from typing import TYPE_CHECKING, Any

from interp.flow import Listing
from interp.listing import insn_text
from interp.program import Program

from .profiles import helper_registry
from .slice import backward_slice

if TYPE_CHECKING:
    from .checker import Alarm
    from .smt import Judgement

INDENT = "    "


@cache
def _helper_args(helper_id: int) -> int:
    helper = helper_registry().get(helper_id)
    return helper.nargs if helper is not None else 5  # an unknown helper may read every argument


def _source(program: Program, listing: Listing, pc: int) -> str | None:
    """The source line of `pc`: its own, or (as listings group them) the nearest one before it."""
    for at in reversed(listing.pcs[:bisect_right(listing.pcs, pc)]):
        line = program.source_lines.get(at)
        if line and line.line:
            return str(line)
    return None


def slice_json(program: Program, listing: Listing, path: list[int]) -> list[dict[str, Any]]:
    """The slice of a counterexample's path: [{"pc", "insn", "source"}] in the order the run reaches them."""
    return [{"pc": pc, "insn": insn_text(program, listing.by_pc[pc], pc), "source": _source(program, listing, pc)}
            for pc in backward_slice(listing, path, _helper_args)]


def proof_json(judgement: "Judgement", alarm: "Alarm", program: Program, listing: Listing) -> dict[str, Any]:
    out = judgement.to_json()
    fault = alarm.obligation.rule.fault
    out["fault"] = getattr(fault, "value", fault)
    if judgement.counterexample is not None:
        out["slice"] = slice_json(program, listing, judgement.counterexample.path)
    return out


def verdict_line(proof: dict[str, Any]) -> str:
    """`confirmed: ...` or `not confirmed (why)`, from the judgement's own status and reason."""
    replay = proof.get("replay") or {}
    if proof.get("confirmed") and replay.get("fault"):
        fault = replay["fault"]
        return f"confirmed: the run faults at insn {fault['pc']} ({fault['kind']})"
    status, reason = proof.get("status"), proof.get("reason")
    if status == "policy":
        why = reason or "a rule the kernel applies when it loads the program; no run breaks it by itself"
        return f"not confirmed (policy: {why})"
    if status == "unknown":
        return f"not confirmed (z3 could not decide: {reason or 'no reason given'})"
    if status == "refuted":
        return "not confirmed (z3 shows no run breaks the rule; the profile keeps the finding)"
    return f"not confirmed ({replay.get('reason') or reason or 'the replay did not fault'})"


def _number(hex_bytes: str) -> str:
    """Little-endian bytes as a number where they fit 8 bytes, else as the bytes."""
    raw = bytes.fromhex(hex_bytes)
    return f"{int.from_bytes(raw, 'little'):#x}" if 0 < len(raw) <= 8 else f"bytes {hex_bytes}"


def _key(hex_bytes: str) -> str:
    raw = bytes.fromhex(hex_bytes)
    return str(int.from_bytes(raw, "little")) if 0 < len(raw) <= 8 else f"key {hex_bytes}"


def _value(value: Any) -> str:
    if isinstance(value, list):  # a per-CPU value: one per CPU
        return "[" + ", ".join(_number(v) for v in value) + "]"
    return _number(value)


def counterexample_lines(cx: dict[str, Any]) -> list[str]:
    """The counterexample's inputs by name: non-zero registers, map contents and absent keys,
    kernel memory, the environment (helper results) and what no input fixes."""
    regs = [f"{name} = {value:#x}" for name, value in cx.get("regs", {}).items() if value]
    lines = [f"registers: {', '.join(regs) if regs else 'all zero'}"]
    for doc in cx.get("maps", []):
        for entry in doc.get("entries", []):
            lines.append(f"map {doc['name']}[{_key(entry['key'])}] = {_value(entry['value'])}")
    for doc in cx.get("absent", []):
        lines.append(f"map {doc['name']}[{_key(doc['key'])}] absent")
    for chunk in cx.get("kmem", []):
        size = len(bytes.fromhex(chunk["hex"]))
        lines.append(f"memory at {chunk['address']:#x}: {chunk['hex']} ({size} bytes)")
    env = [f"{name} = {value:#x}" if isinstance(value, int) else f"{name} = {value!r}"
           for name, value in cx.get("env", {}).items()]
    if cx.get("cpu"):
        env.append(f"cpu = {cx['cpu']}")
    if env:
        lines.append(f"environment: {', '.join(env)}")
    lines += [f"not fixed by any input: {what}" for what in cx.get("unset", [])]
    return lines


def slice_lines(entries: list[dict[str, Any]]) -> list[str]:
    width = max((len(e["insn"]) for e in entries), default=0)
    return [(f"{e['pc']:5d}: {e['insn']:<{width}}" + (f"  @ {e['source']}" if e.get("source") else "")).rstrip()
            for e in entries]


def proof_lines(proof: dict[str, Any] | None) -> list[str]:
    """The lines printed under a finding (indented), or none where z3 was not asked."""
    if not proof:
        return []
    lines = [verdict_line(proof)]
    cx = proof.get("counterexample")
    if cx is not None:
        lines.append("counterexample:")
        lines += [INDENT + line for line in counterexample_lines(cx)]
    if proof.get("slice"):
        lines.append("slice (what the fault depends on, along the counterexample's path):")
        lines += [INDENT + line for line in slice_lines(proof["slice"])]
    return [INDENT + line for line in lines]


__all__ = ["proof_json", "proof_lines", "slice_json", "verdict_line"]
