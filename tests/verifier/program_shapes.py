"""Program generators, one per class of rule the verifier was once wrong about, each producing
variants of its class (offsets, sizes, helpers, pointer kinds, paths) in both directions: safe
programs the kernel accepts and unsafe ones it refuses. The suite (`test_soundness_fuzz.py`) and
the long campaign (`papers/soundness_campaign.py`) draw from the same strategies.

    from program_shapes import SHAPES
    shape = SHAPES["helper-stack-write"]      # a hypothesis strategy of `Shape`s
    shape.program()                           # the kprobe `Program` (maps included)

Programs are written in the kernel assembly syntax (raw bytes for invalid encodings). By
convention r9 holds the context from the first instruction on, and `out:` ends the program
with r0 = 0, so any path may leave early. Loops are short, so the kernel answers quickly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from hypothesis import strategies as st

from interp.asm.kernel_syntax import assemble
from interp.helpers import ArgType
from interp.isa.insn import Insn, decode, encode
from interp.isa.opcodes import LDDW, PseudoSrc
from interp.kprobe_helpers import kprobe_helpers
from interp.program import BPF_F_RDONLY_PROG, MapDef, Program

Draw = Callable[[st.SearchStrategy[Any]], Any]

ARRAY = MapDef("a", 2, 4, 16, 4)
BIG = MapDef("big", 2, 4, 256, 4)  # values wide enough for offsets of a byte
HASH = MapDef("h", 1, 4, 8, 16)
HASH8 = MapDef("h8", 1, 8, 8, 16)
KEY16 = MapDef("k16", 1, 16, 8, 4)
RO_ARRAY = MapDef("ro", 2, 4, 16, 4, flags=BPF_F_RDONLY_PROG)
RO_HASH = MapDef("roh", 1, 4, 8, 16, flags=BPF_F_RDONLY_PROG)
RINGBUF = MapDef("rb", 27, 0, 0, 4096)
PROGS = MapDef("pr", 3, 4, 4, 4)
PERF = MapDef("pe", 4, 4, 4, 4)
STACKS = MapDef("st", 7, 4, 64, 16)

PROLOGUE = "r9 = r1"  # the context stays in r9
OUT = "out: r0 = 0\nexit"
CTX_FIELDS = list(range(0, 168, 8))  # x86_64 struct pt_regs: 21 eight-byte registers
STACK_WRITERS = {4: "probe_read", 45: "probe_read_str", 112: "probe_read_user", 113: "probe_read_kernel",
                 114: "probe_read_user_str", 115: "probe_read_kernel_str", 16: "get_current_comm", 67: "get_stack"}
STRING_READERS = (45, 114, 115)


@dataclass(frozen=True)
class Shape:
    """One generated program: its class, its text (or raw bytes) and its maps."""

    kind: str
    asm: str = ""
    maps: tuple[MapDef, ...] = ()
    raw: bytes | None = None  # bytes as they stand, for encodings a `Program` cannot spell in text

    def program(self) -> Program:
        invalid: dict[int, str] = {}
        insns = decode(self.raw, invalid=invalid) if self.raw is not None else assemble(self.asm)
        return Program(self.kind, "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns),
                       list(self.maps), license="GPL", kern_version=0x40100, invalid=invalid)

    @property
    def text(self) -> str:
        """What to print of it: the assembly, or the bytes (one slot a line) for raw programs."""
        if self.raw is None:
            return self.asm
        return "\n".join(self.raw[i:i + 8].hex(" ") for i in range(0, len(self.raw), 8))

    @property
    def round_trips(self) -> bool:
        """Whether its `Program` encodes back to the same bytes (a malformed lddw does not)."""
        return self.raw is None or encode(self.program().insns) == self.raw

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "maps": [m.to_json() for m in self.maps]}
        if self.raw is None:
            out["asm"] = self.asm
        else:
            out["hex"] = self.raw.hex()
        return out


def shape_from_json(data: dict[str, Any]) -> Shape:
    maps = tuple(MapDef(m["name"], m["type"], m["key_size"], m["value_size"], m["max_entries"], m.get("flags", 0),
                        m.get("origin", "legacy"),
                        bytes.fromhex(m["initial_value_hex"]) if "initial_value_hex" in m else None,
                        m.get("frozen", False)) for m in data.get("maps", []))
    raw = bytes.fromhex(data["hex"]) if "hex" in data else None
    return Shape(data["kind"], data.get("asm", ""), maps, raw)


def _program_text(*parts: str | list[str]) -> str:
    lines: list[str] = []
    for part in parts:
        lines.extend(part if isinstance(part, list) else [line for line in part.split("\n") if line])
    return "\n".join(lines)


def unknown(draw: Draw, reg: str) -> str:
    """`reg` = an unknown number (a register of the probed function)."""
    return f"{reg} = *(u64 *)(r9 +{draw(st.sampled_from(CTX_FIELDS))})"


def lookup(map_index: int, key_offset: int = -4, key: int | str = 0, check: bool = True, fail: str = "out") -> list[str]:
    """r0 = map_lookup_elem(map, &key) with a 4-byte key at fp+key_offset; with `check`, NULL goes to `fail`."""
    lines = [f"*(u32 *)(r10 {key_offset:+d}) = {key}", f"r1 = map[idx:{map_index}] ll", "r2 = r10", f"r2 += {key_offset}", "call 1"]
    return lines + ([f"if r0 == 0 goto {fail}"] if check else [])


def bounded(draw: Draw, reg: str, limit: int) -> list[str]:
    """`reg` = an unknown number bounded to at most about `limit`, by a mask or a test."""
    if draw(st.booleans()):
        mask = draw(st.sampled_from([m for m in (1, 3, 7, 15, 31, 63, 127, 255, 511) if m <= 2 * limit + 1]))
        return [unknown(draw, reg), f"{reg} &= {mask}"]
    return [unknown(draw, reg), f"if {reg} > {draw(st.integers(0, limit))} goto out"]


# -- a helper that writes the stack at a variable offset ------------------------------------------------------------
def stack_writer_call(helper: int, size: str, source_field: int) -> list[str]:
    """The call of `helper` writing `size` bytes at r1 (set before), from the context's `source_field`."""
    if helper == 16:
        return [f"r2 = {size}", "call 16"]
    if helper == 67:
        return ["r2 = r1", "r1 = r9", f"r3 = {size}", "r4 = 0", "call 67"]
    return [f"r2 = {size}", f"r3 = *(u64 *)(r9 +{source_field})", f"call {helper}"]


@st.composite
def helper_stack_write(draw: Draw) -> Shape:
    """probe_read*, get_current_comm or get_stack write the stack at a (variable) offset over a spilled pointer,
    a known constant, a loop counter or a map key, which the program may then trust."""
    helper = draw(st.sampled_from(sorted(STACK_WRITERS)))
    base = -8 * draw(st.integers(1, 8))
    mask = draw(st.sampled_from([0, 0, 1, 3, 7, 8, 8, 15, 16, 24]))
    size = draw(st.integers(1, 16)) if helper != 67 else 8 * draw(st.integers(1, 2))
    size_expr: str = str(size)
    prep: list[str] = []
    if draw(st.booleans()) and helper != 67:  # a size known only by its bounds
        prep += [unknown(draw, "r8"), f"r8 &= {size - 1 if size > 1 else 0}", "r8 += 1"]
        size_expr = "r8"
    slot = -8 * draw(st.integers(1, 9))
    victim = draw(st.sampled_from(["stack", "ctx", "value", "constant", "counter", "key", "none"]))
    use = draw(st.booleans()) or victim == "counter"
    init = [f"*(u64 *)(r10 {off}) = 0" for off in range(base, min(0, base + mask + size + 7) // 8 * 8, 8)] \
        if draw(st.booleans()) else []
    setup, after = [], []
    if victim == "stack":
        setup = ["r7 = r10", f"r7 += -{draw(st.sampled_from([64, 72, 128]))}", f"*(u64 *)(r10 {slot}) = r7"]
        after = [f"r1 = *(u64 *)(r10 {slot})", "*(u64 *)(r1 +0) = 1"]
    elif victim == "ctx":
        setup = [f"*(u64 *)(r10 {slot}) = r9"]
        after = [f"r1 = *(u64 *)(r10 {slot})", "r0 = *(u64 *)(r1 +112)"]
    elif victim == "value":
        setup = lookup(0, -100) + [f"*(u64 *)(r10 {slot}) = r0"]
        after = [f"r1 = *(u64 *)(r10 {slot})", f"r0 = *(u64 *)(r1 +{draw(st.sampled_from([0, 8]))})"]
    elif victim == "constant":
        setup = [f"*(u64 *)(r10 {slot}) = {draw(st.integers(0, 8))}"]
        after = [f"r7 = *(u64 *)(r10 {slot})"] + lookup(0, -100) + ["r0 += r7", "r0 = *(u8 *)(r0 +0)"]
    elif victim == "key":
        setup = [f"*(u32 *)(r10 {slot}) = {draw(st.integers(0, 3))}"]
        after = ["r1 = map[idx:0] ll", "r2 = r10", f"r2 += {slot}", "call 1"] \
            + ([] if draw(st.booleans()) else ["if r0 == 0 goto out"]) + ["r0 = *(u64 *)(r0 +0)"]
    elif victim == "counter":
        setup = [f"*(u64 *)(r10 {slot}) = 0"]
    offset = [unknown(draw, "r6"), f"r6 &= {mask}"] if mask else []
    call = ["r1 = r10", f"r1 += {base}"] + (["r1 += r6"] if mask else []) \
        + stack_writer_call(helper, size_expr, draw(st.sampled_from(CTX_FIELDS)))
    if victim == "counter":
        bound = draw(st.integers(1, 4))
        call = ["loop:"] + call + [f"r7 = *(u64 *)(r10 {slot})", "r7 += 1", f"*(u64 *)(r10 {slot}) = r7",
                                    f"if r7 < {bound} goto loop"]
        after = lookup(0, -100) + ["r0 += r7", "r0 = *(u8 *)(r0 +0)"]
    body = init + setup + prep + offset + call + (after if use else [])
    return Shape("helper-stack-write", _program_text(PROLOGUE, _labels_inline(body), OUT), (ARRAY,))


def _labels_inline(lines: list[str]) -> list[str]:
    """A bare `label:` line joined to the instruction after it."""
    out: list[str] = []
    pending = ""
    for line in lines:
        if line.endswith(":"):
            pending += line + " "
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending + "r0 = 0")
    return out


# -- read-only maps: written through pointers, map_update/delete, helpers writing into them ------------------------
def frozen_array(draw: Draw, entries: int, value_size: int = 16) -> MapDef:
    """A frozen, program-read-only array with an initial value (element 0 only): `.rodata`-style."""
    initial = bytes(draw(st.lists(st.sampled_from([0, 1, 2, 3, 7, 8, 15, 16, 200, 255]),
                                  min_size=value_size, max_size=value_size)))
    return MapDef(".rodata", 2, 4, value_size, entries, origin="data", initial_value=initial, frozen=True)


@st.composite
def read_only_map(draw: Draw) -> Shape:
    """Writes into maps programs may only read: stores and atomics through a value pointer, map_update_elem,
    map_delete_elem, a helper writing into the value; and the reads that are allowed."""
    target = draw(st.sampled_from(["ro-array", "ro-hash", "rodata", "frozen-array", "writable"]))
    mdef = {"ro-array": RO_ARRAY, "ro-hash": RO_HASH, "writable": ARRAY}.get(target) \
        or frozen_array(draw, 1 if target == "rodata" else draw(st.integers(2, 4)))
    value_size = mdef.value_size
    key = draw(st.integers(0, 4))
    if target == "rodata" and draw(st.booleans()):
        get_value = [f"r0 = map[idx:0][0]+{draw(st.sampled_from([0, 8]))} ll"]
    else:
        get_value = lookup(0, -4, key)
    op = draw(st.sampled_from(["store", "stx", "atomic", "update", "delete", "probe_read", "comm", "read", "read"]))
    off = draw(st.sampled_from([o for o in (0, 4, 8) if o < value_size]))
    if op == "store":
        body = get_value + [f"*(u32 *)(r0 +{off}) = 1"]
    elif op == "stx":
        body = get_value + ["r1 = 7", f"*(u64 *)(r0 +{off - off % 8}) = r1"]
    elif op == "atomic":
        body = get_value + ["r1 = 1", f"lock *(u64 *)(r0 +{off - off % 8}) += r1"]
    elif op == "update":
        body = [f"*(u32 *)(r10 -4) = {key}", "*(u64 *)(r10 -24) = 2", "*(u64 *)(r10 -16) = 3",
                "r1 = map[idx:0] ll", "r2 = r10", "r2 += -4", "r3 = r10", "r3 += -24",
                f"r4 = {draw(st.sampled_from([0, 1, 2]))}", "call 2"]
    elif op == "delete":
        body = [f"*(u32 *)(r10 -4) = {key}", "r1 = map[idx:0] ll", "r2 = r10", "r2 += -4", "call 3"]
    elif op == "probe_read":
        helper = draw(st.sampled_from([4, 113, 115]))
        body = get_value + ["r1 = r0", f"r1 += {off}", f"r2 = {draw(st.integers(1, value_size - off))}",
                            unknown(draw, "r3"), f"call {helper}"]
    elif op == "comm":
        body = get_value + ["r1 = r0", f"r2 = {draw(st.integers(1, value_size))}", "call 16"]
    else:  # a read, maybe used as an offset into a writable value
        size = draw(st.sampled_from([1, 2, 4, 8]))
        roff = draw(st.sampled_from([o for o in range(0, value_size, size)]))
        body = get_value + [f"r7 = *(u{size * 8} *)(r0 +{roff})"]
        if draw(st.booleans()):
            body += lookup(1, -8) + ["r0 += r7", "r0 = *(u8 *)(r0 +0)"]
    return Shape("read-only-map", _program_text(PROLOGUE, body, OUT), (mdef, ARRAY))


@st.composite
def frozen_multi_entry(draw: Draw) -> Shape:
    """Frozen arrays of several entries: only element 0 holds the initial value, the others are zero; a read is
    folded to a constant only where it is known, and may be used as an offset."""
    entries = draw(st.sampled_from([1, 2, 3, 4, 8]))
    mdef = frozen_array(draw, entries)
    how = draw(st.sampled_from(["constant", "constant", "variable", "direct"]))
    if how == "direct" and entries == 1:
        body = ["r0 = map[idx:0][0]+0 ll"]
    elif how == "variable":
        body = bounded(draw, "r6", entries) + ["*(u32 *)(r10 -4) = r6"] + lookup(0)[1:]
    else:
        body = lookup(0, -4, draw(st.integers(0, entries)), check=draw(st.integers(0, 3)) > 0)
    size = draw(st.sampled_from([1, 1, 2, 4, 8]))
    body += [f"r7 = *(u{size * 8} *)(r0 +{draw(st.sampled_from(range(0, 16, size)))})"]
    use = draw(st.sampled_from(["offset", "offset", "test", "size", "none"]))
    if use == "offset":
        body += lookup(1, -8) + ["r0 += r7", f"r0 = *(u8 *)(r0 +{draw(st.sampled_from([0, 0, 8, 15]))})"]
    elif use == "test":
        body += [f"if r7 > {draw(st.integers(0, 15))} goto out"] + lookup(1, -8) + ["r0 += r7", "r0 = *(u8 *)(r0 +0)"]
    elif use == "size":
        body += ["r1 = r10", "r1 += -32", "r2 = r7", "r3 = 0", "call 113"]
    return Shape("frozen-array", _program_text(PROLOGUE, body, OUT), (mdef, ARRAY))


# -- frames: a callee's stack pointer stored in a caller's frame ---------------------------------------------------
@st.composite
def stack_pointer_escape(draw: Draw) -> Shape:
    """A callee (or its callee's callee) stores a pointer to a stack (its own, its caller's) into a caller's frame,
    by a store or an atomic exchange, or returns one; the caller then dereferences it or hands it to a helper."""
    slot = -8 * draw(st.integers(1, 8))
    depth = draw(st.sampled_from([1, 1, 2, 3]))
    value = draw(st.sampled_from(["own stack", "own stack", "caller stack", "number", "ctx", "map value"]))
    how = draw(st.sampled_from(["store", "store", "xchg", "return"]))
    own = 8 * draw(st.integers(1, 8))
    if value == "own stack":
        make = ["r2 = r10", f"r2 += -{own}", f"*(u64 *)(r10 -{own}) = 0"]
    elif value == "caller stack":
        make = ["r2 = r1", f"r2 += {draw(st.sampled_from([0, -8, -16, 8]))}"]
    elif value == "number":
        make = [f"r2 = {draw(st.integers(-8, 64))}"]
    elif value == "ctx":
        make = ["r2 = r3"]
    else:
        make = ["r6 = r1", "r7 = r3"] + lookup(0, -4, draw(st.integers(0, 3)), fail="none") \
            + ["r2 = r0", "r1 = r6", "r3 = r7"]
    if how == "store":
        act = make + [f"*(u64 *)(r1 {draw(st.sampled_from([0, 0, -8, 8])):+d}) = r2", "r0 = 0"]
    elif how == "xchg":
        act = make + ["r2 = atomic64_xchg((u64 *)(r1 +0), r2)", "r0 = 0"]
    else:
        act = make + ["r0 = r2"]
    use = draw(st.sampled_from(["read", "write", "helper", "none"]))
    at = draw(st.sampled_from([0, 0, 8, -8]))
    got = "r1 = r6" if how == "return" else f"r1 = *(u64 *)(r10 {slot})"
    main = [f"*(u64 *)(r10 {slot}) = 0", "r1 = r10", f"r1 += {slot}", "r3 = r9", "call f1"]
    main += ["r6 = r0"] if how == "return" else []
    if use == "read":
        main += [got, f"r0 = *(u64 *)(r1 {at:+d})"]
    elif use == "write":
        main += [got, f"*(u64 *)(r1 {at:+d}) = 1"]
    elif use == "helper":
        main += [got, f"r2 = {draw(st.sampled_from([1, 8, 16]))}", "r3 = 0", "call 113"]
    funcs: list[str] = []
    for level in range(1, depth):  # callers in between keep a frame of their own and pass the pointer on
        funcs += [f"f{level}: *(u64 *)(r10 -{8 * draw(st.integers(1, 4))}) = 0", f"call f{level + 1}", "exit"]
    funcs += [f"f{depth}: " + act[0]] + act[1:] + ["exit"] + (["none: r0 = 0", "exit"] if value == "map value" else [])
    return Shape("stack-pointer-escape", _program_text(PROLOGUE, main, OUT, funcs), (ARRAY,))


# -- helper memory ranges around the stack's ends ------------------------------------------------------------------
@st.composite
def helper_memory_bounds(draw: Draw) -> Shape:
    """Helper memory arguments whose range starts below the 512-byte frame, crosses its top (fp+0) or fits,
    at constant or variable offsets: map keys and values, probe_read buffers, formats, output data."""
    where = draw(st.sampled_from(["bottom", "top", "anywhere"]))
    if where == "bottom":
        off = draw(st.integers(-530, -496))
    elif where == "top":
        off = draw(st.integers(-24, 8))
    else:
        off = -draw(st.integers(1, 512))
    mask = draw(st.sampled_from([0, 0, 0, 3, 8, 15]))
    helper = draw(st.sampled_from(["key", "key8", "key16", "update", "probe_read", "comm", "printk", "ringbuf",
                                   "perf"]))
    size = draw(st.integers(1, 32))
    maps: tuple[MapDef, ...] = (HASH,)
    ptr = ["r6 = r10", f"r6 += {off}"] + ([unknown(draw, "r7"), f"r7 &= {mask}", "r6 += r7"] if mask else [])
    init = [f"*(u64 *)(r10 {o}) = 0" for o in range(max(-512, (off - 7) // 8 * 8), min(0, off + mask + 40), 8)] \
        if draw(st.integers(0, 3)) else []
    if helper in ("key", "key8", "key16"):
        maps = ({"key": HASH, "key8": HASH8, "key16": KEY16}[helper],)
        call = ["r1 = map[idx:0] ll", "r2 = r6", "call 1"]
    elif helper == "update":
        call = ["r1 = map[idx:0] ll", "r2 = r6", "r3 = r10", "r3 += -16", "*(u64 *)(r10 -16) = 0", "r4 = 0", "call 2"] \
            if draw(st.booleans()) else \
            ["r1 = map[idx:0] ll", "r2 = r10", "r2 += -4", "*(u32 *)(r10 -4) = 0", "r3 = r6", "r4 = 0", "call 2"]
    elif helper == "probe_read":
        call = ["r1 = r6", f"r2 = {size}", "r3 = 0", f"call {draw(st.sampled_from([4, 113, 115]))}"]
    elif helper == "comm":
        call = ["r1 = r6", f"r2 = {size}", "call 16"]
    elif helper == "printk":
        call = ["r1 = r6", f"r2 = {size}", "call 6"]
    elif helper == "ringbuf":
        maps = (RINGBUF,)
        call = ["r1 = map[idx:0] ll", "r2 = r6", f"r3 = {size}", "r4 = 0", "call 130"]
    else:
        maps = (PERF,)
        call = ["r4 = r6", f"r5 = {size}", "r3 = 0xffffffff ll", "r2 = map[idx:0] ll", "r1 = r9", "call 25"]
    return Shape("helper-memory-bounds", _program_text(PROLOGUE, init, ptr, call, OUT), maps)


# -- the stack of a chain of calls ---------------------------------------------------------------------------------
DEPTHS = [8, 16, 32, 64, 100, 128, 200, 256, 264, 300, 384, 480, 504, 512]


@st.composite
def combined_stack(draw: Draw) -> Shape:
    """Chains of calls (and calls from branches) whose frames, each rounded up to 32 bytes, fit in 512 bytes in
    all or not; frames deepened by constant and variable offsets."""
    functions = draw(st.integers(1, 4))
    chain = draw(st.booleans())  # f1 calls f2 ... (else main calls each)
    lines: list[str] = [f"*(u64 *)(r10 -{draw(st.sampled_from(DEPTHS))}) = 0"]
    if chain:
        lines += ["call f1"] if draw(st.integers(0, 3)) else [unknown(draw, "r6"), "if r6 > 5 goto +1", "call f1"]
    else:
        for i in range(1, functions + 1):
            lines += ["r1 = r9", f"call f{i}"]
    lines += ["r0 = 0", "exit"]
    for i in range(1, functions + 1):
        depth = draw(st.sampled_from(DEPTHS))
        if draw(st.integers(0, 4)) == 0:  # a variable offset reaches deeper than the constant part says
            body = ["r2 = r10", f"r2 += -{depth}", "r3 = *(u64 *)(r1 +112)", "r3 &= 8", "r2 += r3",
                    "*(u64 *)(r2 +0) = 0"]
        else:
            body = [f"*(u64 *)(r10 -{depth}) = 0"]
        if chain and i < functions:
            body += ["call f" + str(i + 1)]
        lines += [f"f{i}: " + body[0]] + body[1:] + ["r0 = 0", "exit"]
    return Shape("combined-stack", _program_text(PROLOGUE, lines), ())


# -- control flow across function boundaries -----------------------------------------------------------------------
@st.composite
def function_boundaries(draw: Draw) -> Shape:
    """Jumps from one function into another's body, functions that fall into the next one or end in a
    conditional jump; and jumps that stay within their function."""
    names = ["m", "f", "g"][: draw(st.integers(2, 3))]
    bodies: dict[str, list[str]] = {}
    for name in names:
        count = draw(st.integers(2, 4))
        bodies[name] = [f"r0 = {draw(st.integers(0, 3))}"] + [f"r{draw(st.sampled_from([2, 3, 4]))} = {k}"
                                                                  for k in range(count - 1)]
    labels = [f"{name}{i}" for name in names for i in range(len(bodies[name]))]
    calls = {"m": ["call f0"] + (["call g0"] if "g" in names and draw(st.booleans()) else [])}
    if "g" in names and draw(st.booleans()):
        calls["f"] = ["call g0"]
    jumps = draw(st.integers(1, 2))
    lines: list[str] = []
    for name in names:
        body = [f"{name}{i}: {line}" for i, line in enumerate(bodies[name])]
        body[1:1] = calls.get(name, [])
        for _ in range(jumps):
            at = draw(st.integers(1, len(body)))
            target = draw(st.sampled_from(labels))
            if draw(st.booleans()):
                body.insert(at, f"if r0 == {draw(st.integers(0, 3))} goto {target}")
            else:
                body.insert(at, f"if r0 != 9 goto {target}")  # taken: an unconditional jump in effect
        ending = draw(st.sampled_from(["exit", "exit", "exit", "none", "jump"]))
        if ending == "exit":
            body.append("exit")
        elif ending == "jump":
            body.append(f"if r0 == 1 goto {name}0")
        lines += body
    return Shape("function-boundaries", _program_text(lines), ())


# -- ring buffer references, tail calls ----------------------------------------------------------------------------
def reserve(size: int = 8) -> list[str]:
    return ["r1 = map[idx:0] ll", f"r2 = {size}", "r3 = 0", "call 131"]


def release(reg: str, submit: bool) -> list[str]:
    return [f"r1 = {reg}", "r2 = 0", f"call {132 if submit else 133}"]


@st.composite
def ringbuf_references(draw: Draw) -> Shape:
    """Records reserved at one call site again and again (a loop, a subprogram called twice), released in part,
    twice, in a subprogram; tail calls while holding a record and from subprograms."""
    form = draw(st.sampled_from(["loop", "subprogram", "tail-call", "tail-call-in-subprogram", "release-in-callee",
                                 "double-release"]))
    submit = draw(st.booleans())
    size = draw(st.integers(1, 128))
    # a write into the record once reserved: within it or past its end
    write = [f"*(u64 *)(r0 +{8 * draw(st.integers(0, 16))}) = 1"] if draw(st.integers(0, 2)) == 0 else []
    if form == "loop":
        count = draw(st.integers(1, 3))
        kept = draw(st.lists(st.integers(0, count - 1), unique=True, max_size=count))
        regs = ["r6", "r7", "r8"]
        lines = ["r5 = 0", "*(u64 *)(r10 -8) = r5", "l: " + reserve(size)[0]] + reserve(size)[1:] \
            + ["if r0 == 0 goto fail"] + write + ["r5 = *(u64 *)(r10 -8)"] + [f"if r5 == {i} goto keep{i}" for i in range(count)] \
            + ["goto fail"]
        for i in range(count):
            lines += [f"keep{i}: {regs[i]} = r0", "r5 += 1", "*(u64 *)(r10 -8) = r5", f"if r5 < {count} goto l",
                      "goto done"]
        lines += ["done: r0 = 0"] + [line for i in sorted(kept) for line in release(regs[i], submit)] + ["r0 = 0", "exit"]
        lines += ["fail: r0 = 0"]
        if draw(st.booleans()):  # what was reserved before the failed reservation is released
            for i in range(count - 1):
                lines += ["r5 = *(u64 *)(r10 -8)", f"if r5 < {i + 1} goto out"] + release(regs[i], False)
        return Shape("ringbuf-references", _program_text(PROLOGUE, lines, OUT), (RINGBUF,))
    if form == "subprogram":
        calls = draw(st.integers(1, 2))
        lines: list[str] = []
        for i in range(calls):
            lines += ["call take", f"if r0 == 0 goto drop{i}"] + write + [f"r{6 + i} = r0"]
        for i in range(calls):
            if draw(st.integers(0, 3)):
                lines += release(f"r{6 + i}", submit)
        lines += ["r0 = 0", "exit"]
        for i in range(calls):  # on failure release what was taken before
            lines += [f"drop{i}: r0 = 0"] + [line for k in range(i) for line in release(f"r{6 + k}", submit)] \
                + ["r0 = 0", "exit"]
        lines += ["take: " + reserve(size)[0]] + reserve(size)[1:] + ["exit"]
        return Shape("ringbuf-references", _program_text(PROLOGUE, lines), (RINGBUF,))
    if form == "tail-call":
        tail = ["r1 = r9", "r2 = map[idx:1] ll", f"r3 = {draw(st.integers(0, 4))}", "call 12"]
        held = draw(st.sampled_from(["none", "held", "released before"]))
        lines = reserve(size) + ["if r0 == 0 goto out"] + write + ["r7 = r0"]
        if held == "none":
            lines = tail
        elif held == "held":
            lines += tail + release("r7", submit)
        else:
            lines += release("r7", submit) + tail
        return Shape("ringbuf-references", _program_text(PROLOGUE, lines, OUT), (RINGBUF, PROGS))
    if form == "tail-call-in-subprogram":
        depth = draw(st.integers(0, 3))
        tail = ["r2 = map[idx:1] ll", f"r3 = {draw(st.integers(0, 4))}", "call 12", "r0 = 0", "exit"]
        if depth == 0:
            return Shape("ringbuf-references", _program_text(PROLOGUE, ["r1 = r9"] + tail), (RINGBUF, PROGS))
        lines = ["r1 = r9", "call f1", "r0 = 0", "exit"]
        for d in range(1, depth + 1):
            lines += [f"f{d}: r1 = r{draw(st.sampled_from([1, 1, 2]))}", f"call f{d + 1}", "r0 = 0", "exit"] \
                if d < depth else [f"f{d}: " + tail[0]] + tail[1:]
        return Shape("ringbuf-references", _program_text(PROLOGUE, lines), (RINGBUF, PROGS))
    if form == "release-in-callee":
        callee_releases = draw(st.booleans())
        caller_releases = draw(st.booleans())
        lines = reserve(size) + ["if r0 == 0 goto out"] + write + ["r6 = r0", "r1 = r0", "call f"]
        lines += release("r6", submit) if caller_releases else []
        lines += OUT.split("\n")
        callee = (release("r1", submit) if callee_releases else ["r1 = 0"]) + ["r0 = 0", "exit"]
        return Shape("ringbuf-references", _program_text(PROLOGUE, lines, ["f: " + callee[0]] + callee[1:]),
                     (RINGBUF,))
    lines = reserve(size) + ["if r0 == 0 goto out"] + write + ["r6 = r0"] + release("r6", submit)
    if draw(st.booleans()):
        lines += release("r6", draw(st.booleans()))
    return Shape("ringbuf-references", _program_text(PROLOGUE, lines, OUT), (RINGBUF,))


# -- atomics and their alignment -----------------------------------------------------------------------------------
ATOMIC_FORMS = ["lock +=", "lock |=", "lock &=", "lock ^=", "fetch_add", "fetch_or", "fetch_and", "fetch_xor", "xchg",
                "cmpxchg"]


def atomic(form: str, size: int, base: str, off: int, src: str = "r1") -> str:
    ptr = f"(u{size * 8} *)({base} {off:+d})"
    bits = "64" if size == 8 else ""
    if form.startswith("lock"):
        return f"lock *{ptr} {form[5:]} {src}"
    if form == "xchg":
        return f"{src} = atomic{bits}_xchg({ptr}, {src})"
    if form == "cmpxchg":
        return f"r0 = atomic{bits}_cmpxchg({ptr}, r0, {src})"
    return f"{src} = atomic{bits}_{form}({ptr}, {src})"


@st.composite
def misaligned_atomics(draw: Draw) -> Shape:
    """Atomic operations of 4 and 8 bytes at every offset of map values, ring buffer records and the stack,
    at constant and variable offsets."""
    target = draw(st.sampled_from(["value", "record", "stack"]))
    size = draw(st.sampled_from([4, 8]))
    form = draw(st.sampled_from(ATOMIC_FORMS))
    room = draw(st.sampled_from([16, 16, 32, 64]))  # bytes of the value, record or stack buffer
    off = draw(st.integers(0, room - size))
    variable = draw(st.integers(0, 4)) == 0
    maps: tuple[MapDef, ...] = (ARRAY if room == 16 else BIG,)
    saved_r0 = "r8"
    if target == "value":
        lines = lookup(0, -4, draw(st.integers(0, 3))) + ["r8 = r0"]
    elif target == "record":
        maps = (RINGBUF,)
        lines = reserve(room) + ["if r0 == 0 goto out", "r8 = r0", "r7 = r0"]
    else:
        lines = [f"*(u64 *)(r10 -{o}) = 0" for o in range(8, room + 8, 8)] + ["r8 = r10", f"r8 += -{room}"]
    if variable:
        lines += [unknown(draw, "r6"), f"r6 &= {draw(st.sampled_from([4, 8, 12]))}", "r8 += r6"]
    lines += [f"r1 = {draw(st.sampled_from([0, 1, -1, 255]))}", "r0 = 0", atomic(form, size, saved_r0, off)]
    if target == "record":
        lines += ["r1 = r7", "r2 = 0", "call 132"]
    return Shape("misaligned-atomics", _program_text(PROLOGUE, lines, OUT), maps)


# -- pointers spilled and filled in part ---------------------------------------------------------------------------
POINTERS = {
    "ctx": ["r7 = r9"],
    "stack": ["r7 = r10", "r7 += -64"],
    "value": lookup(0, -100) + ["r7 = r0"],
    "map": ["r7 = map[idx:0] ll"],
    "nullable": lookup(0, -100, check=False) + ["r7 = r0"],
}


@st.composite
def partial_spills(draw: Draw) -> Shape:
    """Pointers stored to the stack with 1, 2, 4 or 8 bytes, at aligned and unaligned offsets; filled back whole
    or in part, after part of the slot was overwritten with a number or not; then dereferenced or not."""
    kind = draw(st.sampled_from(sorted(POINTERS)))
    spill_size = draw(st.sampled_from([1, 2, 4, 8, 8]))
    slot = -8 * draw(st.integers(1, 6))
    spill_off = slot + draw(st.sampled_from([0, 0, 0, 4, 1, 2, 6]))
    lines = list(POINTERS[kind]) + [f"*(u{spill_size * 8} *)(r10 {spill_off}) = r7"]
    if draw(st.integers(0, 3)) == 0:
        lines += [f"*(u8 *)(r10 {slot + draw(st.integers(0, 7))}) = 0"]
    fill_size = draw(st.sampled_from([1, 2, 4, 8, 8, 8]))
    fill_off = slot + draw(st.sampled_from([0, 0, 0, 4]))
    lines += [f"r1 = *(u{fill_size * 8} *)(r10 {fill_off})"]
    use = draw(st.sampled_from(["read", "write", "none", "return"]))
    if use == "read":
        lines += [f"r0 = *(u{draw(st.sampled_from([8, 32]))} *)(r1 +0)"]
    elif use == "write":
        lines += ["*(u32 *)(r1 +0) = 1"]
    elif use == "return":
        lines += ["r0 = r1", "exit"]
    return Shape("partial-spills", _program_text(PROLOGUE, lines, OUT), (ARRAY,))


# -- invalid encodings, as raw bytes -------------------------------------------------------------------------------
BASE_INSNS = [Insn(0xB7, 0, 0, 0, 0), Insn(0xB7, 2, 0, 0, 5), Insn(0x25, 2, 0, 1, 3), Insn(0x07, 2, 0, 0, 1),
              Insn(0x95)]
MAP_LDDW = Insn(LDDW, 1, PseudoSrc.MAP_FD, 0, 0)


@st.composite
def invalid_encodings(draw: Draw) -> Shape:
    """Valid programs with one instruction made invalid (or valid again by chance): an unknown opcode, a reserved
    field set, a malformed or truncated lddw, a map lddw with a non-zero second immediate or an unknown kind,
    may_goto and call encodings; as the bytes stand."""
    with_map = draw(st.booleans())
    insns = list(BASE_INSNS)
    insns[1] = Insn(0xB7, 2, 0, 0, draw(st.integers(0, 9)))  # r2 = k; if r2 > j goto +1 skips insn 3 or not
    insns[2] = Insn(0x25, 2, 0, 1, draw(st.integers(0, 9)))
    if with_map:
        insns.insert(1, MAP_LDDW)
    slots = bytearray(encode(insns))
    count = len(slots) // 8
    mutation = draw(st.sampled_from(["opcode", "field", "field", "lddw-second-slot", "lddw-at-end", "lddw-src",
                                     "map-hi-imm", "may_goto", "call", "slot"]))
    at = 8 * draw(st.integers(0, count - 2))  # keep the final exit
    if mutation == "opcode":
        slots[at] = draw(st.integers(0, 255))
    elif mutation == "field":
        which = draw(st.sampled_from(["dst", "src", "off", "imm"]))
        if which == "dst":
            slots[at + 1] = (slots[at + 1] & 0xF0) | draw(st.integers(0, 15))
        elif which == "src":
            slots[at + 1] = (slots[at + 1] & 0x0F) | (draw(st.integers(0, 15)) << 4)
        elif which == "off":
            slots[at + 2:at + 4] = draw(st.integers(-32768, 32767)).to_bytes(2, "little", signed=True)
        else:
            slots[at + 4:at + 8] = draw(st.integers(-2**31, 2**31 - 1)).to_bytes(4, "little", signed=True)
    elif mutation == "lddw-second-slot":
        lddw = encode([Insn(LDDW, 3, 0, 0, draw(st.integers(0, 2**64 - 1)))])
        second = bytearray(lddw[8:])
        second[draw(st.integers(0, 3))] = draw(st.integers(1, 255))
        slots[at:at] = lddw[:8] + bytes(second)
    elif mutation == "lddw-at-end":
        slots += encode([Insn(LDDW, 3, 0, 0, 7)])[:8]
    elif mutation == "lddw-src":
        src = draw(st.integers(0, 15))
        slots[at:at] = encode([Insn(LDDW, 1, src, 0, draw(st.sampled_from([0, 1, 2**32, 7 | 5 << 32])))])
    elif mutation == "map-hi-imm":
        src = draw(st.sampled_from([PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE]))
        hi = draw(st.sampled_from([1, 4, 8, 16, 2**31]))
        slots[at:at] = encode([Insn(LDDW, 1, src, 0, hi << 32)])
        with_map = True
    elif mutation == "may_goto":
        slots[at:at + 8] = bytes([0xE5, draw(st.integers(0, 255))]) + draw(st.integers(-2, 2)).to_bytes(
            2, "little", signed=True) + draw(st.sampled_from([0, 0, 1, -1])).to_bytes(4, "little", signed=True)
    elif mutation == "call":
        slots[at:at + 8] = bytes([0x85, draw(st.integers(0, 255))]) + bytes(2) + draw(
            st.sampled_from([1, 5, 7, 12, 1000, -1, 2])).to_bytes(4, "little", signed=True)
    else:
        slots[at:at + 8] = draw(st.binary(min_size=8, max_size=8))
    return Shape("invalid-encoding", raw=bytes(slots), maps=(ARRAY,) if with_map else ())


# -- sign extension, byte swaps ------------------------------------------------------------------------------------
@st.composite
def sign_extension(draw: Draw) -> Shape:
    """Numbers through movsx (8, 16, 32 bits; 32- and 64-bit forms), sign-extending loads and byte swaps, then
    shifted, tested and masked, used as offsets into a 256-byte map value."""
    source = draw(st.sampled_from(["unknown", "masked", "tested", "constant"]))
    if source == "constant":
        lines = [f"r6 = {draw(st.sampled_from([0, 1, 127, 128, 255, 256, 0x7fff, 0x8000, -1, -128]))}"]
    elif source == "unknown":
        lines = [unknown(draw, "r6")]
    elif source == "masked":
        lines = [unknown(draw, "r6"), f"r6 &= {draw(st.sampled_from([0x7f, 0xff, 0xff00, 0xff000000, 0xffff])):#x}"]
    else:
        lines = [unknown(draw, "r6"), f"if r6 > {draw(st.sampled_from([127, 255, 256, 0x8000]))} goto out"]
    op = draw(st.sampled_from(["movsx", "movsx32", "ldxs", "bswap"]))
    if op == "movsx":
        lines += [f"r7 = (s{draw(st.sampled_from([8, 16, 32]))})r6"]
    elif op == "movsx32":
        lines += [f"w7 = (s{draw(st.sampled_from([8, 16]))})w6"]
    elif op == "ldxs":
        size = draw(st.sampled_from([1, 2, 4]))
        lines += ["*(u64 *)(r10 -16) = r6", f"r7 = *(s{size * 8} *)(r10 {-16 + draw(st.sampled_from([0, 0, size]))})"]
    else:
        kind = draw(st.sampled_from(["be16", "be32", "be64", "le16", "le32", "le64", "bswap16", "bswap32", "bswap64"]))
        lines += ["r7 = r6", f"r7 = {kind} r7"]
    for _ in range(draw(st.integers(0, 2))):
        step = draw(st.sampled_from(["add", "test", "stest", "mask", "w32"]))
        if step == "add":
            lines += [f"r7 += {draw(st.sampled_from([128, 32768, 1, -1]))}"]
        elif step == "test":
            lines += [f"if r7 > {draw(st.sampled_from([127, 255, 300]))} goto out"]
        elif step == "stest":
            lines += [f"if r7 s< {draw(st.sampled_from([0, -128]))} goto out"]
        elif step == "mask":
            lines += [f"r7 &= {draw(st.sampled_from([0xff, 0x1ff]))}"]
        else:
            lines += ["w7 = w7"]
    lines += lookup(0, -24) + ["r0 += r7", "r0 = *(u8 *)(r0 +0)"]
    return Shape("sign-extension", _program_text(PROLOGUE, lines, OUT), (BIG,))


# -- narrow spills of bounded numbers ------------------------------------------------------------------------------
@st.composite
def narrow_spills(draw: Draw) -> Shape:
    """Bounded numbers spilled with 1, 2, 4 or 8 bytes and filled back at the same or another size and offset,
    part of the slot overwritten or not; a u32 loop counter kept on the stack; used as offsets."""
    if draw(st.integers(0, 3)) == 0:  # a loop whose u32 counter lives on the stack, as C compilers make it
        bound = draw(st.integers(1, 40))
        size = draw(st.sampled_from([1, 2, 4, 8]))
        lines = [f"*(u{size * 8} *)(r10 -8) = 0"] + lookup(0, -24) + ["r8 = r0", f"l: r7 = *(u{size * 8} *)(r10 -8)",
                                                                       "r1 = r8", "r1 += r7", "r0 = *(u8 *)(r1 +0)",
                                                                       "r7 += 1", f"*(u{size * 8} *)(r10 -8) = r7",
                                                                       f"if r7 < {bound} goto l"]
        return Shape("narrow-spills", _program_text(PROLOGUE, lines, OUT), (BIG,))
    value = bounded(draw, "r6", draw(st.sampled_from([15, 255, 300, 65535])))
    spill = draw(st.sampled_from([1, 2, 4, 8]))
    slot = -8 * draw(st.integers(1, 2))
    spill_off = slot + draw(st.sampled_from([o for o in (0, 0, 2, 4) if o % spill == 0 or o == 0]))
    lines = value + [f"*(u{spill * 8} *)(r10 {spill_off}) = r6"]
    if draw(st.integers(0, 3)) == 0:
        lines += [f"*(u8 *)(r10 {slot + draw(st.integers(0, 7))}) = {draw(st.sampled_from([0, 255]))}"]
    fill = draw(st.sampled_from([1, 2, 4, 8]))
    fill_off = slot + draw(st.sampled_from([0, 0, 1, 2, 4]))
    if fill_off + fill > slot + 8:
        fill_off = slot
    lines += [f"r7 = *(u{fill * 8} *)(r10 {fill_off})"]
    lines += lookup(0, -24) + ["r0 += r7", "r0 = *(u8 *)(r0 +0)"]
    return Shape("narrow-spills", _program_text(PROLOGUE, lines, OUT), (BIG,))


# -- linked scalars ------------------------------------------------------------------------------------------------
@st.composite
def linked_scalars(draw: Draw) -> Shape:
    """Copies of a number (moves, 32-bit moves, added constants, copies made on different paths and joined, the
    result of an atomic fetch) bounded by a test on one copy (64 or 32 bits, signed or not) and used by another."""
    copies = ["r6"]
    lines = lookup(0, -24) + ["r4 = r0", unknown(draw, "r6")]  # r4: the value, before r0 becomes a copy
    if draw(st.booleans()):
        lines += [draw(st.sampled_from(["r6 &= 0xff", "r6 &= 0xffff", "w6 = w6"]))]
    for reg in ("r7", "r8", "r0"):
        if not draw(st.integers(0, 2)):
            continue
        form = draw(st.sampled_from(["mov", "mov", "mov32", "add", "join", "fetch"]))
        src = draw(st.sampled_from(copies))
        if form == "mov":
            lines += [f"{reg} = {src}"]
        elif form == "mov32":
            lines += [f"w{reg[1:]} = w{src[1:]}"]
        elif form == "add":
            lines += [f"{reg} = {src}", f"{reg} += {draw(st.sampled_from([4, -4, 1, 100]))}"]
        elif form == "join":
            lines += [unknown(draw, "r5"), f"if r5 == 0 goto a{reg}", f"{reg} = {src}", f"goto b{reg}",
                      f"a{reg}: {reg} = {src}", f"b{reg}: r5 = 0"]
        else:
            lines += [f"*(u64 *)(r10 -16) = {src}", f"{reg} = 0",
                      f"{reg} = atomic64_fetch_add((u64 *)(r10 -16), {reg})"]
        copies.append(reg)
    for _ in range(draw(st.integers(1, 2))):
        tested = draw(st.sampled_from(copies))
        width = draw(st.sampled_from(["r", "r", "w"]))
        op = draw(st.sampled_from([">", ">=", "s>", "<"]))
        bound = draw(st.sampled_from([4, 8, 12, 15]))
        if op == "<":
            lines += [f"if {width}{tested[1:]} < {bound} goto +1", "goto out"]
        else:
            lines += [f"if {width}{tested[1:]} {op} {bound} goto out"]
        if op == "s>":
            lines += [f"if {width}{tested[1:]} s< 0 goto out"]
    lines += [f"r4 += {draw(st.sampled_from(copies))}", "r0 = *(u8 *)(r4 +0)"]
    return Shape("linked-scalars", _program_text(PROLOGUE, _labels_inline(lines), OUT), (ARRAY,))


# -- atomics on spilled pointers -----------------------------------------------------------------------------------
@st.composite
def atomic_on_spill(draw: Draw) -> Shape:
    """Atomic fetches, exchanges and compare-exchanges (4 and 8 bytes) on stack slots that hold a spilled pointer
    or number; the fetched value or the slot is then dereferenced."""
    kind = draw(st.sampled_from(sorted(POINTERS) + ["number"]))
    slot = -8 * draw(st.integers(1, 8))
    lines = ([f"r7 = {draw(st.integers(-4, 64))}"] if kind == "number" else list(POINTERS[kind])) + [f"*(u64 *)(r10 {slot}) = r7"]
    operand = draw(st.sampled_from(["0", "1", "unknown", "pointer"]))
    lines += [unknown(draw, "r1")] if operand == "unknown" else ["r1 = r7"] if operand == "pointer" else \
        [f"r1 = {operand}"]
    lines += ["r0 = r7"] if draw(st.booleans()) else ["r0 = 0"]
    form = draw(st.sampled_from(["fetch_add", "fetch_or", "fetch_and", "fetch_xor", "xchg", "cmpxchg", "lock +="]))
    lines += [atomic(form, draw(st.sampled_from([8, 8, 4])), "r10", slot)]
    result = "r0" if form == "cmpxchg" else "r1"
    use = draw(st.sampled_from(["result", "slot", "none"]))
    if use == "result":
        lines += [f"r2 = *(u{draw(st.sampled_from([8, 32, 64]))} *)({result} +{draw(st.sampled_from([0, 0, 8]))})"]
    elif use == "slot":
        lines += [f"r2 = *(u64 *)(r10 {slot})", "r2 = *(u64 *)(r2 +0)"]
    return Shape("atomic-on-spill", _program_text(PROLOGUE, lines, OUT), (ARRAY, HASH))


# -- comparisons of two pointers -----------------------------------------------------------------------------------
@st.composite
def pointer_comparison(draw: Draw) -> Shape:
    """A nullable map value compared with another pointer (non-null or nullable, of any kind) or a number, then
    dereferenced on either branch."""
    other = draw(st.sampled_from(["value", "nullable", "ctx", "stack", "zero", "unknown"]))
    first, second = draw(st.integers(0, 1)), draw(st.integers(0, 1))  # ARRAY or HASH for each lookup
    lines = {"value": lookup(first, -4, draw(st.integers(0, 3))) + ["r6 = r0"],
             "nullable": lookup(first, -4, draw(st.integers(0, 3)), check=False) + ["r6 = r0"],
             "ctx": ["r6 = r9"], "stack": ["r6 = r10", f"r6 += -{8 * draw(st.integers(0, 4))}"], "zero": ["r6 = 0"],
             "unknown": [unknown(draw, "r6")]}[other]
    lines += lookup(second, -8, draw(st.integers(0, 3)), check=False)
    op = draw(st.sampled_from(["==", "!=", ">", "<"]))
    width = draw(st.sampled_from(["r", "r", "r", "w"]))
    taken = draw(st.booleans())
    left, right = ("0", "6") if draw(st.integers(0, 3)) else ("6", "0")
    lines += [f"if {width}{left} {op} {width}{right} goto use"]
    deref = f"r0 = *(u{draw(st.sampled_from([8, 32, 64]))} *)(r0 +{draw(st.sampled_from([0, 0, 4]))})"
    lines += ["goto out"] if taken else [deref, "goto out"]
    lines += [f"use: {deref}"] if taken else ["use: r0 = 0"]
    return Shape("pointer-comparison", _program_text(PROLOGUE, lines, OUT), (ARRAY, HASH))


# -- may_goto ------------------------------------------------------------------------------------------------------
@st.composite
def may_goto_loops(draw: Draw) -> Shape:
    """Loops bounded by may_goto on every cycle, on some cycles only, or together with a counter (stepping by 0
    too); nested loops; may_goto outside loops; a loop body that also reads the stack or a map value."""
    form = draw(st.sampled_from(["every", "some", "counter", "nested", "straight"]))
    mask = draw(st.sampled_from([0x7, 0x3f, 0xff]))
    limit = [unknown(draw, "r8"), f"r8 &= {mask:#x}"]
    body = draw(st.sampled_from([[], [], ["r2 = *(u64 *)(r10 -8)"], [f"r3 += {draw(st.integers(1, 9))}"]]))
    prelude = ["*(u64 *)(r10 -8) = 0", "r3 = 0"]
    if form == "straight":
        lines = ["r0 = 0", f"may_goto +{draw(st.integers(0, 1))}", f"r0 = {draw(st.integers(1, 9))}", "exit"]
    elif form == "every":  # leaves through may_goto or when r0 passes an unknown bound
        lines = limit + ["r0 = 0", f"l: r0 += {draw(st.integers(1, 3))}"] + body \
            + ["may_goto out", "if r0 > r8 goto out", "goto l"]
    elif form == "some":  # one path round the loop passes no may_goto
        lines = limit + ["r0 = 0", unknown(draw, "r7"), "l: r0 += 1"] + body \
            + [f"if r7 {draw(st.sampled_from(['==', '!=', '&']))} {draw(st.integers(0, 3))} goto skip",
               "may_goto out", "skip: if r0 > r8 goto out", "goto l"]
    elif form == "counter":
        bound = draw(st.integers(1, 30))
        lines = ["r0 = 0", f"l: r0 += {draw(st.sampled_from([1, 1, 2, 3, 0]))}"] + body \
            + ["may_goto out", f"if r0 {draw(st.sampled_from(['<', '<=', 's<']))} {bound} goto l"]
    else:
        lines = limit + ["r6 = 0", "outer: r7 = 0", "inner: r7 += 1"] + body + [
            "may_goto next", f"if r7 < {draw(st.integers(1, 8))} goto inner", "next: r6 += 1",
            "may_goto out" if draw(st.booleans()) else "r0 = 0", "if r6 < r8 goto outer"]
    lines = prelude + lines
    if form in ("counter", "nested") and draw(st.booleans()):  # the count used as an offset afterwards
        lines += ["r7 = r0" if form == "counter" else "r7 = r6"] + lookup(0, -24) + ["r0 += r7", "r0 = *(u8 *)(r0 +0)"]
    return Shape("may-goto", _program_text(PROLOGUE, lines, OUT), (BIG,))


# -- helper length results -----------------------------------------------------------------------------------------
@st.composite
def helper_length_tests(draw: Draw) -> Shape:
    """The length a string read or get_stack returns (at most the buffer's size, or a negative errno), tested
    in 32 or 64 bits, signed or not, then used as an offset or a size."""
    helper = draw(st.sampled_from([45, 114, 115, 67, 16]))
    size = 8 * draw(st.integers(1, 8))
    call = ["r1 = r10", f"r1 += -{size}"] + stack_writer_call(helper, str(size), draw(st.sampled_from(CTX_FIELDS)))
    lines = lookup(0, -72) + ["r8 = r0"] + call
    for _ in range(draw(st.integers(0, 2))):
        test = draw(st.sampled_from(["w s<", "r s<", "w >", "r >", "zext", "mask", "r s>"]))
        if test == "w s<":
            lines += ["if w0 s< 0 goto out"]
        elif test == "r s<":
            lines += ["if r0 s< 0 goto out"]
        elif test == "w >":
            lines += [f"if w0 > {draw(st.sampled_from([63, 255, 256]))} goto out"]
        elif test == "r >":
            lines += [f"if r0 > {draw(st.sampled_from([63, 255, 256]))} goto out"]
        elif test == "r s>":
            lines += [f"if r0 s> {draw(st.sampled_from([63, 255]))} goto out"]
        elif test == "zext":
            lines += ["w0 = w0"]
        else:
            lines += [f"r0 &= {draw(st.sampled_from([0xff, 0x3f]))}"]
    use = draw(st.sampled_from(["offset", "size", "stack"]))
    if use == "offset":
        lines += ["r8 += r0", "r0 = *(u8 *)(r8 +0)"]
    elif use == "size":
        lines += ["r2 = r0", "r1 = r10", "r1 += -64", "r3 = 0", "call 113"]
    else:
        lines += ["r1 = r10", f"r1 += -{size}", "r1 += r0", "r0 = *(u8 *)(r1 +0)"]
    return Shape("helper-length", _program_text(PROLOGUE, lines, OUT), (BIG,))


# -- which helpers exist, with which arguments ---------------------------------------------------------------------
HELPER_MAPS = (ARRAY, HASH, RINGBUF, PERF, PROGS, STACKS)
MENU = ["ctx", "stack", "0", "1", "8", "16", "unknown", "map", "task"]
STACK_ARGS = {ArgType.PTR_TO_MAP_KEY, ArgType.PTR_TO_MAP_VALUE, ArgType.PTR_TO_STACK, ArgType.PTR_TO_MEM,
              ArgType.PTR_TO_UNINIT_MEM, ArgType.PTR_TO_MEM_OR_NULL, ArgType.PTR_TO_UNINIT_MEM_OR_NULL,
              ArgType.PTR_TO_LONG, ArgType.PTR_TO_UNINIT_MAP_VALUE, ArgType.PTR_TO_MAP_VALUE_OR_NULL,
              ArgType.PTR_TO_STACK_OR_NULL, ArgType.PTR_TO_CONST_STR}
SIZE_ARGS = {ArgType.CONST_SIZE, ArgType.CONST_SIZE_OR_ZERO, ArgType.CONST_STACK_SIZE, ArgType.CONST_ALLOC_SIZE_OR_ZERO}
TASK_ARGS = {ArgType.PTR_TO_BTF_TASK, ArgType.PTR_TO_BTF_TASK_OR_NULL}


def _fitting_argument(draw: Draw, arg: ArgType) -> str:
    """The argument `check`'s prototype of the helper asks for (so the kernel can say whether it agrees)."""
    if arg in STACK_ARGS:
        return "stack"
    if arg in SIZE_ARGS:
        return draw(st.sampled_from(["8", "16", "1"]))
    if arg == ArgType.PTR_TO_CTX:
        return "ctx"
    if arg == ArgType.CONST_MAP_PTR:
        return "map"
    if arg in TASK_ARGS:
        return "task"
    if arg == ArgType.ANYTHING:
        return draw(st.sampled_from(["0", "unknown"]))
    return "0"


@st.composite
def helper_calls(draw: Draw) -> Shape:
    """Every helper `check` knows (and unknown ids), with the arguments its prototype asks for or, one time in
    four per argument, another from a menu: the context, initialised stack, small numbers, an unknown number,
    maps of each kind, a task; so a prototype looser or stricter than the kernel's shows."""
    registry = kprobe_helpers().helpers
    # three times in four one the runtime knows, else any id
    helper_id = draw(st.sampled_from(sorted(registry))) if draw(st.integers(0, 3)) else draw(st.integers(0, 260))
    prototype = registry.get(helper_id)
    args = prototype.args if prototype is not None else ()
    chosen = []
    for i in range(len(args) if prototype is not None else draw(st.integers(0, 5))):
        fitting = _fitting_argument(draw, args[i]) if i < len(args) else None
        chosen.append(fitting if fitting is not None and draw(st.integers(0, 3)) else draw(st.sampled_from(MENU)))
    lines = [f"*(u64 *)(r10 -{off}) = 0" for off in range(8, 72, 8)]
    if "task" in chosen:
        lines += ["call 158", "r6 = r0"]  # get_current_task_btf
    for reg, arg in enumerate(chosen, start=1):
        if arg == "ctx":
            lines += [f"r{reg} = r9"]
        elif arg == "stack":
            lines += [f"r{reg} = r10", f"r{reg} += -{draw(st.sampled_from([16, 32, 64]))}"]
        elif arg == "unknown":
            lines += [unknown(draw, f"r{reg}")]
        elif arg == "map":
            lines += [f"r{reg} = map[idx:{draw(st.integers(0, len(HELPER_MAPS) - 1))}] ll"]
        elif arg == "task":
            lines += [f"r{reg} = r6"]
        else:
            lines += [f"r{reg} = {arg}"]
    lines += [f"call {helper_id}"]
    if draw(st.integers(0, 3)):
        lines += ["r0 = 0"]
    return Shape("helper-calls", _program_text(PROLOGUE, lines, "exit"), HELPER_MAPS)


# -- a general mix of the shapes real kprobe programs use ----------------------------------------------------------
MIX_SCALARS = ["r0", "r2", "r3", "r4", "r5", "r7", "r8", "r9"]  # r6 keeps the context here
ALU = ["+=", "-=", "*=", "&=", "|=", "^=", "<<=", ">>=", "s>>=", "/=", "%="]
JUMPS = ["==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=", "&"]


@st.composite
def mix_snippet(draw: Draw) -> list[str]:
    reg = draw(st.sampled_from(MIX_SCALARS))
    other = draw(st.sampled_from(MIX_SCALARS))
    wide = draw(st.booleans())
    w = reg if wide else "w" + reg[1:]
    kind = draw(st.integers(0, 10))
    if kind == 0:
        size, off = draw(st.sampled_from([1, 2, 4, 8])), draw(st.integers(-8, 176))
        return [f"{reg} = *(u{size * 8} *)(r6 {off:+d})"]
    if kind == 1:
        op = draw(st.sampled_from(ALU))
        if draw(st.booleans()):
            return [f"{w} {op} {draw(st.integers(-70, 70))}"]
        return [f"{w} {op} {other if wide else 'w' + other[1:]}"]
    if kind == 2:
        return [f"{reg} = {draw(st.integers(-300, 300))}"]
    if kind == 3:
        slot = 8 * draw(st.integers(1, 8))
        if draw(st.booleans()):
            return [f"*(u64 *)(r10 -{slot}) = {reg}"]
        return [f"{reg} = *(u{draw(st.sampled_from([8, 16, 32, 64]))} *)(r10 -{slot})"]
    if kind == 4:  # a lookup with a computed key, its result read at a bounded index
        mask = draw(st.sampled_from([3, 7, 15, 31]))
        size = draw(st.sampled_from([1, 2, 4, 8]))
        m = draw(st.integers(0, 1))
        return [f"*(u32 *)(r10 -4) = w{reg[1:]}", f"r1 = map[idx:{m}] ll", "r2 = r10", "r2 += -4", "call 1",
                "if r0 == 0 goto +3", f"{other} &= {mask}", f"r0 += {other}", f"{reg} = *(u{size * 8} *)(r0 +0)"]
    if kind == 5:
        op = draw(st.sampled_from(JUMPS))
        rhs = other if draw(st.booleans()) else str(draw(st.integers(-20, 300)))
        return [f"if {reg} {op} {rhs} goto +{draw(st.integers(0, 2))}"]
    if kind == 6:  # a variable offset into a stack buffer
        mask = draw(st.sampled_from([7, 15, 31, 63]))
        return ["*(u64 *)(r10 -64) = 0", "*(u64 *)(r10 -56) = 0", f"{reg} &= {mask}", "r1 = r10", "r1 += -64",
                f"r1 += {reg}", f"{other} = *(u8 *)(r1 +0)"]
    if kind == 7:  # probe_read into the stack with a computed size
        return ["r1 = r10", "r1 += -32", f"r2 = {reg}", f"if r2 > {draw(st.integers(0, 40))} goto +2",
                "r3 = 0", "call 4", "r0 = 0"]
    if kind == 8:  # a copy bounded in place of the original
        return [f"{other} = {reg}", f"if {other} > {draw(st.integers(0, 20))} goto +2", "r1 = r10",
                f"r1 += -48\n*(u64 *)(r10 -48) = 0\nr1 += {reg}\n{other} = *(u8 *)(r1 +0)"]
    if kind == 9:
        return [f"{reg} = r6", f"{reg} = *(u64 *)({reg} +{8 * draw(st.integers(0, 20))})"]
    # a counted loop; a step of 0 or less never ends (the kernel takes a second to say so)
    step = draw(st.sampled_from([1, 1, 2, 3, 0, -1]))
    return [f"r9 = {draw(st.integers(0, 40))}", f"{reg} += 1", f"r9 -= {step}", "if r9 s> 0 goto -3"]


@st.composite
def mix_text(draw: Draw) -> str:
    """Context loads, ALU on 32 and 64 bits, stack spills, map lookups and indexed map values, forward branches,
    counted loops, helper calls with computed sizes."""
    lines = ["r6 = r1"] + [f"{r} = 0" for r in MIX_SCALARS if draw(st.booleans())]
    for part in draw(st.lists(mix_snippet(), min_size=1, max_size=12)):
        lines.extend(part)
    return "\n".join(lines + ["r0 = 0", "exit"])


MIX_MAPS = (ARRAY, MapDef("h", 1, 4, 8, 4))


def general_mix() -> st.SearchStrategy[Shape]:
    return mix_text().map(lambda asm: Shape("general", asm, MIX_MAPS))


SHAPES: dict[str, st.SearchStrategy[Shape]] = {
    "helper-stack-write": helper_stack_write(),
    "read-only-map": read_only_map(),
    "frozen-array": frozen_multi_entry(),
    "stack-pointer-escape": stack_pointer_escape(),
    "helper-memory-bounds": helper_memory_bounds(),
    "combined-stack": combined_stack(),
    "function-boundaries": function_boundaries(),
    "ringbuf-references": ringbuf_references(),
    "misaligned-atomics": misaligned_atomics(),
    "partial-spills": partial_spills(),
    "invalid-encoding": invalid_encodings(),
    "sign-extension": sign_extension(),
    "narrow-spills": narrow_spills(),
    "linked-scalars": linked_scalars(),
    "atomic-on-spill": atomic_on_spill(),
    "pointer-comparison": pointer_comparison(),
    "may-goto": may_goto_loops(),
    "helper-length": helper_length_tests(),
    "helper-calls": helper_calls(),
    "general": general_mix(),
}
ANY_SHAPE: st.SearchStrategy[Shape] = st.one_of(list(SHAPES.values()))


def draw(strategy: st.SearchStrategy[Any], count: int, seed: int) -> list[Any]:
    """`count` examples of `strategy` (fewer only if hypothesis runs out of distinct ones), the
    same for the same seed: how campaigns draw a chunk of programs outside a test."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seeded

    found: list[Any] = []

    @seeded(seed)
    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example: Any) -> None:
        if len(found) < count:
            found.append(example)

    collect()
    return found
