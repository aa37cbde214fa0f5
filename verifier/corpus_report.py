"""The rows of `bpfverify corpus`: filtering, sorting, writing them as a table, CSV or JSON,
reading a run back, and comparing two runs (as veristat -C does)."""

from __future__ import annotations

import collections
import csv
import fnmatch
import io
import json
import math
import re
from pathlib import Path
from typing import Any, Callable, Iterable

Row = dict[str, Any]

BASE_COLUMNS = ["file", "section", "type", "insns", "verdict", "error", "time_s", "mem_mb", "alarms"]
KERNEL_COLUMNS = ["kernel", "kernel_reason", "kernel_insns", "kernel_time_us", "agreement"]
DETAIL_COLUMNS = ["detail"]  # our first finding's message, or what went wrong; CSV and JSON only
COMPARE_COLUMNS = ["file", "section", "verdict_a", "verdict_b", "verdict_diff", "time_a", "time_b", "time_ratio",
                   "alarms_a", "alarms_b", "kernel_a", "kernel_b"]
NUMERIC = {"insns", "time_s", "mem_mb", "alarms", "kernel_insns", "kernel_time_us", "time_a", "time_b",
           "time_ratio", "alarms_a", "alarms_b"}
FLOAT_FORMATS = {"time_s": "{:.3f}", "mem_mb": "{:.1f}", "time_a": "{:.3f}", "time_b": "{:.3f}", "time_ratio": "{:.2f}"}
TABLE_WIDTH = {"kernel_reason": 60, "detail": 60}


class ReportError(ValueError):
    """A filter, sort key or earlier run that cannot be used; the message says which."""


# -- filters and sorting -------------------------------------------------------------------

_CONDITION = re.compile(r"^(?P<key>[a-z_]+)\s*(?P<op><=|>=|!=|=|<|>)\s*(?P<value>.*)$")
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def make_filter(expression: str, columns: list[str]) -> Callable[[Row], bool]:
    """`KEY OP VALUE` (OP one of = != < <= > >=; strings compare as globs with = and !=), or a
    bare glob matched against the file, the section and `file:section`; a leading '!' negates."""
    text = expression.strip()
    negate = text.startswith("!") and not text.startswith("!=")
    if negate:
        text = text[1:].strip()
    match = _CONDITION.match(text)
    if match is None:
        def test(row: Row) -> bool:
            names = (str(row.get("file")), str(row.get("section")), f"{row.get('file')}:{row.get('section')}")
            return any(fnmatch.fnmatchcase(name, text) for name in names)
    else:
        key, op, value = match.group("key"), match.group("op"), match.group("value").strip()
        if key not in columns:
            raise ReportError(f"--filter {expression}: no column {key!r}; the columns are {', '.join(columns)}")
        if key in NUMERIC:
            try:
                number = float(value)
            except ValueError:
                raise ReportError(f"--filter {expression}: {key} is a number, {value!r} is not") from None

            def test(row: Row) -> bool:
                have = row.get(key)
                return have is not None and _OPERATORS[op](float(have), number)
        elif op in ("=", "!="):
            def test(row: Row) -> bool:
                matched = fnmatch.fnmatchcase(str(row.get(key) if row.get(key) is not None else ""), value)
                return matched == (op == "=")
        else:
            raise ReportError(f"--filter {expression}: {key} is text; compare it with = or != (globs allowed)")
    return (lambda row: not test(row)) if negate else test


def sort_rows(rows: list[Row], spec: str, columns: list[str]) -> list[Row]:
    """Sort by `KEY[,KEY...]`, each ascending, or descending as `KEY:desc` or `-KEY`; empty values last."""
    keys: list[tuple[str, bool]] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        descending = part.startswith("-") or part.endswith(":desc")
        key = part.lstrip("-").removesuffix(":desc").removesuffix(":asc")
        if key not in columns:
            raise ReportError(f"--sort {spec}: no column {key!r}; the columns are {', '.join(columns)}")
        keys.append((key, descending))
    for key, descending in reversed(keys):  # stable sorts, the last key first
        present = [r for r in rows if r.get(key) is not None]
        missing = [r for r in rows if r.get(key) is None]
        present.sort(key=lambda r: float(r[key]) if key in NUMERIC else str(r[key]), reverse=descending)
        rows = present + missing
    return rows


# -- writing -------------------------------------------------------------------------------


def _cell(key: str, value: Any, width: int | None) -> str:
    if value is None:
        return "-"
    if key in FLOAT_FORMATS and isinstance(value, (int, float)):
        return FLOAT_FORMATS[key].format(value)
    text = str(value)
    return text if width is None or len(text) <= width else text[: width - 3] + "..."


def render(rows: list[Row], columns: list[str], fmt: str, extra: dict[str, Any] | None = None) -> str:
    """The rows as `table` (aligned columns), `csv` (every column) or `json` (rows and `extra`)."""
    if fmt == "json":
        return json.dumps({**(extra or {}), "programs": rows}, indent=1) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
        return out.getvalue()
    shown = [c for c in columns if c not in DETAIL_COLUMNS]
    body = [[_cell(c, row.get(c), TABLE_WIDTH.get(c)) for c in shown] for row in rows]
    align = ["right" if c in NUMERIC else "left" for c in shown]
    # (slow to import: only tables need it)
    from tabulate import tabulate

    return tabulate(body, headers=shown, tablefmt="simple", disable_numparse=True, colalign=align) + "\n"


def read_run(path: Path) -> list[Row]:
    """The rows of an earlier `corpus` run written as CSV or JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc.strerror or exc}") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ReportError(f"{path} is not valid JSON: {exc}") from None
        rows = data.get("programs") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ReportError(f"{path}: expected the JSON of `bpfverify corpus --format json`")
        return rows
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"file", "section", "verdict"} <= set(reader.fieldnames):
        raise ReportError(f"{path}: expected the CSV of `bpfverify corpus --format csv` (columns file, section, verdict)")
    rows = []
    for raw in reader:
        row: Row = {}
        for key, value in raw.items():
            if value == "" or value is None:
                row[key] = None
            elif key in NUMERIC:
                try:
                    row[key] = float(value) if "." in value else int(value)
                except ValueError:
                    raise ReportError(f"{path}: {key} {value!r} is not a number") from None
            else:
                row[key] = value
        rows.append(row)
    return rows


# -- summaries -------------------------------------------------------------------------------


def agreement_table(rows: Iterable[Row]) -> list[str]:
    """Programs by (kernel verdict, our verdict), then each disagreement with both reasons."""
    rows = [r for r in rows if r.get("kernel") is not None]
    if not rows:
        return []
    pairs = collections.Counter((r["kernel"], r["verdict"]) for r in rows)
    body = [[kernel, ours, count] for (kernel, ours), count in sorted(pairs.items())]
    from tabulate import tabulate

    lines = [f"agreement with the running kernel ({len(rows)} programs):"]
    lines += ["  " + line for line in tabulate(body, headers=["kernel", "ours", "programs"], tablefmt="simple",
                                               disable_numparse=True).splitlines()]
    disagreements = [r for r in rows if r.get("agreement") in ("ours-stricter", "kernel-stricter")]
    lines.append(f"disagreements: {len(disagreements)}")
    for row in disagreements:
        ours = f"{row['verdict']}" + (f" ({row['error']}: {row.get('detail')})" if row.get("error") else "")
        kernel = row["kernel"] + (f" ({row['kernel_reason']})" if row.get("kernel_reason") else "")
        lines.append(f"  {row['file']} {row['section']}: {row['agreement']}: ours {ours}; kernel {kernel}")
    return lines


def compare_runs(a: list[Row], b: list[Row]) -> tuple[list[Row], list[str]]:
    """Rows joined on (file, section) with both verdicts and times, and a summary."""
    index_b = {(r.get("file"), r.get("section")): r for r in b}
    keys_a = [(r.get("file"), r.get("section")) for r in a]
    joined: list[Row] = []
    ratios = []
    for key, row_a in zip(keys_a, a):
        row_b = index_b.get(key)
        joined.append(_joined(key, row_a, row_b))
        if joined[-1]["time_ratio"] is not None and joined[-1]["time_ratio"] > 0:
            ratios.append(joined[-1]["time_ratio"])
    seen = set(keys_a)
    joined += [_joined((r.get("file"), r.get("section")), None, r) for r in b
               if (r.get("file"), r.get("section")) not in seen]
    counts = collections.Counter(r["verdict_diff"] for r in joined)
    summary = [f"{counts['MATCH'] + counts['MISMATCH']} programs in both runs: {counts['MISMATCH']} verdict "
               f"changes; {counts['only A']} only in A, {counts['only B']} only in B"]
    if ratios:
        geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        summary.append(f"time B/A: geometric mean {geomean:.2f}, min {min(ratios):.2f}, max {max(ratios):.2f}")
    return joined, summary


def _joined(key: tuple[Any, Any], a: Row | None, b: Row | None) -> Row:
    def get(row: Row | None, name: str) -> Any:
        return None if row is None else row.get(name)

    time_a, time_b = get(a, "time_s"), get(b, "time_s")
    if a is None or b is None:
        diff = "only B" if a is None else "only A"
    else:
        diff = "MATCH" if a.get("verdict") == b.get("verdict") else "MISMATCH"
    ratio = time_b / time_a if time_a and time_b is not None else None
    return {"file": key[0], "section": key[1], "verdict_a": get(a, "verdict"), "verdict_b": get(b, "verdict"),
            "verdict_diff": diff, "time_a": time_a, "time_b": time_b, "time_ratio": ratio,
            "alarms_a": get(a, "alarms"), "alarms_b": get(b, "alarms"), "kernel_a": get(a, "kernel"),
            "kernel_b": get(b, "kernel")}
