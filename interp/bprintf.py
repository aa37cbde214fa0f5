"""The format strings of `bpf_snprintf` and `bpf_trace_vprintk` (the kernel's bpf_bprintf_prepare):
which conversions they accept and how many arguments they take. The verifier checks a constant
`snprintf` format with `parse`, as the kernel does at load; the interpreter formats with `render`.

Accepted: `%%`; an optional `[0 +-]*` flag run and a decimal width; then `d i u x X` with an
optional `l` or `ll`, `c`, `s`, `p` alone or as `pK px ps pS pB`, and `pi4 pI4 pi6 pI6`. Every
byte must be printable ASCII or white space."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

MAX_ARGS = 12  # MAX_BPRINTF_VARARGS


class FormatError(ValueError):
    """A format the kernel refuses (it returns -EINVAL, or the verifier says "Invalid format string")."""


@dataclass(frozen=True)
class Spec:
    start: int  # where the conversion starts (its '%')
    end: int  # one past its last byte
    kind: str  # 'd', 'i', 'u', 'x', 'X' (with 'l' or 'll' before), 'c', 's', 'p', 'pi4', 'pI4', 'pi6', 'pI6'
    flags: str
    width: int | None
    long_bits: int  # 32 unless l/ll


def parse(fmt: bytes, num_args: int) -> list[Spec]:
    """The conversions of `fmt` (up to its NUL); FormatError where the kernel refuses it."""
    if num_args > MAX_ARGS:
        raise FormatError(f"{num_args} arguments; at most {MAX_ARGS} are accepted")
    fmt = fmt.split(b"\0", 1)[0] + b"\0"
    specs: list[Spec] = []
    i = 0
    while fmt[i]:
        c = fmt[i]
        if c > 0x7F or not (0x20 <= c < 0x7F or c in b" \t\n\v\f\r"):
            raise FormatError(f"byte {i} ({c:#04x}) is neither printable ASCII nor white space")
        if c != ord("%"):
            i += 1
            continue
        start = i
        if fmt[i + 1] == ord("%"):
            i += 2
            continue
        if len(specs) >= num_args:
            raise FormatError(f"conversion at byte {start} has no argument: {num_args} given")
        i += 1
        flags_start = i
        while fmt[i] in b"0+- ":
            i += 1
        flags = fmt[flags_start:i].decode()
        width = None
        if ord("1") <= fmt[i] <= ord("9"):
            width_start = i
            while ord("0") <= fmt[i] <= ord("9"):
                i += 1
            width = int(fmt[width_start:i])
        kind, bits = _conversion(fmt, i, start)
        i += len(kind)
        if kind in ("pK", "px", "ps", "pS", "pB"):
            kind, i = "p", i  # printed as plain pointers
        specs.append(Spec(start, i, kind, flags, width, bits))
    return specs


def _conversion(fmt: bytes, i: int, start: int) -> tuple[str, int]:
    c = chr(fmt[i])
    if c == "p":
        nxt = chr(fmt[i + 1]) if fmt[i + 1] else ""
        if nxt in ("K", "x", "s", "S", "B"):
            return "p" + nxt, 64
        if nxt == "" or nxt.isspace() or (nxt.isascii() and not nxt.isalnum() and nxt.isprintable()):
            return "p", 64
        if nxt in "iI" and fmt[i + 2] in b"46":
            return f"p{nxt}{chr(fmt[i + 2])}", 64
        raise FormatError(f"conversion at byte {start}: %p{nxt} is not accepted (only %pK %px %ps %pS %pB %pi4 %pI4 "
                          "%pi6 %pI6)")
    if c in ("s", "c"):
        return c, 64 if c == "s" else 32
    bits = 32
    length = 0
    if c == "l":
        bits, length = 64, 1
        if chr(fmt[i + 1]) == "l":
            length = 2
    c = chr(fmt[i + length]) if fmt[i + length] else ""
    if c == "" or c not in "diuxX":
        raise FormatError(f"conversion at byte {start}: %{'l' * length}{c} is not accepted "
                          "(only d i u x X, c, s and p forms)")
    return "l" * length + c, bits


def render(fmt: bytes, args: list[int], read_string: Callable[[int], str | None],
           read_bytes: Callable[[int, int], bytes | None]) -> str:
    """`fmt` with its conversions filled from `args` (the 8-byte slots of the data array)."""
    specs = parse(fmt, len(args))
    text = fmt.split(b"\0", 1)[0].decode("ascii")
    out: list[str] = []
    pos = 0
    for n, spec in enumerate(specs):
        out.append(text[pos:spec.start].replace("%%", "%"))
        out.append(_one(spec, args[n], read_string, read_bytes))
        pos = spec.end
    out.append(text[pos:].replace("%%", "%"))
    return "".join(out)


def _one(spec: Spec, value: int, read_string: Callable[[int], str | None],
         read_bytes: Callable[[int, int], bytes | None]) -> str:
    kind = spec.kind.lstrip("l")
    if kind == "s":
        body = read_string(value) or ""  # the kernel prints a string it cannot read as empty
    elif kind == "c":
        body = chr(value & 0xFF)
    elif kind == "p":
        body = f"{value:016x}"
    elif kind in ("pi4", "pI4", "pi6", "pI6"):
        size = 4 if kind.endswith("4") else 16
        raw = read_bytes(value, size) or bytes(size)  # an address it cannot read is printed as zeros
        if kind == "pI4":
            body = ".".join(str(b) for b in raw)
        elif kind == "pi4":
            body = ".".join(f"{b:03d}" for b in raw)
        elif kind == "pI6":
            body = ":".join(raw[j:j + 2].hex() for j in range(0, 16, 2))
        else:
            body = raw.hex()
    else:
        bits = spec.long_bits
        value &= (1 << bits) - 1
        if kind in "di":
            body = str(value - (1 << bits) if value >> (bits - 1) else value)
        elif kind == "u":
            body = str(value)
        else:
            body = format(value, kind)
    width = spec.width or 0
    if "-" in spec.flags:
        return body.ljust(width)
    if "0" in spec.flags and kind in "diuxX":
        sign = body[0] if body[:1] == "-" else ""
        return sign + body[len(sign):].rjust(width - len(sign), "0")
    return body.rjust(width)
