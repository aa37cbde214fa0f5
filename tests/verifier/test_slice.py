"""The slice of a counterexample's path: what the faulting instruction depends on through
registers (per frame), stack spills and fills, local calls and the branches that decide the path."""

from __future__ import annotations

from interp.asm.kernel_syntax import assemble
from interp.flow import Listing
from verifier.slice import backward_slice

# di is spilled, passed by pointer to f, filled there and tested; the fault needs di == 3
SPILL_AND_CALL = """\
r6 = *(u64 *)(r1 +112)
r7 = *(u64 *)(r1 +104)
*(u64 *)(r10 -8) = r6
r8 = 5
r1 = r10
r1 += -8
call f
r0 = 0
exit
f: r2 = *(u64 *)(r1 +0)
r0 = 0
if r2 == 3 goto +1
exit
r0 = *(u64 *)(r10 +8)
exit
"""


def listing(text: str) -> Listing:
    return Listing.of(assemble(text))


def test_spill_fill_through_a_pointer_argument_and_the_deciding_branch() -> None:
    path = [0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 13]
    assert backward_slice(listing(SPILL_AND_CALL), path) == [0, 2, 6, 9, 11, 13]


def test_a_write_depends_on_its_address_not_its_value() -> None:
    text = "r2 = 1\nr3 = r1\n*(u64 *)(r3 +8) = r2\nexit"
    assert backward_slice(listing(text), [0, 1, 2]) == [1, 2]


def test_branches_the_fault_post_dominates_are_left_out() -> None:
    # both ways of the branch at 1 reach the fault at 4: it decides nothing
    text = "r6 = *(u64 *)(r1 +112)\nif r6 > 3 goto +1\nr6 = 1\nr0 = 0\nr0 = *(u64 *)(r1 +168)\nexit"
    assert backward_slice(listing(text), [0, 1, 2, 3, 4]) == [4]


def test_a_helper_reads_only_its_arguments_and_its_stack_buffer() -> None:
    text = ("*(u32 *)(r10 -4) = 0\n*(u64 *)(r10 -16) = 7\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\n"
            "r3 = 9\ncall 1\nr0 = *(u64 *)(r0 +0)\nexit")
    path = [0, 1, 2, 4, 5, 6, 7, 8]
    assert backward_slice(listing(text), path, lambda helper: 2) == [0, 2, 4, 5, 7, 8]


def test_a_path_that_is_not_the_programs_gives_no_slice() -> None:
    assert backward_slice(listing("r0 = 0\nexit"), [0, 7]) == []
