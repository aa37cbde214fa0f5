"""Random kprobe programs for the state-containment campaign, one per seed: every ALU form (64
and 32 bits, register and immediate sources, signed division and modulo, sign-extending moves,
negation, byte swaps), every conditional jump (JMP and JMP32, register and immediate), stores
and loads of the stack at every size (spills, fills, sign-extending loads, atomics), pointer
arithmetic on the stack, the context and map values, helper calls, bounded loops and local
calls. Most of them are safe, some are not (a division by a register that may be 0 is fine; a
read past a map value is not), so that both accepted and rejected programs are checked.

    from proofs.programs import random_program
    program, text = random_program(seed=7)

The text is kernel assembly; `out:` ends the program. By convention r6 holds the context and
r7, r8, r9 hold numbers throughout (r9 counts loops)."""

from __future__ import annotations

import random

from interp.asm.kernel_syntax import assemble
from interp.program import MapDef, Program

ARRAY = MapDef("a", 2, 4, 16, 4)  # BPF_MAP_TYPE_ARRAY: 4-byte keys, 16-byte values, 4 entries
HASH = MapDef("h", 1, 4, 8, 8)  # BPF_MAP_TYPE_HASH
MAPS = (ARRAY, HASH)

ALU = ["+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "s>>=", "s/=", "s%="]
JUMPS = ["==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=", "&"]
SIZES = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
SIGNED = {1: "s8", 2: "s16", 4: "s32"}
NUMBERS = ["r7", "r8"]  # always numbers; r0 and r2..r5 join them while they hold one
INTERESTING = [0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 63, 64, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF,
               0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000,
               0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFE, 0xFFFF_FFFF_8000_0000]
SAFE_HELPERS = [5, 7, 8, 14]  # ktime_get_ns, get_prandom_u32, get_smp_processor_id, get_current_pid_tgid


def _constant(rng: random.Random) -> int:
    pick = rng.randrange(4)
    if pick == 0:
        return rng.choice(INTERESTING)
    if pick == 1:
        return rng.randrange(-64, 64) & ((1 << 64) - 1)
    if pick == 2:
        return rng.randrange(1 << 32)
    return rng.randrange(1 << 64)


def _imm(rng: random.Random) -> int:
    """A 32-bit immediate (sign-extended by the instruction)."""
    pick = rng.randrange(3)
    if pick == 0:
        return rng.randrange(-16, 17)
    if pick == 1:
        return rng.choice([0x7FFF_FFFF, -0x8000_0000, -1, 255, 256, 4096, -4096, 0xFFFF])
    return rng.randrange(-(1 << 31), 1 << 31)


class _Writer:
    """Snippets of a program, with the registers that hold numbers at each point."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.numbers = list(NUMBERS)
        self.lines: list[str] = []
        self.labels = 0
        self.spilled: set[int] = set()  # stack slots (offset) written with a number
        self.subs: list[list[str]] = []

    def number(self) -> str:
        return self.rng.choice(self.numbers)

    def set_number(self, reg: str) -> None:
        if reg not in self.numbers:
            self.numbers.append(reg)

    def after_call(self) -> None:
        self.numbers = [r for r in self.numbers if r not in ("r1", "r2", "r3", "r4", "r5")]
        self.set_number("r0")

    def label(self) -> str:
        self.labels += 1
        return f"l{self.labels}"

    def reg_for_write(self) -> str:
        return self.rng.choice(["r0", "r2", "r3", "r4", "r5", "r7", "r8"])

    # -- snippets ------------------------------------------------------------------------------
    def init(self, reg: str) -> None:
        rng = self.rng
        pick = rng.randrange(3)
        if pick == 0:
            size = rng.choice([1, 2, 4, 8])
            self.lines.append(f"{reg} = *({SIZES[size]} *)(r6 +{rng.randrange(0, 168 // size) * size})")
        elif pick == 1:
            self.lines.append(f"{reg} = {_constant(rng):#x} ll")
        else:
            self.lines.append(f"{reg} = {_imm(rng)}")
        self.set_number(reg)

    def alu(self) -> None:
        rng = self.rng
        dst = rng.choice(self.numbers)
        wide = rng.random() < 0.6
        w = "r" if wide else "w"
        d = w + dst[1:]
        form = rng.randrange(10)
        if form == 0:  # moves, sign-extending moves
            src = w + self.number()[1:]
            ext = rng.choice(["", "(s8)", "(s16)"] + (["(s32)"] if wide else []))
            self.lines.append(f"{d} = {ext}{src}")
        elif form == 1:
            self.lines.append(f"{d} = -{d}")
        elif form == 2:
            kind, bits = rng.choice([("be", 16), ("be", 32), ("be", 64), ("le", 16), ("le", 32), ("le", 64),
                                     ("bswap", 16), ("bswap", 32), ("bswap", 64)])
            self.lines.append(f"{dst} = {kind}{bits} {dst}")
        else:
            op = rng.choice(ALU)
            if op in ("<<=", ">>=", "s>>=") and rng.random() < 0.7:
                self.lines.append(f"{d} {op} {rng.randrange(64 if wide else 32)}")
            elif rng.random() < 0.5:
                imm = _imm(rng)
                if op in ("/=", "%=", "s/=", "s%=") and imm == 0:
                    imm = rng.choice([1, 3, -1, 7])
                self.lines.append(f"{d} {op} {imm}")
            else:
                self.lines.append(f"{d} {op} {w}{self.number()[1:]}")

    def branch(self, skip: str) -> None:
        rng = self.rng
        w = "r" if rng.random() < 0.6 else "w"
        left = w + self.number()[1:]
        right = w + self.number()[1:] if rng.random() < 0.5 else str(_imm(rng) if rng.random() < 0.5
                                                                       else rng.randrange(-20, 300))
        self.lines.append(f"if {left} {rng.choice(JUMPS)} {right} goto {skip}")

    def bound(self) -> None:
        """A number bounded the way compilers do before indexing (and the bound used at once)."""
        rng = self.rng
        reg = self.number()
        limit = rng.choice([0, 1, 7, 15, 16, 63, 255, 0xFFFF, 0x7FFF_FFFF])
        w = "r" if rng.random() < 0.7 else "w"
        op = rng.choice([">", ">=", "s>", "s>="])
        skip = self.label()
        self.lines += [f"if {w}{reg[1:]} {op} {limit} goto {skip}", f"{reg} += 1", f"{skip}: {reg} ^= 0"]

    def spill(self) -> None:
        rng = self.rng
        size = rng.choice([1, 2, 4, 8, 8])
        slot = -8 * rng.randrange(1, 9)
        off = slot + rng.randrange(0, 8 // size) * size
        if rng.random() < 0.2:
            self.lines.append(f"*({SIZES[size]} *)(r10 {off}) = {_imm(rng)}")
        elif rng.random() < 0.1:  # a pointer spilled and filled
            self.lines += [f"*(u64 *)(r10 {slot}) = r6", f"r1 = *(u64 *)(r10 {slot})", "r1 = *(u64 *)(r1 +0)"]
            self.set_number("r1")
            self.spilled.discard(slot)
            return
        else:
            self.lines.append(f"*({SIZES[size]} *)(r10 {off}) = {self.number()}")
        if size == 8:
            self.spilled.add(slot)

    def fill(self) -> None:
        rng = self.rng
        slot = rng.choice(sorted(self.spilled)) if self.spilled else -8 * rng.randrange(1, 9)
        size = rng.choice([1, 2, 4, 8])
        off = slot + rng.randrange(0, 8 // size) * size
        reg = self.reg_for_write()
        signed = size < 8 and rng.random() < 0.3
        self.lines.append(f"{reg} = *({SIGNED[size] if signed else SIZES[size]} *)(r10 {off})")
        self.set_number(reg)

    def atomic(self) -> None:
        rng = self.rng
        slot = -8 * rng.randrange(1, 5)
        src = rng.choice(["r7", "r8"])
        form = rng.choice(["lock *(u64 *)(r10 {o}) += {s}", "lock *(u32 *)(r10 {o}) |= {s}",
                           "{s} = atomic64_fetch_add((u64 *)(r10 {o}), {s})",
                           "{s} = atomic64_xchg((u64 *)(r10 {o}), {s})",
                           "{s} = atomic_fetch_and((u32 *)(r10 {o}), {s})"])
        self.lines += [f"*(u64 *)(r10 {slot}) = {self.number()}", form.format(o=slot, s=src)]
        self.spilled.add(slot)

    def stack_pointer(self) -> None:
        """A variable offset into a stack buffer, read through."""
        rng = self.rng
        reg = self.number()
        mask = rng.choice([7, 15, 31, 63])
        size = rng.choice([1, 2, 4, 8])
        self.lines += ["*(u64 *)(r10 -64) = 0", "*(u64 *)(r10 -56) = r7", "*(u64 *)(r10 -48) = r8",
                       "*(u64 *)(r10 -40) = 0", "*(u64 *)(r10 -32) = 0", "*(u64 *)(r10 -24) = 0",
                       "*(u64 *)(r10 -16) = 0", "*(u64 *)(r10 -8) = 0",
                       f"r1 = {reg}", f"r1 &= {mask}", "r2 = r10", "r2 += -64", "r2 += r1"]
        dst = self.reg_for_write()
        self.lines.append(f"{dst} = *({SIZES[size]} *)(r2 +0)")
        self.spilled |= {-64, -56, -48, -40, -32, -24, -16, -8}
        self.set_number(dst)
        self.numbers = [r for r in self.numbers if r not in ("r1", "r2")]

    def context(self) -> None:
        rng = self.rng
        off = 8 * rng.randrange(0, 21)
        step = rng.choice([0, 0, 0, 0, 8])  # the kernel refuses a moved context pointer
        dst = self.reg_for_write()
        self.lines += ["r1 = r6", f"r1 += {step}", f"{dst} = *(u64 *)(r1 +{max(0, off - step) if off >= step else 0})"]
        self.numbers = [r for r in self.numbers if r != "r1"]
        self.set_number(dst)

    def lookup(self) -> None:
        rng = self.rng
        m = rng.randrange(2)
        key = self.number()
        mask = rng.choice([3, 7, 15])
        size = rng.choice([1, 2, 4, 8])
        skip = self.label()
        index = self.number()
        self.lines += [f"*(u32 *)(r10 -4) = w{key[1:]}", f"r1 = map[idx:{m}] ll", "r2 = r10", "r2 += -4", "call 1",
                       f"if r0 == 0 goto {skip}", f"r1 = {index}", f"r1 &= {mask}",
                       f"if r1 > {16 - size if m == 0 else 8 - size} goto {skip}", "r0 += r1"]
        if rng.random() < 0.5:
            self.lines.append(f"*({SIZES[size]} *)(r0 +0) = {index if size == 8 else 1}")
        self.lines.append(f"r7 = *({SIZES[size]} *)(r0 +0)")
        self.lines.append(f"{skip}: r0 = 0")
        self.after_call()

    def helper(self) -> None:
        rng = self.rng
        if rng.random() < 0.4:  # probe_read into the stack: initialised bytes of unknown value
            size = rng.choice([4, 8, 16])
            self.lines += ["r1 = r10", "r1 += -32", f"r2 = {size}", f"r3 = {self.number()}", "call 4"]
            for slot in range(-32, -32 + size, 8):
                self.spilled.add(slot)
        else:
            self.lines.append(f"call {rng.choice(SAFE_HELPERS)}")
        self.after_call()
        if rng.random() < 0.5:
            self.lines.append(f"r0 &= {rng.choice([1, 255, 0xFFFF, 0x7FFFFFFF])}")

    def loop(self) -> None:
        rng = self.rng
        head = self.label()
        count = rng.randrange(1, 12)
        dst = rng.choice(["r7", "r8"])
        op = rng.choice(["+=", "-=", "*=", "^=", "|=", "<<="])
        by = rng.randrange(1, 5)
        jump = rng.choice([("r9", "!=", "0"), ("r9", "s>", "0"), ("w9", "s>", "0"), ("w9", "!=", "0")])
        self.lines += [f"r9 = {count}", f"{head}: {dst} {op} {by}"]
        if rng.random() < 0.5:
            self.lines.append(f"*(u64 *)(r10 -8) = {dst}")
            self.spilled.add(-8)
        self.lines += ["r9 -= 1", f"if {jump[0]} {jump[1]} {jump[2]} goto {head}"]

    def local_call(self) -> None:
        rng = self.rng
        name = f"sub{len(self.subs)}"
        args = rng.randrange(1, 4)
        for i in range(1, args + 1):
            self.lines.append(f"r{i} = {self.number()}")
        body = [f"{name}: r0 = r1"]
        for i in range(2, args + 1):
            body.append(f"r0 {rng.choice(['+=', '^=', '-=', '*=', '|='])} r{i}")
        if rng.random() < 0.5:
            body += ["*(u64 *)(r10 -8) = r0", "r0 = *(u32 *)(r10 -8)"]
        if rng.random() < 0.4:
            body += [f"if r0 > {rng.randrange(0, 100)} goto {name}_out", "r0 += 1", f"{name}_out: r0 &= 0xffff"]
        if rng.random() < 0.3:  # the caller's stack through a pointer
            self.lines += ["*(u64 *)(r10 -16) = r7", "r2 = r10", "r2 += -16"]
            body += ["r3 = *(u64 *)(r2 +0)", "r0 += r3"]
            self.spilled.add(-16)
        body.append("exit")
        self.subs.append(body)
        self.lines.append(f"call {name}")
        self.after_call()


def random_text(seed: int, size: int | None = None) -> str:
    rng = random.Random(seed)
    w = _Writer(rng)
    w.lines.append("r6 = r1")
    for reg in ("r7", "r8", "r9"):
        w.init(reg)
    for reg in ("r0", "r2", "r3", "r4", "r5"):
        if rng.random() < 0.4:
            w.init(reg)
    count = size if size is not None else rng.randrange(2, 16)
    pending: list[str] = []  # labels of forward jumps, placed before later snippets
    kinds = [w.alu] * 8 + [w.spill, w.fill, w.fill, w.bound, w.atomic, w.stack_pointer, w.context, w.lookup,
                           w.helper, w.loop, w.local_call] + [lambda: w.init(w.reg_for_write())]
    for _ in range(count):
        if pending and rng.random() < 0.4:
            w.lines.append(f"{pending.pop(0)}: r7 |= 0")
        if rng.random() < 0.25:
            skip = w.label()
            w.branch(skip)
            pending.append(skip)
        rng.choice(kinds)()
    for label in pending:
        w.lines.append(f"{label}: r8 |= 0")
    w.lines += ["r0 = r7", "exit"]
    for body in w.subs:
        w.lines += body
    return "\n".join(w.lines)


def program_of(text: str, name: str = "containment") -> Program:
    insns = assemble(text)
    return Program(name, "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns), list(MAPS),
                   license="GPL", kern_version=0x40100)


def random_program(seed: int, size: int | None = None) -> tuple[Program, str]:
    text = random_text(seed, size)
    return program_of(text), text


__all__ = ["MAPS", "program_of", "random_program", "random_text"]
