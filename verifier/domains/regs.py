"""Register types: what a register holds (a scalar or a kind of pointer) and its value or offset."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from interp.isa.ops import to_signed

from .scalar import Scalar


class RegType(str, Enum):
    NOT_INIT = "not_init"
    SCALAR = "scalar"
    PTR_TO_CTX = "ctx"
    PTR_TO_STACK = "fp"
    CONST_PTR_TO_MAP = "map_ptr"
    CONST_PTR_TO_MAP_OR_NULL = "map_ptr_or_null"  # a lookup in a map of maps
    PTR_TO_MAP_VALUE = "map_value"
    PTR_TO_MAP_VALUE_OR_NULL = "map_value_or_null"
    PTR_TO_MEM = "mem"  # a ring buffer record
    PTR_TO_MEM_OR_NULL = "mem_or_null"
    PTR_TO_FUNC = "func"
    PTR_TO_BTF_TASK = "trusted_ptr_task_struct"  # bpf_get_current_task_btf: never NULL
    PTR_TO_BTF_PT_REGS = "trusted_ptr_pt_regs"  # bpf_task_pt_regs: never NULL
    CONFLICT = "conflict"  # paths disagree on the type: any use is an error
    POISONED = "poisoned"  # computed by an instruction already reported: its uses are not reported again


POINTERS = {RegType.PTR_TO_CTX, RegType.PTR_TO_STACK, RegType.CONST_PTR_TO_MAP, RegType.CONST_PTR_TO_MAP_OR_NULL,
            RegType.PTR_TO_MAP_VALUE,
            RegType.PTR_TO_MAP_VALUE_OR_NULL, RegType.PTR_TO_MEM, RegType.PTR_TO_MEM_OR_NULL, RegType.PTR_TO_FUNC,
            RegType.PTR_TO_BTF_TASK, RegType.PTR_TO_BTF_PT_REGS}
NULLABLE = {RegType.PTR_TO_MAP_VALUE_OR_NULL: RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM_OR_NULL: RegType.PTR_TO_MEM,
            RegType.CONST_PTR_TO_MAP_OR_NULL: RegType.CONST_PTR_TO_MAP}


@dataclass(frozen=True, slots=True)
class RegState:
    type: RegType
    value: Scalar  # the value of a scalar; the byte offset of a pointer from its base
    maps: frozenset[int] = frozenset()  # map pointers: which maps; map values: whose values (paths may differ)
    mem_size: int = 0  # PTR_TO_MEM: the record's size
    frame: int = 0  # PTR_TO_STACK: which call frame's stack
    id: int = 0  # nullable pointers: copies share an id, so one null check refines all; scalars: see delta
    ref: int = 0  # an acquired reference (ring buffer record) that must be released
    delta: int = 0  # scalars sharing an id hold one hidden value plus their own delta (mod 2^64)

    @staticmethod
    def scalar(value: Scalar | None = None) -> "RegState":
        return RegState(RegType.SCALAR, value if value is not None else Scalar.unknown())

    @staticmethod
    def const(value: int) -> "RegState":
        return RegState(RegType.SCALAR, Scalar.const(value))

    @staticmethod
    def uninit() -> "RegState":
        return _UNINIT

    def with_value(self, value: Scalar) -> "RegState":
        """The same register with another value (offset); the hot path of every transfer."""
        return RegState(self.type, value, self.maps, self.mem_size, self.frame, self.id, self.ref, self.delta)

    def with_id(self, new_id: int) -> "RegState":
        return RegState(self.type, self.value, self.maps, self.mem_size, self.frame, new_id, self.ref, self.delta)

    @property
    def is_pointer(self) -> bool:
        return self.type in POINTERS

    @property
    def is_scalar(self) -> bool:
        return self.type == RegType.SCALAR

    @property
    def is_nullable(self) -> bool:
        return self.type in NULLABLE

    def same_kind(self, other: "RegState") -> bool:
        """Whether both hold the same kind of value, so that their join is not a conflict."""
        return self.type == other.type and (not self.is_pointer or (self.mem_size, self.frame, self.ref)
                                            == (other.mem_size, other.frame, other.ref))

    def join(self, other: "RegState") -> "RegState":
        if self == other:
            return self
        if self.type == RegType.NOT_INIT or other.type == RegType.NOT_INIT:
            return _UNINIT
        if self.type == RegType.POISONED or other.type == RegType.POISONED:
            return POISONED_REG
        if not self.same_kind(other):
            return RegState(RegType.CONFLICT, Scalar.unknown())
        linked = self.id == other.id and self.delta == other.delta
        return RegState(self.type, self.value.join(other.value), self.maps | other.maps, self.mem_size, self.frame,
                        self.id if linked else 0, self.ref, self.delta if linked else 0)

    def widen(self, newer: "RegState") -> "RegState":
        joined = self.join(newer)
        if joined.type in (RegType.NOT_INIT, RegType.CONFLICT, RegType.POISONED) or joined == self:
            return joined
        return joined.with_value(self.value.widen(newer.value))

    def leq(self, other: "RegState") -> bool:
        if other.type == RegType.NOT_INIT:
            return True
        # the order below NOT_INIT (the top): every kind <= CONFLICT <= POISONED
        if other.type == RegType.POISONED:
            return self.type != RegType.NOT_INIT
        if other.type == RegType.CONFLICT:
            return self.type not in (RegType.NOT_INIT, RegType.POISONED)
        if not self.same_kind(other) or (self.is_pointer and not self.maps <= other.maps):
            return False
        if other.id and (self.id, self.delta) != (other.id, other.delta):
            return False
        return self.value.leq(other.value)

    def describe(self) -> str:
        if self.type == RegType.SCALAR:
            return str(self.value)
        if self.type in (RegType.NOT_INIT, RegType.CONFLICT, RegType.POISONED):
            return self.type.value
        offset = "" if self.value.is_const and self.value.value == 0 else (
            f"{to_signed(self.value.value, 64):+d}"
            if self.value.is_const else f"+{self.value}")
        return f"{self.type.value}{offset}"


_UNINIT = RegState(RegType.NOT_INIT, Scalar.unknown())
POISONED_REG = RegState(RegType.POISONED, Scalar.unknown())
