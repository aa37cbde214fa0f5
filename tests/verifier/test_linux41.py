"""The linux-4.1 profile against the Linux 4.1 verifier's rules (kernel/bpf/verifier.c of 4.1,
kernel/bpf/syscall.c's bpf_prog_load, kernel/trace/bpf_trace.c's kprobe prototypes): each program
is labelled with the 4.1 function that decides it, our code (None: accepted) and the words the
4.1 kernel logs for it."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interp.asm.kernel_syntax import assemble
from interp.helper_ids import HELPER_NAMES
from interp.isa.insn import encode
from interp.kprobe import KprobeSession
from interp.program import MapDef, Program
from verifier.check import check_program
from verifier.cli import main
from verifier.evidence import verdict_line
from verifier.fixpoint import Limits
from verifier.linux41.helpers import PROTOS
from verifier.profiles import LINUX_4_1

HASH = MapDef("h", 1, 4, 8, 16)  # 4-byte keys, 8-byte values
HASH8 = MapDef("h8", 1, 8, 8, 16)
ARRAY = MapDef("a", 2, 4, 16, 4)
PERCPU_HASH = MapDef("ph", 5, 4, 8, 16)
READ_ONLY = MapDef("ro", 2, 4, 16, 4, flags=1 << 7)  # BPF_F_RDONLY_PROG (Linux 5.2)

LOOKUP = "r1 = map[fd:0] ll\nr2 = r10\nr2 += -4\n*(u32 *)(r10 -4) = 0\ncall 1\n"
VALUE = LOOKUP + "if r0 == 0 goto out\n"  # r0: the value of key 0 until `OUT`
OUT = "out: r0 = 0\nexit"
CTX_SAVED = "r9 = r1\n"
DI = "r6 = *(u64 *)(r1 +112)\n"  # an unknown number


def probe(size: str = "r2 = 8", init: str = "*(u64 *)(r10 -8) = 0\n") -> str:
    """probe_read(fp-8, size, 0)"""
    return f"{init}r1 = r10\nr1 += -8\n{size}\nr3 = 0\ncall 4\nr0 = 0\nexit"


PRINTK = "*(u64 *)(r10 -8) = 0x6968\nr1 = r10\nr1 += -8\nr2 = 8\ncall 6\nr0 = 0\nexit"
UPDATE = ("*(u32 *)(r10 -4) = 1\n*(u64 *)(r10 -16) = 2\nr1 = map[fd:0] ll\nr2 = r10\nr2 += -4\nr3 = r10\nr3 += -16\n"
          "r4 = 0\ncall 2\nr0 = 0\nexit")


def segments(count: int, pad: int = 0) -> str:
    """`count` two-way choices (each arm `pad` instructions longer), each spilling a different stack
    pointer to its own slot: every path differs from every other in its stack, so 4.1's pruning
    keeps them all apart"""
    body = DI
    arm = "r0 = 0\n" * pad
    for i in range(count):
        body += (f"if r6 > 0 goto +{3 + pad}\n{arm}r2 = r10\nr2 += -8\ngoto +{2 + pad}\n{arm}r2 = r10\nr2 += -16\n"
                 f"*(u64 *)(r10 -{8 * (i + 1)}) = r2\n")
    return body + "r0 = 0\nexit"


@dataclass
class Case:
    decides: str  # the 4.1 function whose rule decides the case
    name: str
    asm: str
    code: str | None  # our code when 4.1 refuses; None: accepted
    kernel: str | None = None  # the 4.1 kernel's log line (a prefix of it)
    maps: tuple[MapDef, ...] = ()
    license: str = "GPL"
    kern_version: int = 0x40100


CASES = [
    # check_reg_arg: registers are read only once written; r10 is never written
    Case("check_reg_arg", "read of an unset register", "r0 = r2\nexit", "uninitialised-register", "R2 !read_ok"),
    Case("check_reg_arg", "read of a set register", "r2 = 1\nr0 = r2\nexit", None),
    Case("check_reg_arg", "r10 written by a move", "r10 = 0\nr0 = 0\nexit", "frame-pointer-write",
         "frame pointer is read only"),
    Case("check_reg_arg", "r10 moved by an add", "r10 += -8\nr0 = 0\nexit", "frame-pointer-write",
         "frame pointer is read only"),
    Case("check_reg_arg", "r10 loaded", "r10 = *(u64 *)(r1 +0)\nr0 = 0\nexit", "frame-pointer-write",
         "frame pointer is read only"),
    Case("check_reg_arg", "branch on an unset register", "if r3 == 0 goto +0\nr0 = 0\nexit", "uninitialised-register",
         "R3 !read_ok"),
    Case("check_reg_arg", "branch against an unset register", "r0 = 0\nif r0 > r4 goto +0\nexit",
         "uninitialised-register", "R4 !read_ok"),
    Case("check_reg_arg", "store of an unset register", "*(u64 *)(r10 -8) = r5\nr0 = 0\nexit",
         "uninitialised-register", "R5 !read_ok"),
    Case("check_reg_arg", "negation of an unset register", "r0 = -r0\nexit", "uninitialised-register", "R0 !read_ok"),
    Case("check_reg_arg", "arithmetic on an unset register", "r0 += 1\nexit", "uninitialised-register", "R0 !read_ok"),
    # do_check (BPF_EXIT): r0 is set at exit
    Case("do_check", "exit without r0", "exit", "r0-uninitialised-at-exit", "R0 !read_ok"),
    Case("do_check", "exit with a helper's result", "call 5\nexit", None),
    Case("do_check", "exit with r0 unset on one path", DI + "if r6 == 0 goto +1\nr0 = 0\nexit",
         "r0-uninitialised-at-exit", "R0 !read_ok"),
    Case("do_check", "exit returning a map value pointer (4.1 does not look at r0's type)", LOOKUP + "exit", None,
         maps=(HASH,)),
    # check_call: r1-r5 are unset after a call, r6-r9 kept
    Case("check_call", "r1 read after a call", "call 5\nr0 = r1\nexit", "uninitialised-register", "R1 !read_ok"),
    Case("check_call", "r6 kept across a call", "r6 = r1\ncall 5\nr0 = *(u64 *)(r6 +0)\nexit", None),
    # check_alu_op: constants only from moves of immediates; the frame pointer plus an immediate is a stack pointer
    Case("check_alu_op", "size from a 64-bit move", probe("r2 = 8"), None),
    Case("check_alu_op", "size from a 32-bit move", probe("w2 = 8"), None),
    Case("check_alu_op", "size copied by a 64-bit move", probe("r4 = 8\nr2 = r4"), None),
    Case("check_alu_op", "size copied by a 32-bit move is unknown", probe("r4 = 8\nw2 = w4"), "helper-argument",
         "R2 type=inv expected=imm"),
    Case("check_alu_op", "size from arithmetic is unknown", probe("r2 = 4\nr2 += 4"), "helper-argument",
         "R2 type=inv expected=imm"),
    Case("check_alu_op", "size from an and is unknown", probe("r2 = 8\nr2 &= 15"), "helper-argument",
         "R2 type=inv expected=imm"),
    Case("check_ld_imm", "size from a 64-bit immediate load is unknown", probe("r2 = 8 ll"), "helper-argument",
         "R2 type=inv expected=imm"),
    Case("check_alu_op", "size from a negation is unknown", probe("r2 = -8\nr2 = -r2"), "helper-argument",
         "R2 type=inv expected=imm"),
    Case("check_alu_op", "size from a byte swap is unknown", probe("r2 = 8\nr2 = le64 r2"), "helper-argument",
         "R2 type=inv expected=imm"),
    Case("check_alu_op", "key through fp minus a constant is unknown",
         "*(u32 *)(r10 -4) = 0\nr1 = map[fd:0] ll\nr2 = r10\nr2 -= 4\ncall 1\nr0 = 0\nexit", "helper-argument",
         "R2 type=inv expected=fp", maps=(HASH,)),
    Case("check_alu_op", "key through fp plus two constants is unknown",
         "*(u32 *)(r10 -4) = 0\nr1 = map[fd:0] ll\nr2 = r10\nr2 += -2\nr2 += -2\ncall 1\nr0 = 0\nexit",
         "helper-argument", "R2 type=inv expected=fp", maps=(HASH,)),
    Case("check_alu_op", "key through a 32-bit add to fp is unknown",
         "*(u32 *)(r10 -4) = 0\nr1 = map[fd:0] ll\nr2 = r10\nw2 += -4\ncall 1\nr0 = 0\nexit", "helper-argument",
         "R2 type=inv expected=fp", maps=(HASH,)),
    Case("check_alu_op", "key through fp plus a register is unknown",
         "*(u32 *)(r10 -4) = 0\nr1 = map[fd:0] ll\nr3 = -4\nr2 = r10\nr2 += r3\ncall 1\nr0 = 0\nexit",
         "helper-argument", "R2 type=inv expected=fp", maps=(HASH,)),
    Case("check_alu_op", "the context moved, then read, is unknown", "r1 += 8\nr0 = *(u64 *)(r1 +0)\nexit",
         "invalid-dereference", "R1 invalid mem access 'inv'"),
    Case("check_alu_op", "32-bit arithmetic on the context, result unused", "w1 += 1\nr0 = 0\nexit", None),
    Case("check_alu_op", "a pointer added to a pointer, result unused", "r2 = r10\nr2 += r1\nr0 = 0\nexit", None),
    Case("check_alu_op", "a pointer multiplied, result unused", "r1 *= 2\nr0 = 0\nexit", None),
    Case("check_alu_op", "a pointer multiplied, then dereferenced", "r1 *= 1\nr0 = *(u64 *)(r1 +0)\nexit",
         "invalid-dereference", "R1 invalid mem access 'inv'"),
    Case("check_alu_op", "a pointer subtracted from a pointer", "r2 = r10\nr2 -= r1\nr0 = r2\nexit", None),
    Case("check_alu_op", "a map value pointer moved, then read", VALUE + "r0 += 4\nr1 = *(u32 *)(r0 +0)\n" + OUT,
         "invalid-dereference", "R0 invalid mem access 'inv'", maps=(HASH,)),
    Case("check_alu_op", "a stack pointer moved again, then passed", "*(u64 *)(r10 -8) = 0\nr1 = r10\nr1 += -4\n"
         "r1 += -4\nr2 = 8\nr3 = 0\ncall 4\nr0 = 0\nexit", "helper-argument", "R1 type=inv expected=fp"),
    Case("check_alu_op", "division by the immediate 0", "r0 = 1\nr0 /= 0\nexit", "invalid-immediate", "div by zero"),
    Case("check_alu_op", "modulo by the immediate 0", "r0 = 1\nw0 %= 0\nexit", "invalid-immediate", "div by zero"),
    Case("check_alu_op", "division by a register holding 0", "r0 = 1\nr1 = 0\nr0 /= r1\nexit", None),
    Case("check_alu_op", "a shift by 64 (4.1 checks no shift count)", "r0 = 1\nr0 <<= 64\nw0 >>= 40\nexit", None),
    Case("check_alu_op", "a byte swap", "r0 = 1\nr0 = be16 r0\nexit", None),
    Case("check_alu_op", "a copy of r10 is the frame pointer",
         "r1 = r10\n*(u64 *)(r1 -8) = 0\nr0 = *(u64 *)(r1 -8)\nexit", None),
    # check_mem_access: the instruction's offset aligned to the size, then by the pointer's type
    Case("check_mem_access", "misaligned stack store", "*(u32 *)(r10 -6) = 0\nr0 = 0\nexit", "stack-misaligned",
         "misaligned access off -6 size 4"),
    Case("check_mem_access", "misaligned stack load", "*(u64 *)(r10 -8) = 0\nr0 = *(u16 *)(r10 -7)\nexit",
         "stack-misaligned", "misaligned access off -7 size 2"),
    Case("check_mem_access", "misaligned context load", "r0 = *(u64 *)(r1 +4)\nexit", "ctx-misaligned",
         "misaligned access off 4 size 8"),
    Case("check_mem_access", "aligned 4-byte context load", "r0 = *(u32 *)(r1 +4)\nexit", None),
    Case("check_mem_access", "misaligned map value load", VALUE + "r1 = *(u32 *)(r0 +2)\n" + OUT,
         "map-value-misaligned", "misaligned access off 2 size 4", maps=(HASH,)),
    Case("check_mem_access", "misaligned read through an unknown value", DI + "r0 = *(u64 *)(r6 +3)\nexit",
         "invalid-dereference", "misaligned access off 3 size 8"),
    Case("check_map_access", "map value byte at its last offset", VALUE + "r1 = *(u8 *)(r0 +7)\n" + OUT, None,
         maps=(HASH,)),
    Case("check_map_access", "map value read past its end", VALUE + "r1 = *(u64 *)(r0 +8)\n" + OUT,
         "map-value-out-of-bounds", "invalid access to map value, value_size=8 off=8 size=8", maps=(HASH,)),
    Case("check_map_access", "map value read below its start", VALUE + "r1 = *(u8 *)(r0 -1)\n" + OUT,
         "map-value-out-of-bounds", "invalid access to map value, value_size=8 off=-1 size=1", maps=(HASH,)),
    Case("check_map_access", "map value write within", VALUE + "*(u64 *)(r0 +0) = 1\n" + OUT, None, maps=(HASH,)),
    Case("check_map_access", "map value write past its end", VALUE + "*(u32 *)(r0 +8) = 1\n" + OUT,
         "map-value-out-of-bounds", "invalid access to map value, value_size=8 off=8 size=4", maps=(HASH,)),
    Case("check_map_access", "array value of 16 bytes, last word", VALUE + "r1 = *(u32 *)(r0 +12)\n" + OUT, None,
         maps=(ARRAY,)),
    Case("check_map_access", "a pointer stored into a map value (4.1 lets it leak)",
         CTX_SAVED + VALUE + "*(u64 *)(r0 +0) = r9\n" + OUT, None, maps=(HASH,)),
    Case("kprobe_prog_is_valid_access", "context write (st)", "*(u64 *)(r1 +0) = 5\nr0 = 0\nexit", "ctx-write",
         "invalid bpf_context access off=0 size=8"),
    Case("kprobe_prog_is_valid_access", "context write (stx)", "r2 = 1\n*(u64 *)(r1 +8) = r2\nr0 = 0\nexit",
         "ctx-write", "invalid bpf_context access off=8 size=8"),
    Case("kprobe_prog_is_valid_access", "context read at sizeof(pt_regs)", "r0 = *(u64 *)(r1 +168)\nexit",
         "ctx-out-of-bounds", "invalid bpf_context access off=168 size=8"),
    Case("kprobe_prog_is_valid_access", "context read below it", "r0 = *(u64 *)(r1 -8)\nexit", "ctx-out-of-bounds",
         "invalid bpf_context access off=-8 size=8"),
    Case("kprobe_prog_is_valid_access", "context's last field", "r0 = *(u64 *)(r1 +160)\nexit", None),
    Case("kprobe_prog_is_valid_access", "context's last byte", "r0 = *(u8 *)(r1 +167)\nexit", None),
    Case("check_mem_access", "stack store at fp+0", "*(u64 *)(r10 +0) = 0\nr0 = 0\nexit", "stack-out-of-bounds",
         "invalid stack off=0 size=8"),
    Case("check_mem_access", "stack store at fp-512", "*(u64 *)(r10 -512) = 0\nr0 = 0\nexit", None),
    Case("check_mem_access", "stack store at fp-520", "*(u64 *)(r10 -520) = 0\nr0 = 0\nexit", "stack-out-of-bounds",
         "invalid stack off=-520 size=8"),
    Case("check_mem_access", "store through a stack pointer fp-8", "r2 = r10\nr2 += -8\n*(u64 *)(r2 +0) = 0\n"
         "r0 = 0\nexit", "invalid-dereference", "R2 invalid mem access 'fp'"),
    Case("check_mem_access", "read through an unknown value", DI + "r0 = *(u64 *)(r6 +0)\nexit",
         "invalid-dereference", "R6 invalid mem access 'inv'"),
    Case("check_mem_access", "read through a constant", "r2 = 0\nr0 = *(u64 *)(r2 +0)\nexit", "invalid-dereference",
         "R2 invalid mem access 'imm'"),
    Case("check_mem_access", "read through a map pointer", "r2 = map[fd:0] ll\nr0 = *(u64 *)(r2 +0)\nexit",
         "invalid-dereference", "R2 invalid mem access 'map_ptr'", maps=(HASH,)),
    Case("check_mem_access", "read of a lookup's result unchecked", LOOKUP + "r0 = *(u64 *)(r0 +0)\nexit",
         "possible-null-dereference", "R0 invalid mem access 'map_value_or_null'", maps=(HASH,)),
    Case("check_mem_access", "array lookup unchecked (4.1 knows no array that cannot miss)",
         LOOKUP + "r0 = *(u64 *)(r0 +0)\nexit", "possible-null-dereference",
         "R0 invalid mem access 'map_value_or_null'", maps=(ARRAY,)),
    # check_xadd: the memory is read and written
    Case("check_xadd", "xadd on written stack", "*(u64 *)(r10 -8) = 0\nr1 = 1\nlock *(u64 *)(r10 -8) += r1\n"
         "r0 = 0\nexit", None),
    Case("check_xadd", "xadd on unwritten stack", "r1 = 1\nlock *(u64 *)(r10 -8) += r1\nr0 = 0\nexit",
         "stack-uninitialised-read", "invalid read from stack off -8+0 size 8"),
    Case("check_xadd", "xadd on a map value", VALUE + "r1 = 1\nlock *(u64 *)(r0 +0) += r1\n" + OUT, None,
         maps=(HASH,)),
    Case("check_xadd", "xadd on the context", "r2 = 1\nlock *(u64 *)(r1 +0) += r2\nr0 = 0\nexit", "ctx-write",
         "invalid bpf_context access off=0 size=8"),
    Case("check_xadd", "xadd misaligned", "*(u64 *)(r10 -8) = 0\nr1 = 1\nlock *(u32 *)(r10 -6) += r1\nr0 = 0\nexit",
         "stack-misaligned", "misaligned access off -6 size 4"),
    Case("check_xadd", "xadd with an unset source", "*(u64 *)(r10 -8) = 0\nlock *(u64 *)(r10 -8) += r3\n"
         "r0 = 0\nexit", "uninitialised-register", "R3 !read_ok"),
    Case("check_xadd", "xadd over a spilled pointer turns it into data", "*(u64 *)(r10 -8) = r1\nr2 = 1\n"
         "lock *(u64 *)(r10 -8) += r2\nr3 = *(u64 *)(r10 -8)\nr0 = *(u64 *)(r3 +0)\nexit", "invalid-dereference",
         "R3 invalid mem access 'inv'"),
    # check_stack_write, check_stack_read: pointers spilled whole; other bytes read only once written
    Case("check_stack_write", "context spilled and filled", "*(u64 *)(r10 -8) = r1\nr2 = *(u64 *)(r10 -8)\n"
         "r0 = *(u64 *)(r2 +0)\nexit", None),
    Case("check_stack_write", "context spilled in 4 bytes", "*(u32 *)(r10 -8) = r1\nr0 = 0\nexit",
         "partial-pointer-spill", "invalid size of register spill"),
    Case("check_stack_write", "map value spilled and filled", VALUE + "*(u64 *)(r10 -16) = r0\n"
         "r1 = *(u64 *)(r10 -16)\nr1 = *(u64 *)(r1 +0)\n" + OUT, None, maps=(HASH,)),
    Case("check_stack_write", "a lookup's unchecked result spilled is plain data", LOOKUP + "*(u64 *)(r10 -16) = r0\n"
         "r6 = *(u64 *)(r10 -16)\nif r6 == 0 goto out\nr1 = *(u64 *)(r6 +0)\n" + OUT, "invalid-dereference",
         "R6 invalid mem access 'inv'", maps=(HASH,)),
    Case("check_stack_write", "r10 spilled is plain data", "*(u64 *)(r10 -8) = r10\nr1 = *(u64 *)(r10 -8)\n"
         "*(u64 *)(r1 -16) = 0\nr0 = 0\nexit", "invalid-dereference", "R1 invalid mem access 'inv'"),
    Case("check_stack_write", "a constant spilled comes back unknown", "r2 = 8\n*(u64 *)(r10 -16) = r2\n"
         "*(u64 *)(r10 -8) = 0\nr1 = r10\nr1 += -8\nr2 = *(u64 *)(r10 -16)\nr3 = 0\ncall 4\nr0 = 0\nexit",
         "helper-argument", "R2 type=inv expected=imm"),
    Case("check_stack_write", "a stack pointer spilled comes back a stack pointer", "*(u32 *)(r10 -4) = 0\n"
         "r2 = r10\nr2 += -4\n*(u64 *)(r10 -16) = r2\nr1 = map[fd:0] ll\nr2 = *(u64 *)(r10 -16)\ncall 1\nr0 = 0\n"
         "exit", None, maps=(HASH,)),
    Case("check_stack_read", "a spilled pointer read in 4 bytes", "*(u64 *)(r10 -8) = r1\nr0 = *(u32 *)(r10 -8)\n"
         "exit", "partial-pointer-fill", "invalid size of register spill"),
    Case("check_stack_read", "a spilled pointer's last half overwritten", "*(u64 *)(r10 -8) = r1\n"
         "*(u32 *)(r10 -4) = 0\nr0 = *(u64 *)(r10 -8)\nexit", "partial-pointer-fill", "corrupted spill memory"),
    Case("check_stack_read", "a spilled pointer's first half overwritten", "*(u64 *)(r10 -8) = r1\n"
         "*(u32 *)(r10 -8) = 0\nr0 = *(u64 *)(r10 -8)\nexit", "stack-uninitialised-read",
         "invalid read from stack off -8+4 size 8"),
    Case("check_stack_read", "a spilled pointer overwritten whole by data", "*(u64 *)(r10 -8) = r1\n"
         "*(u64 *)(r10 -8) = 0\nr0 = *(u64 *)(r10 -8)\nexit", None),
    Case("check_stack_read", "a spilled pointer's byte read", "*(u64 *)(r10 -8) = r1\nr0 = *(u8 *)(r10 -8)\nexit",
         "partial-pointer-fill", "invalid size of register spill"),
    Case("check_stack_read", "unwritten stack read", "r0 = *(u64 *)(r10 -8)\nexit", "stack-uninitialised-read",
         "invalid read from stack off -8+0 size 8"),
    Case("check_stack_read", "half-written stack read", "*(u32 *)(r10 -8) = 0\nr0 = *(u64 *)(r10 -8)\nexit",
         "stack-uninitialised-read", "invalid read from stack off -8+4 size 8"),
    Case("check_stack_read", "written byte read", "*(u8 *)(r10 -1) = 1\nr0 = *(u8 *)(r10 -1)\nexit", None),
    Case("check_stack_read", "stack written on one path only", DI + "if r6 == 0 goto +1\n*(u64 *)(r10 -8) = 0\n"
         "r0 = *(u64 *)(r10 -8)\nexit", "stack-uninitialised-read", "invalid read from stack off -8+0 size 8"),
    # check_call, check_func_arg, check_stack_boundary: the helpers and their prototypes
    Case("kprobe_prog_func_proto", "map_lookup_elem", VALUE + "r1 = *(u64 *)(r0 +0)\n" + OUT, None, maps=(HASH,)),
    Case("kprobe_prog_func_proto", "map_update_elem", UPDATE, None, maps=(HASH,)),
    Case("kprobe_prog_func_proto", "map_delete_elem", "*(u32 *)(r10 -4) = 1\nr1 = map[fd:0] ll\nr2 = r10\n"
         "r2 += -4\ncall 3\nr0 = 0\nexit", None, maps=(HASH,)),
    Case("kprobe_prog_func_proto", "probe_read", probe(), None),
    Case("kprobe_prog_func_proto", "ktime_get_ns", "call 5\nexit", None),
    Case("kprobe_prog_func_proto", "trace_printk", PRINTK, None),
    Case("kprobe_prog_func_proto", "trace_printk's r3 is not checked", PRINTK, None),
    Case("check_call", "get_current_pid_tgid (Linux 4.2)", "call 14\nexit", "unknown-helper", "invalid func 14"),
    Case("check_call", "get_smp_processor_id (4.1 offers it to socket filters only)", "call 8\nexit",
         "unknown-helper", "unknown func 8"),
    Case("check_call", "a helper id past 4.1's last", "call 100\nexit", "unknown-helper", "invalid func 100"),
    Case("check_call", "probe_read without a GPL license", probe(), "gpl-only-helper",
         "cannot call GPL only function from proprietary program", license="MIT"),
    Case("check_call", "ktime_get_ns without a GPL license", "call 5\nexit", "gpl-only-helper",
         "cannot call GPL only function from proprietary program", license="Proprietary"),
    Case("check_call", "map_lookup_elem without a GPL license", LOOKUP + "r0 = 0\nexit", None, maps=(HASH,),
         license="MIT"),
    Case("check_stack_boundary", "key unwritten", "r1 = map[fd:0] ll\nr2 = r10\nr2 += -4\ncall 1\nr0 = 0\nexit",
         "stack-uninitialised-read", "invalid indirect read from stack off -4+0 size 4", maps=(HASH,)),
    Case("check_stack_boundary", "key half written", "*(u32 *)(r10 -8) = 0\nr1 = map[fd:0] ll\nr2 = r10\n"
         "r2 += -8\ncall 1\nr0 = 0\nexit", "stack-uninitialised-read",
         "invalid indirect read from stack off -8+4 size 8", maps=(HASH8,)),
    Case("check_stack_boundary", "key holding a spilled pointer", "*(u64 *)(r10 -8) = r1\nr1 = map[fd:0] ll\n"
         "r2 = r10\nr2 += -8\ncall 1\nr0 = 0\nexit", "stack-uninitialised-read",
         "invalid indirect read from stack off -8+0 size 8", maps=(HASH8,)),
    Case("check_stack_boundary", "key past the top of the stack", "*(u64 *)(r10 -8) = 0\nr1 = map[fd:0] ll\n"
         "r2 = r10\nr2 += -2\ncall 1\nr0 = 0\nexit", "helper-memory", "invalid stack type R2 off=-2 access_size=4",
         maps=(HASH,)),
    Case("check_stack_boundary", "key below the stack", "r1 = map[fd:0] ll\nr2 = r10\nr2 += -516\ncall 1\n"
         "r0 = 0\nexit", "helper-memory", "invalid stack type R2 off=-516 access_size=4", maps=(HASH,)),
    Case("check_func_arg", "key in r10 itself (the frame pointer, not fp+k)", "*(u32 *)(r10 -4) = 0\n"
         "r1 = map[fd:0] ll\nr2 = r10\ncall 1\nr0 = 0\nexit", "helper-argument", "R2 type=fp expected=fp",
         maps=(HASH,)),
    Case("check_func_arg", "key in a map value", VALUE + "r1 = map[fd:0] ll\nr2 = r0\ncall 1\n" + OUT,
         "helper-argument", "R2 type=map_value expected=fp", maps=(HASH,)),
    Case("check_func_arg", "map argument a number", "*(u32 *)(r10 -4) = 0\nr1 = 0\nr2 = r10\nr2 += -4\ncall 1\n"
         "r0 = 0\nexit", "helper-argument", "R1 type=imm expected=map_ptr", maps=(HASH,)),
    Case("check_func_arg", "map argument unset", "call 5\n*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\ncall 1\nr0 = 0\nexit",
         "uninitialised-register", "R1 !read_ok", maps=(HASH,)),
    Case("check_func_arg", "update's value unwritten", UPDATE.replace("*(u64 *)(r10 -16) = 2\n", ""),
         "stack-uninitialised-read", "invalid indirect read from stack off -16+0 size 8", maps=(HASH,)),
    Case("check_func_arg", "update's flags unset (ARG_ANYTHING is read)", UPDATE.replace("r4 = 0\n", ""),
         "uninitialised-register", "R4 !read_ok", maps=(HASH,)),
    Case("check_func_arg", "probe_read's source unset", probe().replace("r3 = 0\n", ""), "uninitialised-register",
         "R3 !read_ok"),
    Case("check_func_arg", "probe_read of a negative size", probe("r2 = -8"), "helper-argument",
         "invalid stack type R1 off=-8 access_size=-8"),
    Case("check_func_arg", "probe_read larger than the buffer's room", probe("r2 = 16"), "helper-memory",
         "invalid stack type R1 off=-8 access_size=16"),
    Case("check_func_arg", "probe_read into unwritten stack", probe(init=""), "stack-uninitialised-read",
         "invalid indirect read from stack off -8+0 size 8"),
    Case("check_func_arg", "probe_read into a map value", VALUE + "r1 = r0\nr2 = 8\nr3 = 0\ncall 4\n" + OUT,
         "helper-argument", "R1 type=map_value expected=fp", maps=(HASH,)),
    Case("check_func_arg", "trace_printk of an unwritten format", PRINTK.replace("*(u64 *)(r10 -8) = 0x6968\n", ""),
         "stack-uninitialised-read", "invalid indirect read from stack off -8+0 size 8"),
    Case("map_create", "a map of a later type", LOOKUP + "r0 = 0\nexit", "invalid-map-reference",
         "bpf(BPF_MAP_CREATE): EINVAL (unknown map type)", maps=(PERCPU_HASH,)),
    Case("map_create", "a map with flags (read-only for programs)", VALUE + "*(u64 *)(r0 +0) = 1\n" + OUT,
         "invalid-map-reference", "bpf(BPF_MAP_CREATE): EINVAL (map_flags unknown)", maps=(READ_ONLY,)),
    Case("replace_map_fd_with_map_ptr", "a map the program does not have", "r1 = map[fd:1] ll\nr0 = 0\nexit",
         "invalid-map-reference", "fd 1 is not pointing to valid bpf_map", maps=(HASH,)),
    Case("replace_map_fd_with_map_ptr", "a direct map value load (Linux 5.2)", "r1 = map[idx:0] ll\nr0 = 0\nexit",
         "unsupported-instruction", "unrecognized bpf_ld_imm64 insn", maps=(HASH,)),
    # check_cond_jmp_op: constants compared for equality decide; the null check on the compared register only
    Case("check_cond_jmp_op", "r0 == 0 on the lookup's result", VALUE + "r1 = *(u64 *)(r0 +0)\n" + OUT, None,
         maps=(HASH,)),
    Case("check_cond_jmp_op", "r0 != 0 on the lookup's result", LOOKUP + "if r0 != 0 goto +2\nr0 = 0\nexit\n"
         "r1 = *(u64 *)(r0 +0)\nr0 = 0\nexit", None, maps=(HASH,)),
    Case("check_cond_jmp_op", "the null check on a copy teaches nothing", LOOKUP + "r6 = r0\nif r0 == 0 goto out\n"
         "r1 = *(u64 *)(r6 +0)\n" + OUT, "possible-null-dereference", "R6 invalid mem access 'map_value_or_null'",
         maps=(HASH,)),
    Case("check_cond_jmp_op", "a copy made after the check", VALUE + "r6 = r0\nr1 = *(u64 *)(r6 +0)\n" + OUT, None,
         maps=(HASH,)),
    Case("check_cond_jmp_op", "the NULL side is the constant 0", LOOKUP + "if r0 != 0 goto out\n"
         "r1 = *(u64 *)(r0 +0)\n" + OUT, "invalid-dereference", "R0 invalid mem access 'imm'", maps=(HASH,)),
    Case("check_cond_jmp_op", "r0 == 1 is no null check", LOOKUP + "if r0 == 1 goto out\nr1 = *(u64 *)(r0 +0)\n"
         + OUT, "possible-null-dereference", "R0 invalid mem access 'map_value_or_null'", maps=(HASH,)),
    Case("check_cond_jmp_op", "a comparison with a register holding 0 is no null check",
         LOOKUP + "r1 = 0\nif r0 == r1 goto out\nr1 = *(u64 *)(r0 +0)\n" + OUT, "possible-null-dereference",
         "R0 invalid mem access 'map_value_or_null'", maps=(HASH,)),
    Case("check_cond_jmp_op", "r0 > 0 is no null check", LOOKUP + "if r0 > 0 goto +1\ngoto out\n"
         "r1 = *(u64 *)(r0 +0)\n" + OUT, "possible-null-dereference", "R0 invalid mem access 'map_value_or_null'",
         maps=(HASH,)),
    Case("check_cond_jmp_op", "constant == the same immediate: only the jump is followed",
         "r1 = 0\nif r1 == 0 goto +2\nr0 = r9\nexit\nr0 = 0\nexit", None),
    Case("check_cond_jmp_op", "constant != the same immediate: only the fall-through is followed",
         "r1 = 5\nif r1 != 5 goto +2\nr0 = 0\nexit\nr0 = r9\nexit", None),
    Case("check_cond_jmp_op", "constant == another immediate: both ways followed",
         "r1 = 5\nif r1 == 6 goto +2\nr0 = 0\nexit\nr0 = r9\nexit", "uninitialised-register", "R9 !read_ok"),
    Case("check_cond_jmp_op", "constant > an immediate: both ways followed",
         "r1 = 5\nif r1 > 6 goto +2\nr0 = 0\nexit\nr0 = r9\nexit", "uninitialised-register", "R9 !read_ok"),
    Case("check_cond_jmp_op", "r == imm makes it that constant where taken", DI + "if r6 == 8 goto +2\nr0 = 0\n"
         "exit\n*(u64 *)(r10 -8) = 0\nr1 = r10\nr1 += -8\nr2 = r6\nr3 = 0\ncall 4\nr0 = 0\nexit", None),
    Case("check_cond_jmp_op", "r != imm makes it that constant where not taken", DI + "if r6 != 8 goto +6\n"
         "*(u64 *)(r10 -8) = 0\nr1 = r10\nr1 += -8\nr2 = r6\nr3 = 0\ncall 4\nr0 = 0\nexit", None),
    Case("check_cond_jmp_op", "r > imm teaches no constant", DI + "if r6 > 8 goto +6\n"
         "*(u64 *)(r10 -8) = 0\nr1 = r10\nr1 += -8\nr2 = r6\nr3 = 0\ncall 4\nr0 = 0\nexit", "helper-argument",
         "R2 type=inv expected=imm"),
    Case("check_cond_jmp_op", "a 32-bit move of -1 is not the 64-bit -1 (4.1's hole, kept closed)",
         "w1 = -1\nif r1 == -1 goto +2\nr0 = r9\nexit\nr0 = 0\nexit", "uninitialised-register", "R9 !read_ok"),
    Case("check_cond_jmp_op", "a 32-bit move of 1 is the 64-bit 1",
         "w1 = 1\nif r1 == 1 goto +2\nr0 = r9\nexit\nr0 = 0\nexit", None),
    Case("check_cond_jmp_op", "jset followed both ways", DI + "r0 = 0\nif r6 & 4 goto +1\nr0 = 1\nexit", None),
    Case("check_cond_jmp_op", "signed jumps followed both ways", DI + "r0 = 0\nif r6 s> 4 goto +1\nr0 = 1\nexit",
         None),
    Case("check_cond_jmp_op", "jlt (Linux 4.14)", DI + "r0 = 0\nif r6 < 4 goto +1\nr0 = 1\nexit",
         "unsupported-instruction", "invalid BPF_JMP opcode a0"),
    # check_cfg: no loops, every instruction reachable
    Case("check_cfg", "a loop", "r0 = 0\nr1 = 10\nl: r1 -= 1\nif r1 != 0 goto l\nexit", "back-edge",
         "back-edge from insn 3 to 2"),
    Case("check_cfg", "an unreachable instruction", "r0 = 0\nexit\nr0 = 1\nexit", "unreachable-instruction",
         "unreachable insn 2"),
    Case("check_cfg", "a forward goto", DI + "if r6 == 0 goto +2\nr0 = 1\ngoto +1\nr0 = 2\nexit", None),
    # do_check: the instructions 4.1 knows
    Case("do_check", "a local call (Linux 4.16)", "call f\nexit\nf: r0 = 1\nexit", "unsupported-instruction",
         "BPF_CALL uses reserved fields"),
    Case("do_check", "a 32-bit jump (Linux 5.1)", "r0 = 0\nif w0 > 1 goto +0\nexit", "unsupported-instruction",
         "unknown insn class 6"),
    Case("do_check", "signed division (Linux 6.6)", "r0 = 5\nr0 s/= 2\nexit", "unsupported-instruction",
         "BPF_ALU uses reserved fields"),
    Case("check_xadd", "an atomic fetch-add (Linux 5.12)", "*(u64 *)(r10 -8) = 0\nr1 = 1\n"
         "r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)\nr0 = 0\nexit", "unsupported-instruction",
         "BPF_XADD uses reserved fields"),
    Case("check_ld_abs", "a packet load in a kprobe program", "r6 = r1\nr0 = *(u8 *)skb[12]\nexit",
         "unsupported-instruction", "BPF_LD_ABS and BPF_LD_IND instructions not allowed for this program type"),
    Case("do_check", "4.1's W-load rewrite: the context and a map value through one load", CTX_SAVED + VALUE
         + "r2 = r9\nr7 = *(u64 *)(r9 +112)\nif r7 == 0 goto +1\nr2 = r0\nr3 = *(u32 *)(r2 +0)\n" + OUT,
         "type-conflict", "same insn cannot be used with different pointers", maps=(HASH,)),
    Case("do_check", "one W load through map values of two paths", VALUE + "r2 = r0\nr6 = r0\n"
         "if r6 == 0 goto +1\nr2 = r6\nr3 = *(u32 *)(r2 +0)\n" + OUT, None, maps=(HASH,)),
    Case("do_check", "one 8-byte load through the context and a map value (only W loads are rewritten)", CTX_SAVED
         + VALUE + "r2 = r9\nr7 = *(u64 *)(r9 +112)\nif r7 == 0 goto +1\nr2 = r0\nr3 = *(u64 *)(r2 +0)\n" + OUT, None,
         maps=(HASH,)),
    Case("do_check", "32768 instructions walked at most", segments(7, 130), "program-too-large",
         "BPF program is too large. Proccessed 32769 insn"),
    Case("do_check", "128 paths of 250 instructions walked", segments(7, 30), None),
    Case("push_stack", "at most 1024 paths pending", DI + "if r6 == 0 goto +0\n" * 1030 + "r0 = 0\nexit",
         "program-too-large", "BPF program is too complex"),
    Case("push_stack", "1000 paths pending", DI + "if r6 == 0 goto +0\n" * 1000 + "r0 = 0\nexit", None),
    # bpf_prog_load: size and version
    Case("bpf_prog_load", "4095 instructions", "r0 = 0\n" * 4094 + "exit", None),
    Case("bpf_prog_load", "4096 instructions", "r0 = 0\n" * 4095 + "exit", "program-too-large",
         "bpf_prog_load: EINVAL (insn_cnt >= BPF_MAXINSNS)"),
    Case("bpf_prog_load", "kern_version of another kernel", "r0 = 0\nexit", "kern-version-mismatch",
         "bpf_prog_load: EINVAL (kern_version != LINUX_VERSION_CODE)", kern_version=0x40400),
]


def program(case: Case) -> Program:
    insns = assemble(case.asm)
    return Program(case.name, "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns),
                   list(case.maps), license=case.license, kern_version=case.kern_version)


def test_enough_cases_on_both_sides() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 100
    assert sum(c.code is None for c in CASES) >= 40 and sum(c.code is not None for c in CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.decides}: {c.name}")
def test_linux41_rule(case: Case) -> None:
    result = check_program(program(case), "linux-4.1")
    if case.code is None:
        assert result.verdict == "accepted", [(str(f), f.kernel_message) for f in result.findings]
        return
    assert result.verdict == "rejected"
    assert [f.code for f in result.errors] == [case.code], [str(f) for f in result.findings]
    if case.kernel is not None:
        assert (result.errors[0].kernel_message or "").startswith(case.kernel), result.errors[0].kernel_message


@pytest.mark.parametrize("case", [c for c in CASES if c.code is None], ids=lambda c: c.name)
@settings(max_examples=4, deadline=None, derandomize=True)
@given(ctx=st.binary(min_size=168, max_size=168), seed=st.integers(0, 2**32 - 1))
def test_what_4_1_accepts_runs_without_a_fault(case: Case, ctx: bytes, seed: int) -> None:
    """4.1's rules never let through a program that faults here (where 4.1 had a hole, the walk
    keeps it closed)"""
    session = KprobeSession([program(case)], ncpus=2)
    rng = random.Random(seed)
    for state in session.maps:  # some lookups find an entry, some do not
        if rng.random() < 0.5:
            mdef = state.definition
            state.update((0).to_bytes(mdef.key_size, "little"), rng.randbytes(mdef.value_size), 0, 0)
    outcome = session.run_program(0, ctx, cpu=rng.randrange(2))
    assert outcome.fault is None, f"{case.name}: {outcome.fault}"


def test_the_walk_names_the_feature_of_later_kernels() -> None:
    case = next(c for c in CASES if c.name == "get_current_pid_tgid (Linux 4.2)")
    assert "get_current_pid_tgid arrived for kprobes in Linux 4.2" in check_program(program(case), "linux-4.1").errors[0].message
    case = next(c for c in CASES if c.name == "a map of a later type")
    assert "percpu_hash map, which arrived in Linux 4.6" in check_program(program(case), "linux-4.1").errors[0].message
    case = next(c for c in CASES if c.name == "probe_read into unwritten stack")
    assert "arrived in Linux 4.6" in check_program(program(case), "linux-4.1").errors[0].message


def test_the_kernel_message_in_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = next(c for c in CASES if c.name == "read of a lookup's result unchecked")
    path = tmp_path / "p.bin"
    path.write_bytes(encode(program(case).insns))
    maps = [{"name": "h", "type": 1, "key_size": 4, "value_size": 8, "max_entries": 16}]
    path.with_suffix(".json").write_text(json.dumps({"prog_type": "kprobe", "license": "GPL", "maps": maps,
                                                     "kern_version": 0x40100}))
    assert main(["check", str(path), "--profile", "linux-4.1"]) == 1
    out = capsys.readouterr().out
    assert "    linux-4.1 kernel: R0 invalid mem access 'map_value_or_null'" in out.splitlines()
    main(["check", str(path), "--profile", "linux-4.1", "--format", "json"])
    error = json.loads(capsys.readouterr().out)["programs"][0]["errors"][0]
    assert (error["code"], error["kernel_message"]) == ("possible-null-dereference",
                                                        "R0 invalid mem access 'map_value_or_null'")
    main(["check", str(path), "--profile", "linux-4.1", "--format", "sarif"])
    result = json.loads(capsys.readouterr().out)["runs"][0]["results"][0]
    assert result["properties"]["kernelMessage"] == "R0 invalid mem access 'map_value_or_null'"


def test_states_equal_as_4_1_prunes() -> None:
    """states_equal: an unset or unknown register in the old state covers anything set; the stack
    covers where the old one was never written"""
    from verifier.linux41.domain import Reg, RegType, State, const, subsumes

    old = State.entry().set(2, Reg(RegType.UNKNOWN_VALUE))
    assert subsumes(old, State.entry().set(2, const(5)))
    assert not subsumes(State.entry().set(2, const(5)), old)
    assert not subsumes(old, State.entry())  # r2 unset now: not covered by an unknown value
    written = State.entry().write_stack(-8, 8, None)
    assert subsumes(State.entry(), written) and not subsumes(written, State.entry())
    spilled = State.entry().write_stack(-8, 8, Reg(RegType.PTR_TO_STACK, -16))
    assert not subsumes(spilled, State.entry().write_stack(-8, 8, Reg(RegType.PTR_TO_STACK, -24)))
    assert subsumes(spilled, spilled)


FOUR_ONE_KPROBE_HELPERS = {1: "map_lookup_elem", 2: "map_update_elem", 3: "map_delete_elem", 4: "probe_read",
                           5: "ktime_get_ns", 6: "trace_printk"}


def test_the_4_1_kprobe_helper_set_is_kprobe_prog_func_proto_of_4_1() -> None:
    """The profile's helper set, 4.1's prototypes and what the walk refuses are one set: the six ids
    kprobe_prog_func_proto of 4.1 answers; every other id is refused with its name."""
    assert {i: p.name for i, p in PROTOS.items()} == FOUR_ONE_KPROBE_HELPERS
    assert LINUX_4_1.program_types["kprobe"].helpers == set(FOUR_ONE_KPROBE_HELPERS.values())
    allowed = "ktime_get_ns, map_delete_elem, map_lookup_elem, map_update_elem, probe_read, trace_printk"
    for helper_id, name in sorted(HELPER_NAMES.items()):
        if helper_id in FOUR_ONE_KPROBE_HELPERS:
            continue
        case = Case("check_call", name, f"call {helper_id}\nexit", "unknown-helper")
        result = check_program(program(case), "linux-4.1")
        [error] = result.errors
        assert (result.verdict, error.code) == ("rejected", "unknown-helper")
        name = name if helper_id else "helper 0"
        assert error.message.startswith(f"{name}: Linux 4.1 kprobe programs may call only {allowed}"), error.message
        # ids past l4_csum_replace (11) are past 4.1's enum; the ones before it belong to other program types
        assert error.kernel_message == (f"unknown func {helper_id}" if helper_id < 12 else f"invalid func {helper_id}")
    refused = check_program(program(Case("check_call", "", "call 14\nexit", "unknown-helper")), "linux-4.1")
    assert refused.errors[0].message.startswith("get_current_pid_tgid: ")
    assert refused.errors[0].message.endswith("(get_current_pid_tgid arrived for kprobes in Linux 4.2)")
    refused = check_program(program(Case("check_call", "", "call 7\nexit", "unknown-helper")), "linux-4.1")
    assert refused.errors[0].message.endswith("(get_prandom_u32 arrived for kprobes in Linux 4.10)")
    accepted = check_program(program(Case("check_call", "", "call 5\nr0 = 0\nexit", None)), "linux-4.1")
    assert (accepted.verdict, accepted.findings) == ("accepted", [])


def _case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def test_a_4_1_finding_a_run_breaks_has_its_counterexample_replayed(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    result = check_program(program(_case("read of a lookup's result unchecked")), "linux-4.1")
    [error] = result.errors
    assert error.proof is not None and error.proof["status"] == "witnessed" and error.proof["confirmed"]
    assert error.proof["replay"]["fault"]["pc"] == 6 and error.proof["counterexample"]["absent"] == [
        {"index": 0, "name": "h", "key": "00000000"}]
    path = tmp_path / "p.bin"
    path.write_bytes(encode(program(_case("read of a lookup's result unchecked")).insns))
    maps = [{"name": "h", "type": 1, "key_size": 4, "value_size": 8, "max_entries": 16}]
    path.with_suffix(".json").write_text(json.dumps({"prog_type": "kprobe", "license": "GPL", "maps": maps,
                                                     "kern_version": 0x40100}))
    assert main(["check", str(path), "--profile", "linux-4.1", "--explain", str(tmp_path / "pages")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[2:6] == ["    linux-4.1 kernel: R0 invalid mem access 'map_value_or_null'",
                          "    confirmed: the run faults at insn 6 (out-of-bounds)", "    counterexample:",
                          "        registers: all zero"]
    page = (tmp_path / "pages" / "p.html").read_text()
    assert "<h2>The counterexample replayed</h2>" in page and "keeps no states of this analysis" in page
    assert main(["check", str(path), "--profile", "linux-4.1", "--format", "json"]) == 1
    (tmp_path / "report.json").write_text(capsys.readouterr().out)
    assert main(["replay", str(tmp_path / "report.json")]) == 0  # the saved report's run, replayed again
    assert "    matches the report (a fault at insn 6, out-of-bounds)" in capsys.readouterr().out.splitlines()
    assert main(["check", str(path), "--profile", "linux-4.1", "--no-solver"]) == 1  # z3 only explains
    assert not any("confirmed" in line for line in capsys.readouterr().out.splitlines())


@pytest.mark.parametrize("name, line", [
    # 4.1 forbids dereferencing a moved map value pointer: in bounds, no run faults
    ("a map value pointer moved, then read", "not confirmed (policy: no run faults here (z3 followed every path to "
                                             "it): a rule of the Linux 4.1 verifier, which refuses the program when "
                                             "it loads it)"),
    ("the NULL side is the constant 0", "confirmed: the run faults at insn 7 (out-of-bounds)"),
    ("stack store at fp-520", "confirmed: the run faults at insn 0 (out-of-bounds)"),
    ("unwritten stack read", "not confirmed (policy: a rule the kernel applies when it loads the program; no run "
                                "breaks it by itself)"),
    ("get_current_pid_tgid (Linux 4.2)", "not confirmed (policy: a rule the kernel applies when it loads the "
                                         "program; no run breaks it by itself)"),
])
def test_what_z3_makes_of_4_1_findings(name: str, line: str) -> None:
    [error] = check_program(program(_case(name)), "linux-4.1").errors
    assert verdict_line(error.proof or {}) == line


def test_z3_changes_no_4_1_verdict() -> None:
    """The walk decides: without z3 every rule program has the verdict and the error it has with z3
    (test_linux41_rule)."""
    for case in CASES:
        without = check_program(program(case), "linux-4.1", limits=Limits(solver=False))
        assert without.verdict == ("accepted" if case.code is None else "rejected"), case.name
        assert [f.code for f in without.errors] == ([] if case.code is None else [case.code]), case.name
        assert all(f.proof is None for f in without.findings)


def test_a_rule_about_runs_the_analysis_does_not_state_there_is_not_asked() -> None:
    from verifier.checker import Alarm
    from verifier.fixpoint import Analysis
    from verifier.linux41.judge import judge_findings, run_question
    from verifier.obligations import Kind, Obligation
    from verifier.profiles import helper_registry
    from verifier.symbolic.search import SearchLimits

    ops = LINUX_4_1.program_types["kprobe"]
    analysis = Analysis(program(_case("read of a lookup's result unchecked")), LINUX_4_1, "x86_64", ops,
                        helper_registry(ops), Limits())
    at_call = Alarm(Obligation(Kind.NOT_NULL, 6, 0, 0, 8), 6, (), None, definite=True)
    assert run_question(analysis, at_call) == at_call  # the analysis' own obligation at insn 6
    elsewhere = Alarm(Obligation(Kind.HELPER_MEMORY, 0, 1), 0, (), None, definite=True)  # insn 0 calls nothing
    assert run_question(analysis, elsewhere) is None
    judgements: dict = {}
    judge_findings(analysis, [elsewhere, at_call], [0, 1], SearchLimits(), judgements)
    assert judgements[0].status == "unknown" and judgements[0].reason.startswith("this analysis states no question")
    assert judgements[1].status == "witnessed" and judgements[1].confirmed
