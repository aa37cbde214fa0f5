"""Running a kprobe program on random inputs: the probed function's registers (small numbers, -1,
random bits, addresses of readable kernel and user memory), that memory's bytes, the maps' entries
(writable from user space: arrays in full, some hash keys, the program array pointing back at the
program) and the environment (task name, random seed, CPU). The same seed gives the same inputs."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from interp.faults import VmFault
from interp.kprobe import KprobeSession
from interp.maps import (
    ARRAY,
    HASH,
    LRU_HASH,
    LRU_PERCPU_HASH,
    PERCPU_ARRAY,
    PERCPU_HASH,
    PROG_ARRAY,
)
from interp.program import Program
from interp.pt_regs import layout_for
from interp.world import Environment, KernelMemory

KERNEL_CHUNK = 0xFFFF_A000_0000_0000  # readable kernel memory for probe_read_kernel and friends
USER_CHUNK = 0x0000_7F00_0000_0000  # readable user memory for probe_read_user
CHUNK_SIZE = 4096
PT_REGS_SIZE = layout_for("x86_64").size
RUN_BUDGET = 40_000_000  # instructions per run: a loop bounded by may_goto alone runs 8,388,608 times
# faults that say the interpreter cannot follow the program, not that the program is unsafe
NOT_EMULATED = ("unsupported", "budget-exhausted")


@dataclass
class Replay:
    runs: int  # how many runs ended (with or without a fault)
    fault: VmFault | None  # the first fault of a kind that means the program did something unsafe
    not_emulated: str | None  # why a run could not be followed to its end (an unsupported helper, the budget)
    inputs_seed: int | None = None  # the seed of the run that faulted


def _register_value(rng: random.Random) -> int:
    pick = rng.randrange(8)
    if pick == 0:
        return 0
    if pick == 1:
        return rng.randrange(256)
    if pick == 2:
        return (1 << 64) - 1
    if pick == 3:
        return rng.randrange(1 << 64)
    if pick in (4, 5):
        return KERNEL_CHUNK + rng.randrange(0, CHUNK_SIZE - 64)
    if pick == 6:
        return USER_CHUNK + rng.randrange(0, CHUNK_SIZE - 64)
    return rng.randrange(1 << 32)


def random_context(rng: random.Random) -> bytes:
    return b"".join(_register_value(rng).to_bytes(8, "little") for _ in range(PT_REGS_SIZE // 8))


def random_session(program: Program, rng: random.Random, budget: int = RUN_BUDGET,
                   observe: Callable[[int, int, tuple], None] | None = None) -> KprobeSession:
    """`observe(pc, depth, registers)` is called before each instruction (see interp.vm.Machine)."""
    kmem = KernelMemory()
    kmem.add(KERNEL_CHUNK, rng.randbytes(CHUNK_SIZE))
    kmem.add(USER_CHUNK, rng.randbytes(CHUNK_SIZE))
    comm = bytes(rng.randrange(1, 256) for _ in range(rng.randrange(0, 16)))
    env = Environment(comm=comm, random_seed=rng.randrange(1, 1 << 32), pid=rng.randrange(1 << 22),
                      tgid=rng.randrange(1 << 22))
    session = KprobeSession([program], kmem=kmem, env=env, ncpus=2, budget=budget, observe=observe)
    for state in session.maps:
        mdef = state.definition
        if mdef.frozen:  # user space cannot change it after loading
            continue
        if mdef.type in (ARRAY, PERCPU_ARRAY):
            for index in range(min(mdef.max_entries, 64)):
                if rng.random() < 0.8:
                    for cpu in range(2 if mdef.type == PERCPU_ARRAY else 1):
                        state.update(index.to_bytes(4, "little"), rng.randbytes(mdef.value_size), 0, cpu)
        elif mdef.type in (HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH):
            for _ in range(rng.randrange(0, 5)):
                key = rng.choice([rng.randrange(4), rng.randrange(1 << 32)]).to_bytes(8, "little")[:mdef.key_size]
                state.update(key.ljust(mdef.key_size, b"\0"), rng.randbytes(mdef.value_size), 0, 0)
        elif mdef.type == PROG_ARRAY and rng.random() < 0.5:
            state.update(rng.randrange(mdef.max_entries).to_bytes(4, "little"), (1).to_bytes(4, "little"), 0, 0)
    return session


def replay(program: Program, seed: int, runs: int = 4) -> Replay:
    """Run `program` `runs` times, each on inputs drawn from `seed`; stop at the first fault."""
    rng = random.Random(seed)
    ended, not_emulated = 0, None
    for _ in range(runs):
        run_seed = rng.randrange(1 << 32)
        inputs = random.Random(run_seed)
        session = random_session(program, inputs)
        outcome = session.run_program(0, random_context(inputs), cpu=inputs.randrange(2))
        ended += 1
        if outcome.fault is not None:
            if outcome.fault.kind in NOT_EMULATED:
                not_emulated = not_emulated or f"{outcome.fault.kind.value}: {outcome.fault.message}"
                continue
            return Replay(ended, outcome.fault, not_emulated, run_seed)
    return Replay(ended, None, not_emulated)
