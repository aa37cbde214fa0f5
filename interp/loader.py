"""Loading ELF objects built by `clang -target bpf` into `Program`s (ELF through pyelftools).

Every program of an object is found: each executable section, and each global function where
libbpf-style objects pack several into one section. Subprograms are appended and calls
relocated the way libbpf links them; `lddw` relocations become map references
(src 1, imm = index into `Program.maps`) or map-value references (src 2, high imm = offset)."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.enums import ENUM_ST_INFO_BIND, ENUM_ST_INFO_TYPE, ENUM_ST_SHNDX
from elftools.elf.sections import StringTableSection, SymbolTableSection

from .btf import Btf, BtfError, BtfExt, parse_btf_ext
from .isa.insn import SLOT_BYTES, DecodeError, Insn, decode
from .isa.opcodes import CALL, LDDW, PseudoSrc
from .map_limits import creation_error
from .program import MapDef, Program, Relocation, SourceLine
from .sections import section_type
from .sources import select_programs

MAX_ZERO_FILL = 64 << 20  # a .bss larger than this is a corrupted size, not a program's data
EM_BPF = 247
EM_NONE = 0
SHN_UNDEF = 0
# Elf64_Sym: st_name, st_info, st_other, st_shndx, st_value, st_size; its fields named as
# pyelftools names them (an unnamed value stays a number)
_SYMBOL = struct.Struct("<IBBHQQ")
_SYMBOL_TYPES = {value: name for name, value in ENUM_ST_INFO_TYPE.items() if not name.startswith("_")}
_SYMBOL_BINDINGS = {value: name for name, value in ENUM_ST_INFO_BIND.items() if not name.startswith("_")}
_SPECIAL_SECTIONS = frozenset(value for name, value in ENUM_ST_SHNDX.items() if not name.startswith("_"))


class _Named(NamedTuple):
    """What `select_programs` reads of a program, before it is linked."""

    section: str
    name: str


class LoaderError(ValueError):
    """An object file that cannot be loaded; the message names the problem, on one line (names
    taken from the file are shown with their control characters escaped)."""

    def __init__(self, message: str) -> None:
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in message))


@dataclass
class _Symbol:
    name: str
    section: int  # section index, 0 when undefined
    value: int
    size: int
    kind: str  # STT_FUNC, STT_OBJECT, STT_SECTION, STT_NOTYPE, ...
    binding: str


@dataclass
class _Function:
    section: int
    name: str
    start: int  # slot index within the section
    end: int


@dataclass
class _CodeSection:
    index: int
    name: str
    slots: list[Insn | None]  # by slot; None marks the second half of an lddw
    functions: list[_Function] = field(default_factory=list)
    # slot -> (target section index, target slot) for local calls / function pointers
    targets: dict[int, tuple[int, int]] = field(default_factory=dict)
    externs: dict[int, str] = field(default_factory=dict)  # slot -> unresolved extern description
    invalid: dict[int, str] = field(default_factory=dict)  # slot -> why its encoding is invalid


def load_object(path: Path | str, target_btf: "Btf | None | str" = "auto",
                select: str | None = None) -> list[Program]:
    """All programs of the object at `path`. `target_btf` is the kernel BTF that CO-RE
    relocations are resolved against: a `Btf`, a path, "auto" (the running kernel's, when it
    exists) or None (leave them unresolved).

    `select` (a section, a function or `SECTION:FUNCTION`, as `interp.sources.select_programs`
    matches them): only the programs it names, each the same as a whole load makes it; only
    their sections, and those of the functions they call, are decoded, relocated and linked.
    Where it names none, every program (so that the caller can say what there is)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoaderError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return _Loader(path, data, target_btf, select).programs(select)
    except (ELFError, struct.error, UnicodeDecodeError, IndexError, KeyError, ValueError,
            AttributeError, TypeError, AssertionError, OverflowError, RecursionError) as exc:
        if isinstance(exc, LoaderError):
            raise
        raise LoaderError(f"{path.name}: malformed ELF object: {exc}") from None


class _Loader:
    def __init__(self, path: Path, data: bytes, target_btf: Any, select: str | None = None) -> None:
        self.path = path
        self.name = path.name
        self.data = data
        try:
            self.elf = ELFFile(io.BytesIO(data))
        except ELFError as exc:
            raise LoaderError(f"{self.name}: not an ELF object: {exc}") from None
        machine = self.elf["e_machine"]
        if machine not in ("EM_BPF", EM_BPF, "EM_NONE", EM_NONE):
            raise LoaderError(f"{self.name}: ELF machine is {machine}, not BPF; compile with clang -target bpf")
        if not self.elf.little_endian or self.elf.elfclass != 64:
            raise LoaderError(f"{self.name}: only little-endian 64-bit BPF objects are supported (use -target bpfel)")
        self.sections = list(self.elf.iter_sections())
        self.symbols = self._symbols()
        self.btf = self._btf()
        self.btf_ext = self._btf_ext()
        self.target_btf = target_btf
        self.maps: list[MapDef] = []
        self.map_by_symbol: dict[tuple[int, int], int] = {}  # (section, value) -> map index
        self.data_maps: dict[int, int] = {}  # section index -> map index
        self._load_maps()
        for mdef in self.maps + [m.inner for m in self.maps if m.inner is not None]:
            refusal = creation_error(mdef)
            if refusal is not None:
                raise LoaderError(f"{self.name}: map {mdef.name}: {refusal}")
        self.license = self._string_section("license")
        version = self._section_bytes("version")
        self.kern_version = struct.unpack_from("<I", version)[0] if version and len(version) >= 4 else None
        # executable sections that hold code, by index; each decoded and relocated when first
        # needed (all of them at once, in order, unless one program is selected)
        self.code_indices = [index for index, section in enumerate(self.sections)
                             if section["sh_type"] == "SHT_PROGBITS" and section["sh_flags"] & SH_FLAGS.SHF_EXECINSTR
                             and section.data()]
        self.code: dict[int, _CodeSection] = {}
        self._function_sections: dict[str, set[int]] | None = None  # function name -> sections
        if select is None:
            self._decode_all()

    # -- raw ELF -----------------------------------------------------------
    def _section_bytes(self, name: str) -> bytes | None:
        for section in self.sections:
            if section.name == name:
                if section["sh_type"] == "SHT_NOBITS":
                    if section["sh_size"] > MAX_ZERO_FILL:
                        raise LoaderError(f"{self.name}: section {name} claims {section['sh_size']} bytes")
                    return bytes(section["sh_size"])
                return section.data()
        return None

    def _string_section(self, name: str) -> str:
        raw = self._section_bytes(name)
        if raw is None:
            return ""
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")

    def _symbols(self) -> list[_Symbol]:
        table = self.elf.get_section_by_name(".symtab")
        if table is None:
            raise LoaderError(f"{self.name}: missing section .symtab; the object has no symbol table")
        fast = self._read_symbols(table)
        if fast is not None:
            return fast
        out = []
        for sym in table.iter_symbols():
            shndx = sym["st_shndx"]
            section = shndx if isinstance(shndx, int) else 0
            out.append(_Symbol(sym.name, section, sym["st_value"], sym["st_size"],
                               sym["st_info"]["type"], sym["st_info"]["bind"]))
        return out

    def _read_symbols(self, table: Any) -> list[_Symbol] | None:
        """The symbols of a well-formed 64-bit table, read with `struct` (pyelftools takes 30 us a
        symbol, and an object may have 10,000), exactly as pyelftools reads them; None for any
        other table, which pyelftools reads (and says what is wrong with it)."""
        strings = getattr(table, "stringtable", None)
        offset, size = table["sh_offset"], table["sh_size"]
        if (not isinstance(table, SymbolTableSection) or not isinstance(strings, StringTableSection)
                or table["sh_entsize"] != _SYMBOL.size or offset + size > len(self.data)):
            return None
        names_at = strings["sh_offset"]
        out = []
        for st_name, st_info, _other, shndx, value, sym_size in _SYMBOL.iter_unpack(self.data[offset:offset + size]):
            start = names_at + st_name
            end = self.data.find(b"\0", start)
            # a name runs to the first NUL of the file; none: no name
            name = self.data[start:end].decode("utf-8", errors="replace") if end >= 0 else ""
            out.append(_Symbol(name, 0 if shndx in _SPECIAL_SECTIONS else shndx, value, sym_size,
                               _SYMBOL_TYPES.get(st_info & 0xF, st_info & 0xF),
                               _SYMBOL_BINDINGS.get(st_info >> 4, st_info >> 4)))
        return out

    def _btf(self) -> Btf | None:
        raw = self._section_bytes(".BTF")
        if raw is None:
            return None
        try:
            return Btf(raw)
        except BtfError as exc:
            raise LoaderError(f"{self.name}: section .BTF: {exc}") from None

    def _btf_ext(self) -> BtfExt | None:
        raw = self._section_bytes(".BTF.ext")
        if raw is None or self.btf is None:
            return None
        try:
            return parse_btf_ext(raw, self.btf)
        except BtfError as exc:
            raise LoaderError(f"{self.name}: section .BTF.ext: {exc}") from None

    # -- maps ----------------------------------------------------------------
    def _load_maps(self) -> None:
        for index, section in enumerate(self.sections):
            if section.name == "maps" or section.name.startswith("maps/"):
                self._legacy_maps(index, section)
        for index, section in enumerate(self.sections):
            if section.name == ".maps":
                self._btf_maps(index, section)
        for index, section in enumerate(self.sections):
            name = section.name
            if name.startswith((".data", ".rodata", ".bss")) and section["sh_flags"] & SH_FLAGS.SHF_ALLOC:
                self._data_map(index, section)

    def _legacy_maps(self, index: int, section: Any) -> None:
        data = section.data()
        syms = sorted((s for s in self.symbols if s.section == index and s.kind != "STT_SECTION"),
                      key=lambda s: s.value)
        if not syms:
            return
        size = len(data) // len(syms)
        if size < 20 or len(data) % len(syms):
            raise LoaderError(
                f"{self.name}: section {section.name} of {len(data)} bytes does not hold "
                f"{len(syms)} map definitions of equal size (at least 20 bytes each)"
            )
        first = len(self.maps)
        for sym in syms:
            if sym.value + size > len(data):
                raise LoaderError(f"{self.name}: map {sym.name} runs past the end of section {section.name}")
            mtype, key, value, entries, flags = struct.unpack_from("<IIIII", data, sym.value)
            inner = None
            if size >= 36:  # iproute2's struct bpf_elf_map: id, pinning, inner_id, inner_idx
                _id, pinning, _inner_id, inner_idx = struct.unpack_from("<IIII", data, sym.value + 20)
            elif size >= 24:  # struct bpf_map_def with inner_map_idx
                pinning, inner_idx = 0, struct.unpack_from("<I", data, sym.value + 20)[0]
            else:
                pinning, inner_idx = 0, 0
            if mtype in (12, 13):  # array/hash of maps name their inner template
                inner = first + inner_idx if size >= 24 else None
            self.map_by_symbol[(index, sym.value)] = len(self.maps)
            self.maps.append(MapDef(sym.name, mtype, key, value, entries, flags, "legacy",
                                    inner_idx=inner, pinning=pinning))

    def _btf_maps(self, index: int, section: Any) -> None:
        if self.btf is None:
            raise LoaderError(f"{self.name}: section .maps needs .BTF to describe its maps, and there is none")
        datasec = self.btf.datasec(".maps")
        if datasec is None:
            raise LoaderError(f"{self.name}: .BTF has no DATASEC for .maps")
        by_name = {}
        for var_type, _offset, _size in datasec.vars:
            var = self.btf.get(var_type)
            by_name[var.name] = var
        syms = sorted((s for s in self.symbols if s.section == index and s.kind == "STT_OBJECT"),
                      key=lambda s: s.value)
        for sym in syms:
            var = by_name.get(sym.name)
            if var is None:
                raise LoaderError(f"{self.name}: map {sym.name} in .maps has no BTF variable")
            self.map_by_symbol[(index, sym.value)] = len(self.maps)
            self.maps.append(self._btf_map_def(sym.name, var.ref))

    def _btf_map_def(self, name: str, type_id: int) -> MapDef:
        assert self.btf is not None
        btf = self.btf
        struct_type = btf.skip_modifiers(type_id)
        fields: dict[str, int] = {}
        inner: MapDef | None = None
        for member in struct_type.members:
            target = btf.skip_modifiers(member.type_id)
            if member.name in ("key", "value") and target.kind.name == "PTR":
                fields[member.name + "_size"] = btf.size_of(target.ref)
            elif member.name == "values" and target.kind.name == "ARRAY" and target.array:
                element = btf.skip_modifiers(target.array[0])
                if element.kind.name == "PTR":
                    inner = self._btf_map_def(f"{name}.inner", element.ref)
            elif target.kind.name == "PTR":
                pointee = btf.skip_modifiers(target.ref)
                if pointee.kind.name == "ARRAY" and pointee.array is not None:
                    fields[member.name] = pointee.array[1]  # __uint(name, value)
        mtype = fields.get("type", 0)
        key_size = fields.get("key_size", 0)
        value_size = fields.get("value_size", 0)
        if inner is not None and not value_size:
            value_size = 4  # map-in-map values are map fds
        return MapDef(name, mtype, key_size, value_size, fields.get("max_entries", 0),
                      fields.get("map_flags", 0), "btf", inner=inner, pinning=fields.get("pinning", 0))

    def _data_map(self, index: int, section: Any) -> None:
        size = section["sh_size"]
        if section["sh_type"] == "SHT_NOBITS" and size > MAX_ZERO_FILL:
            raise LoaderError(f"{self.name}: section {section.name} claims {size} bytes; "
                              f"global data above {MAX_ZERO_FILL >> 20} MiB is not supported")
        initial = bytes(size) if section["sh_type"] == "SHT_NOBITS" else section.data()
        self.data_maps[index] = len(self.maps)
        self.maps.append(MapDef(section.name, 2, 4, size, 1, 0, "data", initial_value=initial,
                                frozen=section.name.startswith(".rodata")))

    # -- code ------------------------------------------------------------------
    def _decode_all(self) -> None:
        decoded = {index: self._decode(index) for index in self.code_indices if index not in self.code}
        self.code = {index: self.code.get(index) or decoded[index] for index in self.code_indices}
        for sec in decoded.values():
            self._apply_relocations(sec)

    def _code_section(self, index: int) -> _CodeSection | None:
        """The code of section `index`, decoded and relocated; None where it holds no code."""
        sec = self.code.get(index)
        if sec is None and index in self.code_indices:
            sec = self.code[index] = self._decode(index)
            self._apply_relocations(sec)
        return sec

    def _decode(self, index: int) -> _CodeSection:
        section = self.sections[index]
        raw = section.data()
        invalid: dict[int, str] = {}  # an invalid instruction is the verifier's to refuse, at its pc
        try:
            insns = decode(raw, invalid=invalid)
        except DecodeError as exc:
            raise LoaderError(f"{self.name}: section {section.name}: {exc}") from None
        slots: list[Insn | None] = []
        for insn in insns:
            slots.append(insn)
            if insn.slots == 2:
                slots.append(None)
        return _CodeSection(index, section.name, slots, self._functions(index, section.name, len(slots)),
                            invalid=invalid)

    def _functions(self, index: int, section_name: str, nslots: int) -> list[_Function]:
        syms = sorted((s for s in self.symbols if s.section == index and s.kind == "STT_FUNC"),
                      key=lambda s: s.value)
        functions = []
        for i, sym in enumerate(syms):
            if sym.value % SLOT_BYTES:
                raise LoaderError(f"{self.name}: function {sym.name} starts inside an instruction")
            start = sym.value // SLOT_BYTES
            if sym.size:
                end = start + sym.size // SLOT_BYTES
            else:
                end = syms[i + 1].value // SLOT_BYTES if i + 1 < len(syms) else nslots
            if end > nslots or start >= nslots:
                raise LoaderError(f"{self.name}: function {sym.name} runs past the end of section {section_name}")
            functions.append(_Function(index, sym.name, start, end))
        return functions

    def _apply_relocations(self, sec: _CodeSection) -> None:
        for rel_section in self.sections:
            if rel_section["sh_type"] != "SHT_REL" or rel_section["sh_info"] != sec.index:
                continue
            for rel in rel_section.iter_relocations():
                offset, sym_index, rtype = rel["r_offset"], rel["r_info_sym"], rel["r_info_type"]
                if offset % SLOT_BYTES or offset // SLOT_BYTES >= len(sec.slots):
                    raise LoaderError(f"{self.name}: relocation at byte {offset} of {sec.name} is not at an instruction")
                if sym_index >= len(self.symbols):
                    raise LoaderError(f"{self.name}: relocation in {sec.name} names symbol {sym_index}, which does not exist")
                self._relocate(sec, offset // SLOT_BYTES, self.symbols[sym_index], rtype)

    def _relocate(self, sec: _CodeSection, slot: int, sym: _Symbol, rtype: int) -> None:
        insn = sec.slots[slot]
        if insn is None:
            raise LoaderError(f"{self.name}: relocation in {sec.name} points into the middle of an lddw at {slot - 1}")
        where = f"{sec.name}+{slot}"
        if sym.section == SHN_UNDEF:
            sec.externs[slot] = f"extern symbol '{sym.name}' ({'kfunc call' if insn.is_call else 'ksym/kconfig'})"
            return
        if insn.opcode == CALL:
            if insn.src != 1:
                raise LoaderError(f"{self.name}: call relocation at {where} on a helper call")
            if sym.value % SLOT_BYTES:
                raise LoaderError(f"{self.name}: call relocation at {where} points inside an instruction")
            sec.targets[slot] = (sym.section, sym.value // SLOT_BYTES + insn.imm + 1)
            return
        if insn.opcode != LDDW:
            raise LoaderError(f"{self.name}: relocation at {where} is on {insn}, which takes none")
        target_section = self.sections[sym.section] if sym.section < len(self.sections) else None
        if target_section is None:
            raise LoaderError(f"{self.name}: relocation at {where} names a symbol in section {sym.section}, which does not exist")
        key = (sym.section, sym.value)
        if key in self.map_by_symbol:
            sec.slots[slot] = Insn(LDDW, insn.dst, PseudoSrc.MAP_FD, 0, self.map_by_symbol[key])
            return
        if sym.section in self.data_maps:
            offset = (sym.value if sym.kind != "STT_SECTION" else 0) + (insn.imm & 0xFFFFFFFF)
            sec.slots[slot] = Insn(LDDW, insn.dst, PseudoSrc.MAP_VALUE, 0,
                                   self.data_maps[sym.section] | (offset << 32))
            return
        if target_section["sh_flags"] & SH_FLAGS.SHF_EXECINSTR:
            value = sym.value + (insn.imm & 0xFFFFFFFF if sym.kind == "STT_SECTION" else 0)
            sec.targets[slot] = (sym.section, value // SLOT_BYTES)
            sec.slots[slot] = Insn(LDDW, insn.dst, PseudoSrc.FUNC, 0, 0)
            return
        raise LoaderError(
            f"{self.name}: lddw at {where} refers to '{sym.name}' in section {target_section.name}, "
            "which is neither a map nor global data"
        )

    # -- programs ----------------------------------------------------------------
    def programs(self, select: str | None = None) -> list[Program]:
        programs = []
        text_index = next((i for i in self.code_indices if self.sections[i].name == ".text"), None)
        for index in self.code_indices:
            if index == text_index and len(self.code_indices) > 1:
                continue  # .text holds subprograms when other programs exist
            if select is not None and not self._may_hold(index, select):
                continue
            sec = self._code_section(index)
            assert sec is not None
            # every function of a program section is a program, static ones included
            entries = list(sec.functions)
            if not entries:
                entries = [_Function(index, sec.name, 0, len(sec.slots))]
            for entry in entries:
                if select is None or select_programs([_Named(sec.name, entry.name)], select):
                    programs.append(self._link(sec, entry))
        if select is not None:
            chosen = select_programs(programs, select)
            if chosen:
                return chosen
            self._decode_all()  # none named: every program, for the caller to list
            return self.programs()
        if not programs:
            raise LoaderError(f"{self.name}: no programs: the object has no executable section with code")
        return programs

    def _may_hold(self, index: int, select: str) -> bool:
        """Whether a program of section `index` may be the one `select` names: the section's
        name, SECTION:FUNCTION, or a function of the section."""
        name = self.sections[index].name
        if select == name or select.startswith(name + ":"):
            return True
        if self._function_sections is None:
            self._function_sections = {}
            for sym in self.symbols:
                if sym.kind == "STT_FUNC":
                    self._function_sections.setdefault(sym.name, set()).add(sym.section)
        return index in self._function_sections.get(select, ())

    def _function_at(self, section: int, slot: int) -> _Function:
        sec = self._code_section(section)
        if sec is None:
            raise LoaderError(f"{self.name}: call into section {section}, which holds no code")
        for function in sec.functions:
            if function.start <= slot < function.end:
                return function
        if not sec.functions and 0 <= slot < len(sec.slots):
            return _Function(section, sec.name, 0, len(sec.slots))
        raise LoaderError(f"{self.name}: call to {sec.name}+{slot}, where no function starts")

    def _link(self, sec: _CodeSection, entry: _Function) -> Program:
        linked: list[Insn | None] = []
        placed: dict[tuple[int, int], int] = {}  # (section, function start) -> linked start
        origin: list[tuple[int, int]] = []  # linked slot -> (section, slot)
        functions: list[tuple[int, str]] = []
        relocations: list[Relocation] = []

        def append(function: _Function) -> int:
            start = len(linked)
            placed[(function.section, function.start)] = start
            functions.append((start, function.name))
            source = self.code[function.section]
            for slot in range(function.start, function.end):
                linked.append(source.slots[slot])
                origin.append((function.section, slot))
            return start

        append(entry)
        pc = 0
        while pc < len(linked):  # appended code is scanned too, as libbpf does
            insn = linked[pc]
            section, slot = origin[pc]
            source = self.code[section]
            if insn is None:
                pc += 1
                continue
            target: tuple[int, int] | None = source.targets.get(slot)
            if target is None and insn.opcode == CALL and insn.src == 1:
                target = (section, slot + insn.imm + 1)  # an unrelocated pc-relative call
            if slot in source.externs:
                relocations.append(Relocation(pc, "extern", source.externs[slot]))
            if target is not None:
                callee = self._function_at(*target)
                key = (callee.section, callee.start)
                start = placed[key] if key in placed else append(callee)
                new_target = start + (target[1] - callee.start)
                if insn.opcode == CALL:
                    linked[pc] = Insn(CALL, 0, 1, 0, new_target - (pc + 1))
                else:
                    linked[pc] = Insn(LDDW, insn.dst, PseudoSrc.FUNC, 0, (new_target - (pc + 1)) & 0xFFFFFFFF)
            pc += 1
        insns = [insn for insn in linked if insn is not None]
        invalid = {pc: self.code[section].invalid[slot] for pc, (section, slot) in enumerate(origin)
                   if slot in self.code[section].invalid}
        stype = section_type(sec.name)
        program = Program(
            name=entry.name, section=sec.name, prog_type=stype.prog_type, attach_kind=stype.attach_kind,
            attach_to=stype.attach_to, insns=insns, entry_slots=entry.end - entry.start,
            maps=self.maps, license=self.license, kern_version=self.kern_version,
            functions=functions, relocations=relocations, path=self.path, invalid=invalid,
        )
        self._attach_btf_ext(program, origin)
        return program

    def _attach_btf_ext(self, program: Program, origin: list[tuple[int, int]]) -> None:
        if self.btf_ext is None:
            return
        where: dict[tuple[str, int], int] = {}
        for pc, (section, slot) in enumerate(origin):
            where[(self.sections[section].name, slot)] = pc
        names = {name for name, _slot in where}
        for section_name in sorted(names & self.btf_ext.line_info.keys()):  # (this program's sections only)
            try:
                lines = self.btf_ext.line_info[section_name]
            except BtfError as exc:
                raise LoaderError(f"{self.name}: section .BTF.ext: {exc}") from None
            for info in lines:
                pc = where.get((section_name, info.insn_off // SLOT_BYTES))
                if pc is not None:
                    program.source_lines[pc] = SourceLine(info.file, info.line, info.column, info.line_text)
        core = [(where.get((name, relo.insn_off // SLOT_BYTES)), relo)
                for name, relos in self.btf_ext.core_relos.items() if name in names for relo in relos]
        core = [(pc, relo) for pc, relo in core if pc is not None]
        if core:
            from .core import apply_core_relocations

            apply_core_relocations(program, core, self.btf, self.target_btf)
