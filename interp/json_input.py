"""JSON inputs read from the user's files: each kind (a `.bin` sidecar, `run --maps`, `run --kmem`,
`run --env`) has one JSON Schema that says its fields, their types and their ranges, and a
document is checked against it before anything reads it. A document that does not fit is refused
with one line naming the place and the rule (`maps[0].key_size must be ...`).

The schemas describe shape only; what needs arithmetic across fields (a value's length against
the map's `value_size`, overlapping memory chunks) is checked where those fields are used."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1
MESSAGE_LIMIT = 60  # characters of an offending value quoted in a message


def uint(bits: int) -> dict[str, Any]:
    """A JSON integer in [0, 2^bits)."""
    return {"type": "integer", "minimum": 0, "maximum": (1 << bits) - 1,
            "description": f"an integer from 0 to {(1 << bits) - 1:#x}"}


def uint_or_text(bits: int) -> dict[str, Any]:
    """A JSON integer in [0, 2^bits), or the same written as a string ("0x..." or decimal). (The
    bounds apply to numbers and the pattern to strings: one schema, no alternatives to try.)"""
    digits = (bits + 3) // 4
    # decimal strings stay below 10^(digits of 2^bits - 1) so the schema alone bounds them
    decimal = len(str(1 << bits)) - 1
    return {"type": ["integer", "string"], "minimum": 0, "maximum": (1 << bits) - 1,
            "pattern": f"^(0[xX][0-9a-fA-F]{{1,{digits}}}|[0-9]{{1,{decimal}}})$",
            "description": f"an integer from 0 to {(1 << bits) - 1:#x} (a number, or a string \"0x...\")"}


HEX_BYTES: dict[str, Any] = {"type": "string", "pattern": "^[0-9a-fA-F\\s]*$",
                             "description": "a string of hex bytes"}


@cache
def validator_class() -> Any:
    """The validator of every schema here. (jsonschema is imported on first use: it is slow to
    import, and only commands that read a JSON input need it.)"""
    from jsonschema import Draft202012Validator, validators

    # JSON numbers with a fraction (1.0) are not integers here: every integer field is used as a
    # count or an address, and Python must see an int
    types = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool))
    return validators.extend(Draft202012Validator, type_checker=types)


class JsonInputError(ValueError):
    """A JSON input that cannot be read, parsed, or that does not fit its schema; one line."""


def _short(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


def _place(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the document"


def _message(error: ValidationError) -> str:
    place = _place(error.absolute_path)
    within = f"{place}: " if error.absolute_path else ""
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return f"{within}missing field '{missing[0]}'"
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = ", ".join(sorted(error.schema.get("properties", {})))
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{within}unknown field {_short(extra[0])} (known: {known})"
    if "propertyNames" in error.schema_path:
        return f"{within}key {_short(error.instance)} must be {error.schema.get('description', 'valid')}"
    schema = error.schema
    description = schema.get("description") if isinstance(schema, Mapping) else None
    if description is None and error.parent is not None:
        description = error.parent.schema.get("description")
    if description is None:
        return f"{place}: {error.message[:200]}"
    return f"{place} must be {description}, found {_short(error.instance)}"


def _first_error(validator: Any, document: Any) -> ValidationError | None:
    # the first error found: keywords are checked in the schema's order, and each schema names
    # its cheap whole-document rules (type, size) before the rules for its items
    return next(iter(validator.iter_errors(document)), None)


def validate(document: Any, schema: Mapping[str, Any], where: str) -> Any:
    """`document` if it fits `schema`; otherwise JsonInputError `where: <place> must be ...`."""
    try:
        error = _first_error(validator_class()(schema), document)
        if error is not None:
            raise JsonInputError(f"{where}: {_message(error)}")
    except RecursionError:
        raise JsonInputError(f"{where}: the document is nested too deeply") from None
    return document


def parse(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise JsonInputError(f"{where}: not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise JsonInputError(f"{where}: not valid JSON: {exc}") from None


def load(path: Path, schema: Mapping[str, Any], where: str | None = None) -> Any:
    """Read, parse and validate the JSON file `path`; every failure is one JsonInputError line."""
    where = where or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise JsonInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise JsonInputError(f"{where}: not valid JSON: not UTF-8 text ({exc.reason})") from None
    return validate(parse(text, where), schema, where)


def to_int(value: int | str) -> int:
    """A schema-checked `uint_or_text` value as an int."""
    return value if isinstance(value, int) else int(value, 0 if value[:2].lower() == "0x" else 10)


def to_bytes(value: str, where: str) -> bytes:
    """A schema-checked `HEX_BYTES` value as bytes (the pairing of its digits is checked here)."""
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise JsonInputError(f"{where} must be whole hex bytes (two digits each), found {_short(value)}") from None


def check_schema(schema: Mapping[str, Any]) -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema)
