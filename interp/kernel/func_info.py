"""The least BTF a program needs when it names its own functions by reference (bpf_loop's
callbacks): the kernel refuses such a program without BTF func_info ("missing btf func_info").
Every function gets a FUNC type of one prototype, `int f(void)`, static (the kernel checks the
arguments of global functions only), and a func_info record at its first instruction."""

from __future__ import annotations

import ctypes
import struct

from ..flow import Listing, function_entries
from ..isa.ops import LoadFuncRef
from ..program import Program
from .syscalls import BPF_BTF_LOAD, BtfLoadAttr, address, bpf

BTF_MAGIC, BTF_VERSION, HEADER_LEN = 0xEB9F, 1, 24
KIND_INT, KIND_FUNC, KIND_FUNC_PROTO = 1, 12, 13
INT_SIGNED = 1 << 24
FUNC_INFO_RECORD = 8  # struct bpf_func_info: insn_off, type_id
FIRST_FUNC = 3  # type ids: 1 int, 2 the prototype, then one FUNC per function


def needs_func_info(program: Program) -> bool:
    return any(isinstance(op, LoadFuncRef) for op in Listing.of(program.insns).ops.values())


def minimal_btf(functions: int) -> bytes:
    names = [f"f{n}".encode() for n in range(functions)]
    strings = b"\0int\0" + b"".join(name + b"\0" for name in names)
    types = struct.pack("<IIII", 1, KIND_INT << 24, 4, INT_SIGNED | 32)  # [1] int
    types += struct.pack("<III", 0, KIND_FUNC_PROTO << 24, 1)  # [2] int (void)
    offset = len(b"\0int\0")
    for name in names:
        types += struct.pack("<III", offset, KIND_FUNC << 24, 2)  # static
        offset += len(name) + 1
    header = struct.pack("<HBBIIIII", BTF_MAGIC, BTF_VERSION, 0, HEADER_LEN, 0, len(types), len(types), len(strings))
    return header + types + strings


def func_info(program: Program) -> tuple[bytes, bytes]:
    """(the BTF, the func_info records) of `program`'s functions."""
    entries = function_entries(Listing.of(program.insns))
    records = b"".join(struct.pack("<II", entry, FIRST_FUNC + n) for n, entry in enumerate(entries))
    return minimal_btf(len(entries)), records


def load_btf(btf: bytes) -> int:
    """BPF_BTF_LOAD: the BTF's fd (close it)."""
    data = ctypes.create_string_buffer(btf, len(btf))
    return bpf(BPF_BTF_LOAD, BtfLoadAttr(btf=address(data), btf_size=len(btf)))


__all__ = ["FUNC_INFO_RECORD", "func_info", "load_btf", "minimal_btf", "needs_func_info"]
