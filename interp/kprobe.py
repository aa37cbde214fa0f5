"""The kprobe runtime of the seed (Linux 4.1): programs attached to an emulated perf event with
`set_bpf` (PERF_EVENT_IOC_SET_BPF) and detached by `close`; firing the event runs
`trace_call_bpf`: in NMI context it returns 1 without running, a per-CPU `bpf_prog_active`
counter refuses nesting on a CPU (returns 0 without running), and a return of 0 drops the event
while anything else stores it in the event's ring buffer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .faults import VmFault
from .image import ProgramImage, create_maps, map_index_of_handle
from .kprobe_helpers import TailCall, kprobe_helpers
from .maps import ENOSPC, MapState
from .memory import CONTEXT_BASE, AddressSpace, Region, RegionKind
from .program import Program
from .progtypes import KPROBE
from .pt_regs import PtRegsLayout, layout_for
from .vm import DEFAULT_BUDGET
from .world import USER_SPACE_END, Environment, KernelMemory

EBADF, EEXIST_, EINVAL_ = 9, 17, 22
MAX_CPUS = 8192  # the largest CONFIG_NR_CPUS of x86_64 and arm64


class PerfEventError(OSError):
    """An ioctl/close on an emulated perf event that the kernel would refuse."""


@dataclass
class RunOutcome:
    r0: int | None
    insns_executed: int
    fault: VmFault | None
    tail_calls: int = 0


@dataclass
class FireResult:
    ran: bool  # the program ran (not refused by the NMI rule or the recursion guard)
    r0: int | None  # what trace_call_bpf returned (None when the program faulted)
    stored: bool  # the event went into the ring buffer
    outcome: RunOutcome | None = None


@dataclass
class RingBuffer:
    state: MapState
    session: "KprobeSession"
    used: int = 0
    open_records: dict[int, Region] = field(default_factory=dict)
    serial: int = 0

    def _space_for(self, size: int) -> bool:
        need = (size + 8 + 7) // 8 * 8  # 8-byte header, 8-byte aligned
        if self.used + need > self.state.definition.max_entries:
            return False
        self.used += need
        return True

    def output(self, data: bytes) -> int:
        if not self._space_for(len(data)):
            return -ENOSPC
        self.session.emit({"kind": "ringbuf", "map": self.state.name, "data": data.hex()})
        return 0

    def reserve(self, size: int, flags: int) -> int:
        if flags != 0 or size > 0x7FFF_FFFF or not self._space_for(size):
            return 0  # bpf_ringbuf_reserve: NULL for any flags, as for a record that does not fit
        self.serial += 1
        data = self.session.space.reserve(size, f"a record of ring buffer {self.state.name}")
        base = self.state.place(size)
        region = Region(RegionKind.MAP_VALUE, f"{self.state.name} record", base, data)
        self.session.space.map(region)
        self.open_records[base] = region
        return base


class KprobeSession:
    """The programs of one object with their shared maps, kernel memory and environment."""

    def __init__(self, programs: list[Program], *, arch: str = "x86_64", kmem: KernelMemory | None = None,
                 env: Environment | None = None, ncpus: int = 1, budget: int = DEFAULT_BUDGET,
                 trace: Callable[[int, tuple], None] | None = None, space: AddressSpace | None = None,
                 observe: Callable[[int, int, tuple], None] | None = None) -> None:
        """`trace(pc, registers)` after each instruction; `observe(pc, depth, registers)` before it."""
        if not programs:
            raise ValueError("a session needs at least one program")
        if not 1 <= ncpus <= MAX_CPUS:
            raise ValueError(f"a session has 1 to {MAX_CPUS} CPUs, not {ncpus}")
        self.programs = programs
        self.layout: PtRegsLayout = layout_for(arch)
        self.kmem = kmem if kmem is not None else KernelMemory()
        self.env = env if env is not None else Environment()
        self.ncpus = ncpus
        self.budget = budget
        self.space = space if space is not None else AddressSpace()
        self.maps = create_maps(programs[0].maps, self.space, ncpus)
        self.helpers = kprobe_helpers()
        self.output: list[dict[str, Any]] = []
        self.cpu = 0
        self.tail_calls = 0
        self.prog_active = [0] * ncpus  # the kernel's per-CPU bpf_prog_active
        self.probed_helpers: dict[str, "PerfEvent"] = {}
        self._images: dict[int, ProgramImage] = {}
        self._ringbufs: dict[int, RingBuffer] = {}
        self._ctx: Region | None = None
        self._trace = trace
        self._observe = observe

    # -- running -----------------------------------------------------------------------
    def image(self, index: int) -> ProgramImage:
        image = self._images.get(index)
        if image is None:
            image = ProgramImage(self.programs[index], self.helpers, budget=self.budget, space=self.space,
                                 maps=self.maps, trace=self._trace,
                                 observe=self._observe)
            image.machine.runtime = self
            self._images[index] = image
        return image

    def run_program(self, index: int, ctx: bytes, cpu: int = 0) -> RunOutcome:
        """Run program `index` with `ctx` as its read-only pt_regs, following tail calls."""
        if not 0 <= cpu < self.ncpus:
            raise ValueError(f"cpu {cpu} does not exist; this session has {self.ncpus} CPUs")
        self.cpu = cpu
        self.tail_calls = 0
        region = KPROBE.context_region(ctx, CONTEXT_BASE)
        self.space.map(region)
        self._ctx = region
        executed = 0
        try:
            while True:
                result = self.image(index).machine.run(CONTEXT_BASE)
                executed += result.insns_executed
                if isinstance(result.stopped_by, TailCall):
                    self.tail_calls += 1
                    index = result.stopped_by.program_index
                    continue
                return RunOutcome(result.r0, executed, result.fault, self.tail_calls)
        finally:
            self.space.unmap(region)
            self._ctx = None

    @property
    def context_address(self) -> int | None:
        """Where the running program's context is (None between runs)."""
        return self._ctx.base if self._ctx is not None else None

    def context(self, values: dict[str, int] | None = None, raw: bytes | None = None) -> bytes:
        return bytes(self.layout.build(values, raw))

    # -- services for helpers ---------------------------------------------------------
    def map_for_handle(self, handle: int) -> MapState | None:
        index = map_index_of_handle(handle)
        if index is None or index >= len(self.maps):
            return None
        return self.maps[index]

    def read_memory(self, address: int, size: int, space: str) -> bytes | None:
        """Bytes at `address` as probe_read sees them: the program's own memory (stack, context,
        map values are kernel memory too) or the simulated kernel/user memory; None on a fault."""
        user = address < USER_SPACE_END
        if (space == "user" and not user) or (space == "kernel" and user):
            return None
        if size == 0:
            return b""
        region = self.space.region_at(address)
        if region is not None:
            offset = address - region.base
            if offset + size <= region.size:
                return bytes(region.data[offset : offset + size])
            return None
        return self.kmem.read(address, size)

    def _span(self, address: int, space: str) -> bytes | None:
        """The readable bytes from `address` to the end of the region or chunk holding it."""
        user = address < USER_SPACE_END
        if (space == "user" and not user) or (space == "kernel" and user):
            return None
        region = self.space.region_at(address)
        if region is not None:
            return bytes(region.data[address - region.base :])
        chunk = self.kmem.chunk_at(address)
        return bytes(chunk.data[address - chunk.address :]) if chunk is not None else None

    def read_c_string(self, address: int, limit: int = 4096, space: str = "any") -> bytes | None:
        """The bytes of the NUL-terminated string at `address` (without the NUL), at most `limit`
        of them; None when a byte before its end or the limit cannot be read. Read a stretch of
        memory at a time: a limit may be millions of bytes."""
        out = b""
        while len(out) < limit:
            span = self._span(address + len(out), space)
            if not span:
                return None
            span = span[: limit - len(out)]
            end = span.find(0)
            if end >= 0:
                return out + span[:end]
            out += span
        return out

    def read_string(self, address: int, limit: int) -> str | None:
        data = self.read_c_string(address, limit)
        return data.decode("utf-8", "replace") if data is not None else None

    def override_return(self, value: int) -> None:
        if self._ctx is not None:
            offset = self.layout.offset_of(self.layout.return_value)
            self._ctx.data[offset : offset + 8] = (value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little")

    def ringbuf(self, state: MapState) -> RingBuffer:
        buffer = self._ringbufs.get(state.index)
        if buffer is None:
            buffer = self._ringbufs[state.index] = RingBuffer(state, self)
        return buffer

    def finish_ringbuf_record(self, address: int, submit: bool) -> bool:
        for buffer in self._ringbufs.values():
            region = buffer.open_records.pop(address, None)
            if region is not None:
                if submit:
                    self.emit({"kind": "ringbuf", "map": buffer.state.name, "data": bytes(region.data).hex()})
                self.space.unmap(region)
                return True
        return False

    def emit(self, record: dict[str, Any]) -> None:
        """Output a helper produced, kept for the caller: it counts against the run's memory."""
        self.space.charge(sum(len(str(value)) for value in record.values()), f"{record['kind']} output")
        self.output.append(record)

    def on_helper(self, name: str) -> None:
        """A helper's kernel function runs: if a probe sits on it, that probe fires (nested)."""
        event = self.probed_helpers.get(name)
        if event is not None and self._ctx is not None:
            event.fire(bytes(self._ctx.data), cpu=self.cpu)

    def dump_maps(self) -> list[dict[str, Any]]:
        return [state.dump() for state in self.maps]


def trace_call_bpf(session: KprobeSession, index: int, ctx: bytes, cpu: int, in_nmi: bool) -> tuple[bool, int | None, RunOutcome | None]:
    """The seed's trace_call_bpf: (ran, return value, outcome)."""
    if in_nmi:
        return False, 1, None  # not supported in NMI: the event is stored without running
    session.prog_active[cpu] += 1
    try:
        if session.prog_active[cpu] != 1:
            return False, 0, None  # a program already runs on this CPU: no recursion, no event
        outcome = session.run_program(index, ctx, cpu)
        return True, outcome.r0, outcome
    finally:
        session.prog_active[cpu] -= 1


class PerfEvent:
    """An emulated kprobe perf event (perf_event_open on a kprobe's tracepoint id)."""

    def __init__(self, session: KprobeSession, name: str = "kprobe") -> None:
        self.session = session
        self.name = name
        self.program: int | None = None
        self.closed = False
        self.records: list[dict[str, Any]] = []  # what perf's ring buffer received

    def set_bpf(self, program_index: int) -> None:
        """ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog_fd)."""
        if self.closed:
            raise PerfEventError(EBADF, "the perf event is closed")
        if self.program is not None:
            raise PerfEventError(EEXIST_, "a program is already attached to this perf event")
        if not 0 <= program_index < len(self.session.programs):
            raise PerfEventError(EBADF, f"no program {program_index}")
        if self.session.programs[program_index].prog_type != "kprobe":
            raise PerfEventError(EINVAL_, f"program {self.session.programs[program_index].name} is a "
                                          f"{self.session.programs[program_index].prog_type} program; "
                                          "only kprobe programs attach to a kprobe event")
        self.program = program_index

    def close(self) -> None:
        """close(fd): the program is detached and the event is gone."""
        self.program = None
        self.closed = True

    def fire(self, ctx: bytes, cpu: int = 0, in_nmi: bool = False) -> FireResult:
        """The probed function was hit on `cpu` with registers `ctx` (kprobe_perf_func)."""
        if self.closed:
            return FireResult(False, None, False)
        if self.program is None:
            self._store(ctx, cpu)
            return FireResult(False, None, True)
        ran, r0, outcome = trace_call_bpf(self.session, self.program, ctx, cpu, in_nmi)
        stored = r0 is not None and r0 != 0
        if stored:
            self._store(ctx, cpu)
        return FireResult(ran, r0, stored, outcome)

    def _store(self, ctx: bytes, cpu: int) -> None:
        self.records.append({"event": self.name, "cpu": cpu, "regs": ctx.hex()})
