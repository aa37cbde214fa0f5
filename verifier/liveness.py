"""Which registers are live (may be read before being written) where each block starts.

Path partitioning uses this: two paths that disagree only about dead registers may be joined
without losing anything a later instruction could need."""

from __future__ import annotations

from interp.flow import CALLER_SAVED, Listing, regs_clobbered, regs_read, regs_written
from interp.isa.ops import CALLS

from .cfg import EXIT_NODE, FunctionGraph


def _transfer(listing: Listing, pcs: list[int], live_out: int) -> int:
    live = live_out
    for pc in reversed(pcs):
        op = listing.ops[pc]
        read = regs_read(op) | (CALLER_SAVED if isinstance(op, CALLS) else 0)  # a call may read r1..r5
        live = (live & ~(regs_written(op) | regs_clobbered(op))) | read
    return live


def live_in(listing: Listing, fn: FunctionGraph) -> dict[int, int]:
    """For each block of `fn`: the bitmask of registers live at its first instruction."""
    live: dict[int, int] = {block: 0 for block in fn.blocks}
    changed = True
    while changed:  # backward dataflow to a fixpoint: a few passes over small graphs
        changed = False
        for block in sorted(fn.blocks, reverse=True):
            out = 0
            for succ in fn.graph.successors(block):
                if succ != EXIT_NODE:
                    out |= live[succ]
            new = _transfer(listing, fn.blocks[block].pcs, out)
            if new != live[block]:
                live[block] = new
                changed = True
    return live


__all__ = ["live_in"]
