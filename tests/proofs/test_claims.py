"""python -m proofs: the domain code proved with z3, and seeded bugs refuted."""

from __future__ import annotations

import json

import pytest
import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from proofs import symbolic
from proofs.__main__ import main
from proofs.claims import all_claims, check
from proofs.engine import PROVED, REFUTED
from proofs.mutants import MUTANTS, Mutant, MutantDoesNotApply, applied, killed, refute
from proofs.symbolic import Sym
from verifier.domains import scalar, tnum

RLIMIT = 20_000_000


def test_quick_table_proves_every_claim_it_lists(tmp_path, capsys):
    """What CI proves: every claim not marked slow, each within the default budget."""
    out = tmp_path / "table.json"
    assert main(["--quick", "--jobs", "2", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["claims"]
    assert len(rows) == sum(not c.slow for c in all_claims())
    assert {r["result"] for r in rows} == {PROVED}
    assert {"tnum add", "scalar sync", "scalar jset taken"} <= {f"{r['domain']} {r['operation']}" for r in rows}
    assert "claims:" in capsys.readouterr().out


def test_the_reduction_is_proved_in_layers():
    names = [c.name for c in all_claims() if c.name.startswith("scalar sync")]
    assert names[-2:] == ["scalar sync round", "scalar sync"]
    assert len(names) == len(scalar.SYNC_STEPS) + 2


@pytest.mark.parametrize("text", ["tnum add forgets", "mov32", "low half taken across", "adds only the second's"])
def test_a_seeded_bug_is_refuted_with_a_witness_program_that_shows_it(text):
    mutant = next(m for m in MUTANTS if text in m.name)
    results = refute(mutant, RLIMIT)
    assert killed(results)
    outcome = results[0].outcome
    assert outcome.status == REFUTED and outcome.model  # z3's inputs for which the bug loses a value
    shown = [r.witness for r in results if r.witness is not None]
    assert shown and all(w.shows for w in shown), [w.shown for w in shown]
    assert all(w.shown.startswith("insn ") for w in shown)  # the run left the mutated analysis there


def test_tnum_multiplication_is_proved_at_64_bits_by_induction_over_its_loop():
    parts = [c for c in all_claims() if c.name.startswith("tnum mul loop")]
    assert [c.prop for c in parts] == ["invariant at start", "invariant kept", "gives the product"]
    assert all(c.width == 64 and not c.slow for c in parts)
    assert [check(c, RLIMIT).status for c in parts] == [PROVED] * 3


def test_the_loop_step_of_tnum_multiplication_is_the_code_the_verifier_runs():
    a, b = tnum.Tnum(0b101, 0b010), tnum.Tnum(0b11, 0b100)
    state = (a, b, tnum.MUL_ACC_START)
    while state[0].value or state[0].mask:
        state = tnum.mul_step(*state)
    assert tnum.mul_result(a, b, state[2]) == a.mul(b)
    assert {x * y for x in (5, 7) for y in (3, 7)} <= {v for v in range(64) if a.mul(b).contains(v)}


def test_a_mutant_leaves_the_code_as_it_was():
    before = tnum.Tnum.add
    a, b = tnum.Tnum(0x7A3FFFFFFFFFFFFE, 0), tnum.Tnum(0x85BFFFFFFFB8CFF9, 0x473006)  # a model z3 gave
    x, y = 0x7A3FFFFFFFFFFFFE, 0x85BFFFFFFFBBDFFB
    with applied(MUTANTS[0]):
        assert tnum.Tnum.add is not before
        assert not a.add(b).contains((x + y) & tnum.M64)  # the bug: the sum is lost
    assert tnum.Tnum.add is before
    assert a.add(b).contains((x + y) & tnum.M64)


def test_a_mutant_whose_line_is_gone_is_an_error_not_a_pass():
    stale = Mutant("stale", tnum.Tnum, "add", "no such line", "x", "tnum add 64")
    with pytest.raises(MutantDoesNotApply):
        refute(stale, RLIMIT)


def test_the_unmutated_code_proves_what_each_mutant_breaks():
    """A mutant is refuted because of its change: the same claims prove on the real code."""
    claim = next(c for c in all_claims() if c.name == "tnum and")
    assert check(claim, RLIMIT).status == PROVED


def test_bad_arguments_are_one_line(capsys):
    assert main(["--only", "no such claim"]) == 2
    assert capsys.readouterr().err.strip() == "no claim matches 'no such claim' (see --list)"
    assert main(["--only", "tnum and", "--json", "/nonexistent/dir/t.json"]) == 2
    assert capsys.readouterr().err.strip().startswith("cannot write /nonexistent/dir/t.json")
    with pytest.raises(SystemExit) as exit_:
        main(["--jobs", "0"])
    assert exit_.value.code == 2


def _concrete(value: Sym) -> int:
    return z3.simplify(value.t).as_signed_long()


@settings(max_examples=200, deadline=None)
@given(st.integers(-(1 << 64), 1 << 64), st.integers(-(1 << 64), 1 << 64), st.integers(0, 63))
def test_symbolic_integers_compute_as_python_ints(a, b, k):
    """The proofs stand for Python ints by z3 terms: on constants, every operator the domains
    use gives Python's answer."""
    symbolic.set_width(136)
    x, y = Sym(z3.BitVecVal(a, 136)), Sym(z3.BitVecVal(b, 136))
    for got, want in ((x + y, a + b), (x - y, a - b), (x * y, a * b), (x & y, a & b), (x | y, a | b),
                      (x ^ y, a ^ b), (~x, ~a), (-x, -a), (x << k, a << k), (x >> k, a >> k), (abs(x), abs(a))):
        assert _concrete(got) == want
    if a >= 0 and b > 0:
        assert _concrete(x // y) == a // b and _concrete(x % y) == a % b
        assert _concrete(x.bit_length()) == a.bit_length()
    assert z3.is_true(z3.simplify((x < y).c)) == (a < b)


def test_mutants_command_shows_the_witness_beside_the_analysis(capsys):
    assert main(["--mutants", "--only", "tnum add forgets"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("refuted  tnum add forgets the second operand's unknown bits")
    assert "witness program (x in di, y in si):" in out and "r6 += r7" in out
    assert "1 mutants: 1 refuted, 0 not" in out
