"""Random programs of real shapes: our verdict against the running kernel's.

    python papers/random_vs_kernel.py [--count 3000] [--seed 1]

Programs come from the general mix of tests/verifier/program_shapes.py (context loads, ALU,
spills, map lookups with indexed values, forward branches, counted loops, helper calls with
computed sizes). Each is checked by bpfverify (linux-6.18, loop budget 4000 steps) and loaded
by the kernel through bpf(). Prints the table of verdict pairs and the codes behind every case
where we are stricter; writes papers/results/random_vs_kernel.json. A program the kernel rejects and we accept would be a
soundness bug; it is listed first."""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "verifier"))

from program_shapes import MIX_MAPS, Shape, mix_text  # noqa: E402
from test_rules import Case, kernel_verdict  # noqa: E402

from verifier.check import check_program  # noqa: E402
from verifier.fixpoint import Limits  # noqa: E402

LIMITS = Limits(max_unroll_work=4000)  # enough for every loop the generator makes that ends


def kernel_available() -> bool:
    return kernel_verdict(Case("probe", "r0 = 0\nexit", "accept")) is not None


def measure(count: int, rng_seed: int) -> dict[str, Any]:
    """`count` programs of the general mix, each checked by us and loaded by the kernel."""
    pairs: collections.Counter[tuple[str, str]] = collections.Counter()
    stricter: collections.Counter[str] = collections.Counter()
    unsound: list[str] = []

    @seed(rng_seed)
    @settings(max_examples=count, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(mix_text())
    def one(asm: str) -> None:
        try:
            program = Shape("general", asm, MIX_MAPS).program()
        except Exception:
            return
        ours = check_program(program, limits=LIMITS)
        kernel = kernel_verdict(Case("random", asm, "accept", maps=MIX_MAPS))
        pairs[(str(kernel), ours.verdict)] += 1
        if kernel == "reject" and ours.verdict == "accepted":
            unsound.append(asm)
        if kernel == "accept" and ours.verdict == "rejected":
            stricter[",".join(sorted({f.code for f in ours.findings}))] += 1

    one()
    return {"count": count, "seed": rng_seed, "pairs": {f"{k} / {o}": n for (k, o), n in pairs.items()},
            "stricter_by_codes": dict(stricter), "kernel_rejects_we_accept": unsound}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not kernel_available():
        print("bpf() is not permitted here", file=sys.stderr)
        return 2
    result = measure(args.count, args.seed)
    (HERE / "results").mkdir(exist_ok=True)
    with open(HERE / "results" / "random_vs_kernel.json", "w") as out:
        json.dump(result, out, indent=1)
    print(f"{sum(result['pairs'].values())} random programs, seed {args.seed}")
    for pair, n in sorted(result["pairs"].items()):
        kernel, ours = pair.split(" / ")
        print(f"  kernel {kernel:7} ours {ours:9} {n}")
    for codes, n in sorted(result["stricter_by_codes"].items(), key=lambda item: -item[1]):
        print(f"  stricter ({codes}): {n}")
    for asm in result["kernel_rejects_we_accept"]:
        print("KERNEL REJECTS, WE ACCEPT:\n" + asm)
    return 1 if result["kernel_rejects_we_accept"] else 0


if __name__ == "__main__":
    sys.exit(main())
