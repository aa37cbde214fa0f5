"""`bpfverify run`: a program on the interpreter, a kprobe program fired once on an emulated kprobe."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from interp.conformance import run_machine_with_memory
from interp.image import ProgramImage
from interp.kprobe import MAX_CPUS
from interp.listing import insn_texts
from interp.maps import MAPS_SCHEMA, MapError
from interp.memory import AddressSpace
from interp.sources import SourceError, read_program

from .cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNKNOWN,
    GRACE_S,
    TimeLimit,
    UsageError,
    check_timeout,
    one_line,
    parse_hex,
    positive,
    target_btf,
    time_limit,
)


def memory_argument(args: argparse.Namespace) -> bytes | None:
    if args.mem is not None and args.mem_file is not None:
        raise UsageError("give --mem or --mem-file, not both")
    if args.mem is not None:
        return parse_hex(args.mem, "--mem")
    if args.mem_file is not None:
        try:
            return Path(args.mem_file).read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read {args.mem_file}: {exc.strerror or exc}") from None
    return None


def cmd_run(args: argparse.Namespace) -> int:
    check_timeout(args.timeout)
    positive("--budget", args.budget, "instructions")
    positive("--max-memory", args.max_memory, "megabytes")
    if args.max_entries < 0:
        raise UsageError(f"--max-entries {args.max_entries}: give a number of entries, 0 or more")
    if not 1 <= args.ncpus <= MAX_CPUS:
        raise UsageError(f"--ncpus {args.ncpus}: give a number of CPUs from 1 to {MAX_CPUS}")
    if not 0 <= args.cpu < args.ncpus:
        raise UsageError(f"--cpu {args.cpu} is not one of the {args.ncpus} CPUs (--ncpus)")
    try:
        with time_limit(args.timeout + GRACE_S, "the run", args.timeout):
            return _run(args)
    except TimeLimit as exc:
        print(f"bpfverify: {one_line(args.file)}: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN


def _run(args: argparse.Namespace) -> int:
    source = read_program(Path(args.file), args.syntax, target_btf(args))
    program = source.select(args.section)
    mem = memory_argument(args)
    if mem is None and program.prog_type == "kprobe" and source.mem is None:
        return _run_kprobe(args, source, program)
    if any(getattr(args, name) is not None for name in ("regs", "kmem", "maps", "env")):
        raise UsageError("--regs, --kmem, --maps and --env apply to kprobe programs run without --mem")
    image = ProgramImage(program, budget=args.budget, entry_args=2, trace=tracer(args, program),
                         space=AddressSpace(limit=args.max_memory << 20))
    result = run_machine_with_memory(image.machine, mem if mem is not None else source.mem or b"")
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print_result(result.r0, result.fault, result.insns_executed)
    return EXIT_FAILED if result.fault is not None else EXIT_OK


def print_result(r0: int | None, fault: Any, executed: int) -> None:
    if fault is not None:
        print(f"fault at insn {fault.pc} ({fault.insn}): {fault.kind.value}: {fault.message}")
    else:
        assert r0 is not None
        print(f"r0 = {r0:#x} ({r0})")
    print(f"insns executed: {executed}")


def tracer(args: argparse.Namespace, program: Any) -> Any:
    if not getattr(args, "trace", False):
        return None
    by_pc = insn_texts(program)
    previous: list[Any] = [None] * 11

    def trace(pc: int, regs: tuple) -> None:
        changed = [f"r{i}={value:#x}" for i, value in enumerate(regs)
                   if value is not None and value != previous[i]]
        previous[:] = regs
        note = f"  ; {' '.join(changed)}" if changed else ""
        print(f"{pc:5d}: {by_pc[pc]}{note}", file=sys.stderr if args.json else sys.stdout)

    return trace


def _seed_maps(session: Any, spec: Any, path: str) -> None:
    """Map contents of MAPS_SCHEMA (already checked) stored in the session's maps."""
    if isinstance(spec, dict):
        spec = spec["maps"]  # the whole output of a previous `run --json`
    for n, item in enumerate(spec):
        if "index" in item and item["index"] < len(session.maps):
            state = session.maps[item["index"]]
        else:
            found = [m for m in session.maps if m.name == item.get("name")]
            if not found:
                names = ", ".join(m.name for m in session.maps) or "none"
                raise SourceError(f"--maps {path}: [{n}]: the program has no map "
                                  f"{json.dumps(item.get('name', item.get('index')))} (its maps: {names})")
            state = found[0]
        try:
            state.load_entries(item["entries"])
        except MapError as exc:
            raise SourceError(f"--maps {path}: {exc}") from None


def _run_kprobe(args: argparse.Namespace, source: Any, program: Any) -> int:
    from interp import json_input
    from interp.kprobe import KprobeSession, PerfEvent
    from interp.pt_regs import parse_regs
    from interp.world import Environment, KernelMemory

    try:
        regs = parse_regs(args.regs or "")
    except ValueError as exc:
        raise UsageError(f"--regs: {exc}") from None
    kmem = KernelMemory.from_file(Path(args.kmem)) if args.kmem else KernelMemory()
    env = Environment.from_file(Path(args.env)) if args.env else Environment()
    maps = json_input.load(Path(args.maps), MAPS_SCHEMA) if args.maps else None
    session = KprobeSession(source.programs, arch=args.arch, kmem=kmem, env=env, ncpus=args.ncpus,
                            budget=args.budget, trace=tracer(args, program),
                            space=AddressSpace(limit=args.max_memory << 20))
    try:
        ctx = session.context(regs)
    except ValueError as exc:
        raise UsageError(f"--regs: {exc}") from None
    if maps is not None:
        _seed_maps(session, maps, args.maps)
    event = PerfEvent(session, program.attach_to or program.name)
    event.set_bpf(source.programs.index(program))
    fired = event.fire(ctx, cpu=args.cpu, in_nmi=env.in_nmi)
    event.close()
    outcome = fired.outcome
    fault = outcome.fault if outcome else None
    executed = outcome.insns_executed if outcome else 0
    if args.json:
        print(json.dumps({
            "r0": fired.r0, "stored": fired.stored, "insns_executed": executed,
            "fault": fault.to_json() if fault else None, "output": session.output, "maps": session.dump_maps(),
        }))
        return EXIT_FAILED if fault is not None else EXIT_OK
    print_result(fired.r0, fault, executed)
    if fault is None:
        print("event stored" if fired.stored else "event dropped (r0 = 0)")
    for item in session.output:
        details = " ".join(f"{k}={v}" for k, v in item.items() if k not in ("kind", "text"))
        print(f"output: {item['kind']}: {item.get('text', details)}")
    for dump in session.dump_maps():
        print(f"map {dump['index']} {dump['name']} ({dump['type']}): {len(dump['entries'])} entries")
        for entry in dump["entries"][:args.max_entries]:
            print(f"  key {entry['key']} value {entry['value']}")
        if len(dump["entries"]) > args.max_entries:
            print(f"  ... {len(dump['entries']) - args.max_entries} more (--max-entries, or --json for all)")
    return EXIT_FAILED if fault is not None else EXIT_OK
