"""A mutation fuzzer over every input of every `bpfverify` command.

Each input kind has seeds (ELF objects, raw bytecode with sidecars, assembly in both syntaxes,
conformance files, and the inputs of `run`: --regs, --kmem, --maps, --env, --cpu/--ncpus, --mem)
and mutators (bytes, lines, JSON structure). `make_case(kind, rng)` builds one mutated input and
the command line that reads it; `judge` says what is wrong with how the command ended. A command
must end with exit 0-3, say what went wrong in one line on stderr (never a traceback or an
internal error), within its time and memory.

    python -m tests.fuzz --inputs 20000 --jobs 2 [--seed S] [--kinds elf,raw,...] [--out DIR]

runs a campaign: each input in a forked child (its peak memory read from the kernel, a child
still running after --hang seconds killed and counted as a hang); failures are saved under --out
with the command that shows them. The test suite runs a few hundred inputs per kind in-process
(tests/test_fuzz.py)."""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"
CORPUS = SHARED / "corpus" / "ebpf-samples"
CONFORMANCE = SHARED / "corpus" / "conformance" / "tests"

# limits every fuzzed command runs with (a campaign's hang bound is well above them)
COMMAND_TIMEOUT = "10"
HANG_SECONDS = 30.0
MEMORY_LIMIT_MB = 1024
OK_EXITS = (0, 1, 2, 3)
MAX_INPUT_BYTES = 4 << 20  # each generated file stays below this (the generator's own memory too)

INTERESTING_INTS = [0, 1, -1, 7, 8, 16, 255, 256, 511, 512, 4095, 4096, 65535, 65536, 0x7FFF_FFFF, 0x8000_0000,
                    0xFFFF_FFFF, 1 << 32, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 1 << 64, -(1 << 31), -(1 << 63),
                    1 << 29, (1 << 29) - 1, 1 << 20, 4194304, 32768, 1_000_000_000]
INTERESTING_JSON: list[Any] = [None, True, False, 0.5, 1.0, "", "0x", "zz", "0xffffffffffffffff", "-1", "00",
                               "0x7fffffff", "\n", "x" * 300, [], {}, [1], {"a": 1}, [[[]]], {"": {}}]
UNKNOWN_KEYS = ["__class__", "next_ktime", "__dict__", "extra", "", "maps", "entries", "x\ny"]


# -- seeds -------------------------------------------------------------------------------

KERNEL_PROGRAMS = {
    "lookup": """
        r1 = 0
        *(u32 *)(r10 -4) = r1
        r2 = r10
        r2 += -4
        r1 = map[idx:0] ll
        call 1
        if r0 == 0 goto out
        r1 = 1
        lock *(u64 *)(r0 +0) += r1
out:    r0 = 0
        exit""",
    "update": """
        r6 = r1
        r1 = *(u64 *)(r6 +112)
        *(u64 *)(r10 -8) = r1
        *(u64 *)(r10 -16) = r1
        r2 = r10
        r2 += -8
        r3 = r10
        r3 += -16
        r4 = 0
        r1 = map[idx:0] ll
        call 2
        r0 = 1
        exit""",
    "comm": """
        r1 = r10
        r1 += -16
        r2 = 16
        call 16
        r1 = r10
        r1 += -64
        r2 = 32
        r3 = *(u64 *)(r10 -16)
        call 4
        r0 = 0
        exit""",
    "stack": """
        r6 = r1
        r2 = r10
        r2 += -64
        r3 = 64
        r4 = 0
        r1 = r6
        call 67
        call 5
        r0 = 0
        exit""",
    "ringbuf": """
        r1 = map[idx:0] ll
        r2 = 16
        r3 = 0
        call 131
        if r0 == 0 goto out
        r1 = 7
        *(u64 *)(r0 +0) = r1
        r1 = r0
        r2 = 0
        call 132
out:    r0 = 0
        exit""",
    "loop": """
        r0 = 0
        r1 = 100
loop:   r0 += r1
        r1 += -1
        if r1 != 0 goto loop
        exit""",
    "calls": """
        r1 = 5
        call pc+2
        r0 += 1
        exit
        r0 = r1
        r0 *= 3
        exit""",
    "printk": """
        r1 = 0x0a6425
        *(u64 *)(r10 -8) = r1
        r1 = r10
        r1 += -8
        r2 = 8
        r3 = 42
        call 6
        r0 = 0
        exit""",
}
SIDECARS: dict[str, dict[str, Any]] = {
    "lookup": {"prog_type": 2, "license": "GPL", "maps": [
        {"name": "counts", "type": 2, "key_size": 4, "value_size": 8, "max_entries": 4}]},
    "update": {"prog_type": "kprobe", "license": "GPL", "kern_version": 0, "maps": [
        {"name": "seen", "type": 1, "key_size": 8, "value_size": 8, "max_entries": 16, "flags": 0}]},
    "ringbuf": {"prog_type": 2, "license": "GPL", "maps": [
        {"name": "events", "type": 27, "key_size": 0, "value_size": 0, "max_entries": 4096}]},
    "comm": {"prog_type": 2, "license": "GPL"},
    "stack": {"prog_type": 2, "license": "GPL"},
    "printk": {"prog_type": 2, "license": "GPL"},
    "data": {"prog_type": 2, "license": "GPL", "maps": [
        {"name": ".rodata", "type": 2, "key_size": 4, "value_size": 8, "max_entries": 1,
         "initial_value_hex": "0102030405060708", "frozen": True},
        {"name": "outer", "type": 12, "key_size": 4, "value_size": 4, "max_entries": 2, "inner_idx": 0}]},
}
CONFORMANCE_SEEDS = {
    "sum": "-- asm\nmov %r0, 0\nldxdw %r3, [%r1]\nldxdw %r4, [%r1+8]\nadd %r3, %r4\nmov %r0, %r3\nexit\n"
           "-- mem\n01 00 00 00 00 00 00 00 29 00 00 00 00 00 00 00\n-- result\n0x2a\n",
    "loop": "-- asm\nmov %r0, 0\nmov %r1, 10\nadd %r0, %r1\nsub %r1, 1\njne %r1, 0, -3\nexit\n-- result\n55\n",
    "raw": "-- raw\n0xb7 0x00 0x00 0x00 0x05 0x00 0x00 0x00\n0x95 0x00 0x00 0x00 0x00 0x00 0x00 0x00\n-- result\n5\n",
    "error": "-- asm\nmov %r0, 1\nbogus %r1\nexit\n-- error\nunknown mnemonic\n",
}
ELF_SEEDS = ["examples/count_writes.o", "examples/unchecked_lookup.o"]
CORPUS_SEEDS = ["linux/tracex1_kern.o", "new_linux/tracex2_kern.o", "cilium-examples/ringbuffer_bpf_bpfel.o",
                "build/bpf2bpf.o", "linux/tracex4_kern.o"]
KMEM_SEED = [{"address": "0xffff888000200000", "hex": "68656c6c6f00", "symbol": "name"},
             {"address": 4096, "hex": "0102030405060708"}]
ENV_SEED = {"pid": 7, "tgid": "0x10", "uid": 0, "gid": 0, "comm": "sh", "ktime_ns": 5, "boot_ns": 6,
            "time_step_ns": 10, "current_task": "0xffff888001000000", "cgroup_id": 3,
            "under_cgroup": {"0": True}, "stack": [1, "0xffffffff81000000"], "perf_counters": {"0": 9},
            "random_seed": 5, "in_nmi": False, "jiffies": 1}
MAPS_SEED = [{"name": "counts", "entries": [{"key": "00000000", "value": "0100000000000000"}]},
             {"index": 0, "type": "array", "entries": [{"key": "01000000", "value": "0200000000000000"}]}]


def _assemble(text: str) -> bytes:
    from interp.asm.kernel_syntax import assemble
    from interp.isa.insn import encode

    return encode(assemble(text))


def _conformance_seed_texts() -> list[str]:
    texts = list(CONFORMANCE_SEEDS.values())
    if CONFORMANCE.is_dir():
        files = sorted(CONFORMANCE.glob("*.data"))
        texts += [f.read_text(errors="replace") for f in files[:: max(1, len(files) // 24)]]
    return texts


def _elf_seeds() -> list[bytes]:
    seeds = [(PROJECT / name).read_bytes() for name in ELF_SEEDS]
    seeds += [(CORPUS / name).read_bytes() for name in CORPUS_SEEDS if (CORPUS / name).is_file()]
    return seeds


# -- mutators -----------------------------------------------------------------------------


def mutate_bytes(data: bytes, rng: random.Random, slot_aware: bool = False) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 8))):
        if len(out) > MAX_INPUT_BYTES:
            break
        choice = rng.randrange(7)
        if not out:
            out += bytes(rng.randrange(1, 16))
            continue
        at = rng.randrange(len(out))
        if choice == 0:
            out[at] ^= 1 << rng.randrange(8)
        elif choice == 1:
            out[at] = rng.randrange(256)
        elif choice == 2:  # an interesting integer of 1, 2, 4 or 8 bytes
            width = rng.choice((1, 2, 4, 8))
            value = rng.choice(INTERESTING_INTS) & ((1 << (8 * width)) - 1)
            out[at : at + width] = value.to_bytes(width, "little")
        elif choice == 3:
            del out[at : at + rng.choice((1, 8, rng.randrange(1, 64)))]
        elif choice == 4:  # duplicate a stretch (repeat 8-byte slots in bytecode)
            size = 8 if slot_aware else rng.randrange(1, 64)
            start = at - at % 8 if slot_aware else at
            piece = out[start : start + size]
            out[start:start] = piece * rng.choice((1, 2, 100))
        elif choice == 5:
            del out[rng.randrange(len(out) + 1) :]
        else:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.choice((1, 8))))
    return bytes(out)


def mutate_elf(data: bytes, rng: random.Random) -> bytes:
    """Byte damage, often at section headers and the ELF header, where sizes and offsets live."""
    import struct

    out = bytearray(data)
    if rng.random() < 0.5 and len(out) >= 64:
        e_shoff = struct.unpack_from("<Q", out, 0x28)[0]
        e_shnum = struct.unpack_from("<H", out, 0x3C)[0]
        if e_shnum and e_shoff + 64 * e_shnum <= len(out):
            header = e_shoff + 64 * rng.randrange(e_shnum)
            field_at = header + rng.choice((4, 8, 16, 24, 32, 40, 44, 48, 56))
            width = 4 if field_at - header in (4, 40, 44) else 8
            value = rng.choice(INTERESTING_INTS) & ((1 << (8 * width)) - 1)
            out[field_at : field_at + width] = value.to_bytes(width, "little")
            return bytes(out)
    return mutate_bytes(data, rng)


def _text_size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def mutate_text(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    for _ in range(rng.choice((1, 1, 2, 4))):
        choice = rng.randrange(7)
        if not lines:
            lines = ["exit"]
        at = rng.randrange(len(lines))
        if choice == 0:
            del lines[at]
        elif choice == 1:
            lines.insert(at, lines[rng.randrange(len(lines))])
        elif choice == 2:
            lines[at], lines[-1] = lines[-1], lines[at]
        elif choice == 3:  # a number replaced by an interesting one
            tokens = lines[at].replace(",", " , ").split(" ")
            numeric = [i for i, t in enumerate(tokens) if t.strip().lstrip("-+").replace("x", "").isalnum()]
            if numeric:
                value = rng.choice(INTERESTING_INTS)
                tokens[rng.choice(numeric)] = hex(value) if rng.random() < 0.5 else str(value)
            lines[at] = " ".join(tokens).replace(" , ", ",")
        elif choice == 4 and len(lines[at]) < 10_000:
            factor = rng.choice((2, 50))
            if _text_size(lines) + len(lines[at]) * (factor - 1) <= MAX_INPUT_BYTES:  # the generator's bound
                lines[at] = lines[at] * factor
        elif choice == 5 and len(lines) < 10_000:
            count = rng.choice((10, 1000))
            if _text_size(lines) + (len(lines[at]) + 1) * count <= MAX_INPUT_BYTES:
                lines[at:at] = [lines[at]] * count
        else:
            return mutate_bytes("\n".join(lines).encode(), rng).decode("utf-8", "replace")
    return "\n".join(lines) + "\n"


def _random_path(value: Any, rng: random.Random) -> tuple:
    """A node of the document, by a random walk from its root (documents may be large)."""
    path: tuple = ()
    while isinstance(value, (dict, list)) and value and rng.random() < 0.75:
        key = rng.choice(list(value)) if isinstance(value, dict) else rng.randrange(len(value))
        path += (key,)
        value = value[key]
    return path


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


def _get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


def _dumps(doc: Any) -> str:
    try:
        return json.dumps(doc)
    except RecursionError:  # mutations nested it past what Python's encoder takes
        return "[" * 5000 + "]" * 5000


def mutate_json(doc: Any, rng: random.Random) -> str:
    """Structure-aware damage to a JSON document, sometimes followed by damage to its text."""
    for _ in range(rng.choice((1, 1, 2, 3))):
        path = _random_path(doc, rng)
        target = _get(doc, path)
        choice = rng.randrange(7)
        if choice == 0:
            new: Any = rng.choice(INTERESTING_INTS)
        elif choice == 1:
            new = rng.choice(INTERESTING_JSON)
        elif choice == 2 and isinstance(target, dict) and target:
            new = dict(target)
            del new[rng.choice(list(new))]
        elif choice == 3 and isinstance(target, dict):
            new = {**target, rng.choice(UNKNOWN_KEYS): rng.choice(INTERESTING_JSON + INTERESTING_INTS)}
        elif choice == 4 and isinstance(target, list) and target:
            factor = rng.choice((2, 100, 5000))
            # (repeated lists share their items: keep what they spell out within the input bound)
            new = target * max(1, min(factor, MAX_INPUT_BYTES // max(len(_dumps(target)), 1)))
        elif choice == 5:
            depth = rng.choice((50, 500, 5000))
            new = json.loads("[" * depth + "]" * depth) if depth < 900 else None
            if new is None:  # too deep for Python's parser to build: written as text below
                return json.dumps(_replace(doc, path, "@DEEP@")).replace('"@DEEP@"', "[" * depth + "]" * depth)
        else:
            new = [target] if rng.random() < 0.5 else {"value": target}
        doc = _replace(doc, path, new)
        if len(_dumps(doc)) > MAX_INPUT_BYTES:
            break
    text = _dumps(doc)
    if rng.random() < 0.15:
        text = mutate_bytes(text.encode(), rng).decode("utf-8", "replace")
    return text


# -- cases --------------------------------------------------------------------------------


@dataclass
class Case:
    """One input: files to write (name -> bytes) and the command line, with `{dir}` for their folder."""

    kind: str
    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)

    def command(self, directory: Path) -> list[str]:
        return [a.replace("{dir}", str(directory)) for a in self.argv]


PROGRAM_COMMANDS = [
    ["check", "--timeout", COMMAND_TIMEOUT],
    ["check", "--timeout", COMMAND_TIMEOUT, "--format", "sarif"],
    ["check", "--timeout", COMMAND_TIMEOUT, "--profile", "linux-4.1"],
    ["run", "--timeout", COMMAND_TIMEOUT],
    ["run", "--timeout", COMMAND_TIMEOUT, "--json"],
    ["disasm"],
    ["disasm", "--json", "--syntax", "conformance"],
    ["cfg", "--format", "json"],
]


def _program_case(kind: str, name: str, files: dict[str, bytes], rng: random.Random) -> Case:
    command = list(rng.choice(PROGRAM_COMMANDS))
    return Case(kind, [command[0], "{dir}/" + name, *command[1:]], files)


def case_elf(rng: random.Random) -> Case:
    data = mutate_elf(rng.choice(_cached("elf", _elf_seeds)), rng)
    return _program_case("elf", "prog.o", {"prog.o": data}, rng)


def case_raw(rng: random.Random) -> Case:
    name = rng.choice(list(SIDECARS))
    code = _cached(f"bin-{name}", lambda: _assemble(KERNEL_PROGRAMS.get(name, KERNEL_PROGRAMS["lookup"])))
    files = {}
    which = rng.randrange(3)
    files["prog.bin"] = mutate_bytes(code, rng, slot_aware=True) if which != 1 else code
    files["prog.json"] = (mutate_json(SIDECARS[name], rng) if which != 0 else json.dumps(SIDECARS[name])).encode()
    return _program_case("raw", "prog.bin", files, rng)


def case_asm_kernel(rng: random.Random) -> Case:
    text = mutate_text(rng.choice(list(KERNEL_PROGRAMS.values())), rng)
    commands = PROGRAM_COMMANDS + [["asm"], ["asm", "-o", "{dir}/out.bin"]]
    command = list(rng.choice(commands))
    return Case("asm-kernel", [command[0], "{dir}/prog.s", *command[1:]], {"prog.s": text.encode()})


def case_asm_conformance(rng: random.Random) -> Case:
    sources = [t.split("-- asm\n", 1)[1].split("\n--", 1)[0] for t in _cached("conf", _conformance_seed_texts)
               if "-- asm\n" in t]
    text = mutate_text(rng.choice(sources), rng)
    commands = PROGRAM_COMMANDS + [["asm"], ["run", "--mem", "01020304050607080910111213141516"]]
    command = list(rng.choice(commands))
    return Case("asm-conformance", [command[0], "{dir}/prog.asm", *command[1:]], {"prog.asm": text.encode()})


def case_conformance(rng: random.Random) -> Case:
    text = mutate_text(rng.choice(_cached("conf", _conformance_seed_texts)), rng)
    command = rng.choice([["conformance"], ["conformance", "-v", "--budget", "1000000"], ["run", "--timeout", COMMAND_TIMEOUT],
                          ["check", "--timeout", COMMAND_TIMEOUT], ["disasm"], ["bench", "--repeat", "1",
                                                                                "--budget", "1000000"]])
    return Case("conformance", [command[0], "{dir}/test.data", *command[1:]], {"test.data": text.encode()})


def _run_target(rng: random.Random) -> tuple[dict[str, bytes], str]:
    if rng.random() < 0.3:
        return {"prog.o": (PROJECT / "examples" / "count_writes.o").read_bytes()}, "{dir}/prog.o"
    name = rng.choice(["lookup", "update", "ringbuf", "comm", "stack", "printk"])
    code = _cached(f"bin-{name}", lambda: _assemble(KERNEL_PROGRAMS[name]))
    return {"prog.bin": code, "prog.json": json.dumps(SIDECARS[name]).encode()}, "{dir}/prog.bin"


def case_run_inputs(rng: random.Random) -> Case:
    files, target = _run_target(rng)
    argv = ["run", target, "--timeout", COMMAND_TIMEOUT]
    what = rng.randrange(8)
    if what == 0:
        regs = rng.choice(["di=1,si=0x2000", "ax=1", "arg1=5,ret=7", "sp=0xffff888000200000"])
        argv += ["--regs", mutate_text(regs, rng).strip("\n") if rng.random() < 0.8 else regs + "\n2"]
    elif what == 1:
        files["kmem.json"] = mutate_json(KMEM_SEED, rng).encode()
        argv += ["--kmem", "{dir}/kmem.json", "--regs", "di=0xffff888000200000"]
    elif what == 2:
        files["maps.json"] = mutate_json(MAPS_SEED if rng.random() < 0.7 else {"r0": 0, "maps": MAPS_SEED}, rng).encode()
        argv += ["--maps", "{dir}/maps.json"]
    elif what == 3:
        files["env.json"] = mutate_json(ENV_SEED, rng).encode()
        argv += ["--env", "{dir}/env.json"]
    elif what == 4:
        argv += ["--cpu", str(rng.choice(INTERESTING_INTS[:12])), "--ncpus", str(rng.choice(INTERESTING_INTS))]
    elif what == 5:
        argv += ["--mem", rng.choice(["00", "zz", "0x0102", "", "1" * 3, "00" * 4096])]
    elif what == 6:
        argv += [rng.choice(["--budget", "--max-entries", "--max-memory", "--timeout"]),
                 str(rng.choice(INTERESTING_INTS + [0.5]))]
    else:
        argv += ["--trace", "--budget", "1000"] + (["--json"] if rng.random() < 0.5 else [])
    return Case("run-inputs", argv, files)


KINDS: dict[str, Callable[[random.Random], Case]] = {
    "elf": case_elf,
    "raw": case_raw,
    "asm-kernel": case_asm_kernel,
    "asm-conformance": case_asm_conformance,
    "conformance": case_conformance,
    "run-inputs": case_run_inputs,
}
_CACHE: dict[str, Any] = {}


def _cached(key: str, make: Callable[[], Any]) -> Any:
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def make_case(kind: str, rng: random.Random) -> Case:
    return KINDS[kind](rng)


def write_case(case: Case, directory: Path) -> list[str]:
    assert all(len(data) <= 2 * MAX_INPUT_BYTES for data in case.files.values()), "generator out of bounds"
    for name, data in case.files.items():
        (directory / name).write_bytes(data)
    return case.command(directory)


# -- judging --------------------------------------------------------------------------


def judge(code: int, stderr: str, argv: list[str]) -> str | None:
    """What is wrong with how a command ended (None when nothing is)."""
    if "Traceback" in stderr:
        return "traceback"
    if "internal error" in stderr or code == 70:
        return "internal error"
    if code not in OK_EXITS:
        return f"exit {code}"
    lines = stderr.splitlines()
    if "--trace" not in argv and len(lines) > 1:
        return "multi-line error"
    if code == 2 and len(lines) != 1:
        return "bad input without a one-line error"
    return None


# -- campaign ----------------------------------------------------------------------------


def _child(argv: list[str], out: Path) -> None:
    """In a forked child: run the command with stdout/stderr in files, exit with its code."""
    try:
        stdout = os.open(out / "stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        stderr = os.open(out / "stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        from verifier.cli import main

        code = main(argv)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 - anything escaping main is what the campaign looks for
        import traceback

        traceback.print_exc()
        code = 99
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _generate(kind: str, seed: str, folder: Path) -> tuple[Case, list[str]]:
    """Make and write one input in a child of its own: however large a mutation grows while it is
    made, the campaign's process (whose memory every forked run starts from) stays small."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            case = make_case(kind, random.Random(seed))
            argv = write_case(case, folder)
            (folder / ".case").write_text(json.dumps({"argv": argv}))
        except BaseException:  # noqa: BLE001 - a generator failure is reported by the parent
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"the generator failed on input {seed} ({kind})")
    argv = json.loads((folder / ".case").read_text())["argv"]
    (folder / ".case").unlink()
    return Case(kind, argv), argv


@dataclass
class Tally:
    inputs: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    exits: dict[int, int] = field(default_factory=dict)
    peak_kb: int = 0
    slowest: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)


def campaign(inputs: int, jobs: int, seed: int, kinds: list[str], out: Path, hang: float) -> Tally:
    import verifier.cli  # noqa: F401 - imported once here, so each forked child starts at once

    tally = Tally()
    for kind in kinds:  # the seeds, read once here for every generator child
        for n in range(20):
            make_case(kind, random.Random(n))
    work = Path(tempfile.mkdtemp(prefix="bpfverify-fuzz-"))
    running: dict[int, tuple[float, int, Case, Path, list[str]]] = {}
    issued = 0
    started = time.monotonic()

    def finish(pid: int, status: int, rusage: Any, hung: bool) -> None:
        begun, n, case, folder, argv = running.pop(pid)
        elapsed = time.monotonic() - begun
        code = os.waitstatus_to_exitcode(status) if not hung else -9
        stderr = (folder / "stderr").read_text(errors="replace") if (folder / "stderr").exists() else ""
        problem = "hang" if hung else judge(code, stderr, argv)
        peak = rusage.ru_maxrss if rusage is not None else 0
        if problem is None and peak > MEMORY_LIMIT_MB * 1024:
            problem = "memory"
        tally.inputs += 1
        tally.exits[code] = tally.exits.get(code, 0) + 1
        tally.by_kind[case.kind] = tally.by_kind.get(case.kind, 0) + 1
        tally.peak_kb = max(tally.peak_kb, peak)
        tally.slowest = max(tally.slowest, elapsed)
        if problem is not None:
            tally.failures[problem] = tally.failures.get(problem, 0) + 1
            keep = out / f"{n:06d}-{case.kind}-{problem.replace(' ', '-')}"
            shutil.copytree(folder, keep, dirs_exist_ok=True)
            (keep / "command").write_text(" ".join(["bpfverify", *[repr(a) if "\n" in a else a for a in argv]]) +
                                          f"\n# exit {code}, {elapsed:.1f} s, peak {peak // 1024} MB\n")
            print(f"FAIL {problem}: input {n} ({case.kind}) kept in {keep}", flush=True)
        shutil.rmtree(folder, ignore_errors=True)

    try:
        while issued < inputs or running:
            while issued < inputs and len(running) < jobs:
                folder = work / str(issued)
                folder.mkdir()
                case, argv = _generate(kinds[issued % len(kinds)], f"{seed}:{issued}", folder)
                pid = os.fork()
                if pid == 0:
                    _child(argv, folder)
                running[pid] = (time.monotonic(), issued, case, folder, argv)
                issued += 1
            pid, status, rusage = os.wait4(-1, os.WNOHANG)
            if pid:
                finish(pid, status, rusage, False)
                continue
            now = time.monotonic()
            for pid, (begun, *_rest) in list(running.items()):
                if now - begun > hang:
                    os.kill(pid, signal.SIGKILL)
                    _, status, rusage = os.wait4(pid, 0)
                    finish(pid, status, rusage, True)
            time.sleep(0.005)
            if tally.inputs and tally.inputs % 1000 == 0 and not running:
                pass
            if issued % 1000 == 0 and issued and len(running) == jobs:
                rate = tally.inputs / max(now - started, 1e-9)
                print(f"{tally.inputs} inputs, {sum(tally.failures.values())} failures, {rate:.1f}/s", flush=True,
                      end="\r")
    finally:
        for pid in list(running):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=1000, help="inputs to run (default 1000)")
    parser.add_argument("--jobs", type=int, default=2, help="inputs run at once (default 2)")
    parser.add_argument("--seed", default="0", help="the campaign's seed: the same seed gives the same inputs")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"input kinds (default all: {','.join(KINDS)})")
    parser.add_argument("--out", default="fuzz-failures", help="where failing inputs are kept")
    parser.add_argument("--hang", type=float, default=HANG_SECONDS, help="seconds after which an input hangs")
    args = parser.parse_args(argv)
    kinds = args.kinds.split(",")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or args.inputs <= 0 or args.jobs <= 0:
        parser.error(f"unknown kinds {unknown}" if unknown else "--inputs and --jobs must be positive")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    tally = campaign(args.inputs, args.jobs, int(args.seed) if args.seed.isdigit() else hash(args.seed), kinds,
                     out, args.hang)
    elapsed = time.monotonic() - start
    failures = sum(tally.failures.values())
    print(f"\n{tally.inputs} inputs in {elapsed:.0f} s ({', '.join(f'{k} {n}' for k, n in sorted(tally.by_kind.items()))})")
    print(f"exit codes: {', '.join(f'{c}: {n}' for c, n in sorted(tally.exits.items()))}")
    print(f"tracebacks {tally.failures.get('traceback', 0)}, internal errors {tally.failures.get('internal error', 0)}, "
          f"hangs ({args.hang:g} s) {tally.failures.get('hang', 0)}, multi-line errors "
          f"{tally.failures.get('multi-line error', 0) + tally.failures.get('bad input without a one-line error', 0)}, "
          f"over {MEMORY_LIMIT_MB} MB {tally.failures.get('memory', 0)}, other {failures - sum(tally.failures.get(k, 0) for k in ('traceback', 'internal error', 'hang', 'multi-line error', 'bad input without a one-line error', 'memory'))}")
    print(f"peak memory of a run {tally.peak_kb / 1024:.0f} MB; slowest run {tally.slowest:.1f} s")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.exit(main())
