"""CO-RE (compile once, run everywhere) relocations resolved against a target kernel's BTF.

A field-offset relocation names a field by an access path through the object's own types
(`0:1:2`: array index on the root, then member indices); the same path is followed by member
*names* through the target BTF's types of the same name, and the instruction is patched with the
target's offset, as libbpf does. Kinds not resolved here stay recorded on the program."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from .btf import Btf, BtfError, BtfType, CoreKind, CoreRelo, Kind
from .isa.insn import Insn
from .program import Program, Relocation

VMLINUX = Path("/sys/kernel/btf/vmlinux")


class CoreError(ValueError):
    """A CO-RE relocation that cannot be resolved."""


@lru_cache(maxsize=4)
def _load_btf(path: str) -> Btf:
    return Btf(Path(path).read_bytes())


def target_btf_for(target: Any) -> Btf | None:
    if isinstance(target, Btf) or target is None:
        return target
    if target == "auto":
        return _load_btf(str(VMLINUX)) if VMLINUX.exists() else None
    try:
        return _load_btf(str(target))
    except OSError as exc:
        raise CoreError(f"cannot read target BTF {target}: {exc.strerror or exc}") from None
    except BtfError as exc:
        raise CoreError(f"target BTF {target}: {exc}") from None


def _essential_name(name: str) -> str:
    # `task_struct___v2` is a flavour of `task_struct`
    i = name.find("___")
    return name[:i] if i > 0 else name


def _access(btf: Btf, root_id: int, spec: str) -> tuple[list[tuple[str | None, int]], int, BtfType]:
    """Follow `spec` through local types: [(member name or None for an array index, index)],
    the byte offset, and the final type."""
    indices = [int(part) for part in spec.split(":")]
    current = btf.skip_modifiers(root_id)
    offset = indices[0] * btf.size_of(root_id)
    path: list[tuple[str | None, int]] = []
    for index in indices[1:]:
        if current.kind in (Kind.STRUCT, Kind.UNION):
            if index >= len(current.members):
                raise CoreError(f"access {spec}: member {index} of {current.name or 'anonymous'} does not exist")
            member = current.members[index]
            offset += member.bit_offset // 8
            if member.name:  # anonymous members are found through by name in the target
                path.append((member.name, index))
            current = btf.skip_modifiers(member.type_id)
        elif current.kind == Kind.ARRAY and current.array is not None:
            offset += index * btf.size_of(current.array[0])
            path.append((None, index))
            current = btf.skip_modifiers(current.array[0])
        else:
            raise CoreError(f"access {spec}: cannot index into {current.kind.name}")
    return path, offset, current


def _find_member(btf: Btf, struct_type: BtfType, name: str) -> tuple[int, BtfType] | None:
    """Bit offset and type of member `name`, looking through anonymous members as C does."""
    for member in struct_type.members:
        member_type = btf.skip_modifiers(member.type_id)
        if member.name == name:
            return member.bit_offset, member_type
        if not member.name and member_type.kind in (Kind.STRUCT, Kind.UNION):
            inner = _find_member(btf, member_type, name)
            if inner is not None:
                return member.bit_offset + inner[0], inner[1]
    return None


def _target_field(local: Btf, target: Btf, relo: CoreRelo) -> tuple[int, int] | None:
    """(byte offset, byte size) of the relocated field in the target, or None if it is absent."""
    root = local.skip_modifiers(relo.type_id)
    path, _, _ = _access(local, relo.type_id, relo.access)
    first = int(relo.access.split(":")[0])
    results = set()
    for candidate in target.by_name(_essential_name(root.name)):
        if candidate.kind != root.kind:
            continue
        offset_bits = first * candidate.size * 8
        current: BtfType = candidate
        ok = True
        for name, index in path:
            if name is None:
                if current.kind != Kind.ARRAY or current.array is None:
                    ok = False
                    break
                offset_bits += index * target.size_of(current.array[0]) * 8
                current = target.skip_modifiers(current.array[0])
                continue
            if current.kind not in (Kind.STRUCT, Kind.UNION):
                ok = False
                break
            found = _find_member(target, current, name)
            if found is None:
                ok = False
                break
            offset_bits += found[0]
            current = found[1]
        if ok:
            results.add((offset_bits // 8, target.size_of(current.id) if current.id else 0))
    if len(results) > 1:
        raise CoreError(f"type {root.name}: several target types give different offsets for {relo.access}")
    return results.pop() if results else None


def _patch(insn: Insn, value: int) -> Insn:
    if insn.is_alu or insn.is_lddw:
        return Insn(insn.opcode, insn.dst, insn.src, insn.off, value)
    return Insn(insn.opcode, insn.dst, insn.src, value, insn.imm)  # loads and stores: the offset


def apply_core_relocations(program: Program, relos: list[tuple[int, CoreRelo]], local: Btf | None, target: Any) -> None:
    index_of: dict[int, int] = {}
    pc = 0
    for i, insn in enumerate(program.insns):
        index_of[pc] = i
        pc += insn.slots
    try:
        target_btf = target_btf_for(target)
    except CoreError as exc:
        for pc, relo in relos:
            program.relocations.append(Relocation(pc, "core", f"{relo.kind.name} {relo.access}: {exc}"))
        return
    for pc, relo in relos:
        description = f"{relo.kind.name} on type {relo.type_id} access {relo.access}"
        if local is not None and relo.type_id:
            root = local.skip_modifiers(relo.type_id)
            description = f"{relo.kind.name} {root.name or 'anonymous'} access {relo.access}"
        if local is None or target_btf is None or pc not in index_of:
            reason = "no target BTF" if target_btf is None else "no local BTF"
            program.relocations.append(Relocation(pc, "core", f"{description}: unresolved ({reason})"))
            continue
        insn = program.insns[index_of[pc]]
        try:
            value = _resolve(local, target_btf, relo)
        except (CoreError, BtfError) as exc:
            program.relocations.append(Relocation(pc, "core", f"{description}: {exc}"))
            continue
        if value is None:
            program.relocations.append(Relocation(pc, "core", f"{description}: not resolved ({relo.kind.name} is kept as compiled)"))
            continue
        program.insns[index_of[pc]] = _patch(insn, value)
        program.relocations.append(Relocation(pc, "core", f"{description} -> {value}", resolved=True))


def _resolve(local: Btf, target: Btf, relo: CoreRelo) -> int | None:
    kind = relo.kind
    if kind in (CoreKind.FIELD_BYTE_OFFSET, CoreKind.FIELD_BYTE_SIZE, CoreKind.FIELD_EXISTS):
        found = _target_field(local, target, relo)
        if kind == CoreKind.FIELD_EXISTS:
            return 1 if found else 0
        if found is None:
            raise CoreError("the field does not exist in the target kernel's types")
        return found[0] if kind == CoreKind.FIELD_BYTE_OFFSET else found[1]
    if kind in (CoreKind.TYPE_EXISTS, CoreKind.TYPE_SIZE):
        root = local.skip_modifiers(relo.type_id)
        matches = [t for t in target.by_name(_essential_name(root.name)) if t.kind == root.kind]
        if kind == CoreKind.TYPE_EXISTS:
            return 1 if matches else 0
        if not matches:
            raise CoreError(f"type {root.name} does not exist in the target kernel's types")
        return target.size_of(matches[0].id)
    if kind == CoreKind.TYPE_ID_LOCAL:
        return relo.type_id
    return None
