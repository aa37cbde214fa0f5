"""The eBPF instruction set (RFC 9669): opcodes, the `Insn` record, decoding and encoding."""

from .insn import SLOT_BYTES, DecodeError, Insn, check_fields, decode, encode, pcs
from .opcodes import AluOp, AtomicOp, CallSrc, Cls, JmpOp, Mode, PseudoSrc, Size

__all__ = [
    "SLOT_BYTES", "DecodeError", "Insn", "check_fields", "decode", "encode", "pcs",
    "AluOp", "AtomicOp", "CallSrc", "Cls", "JmpOp", "Mode", "PseudoSrc", "Size",
]
