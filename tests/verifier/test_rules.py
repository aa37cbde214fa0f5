"""Every rule in both directions: a safe variant accepted, an unsafe one rejected with its code.
Each case is labelled with the running Linux 6.18 kernel's verdict; `test_labels_match_the_kernel`
asks the kernel itself (through `interp.kernel`) where `bpf()` is allowed.
Where a case's code is set but the kernel accepts, the verifier is deliberately stricter."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from interp import kernel
from interp.asm.kernel_syntax import assemble
from interp.program import MapDef, Program
from verifier.check import check_program
from verifier.fixpoint import Limits
from verifier.profiles import PROFILES

HASH = MapDef("h", 1, 4, 8, 16)
HASH8 = MapDef("h8", 1, 8, 8, 16)  # 8-byte keys
KEY16 = MapDef("k16", 1, 16, 8, 4)  # 16-byte keys
ARRAY = MapDef("a", 2, 4, 16, 4)
GLOBAL = MapDef("g", 2, 4, 16, 1)  # one entry: its value is directly addressable (global data)
PERCPU_HASH = MapDef("ph", 5, 4, 8, 16)
PERCPU_ARRAY = MapDef("pa", 6, 4, 16, 4)
LRU_HASH = MapDef("lru", 9, 4, 8, 16)
PERF = MapDef("pe", 4, 4, 4, 4)
READ_ONLY = MapDef("ro", 2, 4, 16, 4, flags=1 << 7)  # BPF_F_RDONLY_PROG
PROGS = MapDef("pr", 3, 4, 4, 4)
STACKS = MapDef("st", 7, 4, 64, 16)
RINGBUF = MapDef("rb", 27, 0, 0, 4096)


@dataclass
class Case:
    name: str
    asm: str
    kernel: str  # the running kernel's verdict: "accept" or "reject" ("varies": it depends on the kernel build)
    code: str | None = None  # our code when rejected (None: accepted)
    maps: tuple[MapDef, ...] = ()
    profile: str = "linux-6.18"
    license: str = "GPL"
    # the verdict once z3 has had its say, where it differs: "accepted" (no run breaks the rule), "unknown"
    with_solver: str | None = None


LOOKUP = "r1 = map[idx:0] ll\nr2 = r10\nr2 += -4\n*(u32 *)(r10 -4) = 0\ncall 1\n"
VALUE = LOOKUP + "if r0 == 0 goto out\n"  # r0 is the value of key 0 until `OUT`
OUT = "out: r0 = 0\nexit"
DI = "r6 = *(u64 *)(r1 +112)\n"  # r6 = regs->di: an unknown number
UPDATE = ("*(u32 *)(r10 -4) = 1\n*(u64 *)(r10 -24) = 2\n*(u64 *)(r10 -16) = 3\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\n"
          "r3 = r10\nr3 += -24\nr4 = 0\ncall 2\nr0 = 0\nexit")  # key at -4, a 16-byte value at -24
DELETE = "*(u32 *)(r10 -4) = 1\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\ncall 3\nr0 = 0\nexit"
PRINTK = "*(u64 *)(r10 -8) = 0x6968\nr1 = r10\nr1 += -8\nr2 = 8\ncall 6\nr0 = 0\nexit"  # trace_printk("hi")
OUTPUT = ("r6 = r1\n*(u64 *)(r10 -8) = 0\nr4 = r10\nr4 += -8\nr5 = 8\nr3 = 0xffffffff ll\nr2 = map[idx:0] ll\nr1 = r6\n"
          "call 25\nr0 = 0\nexit")  # perf_event_output(ctx, map, BPF_F_CURRENT_CPU, fp-8, 8)
RESERVE = "r1 = map[idx:0] ll\nr2 = 8\nr3 = 0\ncall 131\n"


def probe(helper: int, size: int | str = 16) -> str:
    """helper(fp-16, size, 0): one of the probe_read family"""
    return f"r1 = r10\nr1 += -16\nr2 = {size}\nr3 = 0\ncall {helper}\nr0 = 0\nexit"


def chain(frames: int) -> str:
    """main calls f1, f1 calls f2, ...: `frames` frames in all"""
    lines = ["call f1", "exit"]
    for i in range(1, frames):
        lines += [f"f{i}: call f{i + 1}" if i + 1 < frames else f"f{i}: r0 = 0", "exit"]
    return "\n".join(lines)


CASES = [
    # the context: read-only, aligned, within sizeof(struct pt_regs)
    Case("ctx read di", "r0 = *(u64 *)(r1 +112)\nexit", "accept"),
    Case("ctx read last field", "r0 = *(u64 *)(r1 +160)\nexit", "accept"),
    Case("ctx 4-byte read aligned", "r0 = *(u32 *)(r1 +4)\nexit", "accept"),
    Case("ctx st write", "*(u64 *)(r1 +0) = 5\nr0 = 0\nexit", "reject", "ctx-write"),
    Case("ctx stx write", "r2 = 1\n*(u64 *)(r1 +8) = r2\nr0 = 0\nexit", "reject", "ctx-write"),
    Case("ctx atomic write", "r2 = 1\nlock *(u64 *)(r1 +8) += r2\nr0 = 0\nexit", "reject", "ctx-write"),
    Case("ctx misaligned 8 at 3", "r0 = *(u64 *)(r1 +3)\nexit", "reject", "ctx-misaligned"),
    Case("ctx out of bounds 168", "r0 = *(u64 *)(r1 +168)\nexit", "reject", "ctx-out-of-bounds"),
    Case("ctx negative offset", "r0 = *(u64 *)(r1 -8)\nexit", "reject", "ctx-out-of-bounds"),
    Case("ctx moved by constant", "r1 += 8\nr0 = *(u64 *)(r1 +0)\nexit", "reject", "ctx-modified-pointer"),
    Case("ctx u8 last byte", "r0 = *(u8 *)(r1 +167)\nexit", "accept"),
    Case("ctx u8 odd offset", "r0 = *(u8 *)(r1 +3)\nexit", "accept"),
    Case("ctx u16 last", "r0 = *(u16 *)(r1 +166)\nexit", "accept"),
    Case("ctx u32 last", "r0 = *(u32 *)(r1 +164)\nexit", "accept"),
    Case("ctx u8 at 168", "r0 = *(u8 *)(r1 +168)\nexit", "reject", "ctx-out-of-bounds"),
    Case("ctx u8 negative", "r0 = *(u8 *)(r1 -1)\nexit", "reject", "ctx-out-of-bounds"),
    Case("ctx u16 misaligned", "r0 = *(u16 *)(r1 +1)\nexit", "reject", "ctx-misaligned"),
    Case("ctx u32 misaligned", "r0 = *(u32 *)(r1 +2)\nexit", "reject", "ctx-misaligned"),
    # both misaligned and past the end: the kernel says "invalid bpf_context access"; we name the end
    Case("ctx u64 at 164", "r0 = *(u64 *)(r1 +164)\nexit", "reject", "ctx-out-of-bounds"),
    Case("ctx u32 straddles end", "r0 = *(u32 *)(r1 +166)\nexit", "reject", "ctx-out-of-bounds"),
    Case("ctx sign-extending load", "r0 = *(s32 *)(r1 +112)\nexit", "accept"),
    Case("ctx u8 write", "*(u8 *)(r1 +0) = 1\nr0 = 0\nexit", "reject", "ctx-write"),
    Case("ctx atomic u32", "r2 = 1\nlock *(u32 *)(r1 +0) += r2\nr0 = 0\nexit", "reject", "ctx-write"),
    Case("ctx read via copy", "r6 = r1\nr0 = *(u64 *)(r6 +8)\nexit", "accept"),
    Case("ctx write via copy", "r6 = r1\n*(u64 *)(r6 +8) = r6\nr0 = 0\nexit", "reject", "ctx-write"),
    Case("ctx filled then written", "*(u64 *)(r10 -8) = r1\nr2 = *(u64 *)(r10 -8)\n*(u32 *)(r2 +0) = 0\nr0 = 0\nexit",
         "reject", "ctx-write"),
    Case("ctx to local function", "call f\nexit\nf: r0 = *(u64 *)(r1 +112)\nexit", "accept"),
    Case("ctx compared with null", "if r1 == 0 goto +2\nr0 = *(u64 *)(r1 +0)\nexit\nr0 = 1\nexit", "accept"),
    Case("ctx compared with fp", "r0 = 0\nif r1 == r10 goto +1\nr0 = 1\nexit", "accept"),
    Case("ctx stored in map", "r6 = r1\n" + VALUE + "*(u64 *)(r0 +0) = r6\n" + OUT, "accept", maps=(ARRAY,)),
    Case("ctx as probe_read source", "r3 = r1\nr1 = r10\nr1 += -8\nr2 = 8\ncall 4\nr0 = 0\nexit", "accept"),
    Case("ctx as probe_read destination", "r2 = 8\nr3 = 0\ncall 4\nr0 = 0\nexit", "reject", "helper-argument"),
    Case("ctx variable offset", DI + "r6 &= 8\nr1 += r6\nr0 = *(u64 *)(r1 +0)\nexit", "reject", "ctx-variable-offset"),
    Case("ctx plus constant register", "r2 = 8\nr1 += r2\nr0 = *(u64 *)(r1 +0)\nexit", "reject", "ctx-modified-pointer"),
    Case("ctx moved and back", "r1 += 8\nr1 += -8\nr0 = *(u64 *)(r1 +0)\nexit", "accept"),
    # registers
    Case("r0 set", "r0 = 0\nexit", "accept"),
    Case("r0 uninitialised", "exit", "reject", "r0-uninitialised-at-exit"),
    Case("uninitialised register read", "r0 = r5\nexit", "reject", "uninitialised-register"),
    Case("r1..r5 gone after call", "call 5\nr0 = r1\nexit", "reject", "uninitialised-register"),
    Case("r10 write", "r10 = 0\nr0 = 0\nexit", "reject", "frame-pointer-write"),
    Case("r10 copy", "r2 = r10\nr0 = 0\nexit", "accept"),
    Case("uninitialised alu source", "r0 = 0\nr0 += r2\nexit", "reject", "uninitialised-register"),
    Case("uninitialised alu destination", "r3 += 1\nr0 = 0\nexit", "reject", "uninitialised-register"),
    Case("uninitialised jump operand", "r0 = 0\nif r4 > 0 goto +0\nexit", "reject", "uninitialised-register"),
    Case("uninitialised store", "*(u64 *)(r10 -8) = r6\nr0 = 0\nexit", "reject", "uninitialised-register"),
    Case("uninitialised base register", "r0 = *(u64 *)(r9 +0)\nexit", "reject", "uninitialised-register"),
    Case("uninitialised helper argument", "r1 = r10\nr1 += -8\nr2 = 8\ncall 4\nr0 = 0\nexit", "reject",
         "uninitialised-register"),
    Case("r10 add", "r10 += 8\nr0 = 0\nexit", "reject", "frame-pointer-write"),
    Case("r10 32-bit move", "w10 = 0\nr0 = 0\nexit", "reject", "frame-pointer-write"),
    Case("r10 load", "r10 = *(u64 *)(r1 +0)\nr0 = 0\nexit", "reject", "frame-pointer-write"),
    Case("r10 neg", "r10 = -r10\nr0 = 0\nexit", "reject", "frame-pointer-write"),
    # w1 = -1 is 0xffffffff, so r1 >> 28 is 15; r1 = -1 gives 0xfffffffff
    Case("32-bit move zero-extends", VALUE + "w1 = -1\nr1 >>= 28\nr0 += r1\nr0 = *(u8 *)(r0 +0)\n" + OUT, "accept",
         maps=(ARRAY,)),
    Case("64-bit move sign-extends", VALUE + "r1 = -1\nr1 >>= 28\nr0 += r1\nr0 = *(u8 *)(r0 +0)\n" + OUT, "reject",
         "pointer-arithmetic", maps=(ARRAY,)),
    Case("r6 kept across call", "r6 = r1\ncall 5\nr0 = *(u64 *)(r6 +112)\nexit", "accept"),
    Case("r0 after call is a number", "call 5\nr0 = *(u64 *)(r0 +0)\nexit", "reject", "invalid-dereference"),
    # the stack
    Case("stack write then read", "*(u64 *)(r10 -8) = 1\nr0 = *(u64 *)(r10 -8)\nexit", "accept"),
    # the kernel lets privileged programs read uninitialised stack; we refuse it (it leaks kernel data)
    Case("stack read uninitialised", "r0 = *(u64 *)(r10 -8)\nexit", "accept", "stack-uninitialised-read"),
    Case("stack partial init wide read", "*(u32 *)(r10 -8) = 1\nr0 = *(u64 *)(r10 -8)\nexit", "accept",
         "stack-uninitialised-read"),
    Case("stack below 512", "*(u64 *)(r10 -520) = 1\nr0 = 0\nexit", "reject", "stack-out-of-bounds"),
    Case("stack above frame", "*(u64 *)(r10 +0) = 1\nr0 = 0\nexit", "reject", "stack-out-of-bounds"),
    Case("stack deepest slot", "*(u64 *)(r10 -512) = 1\nr0 = 0\nexit", "accept"),
    Case("stack misaligned", "*(u64 *)(r10 -12) = 1\nr0 = 0\nexit", "reject", "stack-misaligned"),
    Case("spilled pointer kept", "*(u64 *)(r10 -8) = r1\nr2 = *(u64 *)(r10 -8)\nr0 = *(u64 *)(r2 +112)\nexit", "accept"),
    Case("stack u8 at -1", "*(u8 *)(r10 -1) = 1\nr0 = *(u8 *)(r10 -1)\nexit", "accept"),
    Case("stack u8 at -512", "*(u8 *)(r10 -512) = 1\nr0 = 0\nexit", "accept"),
    Case("stack u8 at -513", "*(u8 *)(r10 -513) = 1\nr0 = 0\nexit", "reject", "stack-out-of-bounds"),
    Case("stack u8 at 0", "*(u8 *)(r10 +0) = 1\nr0 = 0\nexit", "reject", "stack-out-of-bounds"),
    Case("stack read above frame", "r0 = *(u32 *)(r10 +4)\nexit", "reject", "stack-out-of-bounds"),
    Case("stack u16 aligned", "*(u16 *)(r10 -2) = 1\nr0 = *(u16 *)(r10 -2)\nexit", "accept"),
    Case("stack u16 misaligned", "*(u16 *)(r10 -3) = 1\nr0 = 0\nexit", "reject", "stack-misaligned"),
    Case("stack u32 aligned", "*(u32 *)(r10 -4) = 1\nr0 = *(u32 *)(r10 -4)\nexit", "accept"),
    Case("stack u32 misaligned", "*(u32 *)(r10 -6) = 1\nr0 = 0\nexit", "reject", "stack-misaligned"),
    Case("stack u64 read misaligned", "*(u64 *)(r10 -16) = 1\n*(u64 *)(r10 -8) = 1\nr0 = *(u64 *)(r10 -12)\nexit",
         "reject", "stack-misaligned"),
    Case("stack two halves wide read", "*(u32 *)(r10 -8) = 1\n*(u32 *)(r10 -4) = 2\nr0 = *(u64 *)(r10 -8)\nexit", "accept"),
    Case("stack narrow read of wide write", "*(u64 *)(r10 -8) = 1\nr0 = *(u8 *)(r10 -5)\nexit", "accept"),
    Case("stack via moved pointer", "r2 = r10\nr2 += -16\n*(u64 *)(r2 +8) = 1\nr0 = *(u64 *)(r2 +8)\nexit", "accept"),
    Case("stack moved pointer above frame", "r2 = r10\nr2 += -8\n*(u64 *)(r2 +8) = 1\nr0 = 0\nexit", "reject",
         "stack-out-of-bounds"),
    Case("stack variable offset write", DI + "r6 &= 24\nr2 = r10\nr2 += -32\nr2 += r6\n*(u64 *)(r2 +0) = 0\nr0 = 0\nexit",
         "accept"),
    Case("stack variable offset read", "*(u64 *)(r10 -32) = 0\n*(u64 *)(r10 -24) = 0\n*(u64 *)(r10 -16) = 0\n"
         "*(u64 *)(r10 -8) = 0\n" + DI + "r6 &= 24\nr2 = r10\nr2 += -32\nr2 += r6\nr0 = *(u64 *)(r2 +0)\nexit", "accept"),
    Case("stack variable offset misaligned", DI + "r6 &= 7\nr2 = r10\nr2 += -32\nr2 += r6\n*(u64 *)(r2 +0) = 0\n"
         "r0 = 0\nexit", "reject", "stack-misaligned"),
    Case("stack variable offset past top", DI + "r6 &= 56\nr2 = r10\nr2 += -32\nr2 += r6\n*(u64 *)(r2 +0) = 0\n"
         "r0 = 0\nexit", "reject", "stack-out-of-bounds"),
    # the kernel: "invalid unbounded variable-offset write to stack"
    Case("stack variable offset unbounded", DI + "r2 = r10\nr2 += r6\n*(u64 *)(r2 +0) = 0\nr0 = 0\nexit", "reject",
         "pointer-arithmetic"),
    Case("pointer spill misaligned", "*(u64 *)(r10 -12) = r1\nr0 = 0\nexit", "reject", "stack-misaligned"),
    Case("spilled pointer overwritten", "*(u64 *)(r10 -8) = r1\n*(u32 *)(r10 -8) = 0\nr2 = *(u64 *)(r10 -8)\n"
         "r0 = *(u64 *)(r2 +0)\nexit", "reject", "invalid-dereference"),
    Case("spilled scalar kept", "r1 = 3\n*(u64 *)(r10 -8) = r1\nr2 = *(u64 *)(r10 -8)\nr0 = 0\nif r2 == 3 goto +1\n"
         "r0 = *(u64 *)(r9 +0)\nexit", "accept"),
    # maps
    Case("lookup with null check", LOOKUP + "if r0 == 0 goto +1\nr0 = *(u64 *)(r0 +0)\nr0 = 0\nexit", "accept", maps=(HASH,)),
    Case("lookup without null check", LOOKUP + "r0 = *(u64 *)(r0 +0)\nexit", "reject", "possible-null-dereference", maps=(HASH,)),
    Case("array const key no check", LOOKUP + "r0 = *(u64 *)(r0 +0)\nexit", "accept", maps=(ARRAY,)),
    Case("array key out of range", "r1 = map[idx:0] ll\nr2 = r10\nr2 += -4\n*(u32 *)(r10 -4) = 9\ncall 1\n"
         "r0 = *(u64 *)(r0 +0)\nexit", "reject", "possible-null-dereference", maps=(ARRAY,)),
    Case("map value in bounds", LOOKUP + "if r0 == 0 goto +1\nr0 = *(u64 *)(r0 +8)\nr0 = 0\nexit", "accept", maps=(ARRAY,)),
    Case("map value past end", LOOKUP + "if r0 == 0 goto +1\nr0 = *(u64 *)(r0 +12)\nr0 = 0\nexit", "reject",
         "map-value-out-of-bounds", maps=(ARRAY,)),
    Case("uninitialised key", "r1 = map[idx:0] ll\nr2 = r10\nr2 += -4\ncall 1\nr0 = 0\nexit", "accept",
         "stack-uninitialised-read", maps=(HASH,)),
    Case("update with value", "*(u32 *)(r10 -4) = 1\n*(u64 *)(r10 -16) = 2\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\n"
         "r3 = r10\nr3 += -16\nr4 = 0\ncall 2\nr0 = 0\nexit", "accept", maps=(HASH,)),
    Case("key is not a pointer", "r1 = map[idx:0] ll\nr2 = 0\ncall 1\nr0 = 0\nexit", "reject", "helper-argument", maps=(HASH,)),
    Case("map argument not a map", "r1 = r10\nr2 = r10\ncall 1\nr0 = 0\nexit", "reject", "helper-argument"),
    Case("bounded index into value", "r6 = *(u64 *)(r1 +112)\n" + LOOKUP + "if r0 == 0 goto +5\nr1 = r6\nr1 &= 7\n"
         "r0 += r1\nr0 = *(u8 *)(r0 +0)\nr0 = 0\nexit", "accept", maps=(ARRAY,)),
    Case("unbounded index into value", "r6 = *(u64 *)(r1 +112)\n" + LOOKUP + "if r0 == 0 goto +4\nr1 = r6\n"
         "r0 += r1\nr0 = *(u8 *)(r0 +0)\nr0 = 0\nexit", "reject", "pointer-arithmetic", maps=(ARRAY,)),
    Case("arithmetic before null check", LOOKUP + "r0 += 8\nr0 = 0\nexit", "reject", "pointer-arithmetic", maps=(HASH,)),
    Case("percpu hash lookup", VALUE + "r0 = *(u64 *)(r0 +0)\n" + OUT, "accept", maps=(PERCPU_HASH,)),
    Case("percpu hash no check", LOOKUP + "r0 = *(u64 *)(r0 +0)\nexit", "reject", "possible-null-dereference",
         maps=(PERCPU_HASH,)),
    Case("percpu array lookup", VALUE + "r0 = *(u64 *)(r0 +8)\n" + OUT, "accept", maps=(PERCPU_ARRAY,)),
    Case("percpu array const key no check", LOOKUP + "r0 = *(u64 *)(r0 +8)\nexit", "accept", maps=(PERCPU_ARRAY,)),
    Case("lru hash lookup", VALUE + "r0 = *(u64 *)(r0 +0)\n" + OUT, "accept", maps=(LRU_HASH,)),
    Case("lru hash no check", LOOKUP + "r0 = *(u64 *)(r0 +0)\nexit", "reject", "possible-null-dereference",
         maps=(LRU_HASH,)),
    Case("8-byte key", "*(u64 *)(r10 -8) = 0\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -8\ncall 1\nr0 = 0\nexit", "accept",
         maps=(HASH8,)),
    Case("8-byte key in 4 bytes", LOOKUP + "r0 = 0\nexit", "reject", "helper-memory", maps=(HASH8,)),
    Case("key pointer past frame", "r1 = map[idx:0] ll\nr2 = r10\nr2 += -2\ncall 1\nr0 = 0\nexit", "reject", "helper-memory",
         maps=(HASH,)),
    Case("update array", UPDATE, "accept", maps=(ARRAY,)),
    Case("update percpu array", UPDATE, "accept", maps=(PERCPU_ARRAY,)),
    Case("update lru hash", UPDATE, "accept", maps=(LRU_HASH,)),
    Case("update flags unknown", DI + UPDATE.replace("r4 = 0", "r4 = r6"), "accept", maps=(HASH,)),
    Case("update value too small", UPDATE.replace("r3 += -24", "r3 += -8"), "reject", "helper-memory", maps=(ARRAY,)),
    Case("update value from map value", VALUE + "r3 = r0\n*(u32 *)(r10 -8) = 1\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -8\n"
         "r4 = 0\ncall 2\n" + OUT, "accept", maps=(ARRAY,)),
    Case("delete hash", DELETE, "accept", maps=(HASH,)),
    Case("delete percpu hash", DELETE, "accept", maps=(PERCPU_HASH,)),
    Case("delete array", DELETE, "accept", maps=(ARRAY,)),  # fails at run time (-EINVAL), not at load
    Case("delete key not a pointer", "r1 = map[idx:0] ll\nr2 = 4\ncall 3\nr0 = 0\nexit", "reject", "helper-argument",
         maps=(HASH,)),
    Case("map value write", VALUE + "*(u64 *)(r0 +8) = 1\n" + OUT, "accept", maps=(ARRAY,)),
    Case("map value write past end", VALUE + "*(u64 *)(r0 +9) = 1\n" + OUT, "reject", "map-value-out-of-bounds",
         maps=(ARRAY,)),
    Case("map value atomic add", VALUE + "r1 = 1\nlock *(u64 *)(r0 +8) += r1\n" + OUT, "accept", maps=(ARRAY,)),
    Case("map value atomic past end", VALUE + "r1 = 1\nlock *(u64 *)(r0 +16) += r1\n" + OUT, "reject",
         "map-value-out-of-bounds", maps=(ARRAY,)),
    Case("map value fetch add", VALUE + "r1 = 1\nr1 = atomic64_fetch_add((u64 *)(r0 +0), r1)\n" + OUT, "accept",
         maps=(ARRAY,)),
    Case("map value last byte", VALUE + "r0 = *(u8 *)(r0 +15)\n" + OUT, "accept", maps=(ARRAY,)),
    Case("map value u16 at 15", VALUE + "r0 = *(u16 *)(r0 +15)\n" + OUT, "reject", "map-value-out-of-bounds", maps=(ARRAY,)),
    Case("map value negative offset", VALUE + "r0 = *(u8 *)(r0 -1)\n" + OUT, "reject", "map-value-out-of-bounds",
         maps=(ARRAY,)),
    Case("hash value past end", VALUE + "r0 = *(u64 *)(r0 +8)\n" + OUT, "reject", "map-value-out-of-bounds", maps=(HASH,)),
    Case("null check with !=", LOOKUP + "if r0 != 0 goto +2\nr0 = 0\nexit\nr0 = *(u64 *)(r0 +0)\nexit", "accept",
         maps=(HASH,)),
    # on the fall-through of `r0 != 0`, r0 is the number 0 (the kernel: "invalid mem access 'scalar'")
    Case("null check wrong branch", LOOKUP + "if r0 != 0 goto +2\nr0 = *(u64 *)(r0 +0)\nexit\nr0 = 0\nexit", "reject",
         "invalid-dereference", maps=(HASH,)),
    # a 32-bit test of a pointer against 0 proves nothing about the pointer to the kernel's analysis; z3 sees that
    # a pointer whose low half is not 0 is not NULL
    Case("null check jmp32", LOOKUP + "if w0 == 0 goto +1\nr0 = *(u64 *)(r0 +0)\nr0 = 0\nexit", "reject",
         "possible-null-dereference", maps=(HASH,), with_solver="accepted"),
    Case("null check on a copy", LOOKUP + "r6 = r0\nif r6 == 0 goto +1\nr0 = *(u64 *)(r0 +0)\nr0 = 0\nexit", "accept",
         maps=(HASH,)),
    Case("copy after null check", VALUE + "r6 = r0\nr0 = *(u64 *)(r6 +0)\n" + OUT, "accept", maps=(HASH,)),
    Case("null check of a spilled copy", LOOKUP + "*(u64 *)(r10 -16) = r0\nif r0 == 0 goto out\nr1 = *(u64 *)(r10 -16)\n"
         "r0 = *(u64 *)(r1 +0)\n" + OUT, "accept", maps=(HASH,)),
    Case("double lookup", LOOKUP + "r6 = r0\n" + LOOKUP + "if r6 == 0 goto out\nif r0 == 0 goto out\n"
         "r1 = *(u64 *)(r6 +0)\nr1 = *(u64 *)(r0 +0)\n" + OUT, "accept", maps=(HASH,)),
    Case("double lookup one check", LOOKUP + "r6 = r0\n" + LOOKUP + "if r0 == 0 goto out\nr1 = *(u64 *)(r6 +0)\n" + OUT,
         "reject", "possible-null-dereference", maps=(HASH,)),
    Case("map value or null returned", LOOKUP + "exit", "accept", maps=(HASH,)),
    Case("map pointer write", "r1 = map[idx:0] ll\n*(u64 *)(r1 +0) = 0\nr0 = 0\nexit", "reject", "invalid-dereference",
         maps=(HASH,)),
    Case("map pointer arithmetic", "r1 = map[idx:0] ll\nr1 += 8\nr0 = 0\nexit", "reject", "pointer-arithmetic", maps=(HASH,)),
    Case("map value as key", VALUE + "r1 = map[idx:1] ll\nr2 = r0\ncall 1\n" + OUT, "accept", maps=(ARRAY, HASH)),
    Case("map value as too small key", VALUE + "r1 = map[idx:1] ll\nr2 = r0\ncall 1\n" + OUT, "reject", "helper-memory",
         maps=(HASH, KEY16)),
    Case("direct map value", "r1 = map[idx:0][0]+8 ll\nr0 = *(u64 *)(r1 +0)\nexit", "accept", maps=(GLOBAL,)),
    Case("direct map value write", "r1 = map[idx:0][0]+0 ll\n*(u64 *)(r1 +8) = 1\nr0 = 0\nexit", "accept", maps=(GLOBAL,)),
    Case("direct map value past end", "r1 = map[idx:0][0]+12 ll\nr0 = *(u64 *)(r1 +0)\nexit", "reject",
         "map-value-out-of-bounds", maps=(GLOBAL,)),
    Case("direct value of hash", "r1 = map[idx:0][0]+0 ll\nr0 = 0\nexit", "reject", "invalid-map-reference", maps=(HASH,)),
    # helpers
    Case("probe_read into stack", "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 4\nr0 = 0\nexit", "accept"),
    Case("probe_read beyond stack", "r1 = r10\nr1 += -8\nr2 = 16\nr3 = 0\ncall 4\nr0 = 0\nexit", "reject", "helper-memory"),
    Case("probe_read zero size", "r1 = r10\nr1 += -8\nr2 = 0\nr3 = 0\ncall 4\nr0 = 0\nexit", "accept"),
    Case("size is a pointer", "r1 = r10\nr1 += -8\nr2 = r10\nr3 = 0\ncall 4\nr0 = 0\nexit", "reject", "helper-argument"),
    Case("gpl helper without gpl", "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 4\nr0 = 0\nexit", "reject",
         "gpl-only-helper", license="Proprietary"),
    Case("ktime_get_ns", "call 5\nexit", "accept"),
    Case("unknown helper", "call 9999\nr0 = 0\nexit", "reject", "unknown-helper"),
    Case("not a kprobe helper", "call 23\nr0 = 0\nexit", "reject", "unknown-helper"),
    Case("get_current_comm", "r1 = r10\nr1 += -16\nr2 = 16\ncall 16\nr0 = 0\nexit", "accept"),
    Case("ringbuf reserve submit", "r1 = map[idx:0] ll\nr2 = 8\nr3 = 0\ncall 131\nif r0 == 0 goto +3\n"
         "r1 = r0\nr2 = 0\ncall 132\nr0 = 0\nexit", "accept", maps=(RINGBUF,)),
    Case("ringbuf record leaked", "r1 = map[idx:0] ll\nr2 = 8\nr3 = 0\ncall 131\nr0 = 0\nexit", "reject",
         "unreleased-reference", maps=(RINGBUF,)),
    Case("get_current_pid_tgid", "call 14\nexit", "accept"),
    Case("get_current_uid_gid", "call 15\nexit", "accept"),
    Case("get_smp_processor_id", "call 8\nexit", "accept"),
    Case("get_prandom_u32", "call 7\nexit", "accept"),
    Case("ktime_get_boot_ns", "call 125\nexit", "accept"),
    Case("jiffies64", "call 118\nexit", "accept"),
    Case("get_current_task", "call 35\nexit", "accept"),
    Case("get_current_cgroup_id", "call 80\nexit", "accept"),
    Case("ktime_get_ns without gpl", "call 5\nexit", "accept", license="Proprietary"),
    Case("get_current_task without gpl", "call 35\nexit", "reject", "gpl-only-helper", license="Dual BSD/MIT"),
    Case("trace_printk", PRINTK, "accept"),
    Case("trace_printk without gpl", PRINTK, "reject", "gpl-only-helper", license="Proprietary"),
    Case("trace_printk zero size", PRINTK.replace("r2 = 8", "r2 = 0"), "reject", "helper-argument"),
    Case("trace_printk format is a number", "r1 = 0\nr2 = 8\ncall 6\nr0 = 0\nexit", "reject", "helper-argument"),
    # privileged: the format may be uninitialised stack for the kernel
    Case("trace_printk uninitialised format", PRINTK.replace("*(u64 *)(r10 -8) = 0x6968\n", ""), "accept",
         "stack-uninitialised-read"),
    Case("perf_event_output", OUTPUT, "accept", maps=(PERF,)),
    Case("perf_event_output without ctx", OUTPUT.replace("r1 = r6", "r1 = r10"), "reject", "helper-argument", maps=(PERF,)),
    Case("perf_event_output data too big", OUTPUT.replace("r5 = 8", "r5 = 16"), "reject", "helper-memory", maps=(PERF,)),
    Case("perf_event_output without gpl", OUTPUT, "reject", "gpl-only-helper", maps=(PERF,), license="Proprietary"),
    Case("get_stackid", "r2 = map[idx:0] ll\nr3 = 0\ncall 27\nexit", "accept", maps=(STACKS,)),
    Case("get_stack", "r2 = r10\nr2 += -64\nr3 = 64\nr4 = 0\ncall 67\nr0 = 0\nexit", "accept"),
    Case("get_stack beyond stack", "r2 = r10\nr2 += -64\nr3 = 72\nr4 = 0\ncall 67\nr0 = 0\nexit", "reject", "helper-memory"),
    Case("probe_read_str", probe(45), "accept"),
    Case("probe_read_user", probe(112), "accept"),
    Case("probe_read_kernel", probe(113), "accept"),
    Case("probe_read_user_str", probe(114), "accept"),
    Case("probe_read_kernel_str", probe(115), "accept"),
    Case("probe_read_kernel without gpl", probe(113), "reject", "gpl-only-helper", license="Proprietary"),
    Case("probe_read_str beyond stack", probe(45, 24), "reject", "helper-memory"),
    Case("probe_read into map value", VALUE + "r1 = r0\nr2 = 16\nr3 = 0\ncall 113\n" + OUT, "accept", maps=(ARRAY,)),
    Case("probe_read past map value", VALUE + "r1 = r0\nr2 = 17\nr3 = 0\ncall 113\n" + OUT, "reject", "helper-memory",
         maps=(ARRAY,)),
    Case("probe_read into unchecked value", LOOKUP + "r1 = r0\nr2 = 8\nr3 = 0\ncall 113\nr0 = 0\nexit", "reject",
         "helper-argument", maps=(HASH,)),
    Case("probe_read negative size", probe(4, -1), "reject", "helper-argument"),
    Case("probe_read unbounded size", DI + probe(4, "r6"), "reject", "helper-argument"),
    Case("probe_read size masked", DI + "r6 &= 15\n" + probe(4, "r6"), "accept"),
    Case("probe_read size masked too wide", DI + "r6 &= 31\n" + probe(4, "r6"), "reject", "helper-memory"),
    Case("probe_read size checked", DI + "r0 = 0\nif r6 > 16 goto +5\n" + probe(4, "r6"), "accept"),
    Case("get_current_comm zero size", "r1 = r10\nr1 += -16\nr2 = 0\ncall 16\nr0 = 0\nexit", "reject", "helper-argument"),
    Case("get_current_comm into map value", VALUE + "r1 = r0\nr2 = 16\ncall 16\n" + OUT, "accept", maps=(ARRAY,)),
    Case("tail_call", "r2 = map[idx:0] ll\nr3 = 0\ncall 12\nr0 = 0\nexit", "accept", maps=(PROGS,)),
    Case("ringbuf_output", "*(u64 *)(r10 -8) = 0\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -8\nr3 = 8\nr4 = 0\ncall 130\n"
         "r0 = 0\nexit", "accept", maps=(RINGBUF,)),
    Case("ringbuf_discard", RESERVE + "if r0 == 0 goto +3\nr1 = r0\nr2 = 0\ncall 133\nr0 = 0\nexit", "accept",
         maps=(RINGBUF,)),
    Case("ringbuf record write", RESERVE + "if r0 == 0 goto +4\n*(u64 *)(r0 +0) = 1\nr1 = r0\nr2 = 0\ncall 132\n"
         "r0 = 0\nexit", "accept", maps=(RINGBUF,)),
    Case("ringbuf record past end", RESERVE + "if r0 == 0 goto +4\n*(u64 *)(r0 +8) = 1\nr1 = r0\nr2 = 0\ncall 132\n"
         "r0 = 0\nexit", "reject", "mem-out-of-bounds", maps=(RINGBUF,)),
    # more than the ring holds: the reservation fails at run time
    Case("ringbuf record bigger than ring", RESERVE.replace("r2 = 8", "r2 = 8192") + "if r0 == 0 goto +3\nr1 = r0\n"
         "r2 = 0\ncall 132\nr0 = 0\nexit", "accept", maps=(RINGBUF,)),
    Case("ringbuf submit twice", RESERVE + "if r0 == 0 goto +7\nr6 = r0\nr1 = r6\nr2 = 0\ncall 132\nr1 = r6\nr2 = 0\n"
         "call 132\nr0 = 0\nexit", "reject", "helper-argument", maps=(RINGBUF,)),
    Case("ringbuf submit unchecked", RESERVE + "r1 = r0\nr2 = 0\ncall 132\nr0 = 0\nexit", "reject", "helper-argument",
         maps=(RINGBUF,)),
    Case("ringbuf reserve variable size", DI + "r2 = r6\nr2 &= 8\n" + RESERVE.replace("r2 = 8\n", "") +
         "if r0 == 0 goto +3\nr1 = r0\nr2 = 0\ncall 133\nr0 = 0\nexit", "reject", "helper-argument", maps=(RINGBUF,)),
    Case("ringbuf submit stack", "r1 = r10\nr1 += -8\nr2 = 0\ncall 132\nr0 = 0\nexit", "reject", "helper-argument"),
    Case("map argument is ctx", "r2 = r10\nr2 += -4\n*(u32 *)(r10 -4) = 0\ncall 1\nr0 = 0\nexit", "reject",
         "helper-argument"),
    Case("helper 0", "call 0\nr0 = 0\nexit", "reject", "unknown-helper"),
    Case("skb_store_bytes", "call 9\nr0 = 0\nexit", "reject", "unknown-helper"),
    # both exist for kprobes, but not on the running kernel (lockdown, CONFIG_BPF_KPROBE_OVERRIDE)
    Case("probe_write_user", "*(u64 *)(r10 -8) = 0\nr2 = r10\nr2 += -8\nr1 = 0\nr3 = 8\ncall 36\nr0 = 0\nexit", "reject",
         "unknown-helper"),
    Case("override_return", "r2 = 0\ncall 58\nr0 = 0\nexit", "reject", "unknown-helper"),
    # pointers
    Case("bitwise on pointer", "r1 &= 7\nr0 = 0\nexit", "reject", "pointer-arithmetic"),
    Case("32-bit pointer arithmetic", "w1 += 1\nr0 = 0\nexit", "reject", "pointer-arithmetic"),
    Case("scalar dereference", "r1 = 0\nr0 = *(u64 *)(r1 +0)\nexit", "reject", "invalid-dereference"),
    Case("null pointer write", "r1 = 0\n*(u64 *)(r1 +0) = 1\nr0 = 0\nexit", "reject", "invalid-dereference"),
    # privileged programs may leak pointers: into maps, as numbers, as the return value
    Case("pointer stored in map", VALUE + "*(u64 *)(r0 +0) = r10\n" + OUT, "accept", maps=(ARRAY,)),
    Case("pointer stored in map u32", VALUE + "*(u32 *)(r0 +0) = r10\n" + OUT, "accept", maps=(ARRAY,)),
    Case("pointer returned", "r0 = r1\nexit", "accept"),
    Case("pointer 32-bit copy", "w0 = w1\nexit", "accept"),
    Case("pointer comparison", "r0 = 0\nr2 = r10\nif r1 > r2 goto +1\nr0 = 1\nexit", "accept"),
    Case("pointer compared with number", "r0 = 0\nif r1 > 5 goto +1\nr0 = 1\nexit", "accept"),
    Case("stack pointer difference", "r2 = r10\nr2 += -8\nr0 = r10\nr0 -= r2\nexit", "accept"),
    Case("pointer multiply", "r1 *= 2\nr0 = 0\nexit", "reject", "pointer-arithmetic"),
    Case("pointer divide", "r1 /= 2\nr0 = 0\nexit", "reject", "pointer-arithmetic"),
    Case("pointer shift", "r1 <<= 1\nr0 = 0\nexit", "reject", "pointer-arithmetic"),
    Case("pointer or", "r2 = 1\nr1 |= r2\nr0 = 0\nexit", "reject", "pointer-arithmetic"),
    Case("pointer 32-bit add", "w1 += 8\nr0 = 0\nexit", "reject", "pointer-arithmetic"),
    Case("pointer plus pointer", "r1 += r10\nr0 = 0\nexit", "reject", "pointer-arithmetic"),
    Case("scalar plus pointer", "r2 = -8\nr2 += r10\n*(u64 *)(r2 +0) = 1\nr0 = *(u64 *)(r10 -8)\nexit", "accept"),
    Case("scalar minus pointer", "r2 = 0\nr2 -= r10\nr0 = 0\nexit", "reject", "pointer-arithmetic"),
    Case("stack plus unknown written", DI + "r2 = r10\nr2 += r6\n*(u8 *)(r2 +0) = 0\nr0 = 0\nexit", "reject",
         "pointer-arithmetic"),
    # an instruction that reads the context must see the context on every path ("same insn cannot be used
    # with different pointers"); other kinds may mix
    Case("ctx or stack at one load", "*(u64 *)(r10 -8) = 0\nr2 = *(u64 *)(r1 +112)\nif r2 > 5 goto +2\nr1 = r10\n"
         "r1 += -8\nr0 = *(u64 *)(r1 +0)\nexit", "reject", "type-conflict"),
    Case("map value or stack at one load", "*(u64 *)(r10 -16) = 0\n" + LOOKUP + "if r0 != 0 goto +2\nr0 = r10\n"
         "r0 += -16\nr0 = *(u64 *)(r0 +0)\nr0 = 0\nexit", "accept", maps=(HASH,)),
    # more than 8 kinds of paths meet: they are joined, and a register that differs becomes a conflict
    # (the kernel walks all 16 paths; this is where the verifier is knowingly stricter)
    Case("sixteen path kinds", "*(u64 *)(r10 -8) = 0\n" + LOOKUP + "if r0 == 0 goto +18\nr2 = *(u64 *)(r0 +0)\n"
         "r6 = r0\nr7 = r0\nr8 = r0\nr9 = r0\n"
         + "".join(f"if r2 & {1 << i} goto +2\nr{6 + i} = r10\nr{6 + i} += -8\n" for i in range(4))
         + "r0 = *(u64 *)(r6 +0)\nr0 = *(u64 *)(r7 +0)\nr0 = *(u64 *)(r8 +0)\nr0 = *(u64 *)(r9 +0)\nr0 = 0\nexit",
         "accept", "type-conflict", maps=(ARRAY,)),
    # maps a program may only read (BPF_F_RDONLY_PROG, as libbpf makes .rodata)
    Case("read-only map read", VALUE + "r1 = *(u64 *)(r0 +0)\n" + OUT, "accept", maps=(READ_ONLY,)),
    Case("read-only map write", VALUE + "*(u64 *)(r0 +0) = 1\n" + OUT, "reject", "map-value-read-only",
         maps=(READ_ONLY,)),
    Case("read-only map helper write", VALUE + "r1 = r0\nr2 = 8\nr3 = 0\ncall 4\n" + OUT, "reject",
         "map-value-read-only", maps=(READ_ONLY,)),
    # linked scalars: a copy (register or spill) shares what a branch learns, shifted by added constants
    Case("copy bounded, original used", DI + VALUE + "r1 = r6\nif r1 > 7 goto out\nr0 += r6\nr0 = *(u8 *)(r0 +0)\n" + OUT,
         "accept", maps=(ARRAY,)),
    Case("copy plus constant bounded", DI + VALUE + "r1 = r6\nr1 += 2\nif r1 > 9 goto out\nif r6 s< 0 goto out\n"
         "r0 += r6\nr0 = *(u8 *)(r0 +0)\n" + OUT, "accept", maps=(ARRAY,)),
    Case("spilled copy bounded", DI + VALUE + "*(u64 *)(r10 -16) = r6\nif r6 > 7 goto out\nr1 = *(u64 *)(r10 -16)\n"
         "r0 += r1\nr0 = *(u8 *)(r0 +0)\n" + OUT, "accept", maps=(ARRAY,)),
    Case("copy changed after the copy", DI + VALUE + "r1 = r6\nr6 *= 3\nif r1 > 7 goto out\nr0 += r6\n"
         "r0 = *(u8 *)(r0 +0)\n" + OUT, "reject", "pointer-arithmetic", maps=(ARRAY,)),
    Case("copy shifted below zero", DI + VALUE + "r1 = r6\nr6 += 5\nif r6 > 7 goto out\nr0 += r1\n"
         "r0 = *(u8 *)(r0 +0)\n" + OUT, "reject", "map-value-out-of-bounds", maps=(ARRAY,)),
    Case("copy bounded in a loop", DI + VALUE + "r2 = 0\nl: r1 = r6\nr6 = r2\nif r1 > 7 goto out\nr2 += 1\n"
         "if r2 < 3 goto l\nr0 += r1\nr0 = *(u8 *)(r0 +0)\n" + OUT, "accept", maps=(ARRAY,)),
    # control flow and loops
    Case("forward branch", "r0 = *(u64 *)(r1 +112)\nif r0 > 5 goto +1\nr0 = 0\nexit", "accept"),
    Case("bounded loop", "r0 = 0\nr1 = 10\nl: r0 += 1\nr1 -= 1\nif r1 != 0 goto l\nexit", "accept"),
    Case("unbounded loop", "r0 = 0\nl: r0 += 1\ngoto l", "reject", "unbounded-loop"),
    Case("loop on unknown bound", "r2 = *(u64 *)(r1 +112)\nr0 = 0\nl: r0 += 1\nif r0 != r2 goto l\nexit", "reject",
         "unbounded-loop"),
    Case("loop bounded by input", "r2 = *(u64 *)(r1 +112)\nr2 &= 63\nr0 = 0\nl: r0 += 1\nif r0 < r2 goto l\nexit", "accept"),
    Case("unreachable code", "r0 = 0\nexit\nr0 = 1\nexit", "reject", "unreachable-instruction"),
    Case("local call", "call f\nexit\nf: r0 = 1\nexit", "accept"),
    Case("callee returns its stack", "call f\nr0 = 0\nexit\nf: r0 = r10\nr0 += -8\nexit", "reject", "return-stack-pointer"),
    Case("loop counting up", "r0 = 0\nr1 = 0\nl: r1 += 1\nif r1 < 10 goto l\nexit", "accept"),
    Case("loop jmp32", "r0 = 0\nw1 = 10\nl: w1 -= 1\nif w1 != 0 goto l\nexit", "accept"),
    Case("loop signed", "r0 = 0\nr1 = -5\nl: r1 += 1\nif r1 s< 5 goto l\nexit", "accept"),
    Case("loop breaks on lookup", "r6 = 0\nl: " + LOOKUP + "if r0 == 0 goto +2\nr6 += 1\nif r6 < 4 goto l\nr0 = 0\nexit",
         "accept", maps=(HASH,)),
    Case("nested loops", "r0 = 0\nr1 = 4\no: r2 = 4\ni: r0 += 1\nr2 -= 1\nif r2 != 0 goto i\nr1 -= 1\nif r1 != 0 goto o\n"
         "exit", "accept"),
    Case("self loop", "r0 = 0\nl: goto l", "reject", "unbounded-loop"),
    Case("loop counter reset", "r0 = 0\nl: r1 = 0\nr1 += 1\nif r1 < 10 goto l\nexit", "reject", "unbounded-loop"),
    # the trip count comes from a map value: the loop runs until the value wraps to 0, up to 2^64
    # times: bounded, far beyond the instructions the kernel processes
    Case("loop bound from map value", VALUE + "r1 = *(u64 *)(r0 +0)\nl: r1 += 1\nif r1 != 0 goto l\n" + OUT, "reject",
         "too-complex", maps=(ARRAY,)),
    Case("loop bound from map value masked", VALUE + "r2 = *(u64 *)(r0 +0)\nr2 &= 15\nr1 = 0\nl: r1 += 1\n"
         "if r1 < r2 goto l\n" + OUT, "accept", maps=(ARRAY,)),
    Case("unreachable after goto", "r0 = 0\ngoto +1\nr0 = 1\nexit", "reject", "unreachable-instruction"),
    # the kernel never walks a branch it can decide: the uninitialised r9 is never read
    Case("dead branch", "r0 = 0\nif r0 != 0 goto +1\nexit\nr0 = *(u64 *)(r9 +0)\nexit", "accept"),
    Case("live branch", "r0 = *(u64 *)(r1 +112)\nif r0 != 0 goto +1\nexit\nr0 = *(u64 *)(r9 +0)\nexit", "reject",
         "uninitialised-register"),
    Case("jump into lddw", "r0 = 0\ngoto +1\nr1 = 0x1234 ll\nexit", "reject", "invalid-jump"),
    Case("gotol", "r0 = *(u64 *)(r1 +112)\nif r0 > 5 goto +1\ngotol +1\nr0 = 1\nexit", "accept"),
    Case("local call with arguments", "r1 = 3\nr2 = 4\ncall f\nexit\nf: r0 = r1\nr0 += r2\nexit", "accept"),
    Case("local call result as offset", VALUE + "r6 = r0\ncall f\nr6 += r0\nr0 = *(u64 *)(r6 +0)\n" + OUT +
         "\nf: r0 = 8\nexit", "accept", maps=(ARRAY,)),
    Case("local call result too far", VALUE + "r6 = r0\ncall f\nr6 += r0\nr0 = *(u64 *)(r6 +0)\n" + OUT +
         "\nf: r0 = 12\nexit", "reject", "map-value-out-of-bounds", maps=(ARRAY,)),
    Case("callee writes caller stack", "r1 = r10\nr1 += -8\ncall f\nr0 = *(u64 *)(r10 -8)\nexit\n"
         "f: *(u64 *)(r1 +0) = 1\nr0 = 0\nexit", "accept"),
    Case("callee writes past caller stack", "r1 = r10\nr1 += -8\ncall f\nr0 = 0\nexit\nf: *(u64 *)(r1 +8) = 1\nr0 = 0\n"
         "exit", "reject", "stack-out-of-bounds"),
    Case("callee reads uninitialised argument", "call f\nexit\nf: r0 = r2\nexit", "reject", "uninitialised-register"),
    Case("callee reads caller r6", "r6 = 1\ncall f\nexit\nf: r0 = r6\nexit", "reject", "uninitialised-register"),
    Case("caller r6 kept across local call", "r6 = 5\ncall f\nr0 = r6\nexit\nf: r0 = 0\nexit", "accept"),
    Case("callee without r0", "call f\nexit\nf: exit", "reject", "r0-uninitialised-at-exit"),
    Case("recursion", "call f\nexit\nf: call f\nexit", "reject", "recursion"),
    Case("mutual recursion", "call f\nexit\nf: call g\nexit\ng: call f\nexit", "reject", "recursion"),
    Case("call depth 8", chain(8), "accept"),
    Case("call depth 9", chain(9), "reject", "call-depth"),
    # a tail call turns off private stacks (Linux 6.13): then the frames share 512 bytes
    Case("combined stack with tail call", "*(u64 *)(r10 -512) = 0\nr2 = map[idx:0] ll\nr3 = 0\ncall 12\ncall f\n"
         "r0 = 0\nexit\nf: *(u64 *)(r10 -32) = 0\nr0 = 0\nexit", "reject", "combined-stack-too-large", maps=(PROGS,)),
    Case("combined stack fits with tail call", "*(u64 *)(r10 -256) = 0\nr2 = map[idx:0] ll\nr3 = 0\ncall 12\ncall f\n"
         "r0 = 0\nexit\nf: *(u64 *)(r10 -256) = 0\nr0 = 0\nexit", "accept", maps=(PROGS,)),
    # ALU
    Case("div by zero register", "r0 = 1\nr1 = 0\nr0 /= r1\nexit", "accept"),  # the result is 0
    Case("mod by zero register", "r0 = 1\nr1 = 0\nr0 %= r1\nexit", "accept"),
    Case("32-bit div by zero register", "w0 = 1\nw1 = 0\nw0 /= w1\nexit", "accept"),
    Case("shift by 63", "r0 = 1\nr0 <<= 63\nexit", "accept"),
    Case("shift by register", "r1 = *(u64 *)(r1 +112)\nr0 = 1\nr0 <<= r1\nexit", "accept"),
    Case("byte swaps", "r0 = *(u64 *)(r1 +112)\nr0 = be16 r0\nr0 = le32 r0\nr0 = bswap64 r0\nexit", "accept"),
    Case("byte swap bounds", VALUE + "r1 = 0x0f00\nr1 = be16 r1\nr0 += r1\nr0 = *(u8 *)(r0 +0)\n" + OUT, "accept",
         maps=(ARRAY,)),
    Case("byte swap too far", VALUE + "r1 = 0x0f\nr1 = be16 r1\nr0 += r1\nr0 = *(u8 *)(r0 +0)\n" + OUT, "reject",
         "map-value-out-of-bounds", maps=(ARRAY,)),
    Case("movsx", "r0 = *(u64 *)(r1 +112)\nr0 = (s8)r0\nw0 = (s16)w0\nexit", "accept"),
    Case("sign-extending load", "*(u64 *)(r10 -8) = -1\nr0 = *(s8 *)(r10 -8)\nexit", "accept"),
    Case("sdiv and smod", "r0 = -8\nr0 s/= 3\nr0 s%= 2\nexit", "accept"),
    Case("neg", "r0 = 1\nr0 = -r0\nw0 = -w0\nexit", "accept"),
    Case("signed checks bound index", DI + VALUE + "if r6 s< 0 goto out\nif r6 s> 15 goto out\nr0 += r6\n"
         "r0 = *(u8 *)(r0 +0)\n" + OUT, "accept", maps=(ARRAY,)),
    Case("signed upper bound only", DI + VALUE + "if r6 s> 15 goto out\nr0 += r6\nr0 = *(u8 *)(r0 +0)\n" + OUT, "reject",
         "pointer-arithmetic", maps=(ARRAY,)),
    Case("jmp32 bound on 64-bit index", DI + VALUE + "if w6 > 15 goto out\nr0 += r6\nr0 = *(u8 *)(r0 +0)\n" + OUT,
         "reject", "pointer-arithmetic", maps=(ARRAY,)),
    Case("jmp32 bound on 32-bit index", DI + VALUE + "w6 = w6\nif w6 > 15 goto out\nr0 += r6\nr0 = *(u8 *)(r0 +0)\n" + OUT,
         "accept", maps=(ARRAY,)),
]

# Where our verifier does not yet do what it should: labelled with the kernel's verdict like the rest (and checked
# against the kernel), `code` is what we should report; each comment says what we do now.
CASES += [
    # a spilled pointer is filled whole ("invalid size of register fill")
    Case("half of spilled pointer", "*(u64 *)(r10 -8) = r1\nr0 = *(u32 *)(r10 -8)\nexit", "reject", "partial-pointer-fill"),
    # the kernel lets privileged programs read struct bpf_map through BTF; we refuse it deliberately (a kprobe
    # program has no need for the map's kernel internals, and we do not model their layout)
    Case("map pointer read", "r1 = map[idx:0] ll\nr0 = *(u64 *)(r1 +0)\nr0 = 0\nexit", "accept", "invalid-dereference",
         maps=(HASH,)),
    # which maps a helper takes (the kernel's check_map_func_compatibility)
    Case("lookup in perf event array", LOOKUP + "r0 = 0\nexit", "reject", "helper-argument", maps=(PERF,)),
    Case("lookup in prog array", LOOKUP + "r0 = 0\nexit", "reject", "helper-argument", maps=(PROGS,)),
    Case("lookup in ringbuf", LOOKUP + "r0 = 0\nexit", "reject", "helper-argument", maps=(RINGBUF,)),
    Case("update perf event array", UPDATE, "reject", "helper-argument", maps=(PERF,)),
    Case("perf_event_output into hash", OUTPUT, "reject", "helper-argument", maps=(HASH,)),
    Case("get_stackid with hash", "r2 = map[idx:0] ll\nr3 = 0\ncall 27\nexit", "reject", "helper-argument", maps=(HASH,)),
    Case("tail_call into array", "r2 = map[idx:0] ll\nr3 = 0\ncall 12\nr0 = 0\nexit", "reject", "helper-argument",
         maps=(ARRAY,)),
    Case("ringbuf_output into hash", "*(u64 *)(r10 -8) = 0\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -8\nr3 = 8\nr4 = 0\n"
         "call 130\nr0 = 0\nexit", "reject", "helper-argument", maps=(HASH,)),
    Case("ringbuf reserve from hash", RESERVE + "if r0 == 0 goto +3\nr1 = r0\nr2 = 0\ncall 132\nr0 = 0\nexit", "reject",
         "helper-argument", maps=(HASH,)),
    # the context is not memory for helpers (keys, formats, data)
    Case("ctx as key", "r2 = r1\nr1 = map[idx:0] ll\ncall 1\nr0 = 0\nexit", "reject", "helper-argument", maps=(HASH,)),
    Case("ctx as trace_printk format", "r2 = 8\ncall 6\nr0 = 0\nexit", "reject", "helper-argument"),
    Case("ctx as ringbuf_output data", "r2 = r1\nr1 = map[idx:0] ll\nr3 = 8\nr4 = 0\ncall 130\nr0 = 0\nexit", "reject",
         "helper-argument", maps=(RINGBUF,)),
    Case("ctx as perf_event_output data", "r4 = r1\nr5 = 8\nr3 = 0xffffffff ll\nr2 = map[idx:0] ll\ncall 25\nr0 = 0\n"
         "exit", "reject", "helper-argument", maps=(PERF,)),
    # privileged programs may turn pointers into numbers
    Case("pointer atomic add into map", VALUE + "r1 = r10\nlock *(u64 *)(r0 +0) += r1\n" + OUT, "accept", maps=(ARRAY,)),
    Case("pointer jmp32 comparison", "r0 = 0\nif w1 == 0 goto +1\nr0 = 1\nexit", "accept"),
    Case("pointer difference across kinds", "r0 = r1\nr0 -= r10\nexit", "accept"),
    Case("pointer neg", "r1 = -r1\nr0 = 0\nexit", "accept"),
    Case("pointer byte swap", "r1 = bswap64 r1\nr0 = 0\nexit", "accept"),
    Case("pointer sign extension", "r0 = (s32)r1\nexit", "accept"),
    # the kernel refuses pointer + a number with no lower bound even if never dereferenced ("math between fp pointer
    # and register with unbounded min value is not allowed")
    Case("stack plus unknown unused", DI + "r2 = r10\nr2 += r6\nr0 = 0\nexit", "reject", "pointer-arithmetic"),
    Case("map value plus unknown unused", DI + VALUE + "r0 += r6\n" + OUT, "reject", "pointer-arithmetic", maps=(ARRAY,)),
    # the kernel decides `ptr == 0` for map values and records only: it walks this branch and reads r9
    Case("dead branch on ctx", "r0 = 0\nif r1 == 0 goto +1\nexit\nr0 = *(u64 *)(r9 +0)\nexit", "reject",
         "uninitialised-register", with_solver="unknown"),  # z3: the context pointer is never NULL
    # kernels with private stacks (Linux 6.13, where the build and the JIT allow them) accept this; others refuse
    # it ("combined stack size of 2 calls is 1024"): the shared 512 bytes are the rule on every build
    Case("combined stack over 512", "*(u64 *)(r10 -512) = 0\ncall f\nexit\nf: *(u64 *)(r10 -512) = 0\nr0 = 0\nexit",
         "varies", "combined-stack-too-large"),
    # malformed immediates the kernel refuses at load ("div by zero", "invalid shift 64")
    Case("div by zero immediate", "r0 = 1\nr0 /= 0\nexit", "reject", "invalid-immediate"),
    Case("mod by zero immediate", "r0 = 1\nw0 %= 0\nexit", "reject", "invalid-immediate"),
    Case("sdiv by zero immediate", "r0 = 1\nr0 s/= 0\nexit", "reject", "invalid-immediate"),
    Case("shift by 64", "r0 = 1\nr0 <<= 64\nexit", "reject", "invalid-immediate"),
    Case("32-bit shift by 32", "w0 = 1\nw0 >>= 32\nexit", "reject", "invalid-immediate"),
    Case("arsh by -1", "r0 = 1\nr0 s>>= -1\nexit", "reject", "invalid-immediate"),
    # a direct value address needs a one-entry array and an offset below value_size
    Case("direct value of multi-entry array", "r1 = map[idx:0][0]+8 ll\nr0 = *(u64 *)(r1 +0)\nexit", "reject",
         "invalid-map-reference", maps=(ARRAY,)),
    Case("direct map value offset past end", "r1 = map[idx:0][0]+16 ll\nr0 = 0\nexit", "reject", "invalid-map-reference",
         maps=(GLOBAL,)),
]

# Attacks on the rules: unsafe programs that once passed, and safe ones that were refused
BIG = MapDef("big", 2, 4, 256, 4)
RO_HASH = MapDef("roh", 1, 4, 8, 16, flags=1 << 7)  # BPF_F_RDONLY_PROG
SPILL_PTR = "r7 = r10\nr7 += -64\n*(u64 *)(r10 -8) = r7\n"  # a stack pointer spilled at fp-8
VAR_PROBE = "r1 = r10\nr1 += -16\nr1 += r6\nr2 = 8\nr3 = 0\ncall 113\n"  # probe_read_kernel(fp-16 + r6, 8, 0)
VALUE8 = VALUE + "r8 = r0\n"  # r8 is the value of key 0 until `OUT`

ATTACK_CASES = [
    Case("helper write at variable offset clobbers a spill", DI + "r6 &= 8\n*(u64 *)(r10 -16) = 0\n" + SPILL_PTR + VAR_PROBE
         + "r1 = *(u64 *)(r10 -8)\n*(u64 *)(r1 +0) = 1\nr0 = 0\nexit", "reject", "invalid-dereference"),
    Case("helper write at variable offset, spill not used", DI + "r6 &= 8\n*(u64 *)(r10 -16) = 0\n" + SPILL_PTR + VAR_PROBE
         + "r1 = *(u64 *)(r10 -8)\nr0 = 0\nexit", "accept"),
    Case("helper write at variable offset clobbers a constant", DI + "r6 &= 8\n*(u64 *)(r10 -16) = 0\n*(u64 *)(r10 -8) = 0\n"
         + VAR_PROBE + "r7 = *(u64 *)(r10 -8)\n" + VALUE + "r0 += r7\nr0 = *(u8 *)(r0 +0)\n" + OUT, "reject",
         "pointer-arithmetic", maps=(ARRAY,)),
    Case("update of a read-only map", UPDATE, "reject", "map-value-read-only", maps=(READ_ONLY,)),
    Case("delete from a read-only map", DELETE, "reject", "map-value-read-only", maps=(READ_ONLY,)),
    Case("update of a read-only hash", UPDATE.replace("*(u64 *)(r10 -16) = 3\n", ""), "reject", "map-value-read-only", maps=(RO_HASH,)),
    Case("write to a read-only hash value", LOOKUP + "if r0 == 0 goto out\n*(u64 *)(r0 +0) = 1\n" + OUT, "reject",
         "map-value-read-only", maps=(RO_HASH,)),
    Case("callee stores its stack pointer in the caller's stack", "r1 = r10\nr1 += -8\ncall f\nr0 = *(u64 *)(r10 -8)\n"
         "r0 = *(u64 *)(r0 +0)\nr0 = 0\nexit\nf: r2 = r10\nr2 += -16\n*(u64 *)(r1 +0) = r2\nr0 = 0\nexit", "reject",
         "stack-pointer-escape"),
    Case("callee stores a number in the caller's stack", "r1 = r10\nr1 += -8\ncall f\nr0 = *(u64 *)(r10 -8)\nexit\n"
         "f: r2 = 7\n*(u64 *)(r1 +0) = r2\nr0 = 0\nexit", "accept"),
    Case("map key below the stack", "r1 = map[idx:0] ll\nr2 = r10\nr2 += -516\ncall 1\nr0 = 0\nexit", "reject",
         "helper-memory", maps=(HASH,)),
    Case("jump from main into a subprogram", "r0 = 0\ncall f\nif r0 == 0 goto g\nexit\nf: r0 = 1\ng: exit", "reject",
         "invalid-jump"),
    Case("jump from a subprogram into main", "r0 = 0\ncall f\nm: exit\nf: r0 = 1\nif r0 == 1 goto m\nexit", "reject",
         "invalid-jump"),
    Case("main falls through into a subprogram", "call f\nr0 = 0\nf: r0 = 1\nexit", "reject", "invalid-jump"),
    Case("two records from one call site, one released", "r6 = 0\nl: r1 = map[idx:0] ll\nr2 = 8\nr3 = 0\ncall 131\n"
         "if r0 == 0 goto fail\nif r6 != 0 goto second\nr6 = r0\ngoto l\nsecond: r1 = r0\nr2 = 0\ncall 132\nr0 = 0\nexit\n"
         "fail: if r6 == 0 goto out\nr1 = r6\nr2 = 0\ncall 133\nout: r0 = 0\nexit", "reject", "unreleased-reference",
         maps=(RINGBUF,)),
    Case("two records from one call site, both released", "r6 = 0\nl: r1 = map[idx:0] ll\nr2 = 8\nr3 = 0\ncall 131\n"
         "if r0 == 0 goto fail\nif r6 != 0 goto second\nr6 = r0\ngoto l\nsecond: r1 = r0\nr2 = 0\ncall 132\nr1 = r6\nr2 = 0\n"
         "call 132\nr0 = 0\nexit\nfail: if r6 == 0 goto out\nr1 = r6\nr2 = 0\ncall 133\nout: r0 = 0\nexit", "accept",
         maps=(RINGBUF,)),
    Case("tail call holding a record", "r6 = r1\n" + RESERVE + "if r0 == 0 goto out\nr7 = r0\nr1 = r6\nr2 = map[idx:1] ll\n"
         "r3 = 0\ncall 12\nr1 = r7\nr2 = 0\ncall 132\nout: r0 = 0\nexit", "reject", "unreleased-reference",
         maps=(RINGBUF, PROGS)),
    Case("tail call in a subprogram", "call f\nr0 = 0\nexit\nf: r2 = map[idx:0] ll\nr3 = 0\ncall 12\nr0 = 0\nexit",
         "reject", "tail-call-in-subprogram", maps=(PROGS,)),
    Case("misaligned atomic on a map value", VALUE + "r1 = 1\nlock *(u64 *)(r0 +4) += r1\n" + OUT, "reject",
         "misaligned-atomic", maps=(ARRAY,)),
    Case("aligned atomic on a map value", VALUE + "r1 = 1\nlock *(u64 *)(r0 +8) += r1\n" + OUT, "accept", maps=(ARRAY,)),
    Case("misaligned atomic on a record", RESERVE + "if r0 == 0 goto out\nr1 = 1\nlock *(u32 *)(r0 +2) += r1\nr1 = r0\n"
         "r2 = 0\ncall 132\n" + OUT, "reject", "misaligned-atomic", maps=(RINGBUF,)),
    Case("partial pointer spill", "*(u32 *)(r10 -8) = r1\nr0 = 0\nexit", "reject", "partial-pointer-spill"),
    Case("sign-extended byte as offset", DI + VALUE8 + "r7 = (s8)r6\nr7 += 128\nr8 += r7\nr0 = *(u8 *)(r8 +0)\n" + OUT,
         "accept", maps=(BIG,)),
    Case("sign-extending load as offset", DI + "*(u64 *)(r10 -16) = r6\n" + VALUE8 + "r7 = *(s8 *)(r10 -16)\nr7 += 128\n"
         "r8 += r7\nr0 = *(u8 *)(r8 +0)\n" + OUT, "accept", maps=(BIG,)),
    Case("sign-extending 32-bit load as offset", DI + "*(u64 *)(r10 -16) = r6\n" + VALUE8 + "r7 = *(s32 *)(r10 -16)\n"
         "if r7 s< 0 goto out\nif r7 s> 255 goto out\nr8 += r7\nr0 = *(u8 *)(r8 +0)\n" + OUT, "accept", maps=(BIG,)),
    Case("byte swap of a masked value as offset", DI + VALUE8 + "r6 &= 0xff000000\nr6 = be32 r6\nr8 += r6\n"
         "r0 = *(u8 *)(r8 +0)\n" + OUT, "accept", maps=(BIG,)),
    Case("32-bit spill keeps bounds", DI + "r6 &= 15\n*(u32 *)(r10 -16) = r6\n" + VALUE8 + "r7 = *(u32 *)(r10 -16)\n"
         "r8 += r7\nr0 = *(u8 *)(r8 +0)\n" + OUT, "accept", maps=(ARRAY,)),
    Case("copy into r0 plus a constant stays linked", DI + VALUE8 + "r0 = r6\nr0 += 4\nif r6 > 8 goto out\nr8 += r0\n"
         "r0 = *(u8 *)(r8 +0)\n" + OUT, "accept", maps=(ARRAY,)),
    Case("negative delta checked in 32 bits", DI + VALUE8 + "r7 = r6\nr7 += -4\nif w7 > 8 goto out\nw6 = w6\nr8 += r6\n"
         "r0 = *(u8 *)(r8 +0)\n" + OUT, "accept", maps=(ARRAY,)),
    Case("link kept by both paths of a join", DI + "r9 = *(u64 *)(r1 +104)\n" + VALUE8 + "if r9 == 0 goto a\nr7 = r6\n"
         "goto b\na: r7 = r6\nb: if r7 > 8 goto out\nr8 += r6\nr0 = *(u8 *)(r8 +0)\n" + OUT, "accept", maps=(ARRAY,)),
    Case("atomic fetch returns the spilled bounds", DI + "r6 &= 7\n*(u64 *)(r10 -8) = r6\nr7 = 0\n"
         "r7 = atomic64_fetch_add((u64 *)(r10 -8), r7)\n" + VALUE8 + "r8 += r7\nr0 = *(u8 *)(r8 +0)\n" + OUT, "accept",
         maps=(ARRAY,)),
    Case("atomic exchange returns the spilled pointer", VALUE + "*(u64 *)(r10 -16) = r0\nr7 = 0\n"
         "r7 = atomic64_xchg((u64 *)(r10 -16), r7)\nr0 = *(u64 *)(r7 +0)\n" + OUT, "accept", maps=(ARRAY,)),
    Case("equal to a non-null pointer", VALUE + "r6 = r0\n" + LOOKUP + "if r0 == r6 goto use\ngoto out\n"
         "use: r0 = *(u64 *)(r0 +0)\n" + OUT, "accept", maps=(HASH,)),
    Case("may_goto bounds a loop", "r0 = 0\nl: r0 += 1\nmay_goto +1\ngoto l\nr0 = 0\nexit", "accept"),
    Case("signed 32-bit test bounds a string length", VALUE8 + "r1 = r10\nr1 += -16\nr2 = 16\nr3 = 0\ncall 115\n"
         "if w0 s< 0 goto out\nr8 += r0\nr0 = *(u8 *)(r8 +0)\n" + OUT, "accept", maps=(BIG,)),
    # safe programs that intervals and tnums cannot prove (paths joined before the test that decides),
    # accepted because z3 shows no run breaks the rule; the kernel, walking each path apart, accepts them
    Case("correlated flag", "r9 = r1\nr6 = *(u64 *)(r9 +112)\nr7 = 0\nif r6 > 200 goto j\nr7 = 1\nj: " + VALUE
         + "if r7 == 0 goto out\nr0 += r6\nr0 = *(u8 *)(r0 +0)\n" + OUT, "accept", "pointer-arithmetic", maps=(BIG,),
         with_solver="accepted"),
    Case("bound through a square", "r9 = r1\nr6 = *(u64 *)(r9 +112)\nr6 &= 255\nr8 = *(u64 *)(r9 +104)\n"
         "if r8 == 0 goto a\nr6 &= 15\na: r7 = r6\nr7 *= r6\n" + VALUE + "if r8 == 0 goto out\nr0 += r7\n"
         "r0 = *(u8 *)(r0 +0)\n" + OUT, "accept", "map-value-out-of-bounds", maps=(BIG,), with_solver="accepted"),
    Case("string length checked on one path", "r9 = r1\nr8 = *(u64 *)(r9 +104)\n"
         + "".join(f"*(u64 *)(r10 -{8 * i}) = 0\n" for i in range(1, 9)) + "r1 = r10\nr1 += -64\nr2 = 64\n"
         "r3 = *(u64 *)(r9 +112)\ncall 45\nr6 = r0\nif r8 == 0 goto b\nif r6 s< 1 goto out\n"
         "b: if r8 == 0 goto out\nr1 = r10\nr1 += -65\nr1 += r6\nr0 = *(u8 *)(r1 +0)\n" + OUT, "accept",
         "stack-out-of-bounds", with_solver="accepted"),
    Case("function reference past the end", "r1 = func[pc+5] ll\nr0 = 0\nexit", "reject", "invalid-jump"),
    Case("function reference into a function", "r1 = func[pc+1] ll\nr0 = 0\nexit", "reject", "invalid-jump"),
]
CASES += ATTACK_CASES

LOOKUP_FD = LOOKUP.replace("idx", "fd")  # Linux 4.1 knew map-fd loads only
SEED = {"profile": "linux-4.1"}

# the seed: labelled with what the running kernel says (6.18 accepts them all); `code` is the seed's rule
SEED_CASES = [
    # kprobe_prog_func_proto of 4.1 (kernel/trace/bpf_trace.c) offers ktime_get_ns and trace_printk too
    Case("4.1 ktime_get_ns", "call 5\nexit", "accept", profile="linux-4.1"),
    Case("4.1 back-edge", "r0 = 0\nr1 = 10\nl: r1 -= 1\nif r1 != 0 goto l\nexit", "accept", "back-edge", profile="linux-4.1"),
    Case("4.1 probe_read needs initialised stack", "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 4\nr0 = 0\nexit", "accept",
         "stack-uninitialised-read", profile="linux-4.1"),
    Case("4.1 jmp32", "r0 = 0\nif w0 > 1 goto +0\nexit", "accept", "unsupported-instruction", profile="linux-4.1"),
    Case("4.1 lookup", LOOKUP_FD + "if r0 == 0 goto +1\nr0 = *(u64 *)(r0 +0)\nr0 = 0\nexit", "accept", maps=(HASH,), **SEED),
    Case("4.1 array lookup needs a check", LOOKUP_FD + "r0 = *(u64 *)(r0 +0)\nexit", "accept", "possible-null-dereference",
         maps=(ARRAY,), **SEED),
    Case("4.1 update", UPDATE.replace("idx", "fd"), "accept", maps=(HASH,), **SEED),
    Case("4.1 delete", DELETE.replace("idx", "fd"), "accept", maps=(HASH,), **SEED),
    Case("4.1 probe_read", "*(u64 *)(r10 -8) = 0\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 4\nr0 = 0\nexit", "accept", **SEED),
    Case("4.1 probe_read zero size", "r1 = r10\nr1 += -8\nr2 = 0\nr3 = 0\ncall 4\nr0 = 0\nexit", "accept", "helper-argument",
         **SEED),
    Case("4.1 probe_read into map value", LOOKUP_FD + "if r0 == 0 goto +4\nr1 = r0\nr2 = 8\nr3 = 0\ncall 4\nr0 = 0\nexit",
         "accept", "helper-argument", maps=(ARRAY,), **SEED),
    Case("4.1 get_current_pid_tgid", "call 14\nexit", "accept", "unknown-helper", **SEED),
    Case("4.1 trace_printk", PRINTK, "accept", **SEED),
    # bpf_prog_load (syscall.c) refuses insn_cnt >= BPF_MAXINSNS: 4095 instructions at most
    Case("4.1 4095 instructions", "r0 = 0\n" * 4094 + "exit", "accept", **SEED),
    Case("4.1 4096 instructions", "r0 = 0\n" * 4095 + "exit", "accept", "program-too-large", **SEED),
    Case("4.1 4097 instructions", "r0 = 0\n" * 4096 + "exit", "accept", "program-too-large", **SEED),
    Case("4.1 jgt", "r0 = *(u64 *)(r1 +112)\nif r0 > 5 goto +1\nr0 = 0\nexit", "accept", **SEED),
    Case("4.1 jlt", "r0 = *(u64 *)(r1 +112)\nif r0 < 5 goto +1\nr0 = 0\nexit", "accept", "unsupported-instruction", **SEED),
    Case("4.1 local call", "call f\nexit\nf: r0 = 1\nexit", "accept", "unsupported-instruction", **SEED),
    Case("4.1 sdiv", "r0 = 5\nr0 s/= 2\nexit", "accept", "unsupported-instruction", **SEED),
    Case("4.1 xadd", "*(u64 *)(r10 -8) = 0\nr1 = 1\nlock *(u64 *)(r10 -8) += r1\nr0 = 0\nexit", "accept", **SEED),
    Case("4.1 atomic fetch", "*(u64 *)(r10 -8) = 0\nr1 = 1\nr1 = atomic64_fetch_add((u64 *)(r10 -8), r1)\nr0 = 0\nexit",
         "accept", "unsupported-instruction", **SEED),
    # check_alu_op: r2 += r6 makes r2 an unknown value, and check_mem_access refuses to dereference it
    Case("4.1 variable stack offset", DI + "r6 &= 8\nr2 = r10\nr2 += -16\nr2 += r6\n*(u64 *)(r2 +0) = 0\nr0 = 0\nexit",
         "accept", "invalid-dereference", **SEED),
]


def program(case: Case) -> Program:
    insns = assemble(case.asm)
    return Program(case.name, "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns),
                   list(case.maps), license=case.license, kern_version=0x40100)


@pytest.mark.parametrize("case", CASES + SEED_CASES, ids=lambda c: c.name)
def test_verdict_and_code(case: Case) -> None:
    """A case's code is an error, or a warning where the profile says so for privileged programs: then the
    program is accepted with the warning, and rejected for it under --strict."""
    if case.with_solver is not None:
        assert check_program(program(case), case.profile).verdict == case.with_solver
    result = check_program(program(case), case.profile, limits=Limits(solver=False))
    if case.code is None:
        assert result.verdict == "accepted", [str(f) for f in result.findings]
    elif case.code in PROFILES[case.profile].warnings:
        assert result.verdict == "accepted", [str(f) for f in result.errors]
        assert case.code in {f.code for f in result.warnings}
        strict = check_program(program(case), case.profile, strict=True)
        assert strict.verdict == "rejected" and case.code in {f.code for f in strict.errors}
    else:
        assert result.verdict == "rejected"
        assert case.code in {f.code for f in result.errors}, [str(f) for f in result.findings]


def test_case_names_are_unique() -> None:
    names = [c.name for c in CASES + SEED_CASES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_every_rejection_names_the_instruction() -> None:
    case = next(c for c in CASES if c.name == "ctx misaligned 8 at 3")
    finding = check_program(program(case)).findings[0]
    assert finding.pc == 0
    assert finding.message == ("8-byte read of struct pt_regs at offset 3: context loads must be aligned: "
                               "offset 3 is not a multiple of 8; read the field at its own offset and size")


@pytest.mark.parametrize("name, message", [
    ("ctx out of bounds 168", "8-byte read of struct pt_regs at offset 168 is out of bounds: sizeof(struct pt_regs) "
                              "is 168 on x86_64; read only within it"),
    ("lookup without null check", "8-byte read through r0, which may be NULL (map_value_or_null); compare r0 with 0 "
                                  "before dereferencing it"),
    ("probe_read beyond stack", "probe_read: r1 (a buffer of up to 16 bytes) points to stack bytes [-8, 8), outside "
                                "the 512-byte stack; make the buffer fit"),
    ("uninitialised key", "map_lookup_elem: r2 (key of map h, 4 bytes) points to 4 bytes of stack at offset -4, and "
                          "byte -4 is not initialised; initialise the whole buffer first"),
])
def test_messages_name_the_cause_and_the_fix(name: str, message: str) -> None:
    case = next(c for c in CASES if c.name == name)
    assert [f.message for f in check_program(program(case)).findings] == [message]


def kernel_verdict(case: Case) -> str | None:
    """The running kernel's verdict, "accept" or "reject"; None where bpf() is not usable."""
    if kernel.unavailable_reason() is not None:
        return None
    verdict = kernel.kernel_verdict(program(case), log_level=0)  # the judgement and statistics only
    assert verdict.verdict != kernel.SETUP_ERROR, f"{case.name}: {verdict.reason}"
    return "accept" if verdict.accepted else "reject"


@pytest.mark.kernel
def test_labels_match_the_kernel() -> None:
    cases = [case for case in CASES + SEED_CASES if case.kernel != "varies"]
    with ThreadPoolExecutor(4) as pool:  # bpf() runs without the GIL: the slow (1M-instruction) loads overlap
        verdicts = list(pool.map(kernel_verdict, cases))
    wrong = [f"{case.name}: kernel says {verdict}, label says {case.kernel}"
             for case, verdict in zip(cases, verdicts) if verdict != case.kernel]
    assert not wrong, "\n".join(wrong)
