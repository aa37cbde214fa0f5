"""`struct pt_regs` per architecture, with field names: the context a kprobe program reads."""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class PtRegsLayout:
    arch: str
    fields: tuple[tuple[str, int, int], ...]  # (name, offset, size)
    size: int
    args: tuple[str, ...]  # registers holding function arguments 1..n
    return_value: str
    aliases: dict[str, str]

    def field_at(self, offset: int) -> tuple[str, int, int] | None:
        for name, start, size in self.fields:
            if start <= offset < start + size:
                return name, start, size
        return None

    def describe(self, offset: int) -> str:
        """`ctx+112 (di, 1st argument)` style description of a context offset."""
        found = self.field_at(offset)
        if found is None:
            return f"ctx{offset:+d}"
        name, start, _ = found
        role = ""
        if name in self.args:
            n = self.args.index(name) + 1
            role = f", {n}{'st' if n == 1 else 'nd' if n == 2 else 'rd' if n == 3 else 'th'} argument"
        elif name == self.return_value:
            role = ", return value"
        inner = f"+{offset - start}" if offset != start else ""
        return f"ctx+{offset} ({name}{inner}{role})"

    def offset_of(self, name: str) -> int:
        name = self.aliases.get(name, name)
        for field_name, offset, _ in self.fields:
            if field_name == name:
                return offset
        raise KeyError(name)

    def build(self, values: dict[str, int] | None = None, raw: bytes | None = None) -> bytearray:
        """The context bytes: `raw` (padded with zeros) with named `values` written over it."""
        data = bytearray(self.size)
        if raw is not None:
            if len(raw) > self.size:
                raise ValueError(f"{len(raw)} bytes of registers exceed sizeof(struct pt_regs) = {self.size} on {self.arch}")
            data[: len(raw)] = raw
        for name, value in (values or {}).items():
            try:
                offset = self.offset_of(name)
            except KeyError:
                known = ", ".join(f for f, _, _ in self.fields)
                raise ValueError(f"{self.arch} pt_regs has no register '{name}'; it has {known}") from None
            struct.pack_into("<Q", data, offset, value & 0xFFFF_FFFF_FFFF_FFFF)
        return data


def _layout(arch: str, names: list[str], args: tuple[str, ...], ret: str, aliases: dict[str, str],
            extra: list[tuple[str, int]] | None = None) -> PtRegsLayout:
    fields, offset = [], 0
    for name in names:
        fields.append((name, offset, 8))
        offset += 8
    for name, size in extra or []:
        fields.append((name, offset, size))
        offset += size
    return PtRegsLayout(arch, tuple(fields), offset, args, ret, aliases)


# arch/x86/include/asm/ptrace.h: 21 eight-byte fields, 168 bytes
X86_64 = _layout(
    "x86_64",
    ["r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di",
     "orig_ax", "ip", "cs", "flags", "sp", "ss"],
    args=("di", "si", "dx", "cx", "r8", "r9"),
    ret="ax",
    aliases={"rdi": "di", "rsi": "si", "rdx": "dx", "rcx": "cx", "rax": "ax", "rbx": "bx", "rbp": "bp",
             "rsp": "sp", "rip": "ip", "pc": "ip", "arg1": "di", "arg2": "si", "arg3": "dx", "arg4": "cx",
             "arg5": "r8", "arg6": "r9", "ret": "ax", "eflags": "flags"},
)

# arch/arm64/include/asm/ptrace.h (Linux 6.18): user_pt_regs (x0..x30, sp, pc, pstate), then
# orig_x0, syscallno, pmr, sdei_ttbr1, the frame record meta (fp, lr, type), lockdep_hardirqs, exit_rcu
ARM64 = _layout(
    "arm64",
    [f"x{i}" for i in range(31)] + ["sp", "pc", "pstate", "orig_x0"],
    args=("x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"),
    ret="x0",
    aliases={**{f"arg{i + 1}": f"x{i}" for i in range(8)}, "ret": "x0", "lr": "x30", "fp": "x29"},
    extra=[("syscallno", 4), ("pmr", 4), ("sdei_ttbr1", 8), ("stackframe_fp", 8), ("stackframe_lr", 8),
           ("stackframe_type", 8), ("lockdep_hardirqs", 8), ("exit_rcu", 8)],
)

LAYOUTS = {"x86_64": X86_64, "arm64": ARM64, "aarch64": ARM64}


def layout_for(arch: str) -> PtRegsLayout:
    try:
        return LAYOUTS[arch]
    except KeyError:
        raise ValueError(f"unknown architecture '{arch}'; known: x86_64, arm64") from None


def parse_regs(text: str) -> dict[str, int]:
    """`di=1,si=0x2000` -> {"di": 1, "si": 8192}."""
    values: dict[str, int] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"register assignment '{item}' needs the form NAME=VALUE")
        try:
            values[name.strip()] = int(value.strip(), 0)
        except ValueError:
            raise ValueError(f"register {name.strip()}: '{value.strip()}' is not an integer") from None
    return values
