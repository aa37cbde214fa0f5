"""Which helpers the running kernel lets each tracing program type call.

    python -m interp.probe_helpers [--out FILE] [--check FILE]

For every helper id of `enum bpf_func_id` and every program type of the linux-6.18 profile, a
two-instruction program (`call N; exit`) is loaded, as libbpf's helper probing does, and the
verifier's log is read: "invalid func", "unknown func" and "program of this type cannot use
helper" mean the type does not offer the helper; any other outcome means it does (the program
fails on its missing arguments, which is beside the point). A helper that is offered can still
be refused whatever its arguments ("helper call might sleep in a non-sleepable prog", "not
supported for program type"): those are kept apart, with the kernel's words. Each offered helper
is loaded once more under a non-GPL license to learn whether it is GPL-only.

Without options, writes the result to `interp/data/linux-6.18-helpers.json`, the profile's data;
with `--check FILE`, compares the running kernel with FILE and lists every difference (exit 1
when FILE allows a helper the kernel does not). Exit 2 where bpf() cannot be used."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .builder import Prog
from .helper_ids import HELPER_NAMES
from .helper_sets import DATA_FILE, HelperSets, TypeHelpers
from .kernel_bpf import PROG_TYPES, BpfUnavailable, prog_load

NOT_OFFERED = ("invalid func ", "unknown func ", "program of this type cannot use helper ")
# offered by the type's func_proto table, yet refused before any argument is looked at
REFUSED = ("helper call might sleep in a non-sleepable prog", "not supported for program type",
           "helper call is not allowed in probe")
GPL_REFUSAL = "cannot call GPL-restricted function"
PROBED_IDS = range(1, max(HELPER_NAMES) + 1)
COMMAND = "python -m interp.probe_helpers"


@dataclass(frozen=True)
class Verdict:
    offered: bool
    refused: str | None = None  # the kernel's words where an offered helper is refused anyway


def _probe_program(helper_id: int) -> list:
    return Prog().call(helper_id).exit().build()


def probe_one(prog_type: int, helper_id: int) -> Verdict:
    log = prog_load(_probe_program(helper_id), prog_type).log
    if any(marker in log for marker in NOT_OFFERED):
        return Verdict(False)
    for line in log.splitlines():
        if any(marker in line for marker in REFUSED):
            return Verdict(True, line.strip())
    return Verdict(True)


def gpl_only(prog_type: int, helper_id: int) -> bool:
    return GPL_REFUSAL in prog_load(_probe_program(helper_id), prog_type, license="Proprietary").log


def probe_type(name: str) -> TypeHelpers:
    prog_type = PROG_TYPES[name]
    allowed: dict[int, bool] = {}
    refused: dict[int, str] = {}
    for helper_id in PROBED_IDS:
        verdict = probe_one(prog_type, helper_id)
        if not verdict.offered:
            continue
        if verdict.refused is not None:
            refused[helper_id] = verdict.refused
        else:
            allowed[helper_id] = gpl_only(prog_type, helper_id)
    return TypeHelpers(name, prog_type, allowed, refused)


def probe_kernel(types: list[str]) -> HelperSets:
    return HelperSets(os.uname().release, os.uname().machine, COMMAND, {name: probe_type(name) for name in types})


def differences(data: HelperSets, kernel: HelperSets) -> tuple[list[str], list[str]]:
    """(serious, benign): where `data` allows what the running kernel refuses, and the rest."""
    serious: list[str] = []
    benign: list[str] = []

    def ids(numbers: set[int]) -> str:
        return ", ".join(f"{n} ({HELPER_NAMES.get(n, '?')})" for n in sorted(numbers))

    for name, ours in data.types.items():
        theirs = kernel.types.get(name)
        if theirs is None:
            continue
        extra = set(ours.allowed) - set(theirs.allowed)
        if extra:
            serious.append(f"{name}: the data allows helpers the running kernel refuses: {ids(extra)}")
        gpl_lost = {n for n in set(ours.allowed) & set(theirs.allowed) if theirs.allowed[n] and not ours.allowed[n]}
        if gpl_lost:
            serious.append(f"{name}: the data lets non-GPL programs call GPL-only helpers: {ids(gpl_lost)}")
        missing = set(theirs.allowed) - set(ours.allowed)
        if missing:
            benign.append(f"{name}: the running kernel also allows: {ids(missing)}")
        gpl_extra = {n for n in set(ours.allowed) & set(theirs.allowed) if ours.allowed[n] and not theirs.allowed[n]}
        if gpl_extra:
            benign.append(f"{name}: the data calls GPL-only what the running kernel does not: {ids(gpl_extra)}")
    return serious, benign


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m interp.probe_helpers", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_FILE, help="where to write the result")
    parser.add_argument("--check", type=Path, metavar="FILE", help="compare the running kernel with FILE instead")
    parser.add_argument("--types", default=",".join(PROG_TYPES), help="program types, comma-separated")
    args = parser.parse_args(argv)
    types = [t for t in args.types.split(",") if t]
    unknown = [t for t in types if t not in PROG_TYPES]
    if unknown:
        print(f"unknown program type {unknown[0]}; known: {', '.join(PROG_TYPES)}", file=sys.stderr)
        return 2
    data = None
    if args.check is not None:
        try:
            data = HelperSets.from_file(args.check)
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    try:
        kernel = probe_kernel(types)
    except BpfUnavailable as exc:
        print(f"bpf() cannot be used here: {exc.strerror}", file=sys.stderr)
        return 2
    if data is None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(kernel.dumps(), encoding="utf-8")
        for name, helpers in kernel.types.items():
            print(f"{name}: {len(helpers.allowed)} helpers allowed, {len(helpers.refused)} refused whatever the "
                  "arguments")
        print(f"wrote {args.out} (kernel {kernel.kernel_release})")
        return 0
    serious, benign = differences(data, kernel)
    for line in serious + benign:
        print(line)
    if not serious and not benign:
        print(f"{args.check} matches the running kernel ({kernel.kernel_release})")
    return 1 if serious else 0


if __name__ == "__main__":
    sys.exit(main())
