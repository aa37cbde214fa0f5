"""The text report of `bpfverify check`: under each finding, z3's judgement (confirmed by a replay,
or why not), the counterexample by field names and the slice of its path the fault depends on."""

from __future__ import annotations

from pathlib import Path

import pytest
from rule_files import write_case

from verifier.cli import main
from verifier.evidence import counterexample_lines, verdict_line

# a branch on di decides whether the run reaches the out-of-bounds read; si is read and unused
BRANCH_ON_DI = """\
r6 = *(u64 *)(r1 +112)
r7 = *(u64 *)(r1 +104)
if r6 != 7 goto +2
r0 = *(u64 *)(r1 +168)
exit
r0 = 0
exit
"""


def check(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> tuple[int, list[str]]:
    code = main(["check", str(path), *extra])
    lines = capsys.readouterr().out.splitlines()
    return code, lines[1:]  # (the first line has the time taken)


def test_null_dereference_confirmed_with_counterexample_and_slice(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    code, lines = check(capsys, write_case("lookup without null check", tmp_path))
    assert code == 1
    assert lines == [
        "  insn 6: possible-null-dereference: 8-byte read through r0, which may be NULL (map_value_or_null); "
        "compare r0 with 0 before dereferencing it",
        "    confirmed: the run faults at insn 6 (out-of-bounds)",
        "    counterexample:",
        "        registers: all zero",
        "        map h[0] absent",
        "    slice (what the fault depends on, along the counterexample's path):",
        "            0: r1 = map[h] ll",
        "            2: r2 = r10",
        "            3: r2 += -4",
        "            4: *(u32 *)(r10 -4) = 0",
        "            5: call bpf_map_lookup_elem#1",
        "            6: r0 = *(u64 *)(r0 +0)",
    ]


def test_registers_by_name_and_the_deciding_branch(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "branch.s"
    path.write_text(BRANCH_ON_DI)
    code, lines = check(capsys, path)
    assert code == 1
    assert lines[1:] == [
        "    confirmed: the run faults at insn 3 (out-of-bounds)",
        "    counterexample:",
        "        registers: di = 0x7",
        "    slice (what the fault depends on, along the counterexample's path):",
        "            0: r6 = *(u64 *)(r1 +112)",
        "            2: if r6 != 0x7 goto +2",
        "            3: r0 = *(u64 *)(r1 +168)",
    ]


def test_source_lines_in_the_slice(capsys: pytest.CaptureFixture[str]) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "unchecked_lookup.o"
    _, lines = check(capsys, example)
    assert lines[2:5] == ["    counterexample:", "        registers: all zero", "        map budget_by_pid[0] absent"]
    assert lines[5] == "        environment: pid = 0x0, tgid = 0x0"
    assert lines[7] == "            0: call bpf_get_current_pid_tgid#14  @ ./examples/unchecked_lookup.c:21"
    assert lines[-1] == "            8: r1 = *(u64 *)(r0 +0)              @ ./examples/unchecked_lookup.c:24"


def test_policy_finding_is_not_confirmed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, lines = check(capsys, write_case("ctx variable offset", tmp_path))
    assert code == 1
    assert lines == [
        "  insn 3: ctx-variable-offset: r1 points into struct pt_regs at a variable offset (scalar(umax=0x8, "
        "var_off=(value=0x0; mask=0x8))); the context is read at constant offsets only; read each field with its "
        "own constant offset",
        "    not confirmed (policy: a rule the kernel applies when it loads the program; no run breaks it by itself)",
    ]


def test_policy_with_a_run_that_breaks_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, lines = check(capsys, write_case("map value plus unknown unused", tmp_path))
    assert lines[1] == ("    not confirmed (policy: a run breaks the kernel's rule (the counterexample), "
                        "without a fault)")
    assert lines[-1] == "            8: r0 += r6"


def test_no_solver_prints_the_finding_alone(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _, lines = check(capsys, write_case("lookup without null check", tmp_path), "--no-solver")
    assert len(lines) == 1 and lines[0].startswith("  insn 6: possible-null-dereference: ")


@pytest.mark.parametrize("proof, line", [
    ({"status": "unknown", "confirmed": False, "reason": "a path passes insn 5 more than 64 times (a loop)"},
     "not confirmed (z3 could not decide: a path passes insn 5 more than 64 times (a loop))"),
    ({"status": "witnessed", "confirmed": False, "replay": {"confirmed": False, "fault": None,
                                                            "reason": "the run ended without a fault"}},
     "not confirmed (the run ended without a fault)"),
    ({"status": "refuted", "confirmed": False},
     "not confirmed (z3 shows no run breaks the rule; the profile keeps the finding)"),
])
def test_why_not_confirmed(proof: dict[str, object], line: str) -> None:
    assert verdict_line(proof) == line


def test_counterexample_inputs_by_name() -> None:
    cx = {"regs": {"si": 0x1000, "di": 7, "ax": 0},
          "maps": [{"index": 0, "name": "counts", "entries": [{"key": "01000000", "value": "2a00000000000000"}]}],
          "absent": [{"index": 1, "name": "seen", "key": "00112233445566778899"}],
          "kmem": [{"address": 0xffff888000001000, "hex": "6869"}], "env": {"pid": 5, "comm": "sh"}, "cpu": 1,
          "unset": ["the result of get_prandom_u32 (0x3)"]}
    assert counterexample_lines(cx) == [
        "registers: si = 0x1000, di = 0x7",
        "map counts[1] = 0x2a",
        "map seen[key 00112233445566778899] absent",
        "memory at 0xffff888000001000: 6869 (2 bytes)",
        "environment: pid = 0x5, comm = 'sh', cpu = 1",
        "not fixed by any input: the result of get_prandom_u32 (0x3)",
    ]
