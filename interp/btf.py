"""The BPF Type Format (`.BTF`) and its extension (`.BTF.ext`): types, function and line info,
and CO-RE relocation records, as the kernel's `include/uapi/linux/btf.h` lays them out."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cache

BTF_MAGIC = 0xEB9F


class BtfError(ValueError):
    """Malformed BTF or BTF.ext data."""


class Kind(IntEnum):
    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


MODIFIERS = (Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG)


@dataclass
class Member:
    name: str
    type_id: int
    bit_offset: int
    bitfield_size: int = 0


@dataclass
class BtfType:
    id: int
    kind: Kind
    name: str
    size: int = 0  # bytes, for INT/STRUCT/UNION/ENUM/DATASEC/FLOAT
    ref: int = 0  # the referenced type for PTR/TYPEDEF/modifiers/FUNC/VAR/return of FUNC_PROTO
    members: list[Member] = field(default_factory=list)  # STRUCT/UNION members, FUNC_PROTO params
    array: tuple[int, int] | None = None  # (element type, nelems)
    enum_values: list[tuple[str, int]] = field(default_factory=list)
    vars: list[tuple[int, int, int]] = field(default_factory=list)  # DATASEC: (var type, offset, size)
    kind_flag: bool = False
    linkage: int = 0  # VAR/FUNC linkage


class Btf:
    """Parsed `.BTF` data: `types[id]` (id 0 is void) and the string table."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 24:
            raise BtfError(f"BTF data of {len(data)} bytes is shorter than its 24-byte header")
        magic, version, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
        if magic != BTF_MAGIC:
            raise BtfError(f"BTF magic is {magic:#x}, expected {BTF_MAGIC:#x}")
        if version != 1:
            raise BtfError(f"BTF version {version} is not supported (expected 1)")
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, 8)
        base = hdr_len
        if base + type_off + type_len > len(data) or base + str_off + str_len > len(data):
            raise BtfError("BTF type or string section runs past the end of the data")
        self.strings = data[base + str_off : base + str_off + str_len]
        self.types: list[BtfType] = [BtfType(0, Kind.UNKN, "")]
        self._parse_types(data[base + type_off : base + type_off + type_len])
        self._by_name: dict[str, list[BtfType]] | None = None

    def string(self, offset: int) -> str:
        if offset >= len(self.strings) and offset:
            raise BtfError(f"BTF string offset {offset} is past the string table ({len(self.strings)} bytes)")
        end = self.strings.find(b"\0", offset)
        return self.strings[offset : end if end >= 0 else len(self.strings)].decode("utf-8", "replace")

    def _parse_types(self, raw: bytes) -> None:
        pos, n = 0, len(raw)
        unpack = struct.unpack_from
        while pos < n:
            if pos + 12 > n:
                raise BtfError("truncated BTF type record")
            name_off, info, size_or_type = unpack("<III", raw, pos)
            pos += 12
            vlen = info & 0xFFFF
            kind_value = (info >> 24) & 0x1F
            try:
                kind = Kind(kind_value)
            except ValueError:
                raise BtfError(f"unknown BTF kind {kind_value} for type {len(self.types)}") from None
            t = BtfType(len(self.types), kind, self.string(name_off), kind_flag=bool(info >> 31))
            need = {Kind.INT: 4, Kind.ARRAY: 12, Kind.VAR: 4, Kind.DECL_TAG: 4}.get(kind, 0)
            need += {Kind.STRUCT: 12, Kind.UNION: 12, Kind.ENUM: 8, Kind.FUNC_PROTO: 8,
                     Kind.DATASEC: 12, Kind.ENUM64: 12}.get(kind, 0) * vlen
            if pos + need > n:
                raise BtfError(f"truncated BTF data for type {t.id} ({kind.name})")
            if kind in (Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.DATASEC, Kind.FLOAT):
                t.size = size_or_type
            else:
                t.ref = size_or_type
            if kind == Kind.INT:
                pos += 4
            elif kind == Kind.ARRAY:
                elem, _index, nelems = unpack("<III", raw, pos)
                t.array = (elem, nelems)
                pos += 12
            elif kind in (Kind.STRUCT, Kind.UNION):
                for i in range(vlen):
                    m_name, m_type, m_off = unpack("<III", raw, pos + 12 * i)
                    if t.kind_flag:
                        t.members.append(Member(self.string(m_name), m_type, m_off & 0xFFFFFF, m_off >> 24))
                    else:
                        t.members.append(Member(self.string(m_name), m_type, m_off))
                pos += 12 * vlen
            elif kind == Kind.ENUM:
                for i in range(vlen):
                    e_name, e_val = unpack("<Ii", raw, pos + 8 * i)
                    t.enum_values.append((self.string(e_name), e_val))
                pos += 8 * vlen
            elif kind == Kind.ENUM64:
                for i in range(vlen):
                    e_name, lo, hi = unpack("<III", raw, pos + 12 * i)
                    t.enum_values.append((self.string(e_name), lo | (hi << 32)))
                pos += 12 * vlen
            elif kind == Kind.FUNC_PROTO:
                for i in range(vlen):
                    p_name, p_type = unpack("<II", raw, pos + 8 * i)
                    t.members.append(Member(self.string(p_name), p_type, 0))
                pos += 8 * vlen
            elif kind == Kind.VAR:
                t.linkage = unpack("<I", raw, pos)[0]
                pos += 4
            elif kind == Kind.DATASEC:
                for i in range(vlen):
                    t.vars.append(unpack("<III", raw, pos + 12 * i))
                pos += 12 * vlen
            elif kind == Kind.DECL_TAG:
                pos += 4
            elif kind == Kind.FUNC:
                t.linkage = vlen
            self.types.append(t)

    # -- queries ------------------------------------------------------------
    def get(self, type_id: int) -> BtfType:
        if not 0 <= type_id < len(self.types):
            raise BtfError(f"BTF type id {type_id} does not exist ({len(self.types)} types)")
        return self.types[type_id]

    def skip_modifiers(self, type_id: int) -> BtfType:
        t = self.get(type_id)
        for _ in range(64):
            if t.kind not in MODIFIERS:
                return t
            t = self.get(t.ref)
        raise BtfError(f"BTF type {type_id}: modifier chain too long or cyclic")

    def size_of(self, type_id: int) -> int:
        t = self.skip_modifiers(type_id)
        if t.kind in (Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.DATASEC, Kind.FLOAT):
            return t.size
        if t.kind == Kind.PTR:
            return 8
        if t.kind == Kind.ARRAY and t.array is not None:
            return t.array[1] * self.size_of(t.array[0])
        if t.kind == Kind.VAR:
            return self.size_of(t.ref)
        raise BtfError(f"BTF type {type_id} ({t.kind.name}) has no size")

    def by_name(self, name: str) -> list[BtfType]:
        if self._by_name is None:
            index: dict[str, list[BtfType]] = {}
            for t in self.types:
                if t.name:
                    index.setdefault(t.name, []).append(t)
            self._by_name = index
        return self._by_name.get(name, [])

    def datasec(self, name: str) -> BtfType | None:
        for t in self.by_name(name):
            if t.kind == Kind.DATASEC:
                return t
        return None


# ---------------------------------------------------------------------------
# .BTF.ext
# ---------------------------------------------------------------------------


class CoreKind(IntEnum):
    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12


@dataclass(frozen=True)
class FuncInfo:
    insn_off: int  # bytes from the start of the section
    type_id: int


@dataclass(frozen=True)
class LineInfo:
    insn_off: int
    file: str
    line_text: str
    line: int
    column: int


@dataclass(frozen=True)
class CoreRelo:
    insn_off: int
    type_id: int
    access: str
    kind: CoreKind


class LineInfoBySection(Mapping[str, list[LineInfo]]):
    """The source lines of each code section, decoded when a section is first asked for: an
    object of many programs carries lines for all of them, and a check of one looks at its own."""

    def __init__(self, where: dict[str, list[int]] | None = None,
                 decode: Callable[[int], LineInfo] | None = None) -> None:
        self._where = where or {}  # section -> the offsets of its records
        self._decode = decode
        self._decoded: dict[str, list[LineInfo]] = {}

    def __getitem__(self, section: str) -> list[LineInfo]:
        if section not in self._decoded:
            positions = self._where[section]  # (KeyError: no such section)
            assert self._decode is not None
            self._decoded[section] = [self._decode(pos) for pos in positions]
        return self._decoded[section]

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


@dataclass
class BtfExt:
    func_info: dict[str, list[FuncInfo]] = field(default_factory=dict)  # by section name
    line_info: LineInfoBySection = field(default_factory=LineInfoBySection)
    core_relos: dict[str, list[CoreRelo]] = field(default_factory=dict)


def parse_btf_ext(data: bytes, btf: Btf) -> BtfExt:
    if len(data) < 24:
        raise BtfError(f"BTF.ext data of {len(data)} bytes is shorter than its header")
    magic, version, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
    if magic != BTF_MAGIC:
        raise BtfError(f"BTF.ext magic is {magic:#x}, expected {BTF_MAGIC:#x}")
    func_off, func_len, line_off, line_len = struct.unpack_from("<IIII", data, 8)
    core_off = core_len = 0
    if hdr_len >= 32 and len(data) >= 32:
        core_off, core_len = struct.unpack_from("<II", data, 24)
    ext = BtfExt()
    # file names and source lines repeat from record to record: each is decoded once
    string = cache(btf.string)

    def spans(offset: int, length: int, min_size: int) -> Iterator[tuple[str, int, int, int]]:
        """(section, first record's offset, count, record size) of each section's records."""
        if length == 0:
            return
        start = hdr_len + offset
        end = start + length
        if end > len(data) or length < 4:
            raise BtfError("BTF.ext info section runs past the end of the data")
        rec_size = struct.unpack_from("<I", data, start)[0]
        if rec_size < min_size:
            raise BtfError(f"BTF.ext record size {rec_size} is smaller than {min_size}")
        pos = start + 4
        while pos < end:
            if pos + 8 > end:
                raise BtfError("truncated BTF.ext section header")
            sec_name_off, count = struct.unpack_from("<II", data, pos)
            pos += 8
            if pos + count * rec_size > end:
                raise BtfError("BTF.ext records run past their section")
            yield string(sec_name_off), pos, count, rec_size
            pos += count * rec_size

    def records(offset: int, length: int, min_size: int) -> Iterator[tuple[str, int]]:
        """(section, offset) of each record."""
        for section, first, count, rec_size in spans(offset, length, min_size):
            for i in range(count):
                yield section, first + i * rec_size

    for section, pos in records(func_off, func_len, 8):
        insn_off, type_id = struct.unpack_from("<II", data, pos)
        ext.func_info.setdefault(section, []).append(FuncInfo(insn_off, type_id))

    def line(pos: int) -> LineInfo:
        insn_off, file_off, text_off, line_col = struct.unpack_from("<IIII", data, pos)
        return LineInfo(insn_off, string(file_off), string(text_off), line_col >> 10, line_col & 0x3FF)

    where: dict[str, list[int]] = {}
    for section, first, count, rec_size in spans(line_off, line_len, 16):
        where.setdefault(section, []).extend(range(first, first + count * rec_size, rec_size))
    ext.line_info = LineInfoBySection(where, line)
    for section, pos in records(core_off, core_len, 16):
        insn_off, type_id, access_off, kind = struct.unpack_from("<IIII", data, pos)
        try:
            core_kind = CoreKind(kind)
        except ValueError:
            raise BtfError(f"unknown CO-RE relocation kind {kind}") from None
        ext.core_relos.setdefault(section, []).append(CoreRelo(insn_off, type_id, string(access_off), core_kind))
    return ext
