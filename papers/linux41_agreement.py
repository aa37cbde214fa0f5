"""How often the linux-4.1 profile gives the Linux 4.1 verifier's verdict, on the programs labelled
with it: the rule suite's 4.1 cases (`SEED_CASES` of tests/verifier/test_rules.py, whose `code` is
the seed's rule) and the 4.1 rule programs of tests/verifier/test_linux41.py (each labelled with
the 4.1 function that decides it).

    python papers/linux41_agreement.py
    PYTHONPATH=OLD_CHECKOUT python papers/linux41_agreement.py   # the same labels, an older verifier

A program agrees when its verdict is 4.1's; it agrees exactly when a refusal also carries the
labelled code. The labels are read from this checkout's tests whatever verifier is imported."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests" / "verifier"


def main() -> int:
    sys.path.insert(0, str(TESTS))
    import test_linux41
    import test_rules

    from verifier.check import check_program
    from verifier.fixpoint import Limits

    suites = {"rule suite (test_rules.SEED_CASES)": [(c.name, test_rules.program(c), c.code)
                                                      for c in test_rules.SEED_CASES],
              "4.1 rule programs (test_linux41.CASES)": [(c.name, test_linux41.program(c), c.code)
                                                         for c in test_linux41.CASES]}
    for title, cases in suites.items():
        verdicts = exact = 0
        wrong = []
        for name, program, code in cases:
            result = check_program(program, "linux-4.1", limits=Limits(solver=False))
            expected = "accepted" if code is None else "rejected"
            if result.verdict == expected:
                verdicts += 1
                if code is None or code in {f.code for f in result.errors}:
                    exact += 1
                    continue
            wrong.append(f"    {name}: {result.verdict} {sorted({f.code for f in result.errors})}, 4.1: "
                         f"{code or 'accepted'}")
        n = len(cases)
        print(f"{title}: {n} programs, verdict agrees {verdicts} ({100 * verdicts / n:.1f} %), "
              f"verdict and code {exact} ({100 * exact / n:.1f} %)")
        print("\n".join(wrong))
    return 0


if __name__ == "__main__":
    sys.exit(main())
