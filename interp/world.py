"""What a kprobe program can observe beyond its context: simulated kernel and user memory for
`probe_read` and friends, and the environment (time, current task, CPU) the caller controls,
so that every run is reproducible. The host's memory is never read."""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

USER_SPACE_END = 0x0000_8000_0000_0000  # x86_64: addresses below are user space


class WorldError(ValueError):
    """A kernel-memory or environment description that cannot be used."""


@dataclass
class Chunk:
    address: int
    data: bytearray
    symbol: str | None = None

    @property
    def end(self) -> int:
        return self.address + len(self.data)


@dataclass
class KernelMemory:
    """A sparse address space of chunks; a read touching any unmapped byte fails."""

    chunks: list[Chunk] = field(default_factory=list)

    def add(self, address: int, data: bytes, symbol: str | None = None) -> None:
        chunk = Chunk(address & 0xFFFF_FFFF_FFFF_FFFF, bytearray(data), symbol)
        starts = [c.address for c in self.chunks]
        i = bisect.bisect_left(starts, chunk.address)
        if (i < len(self.chunks) and self.chunks[i].address < chunk.end) or (i > 0 and self.chunks[i - 1].end > chunk.address):
            raise WorldError(f"kernel memory at {address:#x} ({len(data)} bytes) overlaps another chunk")
        self.chunks.insert(i, chunk)

    def _chunk(self, address: int) -> Chunk | None:
        starts = [c.address for c in self.chunks]
        i = bisect.bisect_right(starts, address) - 1
        if i >= 0 and address < self.chunks[i].end:
            return self.chunks[i]
        return None

    def read(self, address: int, size: int) -> bytes | None:
        out = bytearray()
        while size > 0:
            chunk = self._chunk(address)
            if chunk is None:
                return None
            offset = address - chunk.address
            take = min(size, len(chunk.data) - offset)
            out += chunk.data[offset : offset + take]
            address += take
            size -= take
        return bytes(out)

    def write(self, address: int, data: bytes) -> bool:
        if self.read(address, len(data)) is None:
            return False
        for i, byte in enumerate(data):
            chunk = self._chunk(address + i)
            assert chunk is not None
            chunk.data[address + i - chunk.address] = byte
        return True

    @classmethod
    def from_json(cls, items: Any, where: str = "kernel memory") -> "KernelMemory":
        if not isinstance(items, list):
            raise WorldError(f"{where}: expected a JSON list of {{\"address\": .., \"hex\": ..}}")
        memory = cls()
        for n, item in enumerate(items):
            if not isinstance(item, dict) or "address" not in item or "hex" not in item:
                raise WorldError(f"{where}[{n}]: each chunk needs 'address' and 'hex'")
            address = item["address"]
            try:
                address = int(address, 0) if isinstance(address, str) else int(address)
                data = bytes.fromhex(str(item["hex"]))
            except ValueError:
                raise WorldError(f"{where}[{n}]: 'address' must be an integer and 'hex' hex bytes") from None
            memory.add(address, data, item.get("symbol"))
        return memory

    @classmethod
    def from_file(cls, path: Path) -> "KernelMemory":
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")), path.name)
        except OSError as exc:
            raise WorldError(f"cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            if isinstance(exc, WorldError):
                raise
            raise WorldError(f"{path.name}: not valid JSON: {exc}") from None


@dataclass
class Environment:
    """The world as the helpers see it during one firing; every field is the caller's choice."""

    pid: int = 4242  # thread id
    tgid: int = 4242  # process id
    uid: int = 1000
    gid: int = 1000
    comm: bytes = b"bpfverify"
    ktime_ns: int = 1_000_000_000
    boot_ns: int = 2_000_000_000
    jiffies: int = 4_294_967_296
    current_task: int = 0xFFFF_8880_0100_0000
    cgroup_id: int = 1
    under_cgroup: dict[int, bool] = field(default_factory=dict)  # cgroup array index -> membership
    stack: list[int] = field(default_factory=lambda: [0xFFFF_FFFF_8100_0000, 0xFFFF_FFFF_8100_1000])
    random_seed: int = 1
    time_step_ns: int = 1000  # each time read advances the clock, as real time does
    perf_counters: dict[int, int] = field(default_factory=dict)
    in_nmi: bool = False
    tai_ns: int = 1_000_000_037  # CLOCK_TAI: realtime plus the leap seconds
    numa_node: int = 0
    cgroup_classid: int = 0  # the net_cls class id of the current task's cgroup
    cgroup_ancestors: list[int] = field(default_factory=list)  # cgroup ids from the root down; [] is [cgroup_id]
    func_ip: int = 0xFFFF_FFFF_8100_0000  # the probed function's address (a kprobe's get_func_ip)
    attach_cookie: int = 0  # the cookie given when the program was attached
    task_pt_regs: int = 0xFFFF_C900_0000_3F58  # where the current task's user-mode registers are saved
    pidns_dev: int = 4  # the current pid namespace's nsfs device and inode (the initial namespace's)
    pidns_ino: int = 0xEFFF_FFFC
    ns_pid: int | None = None  # the current thread's and process's ids in that namespace; None: pid, tgid
    ns_tgid: int | None = None
    branch_records: list[list[int]] = field(default_factory=list)  # last branch records: [from, to, flags]

    def next_tai(self) -> int:
        value = self.tai_ns
        self.tai_ns += self.time_step_ns
        return value

    def cgroup_path(self) -> list[int]:
        """The ids of the current task's cgroup and its ancestors, from the root (level 0) down."""
        return self.cgroup_ancestors or [self.cgroup_id]

    def next_ktime(self) -> int:
        value = self.ktime_ns
        self.ktime_ns += self.time_step_ns
        return value

    def next_boot_ns(self) -> int:
        value = self.boot_ns
        self.boot_ns += self.time_step_ns
        return value

    def next_random(self) -> int:
        # xorshift32: reproducible from `random_seed`
        x = self.random_seed or 1
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.random_seed = x
        return x

    @classmethod
    def from_json(cls, obj: Any) -> "Environment":
        if not isinstance(obj, dict):
            raise WorldError("environment: expected a JSON object")
        env = cls()
        for key, value in obj.items():
            if not hasattr(env, key):
                raise WorldError(f"environment: unknown field '{key}'")
            if key == "comm":
                value = str(value).encode()
            elif key == "under_cgroup":
                value = {int(k): bool(v) for k, v in dict(value).items()}
            elif key == "perf_counters":
                value = {int(k): int(v) for k, v in dict(value).items()}
            elif key in ("stack", "cgroup_ancestors"):
                value = [int(v, 0) if isinstance(v, str) else int(v) for v in value]
            elif key == "branch_records":
                value = [[int(v, 0) if isinstance(v, str) else int(v) for v in record] for record in value]
                if any(len(record) != 3 for record in value):
                    raise WorldError("environment: each branch record is [from, to, flags]")
            elif key in ("ns_pid", "ns_tgid") and value is None:
                pass
            elif key != "in_nmi":
                value = int(value, 0) if isinstance(value, str) else int(value)
            setattr(env, key, value)
        return env
