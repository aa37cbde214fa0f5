"""Random programs of real shapes (the general mix of tests/verifier/program_shapes.py): our
verdict against the running kernel's; a program the kernel rejects and we accept would be unsound."""

from __future__ import annotations

from ..random_vs_kernel import kernel_available, measure
from ..runner import Context, Skipped

COUNT, QUICK_COUNT, SEED = 10_000, 30, 1


def run(context: Context) -> None:
    if not kernel_available():
        raise Skipped("bpf() is not permitted")
    result = measure(QUICK_COUNT if context.quick else COUNT, SEED)
    context.table("random_vs_kernel", f"{result['count']} random programs (seed {SEED}): kernel / ours",
                  ["kernel", "ours", "programs"],
                  [[*pair.split(" / "), n] for pair, n in sorted(result["pairs"].items())])
    context.table("random_stricter", "Where we reject what the kernel accepts, by our error codes",
                  ["our codes", "programs"],
                  sorted(([codes, n] for codes, n in result["stricter_by_codes"].items()), key=lambda r: -r[1]))
    unsound = result["kernel_rejects_we_accept"]
    context.note(f"programs the kernel rejects and we accept: {len(unsound)}")
