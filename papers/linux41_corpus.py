"""The kernel samples of the corpus under the linux-4.1 profile, each checked against the version
its object declares (`--kern-version` of its `version` section): linux/ holds the samples built
for Linux 4.19 (tracex*, *kprobe*), new_linux/ their siblings built for 5.15.

    python -m papers.linux41_corpus [--samples DIR]

Prints one row per kprobe program (verdict, first finding's code, our words, 4.1's words) and the
counts per directory."""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

from interp.loader import load_object
from verifier.check import check_program
from verifier.structure import kern_version_target

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent.parent / "shared" / "corpus" / "ebpf-samples"
PATTERNS = ("tracex*_kern.o", "*kprobe*_kern.o")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=SAMPLES)
    args = parser.parse_args(argv)
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for directory in ("linux", "new_linux"):
        files = sorted({f for pattern in PATTERNS for f in (args.samples / directory).glob(pattern)})
        if not files:
            print(f"{args.samples / directory}: no kernel samples there", file=sys.stderr)
            return 2
        for path in files:
            for program in load_object(path):
                if program.prog_type != "kprobe":
                    continue
                result = check_program(program, "linux-4.1", kern_version=kern_version_target(program, None))
                counts[(directory, result.verdict)] += 1
                first = result.errors[0] if result.errors else None
                print(f"{directory}/{path.name}\t{program.section}\tkern_version {program.kern_version or 0:#x}\t"
                      f"{result.verdict}\t{first.code if first else ''}\t{first.message if first else ''}\t"
                      f"{(first.kernel_message or '') if first else ''}")
    for (directory, verdict), count in sorted(counts.items()):
        print(f"{directory}: {verdict} {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
