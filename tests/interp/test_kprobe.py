"""The kprobe runtime on the seed's own samples and other corpus programs: concrete outputs,
map contents and r0 under chosen registers, kernel memory and maps; the seed's attach
lifecycle, NMI rule and recursion guard; helpers given bad arguments fault cleanly."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from interp.asm.kernel_syntax import assemble
from interp.builder import R0, R1, R2, R3, R4, R10, Prog
from interp.faults import FaultKind
from interp.helper_ids import HELPER_IDS
from interp.kprobe import KprobeSession, PerfEvent, PerfEventError
from interp.loader import load_object
from interp.maps import BPF_EXIST, BPF_NOEXIST, E2BIG, EEXIST, EINVAL, ENOENT, MapState
from interp.memory import AddressSpace
from interp.program import MapDef, Program
from interp.pt_regs import ARM64, X86_64, parse_regs
from interp.world import Environment, KernelMemory

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "ebpf-samples"
needs_corpus = pytest.mark.skipif(not SAMPLES.is_dir(), reason="ebpf-samples corpus not found")

SKB = 0xFFFF_8880_0020_0000
DEV = 0xFFFF_8880_0030_0000


def u64(value: int) -> bytes:
    return struct.pack("<Q", value & 0xFFFF_FFFF_FFFF_FFFF)


def load(name: str) -> list[Program]:
    return load_object(SAMPLES / name, target_btf=None)


def attach(session: KprobeSession, section: str) -> PerfEvent:
    index = next(i for i, p in enumerate(session.programs) if p.section == section)
    event = PerfEvent(session, section)
    event.set_bpf(index)
    return event


def skb_memory(devname: bytes, pskb: int | None = None, len_offset: int = 128) -> KernelMemory:
    memory = KernelMemory()
    skb = bytearray(256)
    skb[16:24] = u64(DEV)
    skb[len_offset : len_offset + 4] = struct.pack("<I", 1500)
    memory.add(SKB, bytes(skb), "skb")
    memory.add(DEV, devname.ljust(32, b"\0"), "net_device")
    if pskb is not None:
        memory.add(pskb, u64(SKB), "pskb")
    return memory


# -- pt_regs -----------------------------------------------------------------------


def test_pt_regs_layouts() -> None:
    assert X86_64.size == 168
    assert X86_64.offset_of("di") == 112 and X86_64.offset_of("ax") == 80 and X86_64.offset_of("sp") == 152
    assert X86_64.describe(112) == "ctx+112 (di, 1st argument)"
    assert X86_64.describe(80) == "ctx+80 (ax, return value)"
    regs = X86_64.build(parse_regs("di=1,si=0x2000,arg3=7"))
    assert struct.unpack_from("<QQQ", regs, 96) == (7, 0x2000, 1)
    assert ARM64.offset_of("x0") == 0 and ARM64.offset_of("pc") == 256 and ARM64.args[:2] == ("x0", "x1")
    with pytest.raises(ValueError, match="has no register 'zz'"):
        X86_64.build({"zz": 1})
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_regs("di")


# -- the seed's samples --------------------------------------------------------------


@needs_corpus
def test_tracex1_prints_loopback_packets() -> None:
    session = KprobeSession(load("linux/tracex1_kern.o"), kmem=skb_memory(b"lo"))
    result = attach(session, "kprobe/__netif_receive_skb_core").fire(session.context({"di": SKB}))
    assert (result.ran, result.r0, result.stored) == (True, 0, False)
    assert session.output == [{"kind": "trace_printk", "text": f"skb {SKB:x} len 1500\n"}]


@needs_corpus
def test_tracex1_ignores_other_devices_and_unmapped_skbs() -> None:
    session = KprobeSession(load("linux/tracex1_kern.o"), kmem=skb_memory(b"eth0"))
    event = attach(session, "kprobe/__netif_receive_skb_core")
    assert event.fire(session.context({"di": SKB})).r0 == 0
    assert event.fire(session.context({"di": 0xFFFF_8880_DEAD_0000})).r0 == 0  # probe_read fails: zeroes
    assert session.output == []


@needs_corpus
def test_new_tracex1_reads_skb_through_pointer() -> None:
    # the newer sample's probe point takes struct sk_buff **, and skb->len sits at +112
    pskb = 0xFFFF_8880_0040_0000
    session = KprobeSession(load("new_linux/tracex1_kern.o"), kmem=skb_memory(b"lo", pskb, len_offset=112))
    result = attach(session, "kprobe/__netif_receive_skb_core").fire(session.context({"di": pskb}))
    assert result.r0 == 0
    assert session.output == [{"kind": "trace_printk", "text": f"skb {SKB:x} len 1500\n"}]


@needs_corpus
@pytest.mark.parametrize("name", ["linux/tracex2_kern.o", "new_linux/tracex2_kern.o"])
def test_tracex2_counts_kfree_skb_callers(name: str) -> None:
    memory = KernelMemory()
    sp = 0xFFFF_C900_0001_0000
    memory.add(sp, u64(0xFFFF_FFFF_8123_4567))  # the return address on the probed function's stack
    session = KprobeSession(load(name), kmem=memory)
    event = attach(session, "kprobe/kfree_skb")
    for _ in range(3):
        assert event.fire(session.context({"sp": sp})).r0 == 0
    assert session.dump_maps()[0]["entries"] == [{"key": u64(0xFFFF_FFFF_8123_4567).hex(), "value": u64(3).hex()}]


@needs_corpus
def test_tracex2_write_size_histogram_per_cpu() -> None:
    env = Environment(pid=77, tgid=70, uid=1000, gid=100, comm=b"dd")
    session = KprobeSession(load("linux/tracex2_kern.o"), env=env, ncpus=2)
    event = attach(session, "kprobe/sys_write")
    event.fire(session.context({"dx": 4096}), cpu=1)
    event.fire(session.context({"dx": 5000}), cpu=1)
    event.fire(session.context({"dx": 4096}), cpu=0)
    # struct hist_key { char comm[16]; u64 pid_tgid; u64 uid_gid; u64 index; } with index = log2(size)
    key = b"dd".ljust(16, b"\0") + u64(70 << 32 | 77) + u64(100 << 32 | 1000) + u64(12)
    entries = {e["key"]: e["value"] for e in session.dump_maps()[1]["entries"]}
    assert entries == {key.hex(): [u64(1).hex(), u64(2).hex()]}


@needs_corpus
def test_tracex3_measures_block_io_latency() -> None:
    env = Environment(ktime_ns=1_000_000, time_step_ns=0)
    session = KprobeSession(load("linux/tracex3_kern.o"), env=env)
    start = attach(session, "kprobe/blk_start_request")
    done = attach(session, "kprobe/blk_account_io_completion")
    request = 0xFFFF_8880_0077_0000
    start.fire(session.context({"di": request}))
    assert session.dump_maps()[0]["entries"] == [{"key": u64(request).hex(), "value": u64(1_000_000).hex()}]
    env.ktime_ns += 1_000_000  # 1 ms later
    done.fire(session.context({"di": request}))
    maps = session.dump_maps()
    assert maps[0]["entries"] == []  # the start time is deleted once used
    # lat_map is a per-CPU array: one latency sample lands in one slot of CPU 0
    # (an array lists the elements a run used: the others are zero)
    counts = {int.from_bytes(bytes.fromhex(e["key"]), "little"): int.from_bytes(bytes.fromhex(e["value"][0]), "little")
              for e in maps[1]["entries"]}
    # index = (l * 64 + (delta - 2**l) * 64 / 2**l) * 3 / 64 with l = log2(delta): 59 for 1 ms
    assert {i: c for i, c in counts.items() if c} == {59: 1}


@needs_corpus
def test_tracex4_records_allocations_on_return() -> None:
    env = Environment(ktime_ns=0x3B9ACA00)
    session = KprobeSession(load("linux/tracex4_kern.o"), env=env)
    pointer = 0xFFFF_8880_0012_3400
    attach(session, "kretprobe/kmem_cache_alloc_node").fire(session.context({"ax": pointer}))
    # struct pair { u64 val; u64 ip; }: the return ip cannot be read (bp is 0), so it is zero
    assert session.dump_maps()[0]["entries"] == [{"key": u64(pointer).hex(), "value": (u64(0x3B9ACA00) + u64(0)).hex()}]
    # kmem_cache_free(struct kmem_cache *s, void *x): the object is the 2nd argument
    attach(session, "kprobe/kmem_cache_free").fire(session.context({"si": pointer}))
    assert session.dump_maps()[0]["entries"] == []


@needs_corpus
def test_tracex5_tail_calls_by_syscall_number() -> None:
    programs = load("linux/tracex5_kern.o")
    numbers = {p.section: i + 1 for i, p in enumerate(programs)}  # prog array values: 1-based program numbers
    memory = KernelMemory()
    seccomp_data = 0xFFFF_8880_0050_0000
    # struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }
    memory.add(seccomp_data, struct.pack("<iIQ6Q", 1, 0xC000003E, 0, 3, 0x1000, 512, 0, 0, 0))
    session = KprobeSession(programs, kmem=memory)
    progs = session.maps[0]
    progs.load_entries([{"key": struct.pack("<I", 1).hex(), "value": struct.pack("<I", numbers["kprobe/1"]).hex()}])
    event = attach(session, "kprobe/__seccomp_filter")
    result = event.fire(session.context({"di": 1, "si": seccomp_data}))
    assert result.outcome is not None and result.outcome.tail_calls == 1
    assert session.output == [{"kind": "trace_printk", "text": "write(fd=3, buf=0000000000001000, size=512)\n"}]
    session.output.clear()
    event.fire(session.context({"di": 102, "si": seccomp_data}))  # no program for getuid: falls through
    assert session.output == [{"kind": "trace_printk", "text": "syscall=102 (one of get/set uid/pid/gid)\n"}]


@needs_corpus
def test_trace_output_sends_perf_records() -> None:
    session = KprobeSession(load("linux/trace_output_kern.o"), env=Environment(pid=5, tgid=6))
    attach(session, "kprobe/sys_write").fire(session.context({}))
    assert session.output == [{"kind": "perf_event_output", "map": "my_map", "cpu": 0,
                               "data": (u64(6 << 32 | 5) + u64(0x12345678)).hex()}]


@needs_corpus
def test_tracex6_reads_perf_counters() -> None:
    session = KprobeSession(load("linux/tracex6_kern.o"), env=Environment(perf_counters={0: 123456}))
    attach(session, "kprobe/htab_map_get_next_key").fire(session.context({}))
    values = session.dump_maps()[1]["entries"]
    assert values == [{"key": struct.pack("<I", 0).hex(), "value": u64(123456).hex()}]


@needs_corpus
def test_cilium_ringbuffer_example() -> None:
    session = KprobeSession(load("cilium-examples/ringbuffer_bpf_bpfel.o"), env=Environment(tgid=99, comm=b"sh"))
    attach(session, "kprobe/sys_execve").fire(session.context({}))
    assert len(session.output) == 1 and session.output[0]["kind"] == "ringbuf"
    record = bytes.fromhex(session.output[0]["data"])
    assert struct.unpack_from("<I", record)[0] == 99 and record[4:6] == b"sh"


# -- the seed's runtime rules ------------------------------------------------------------


def counting_program(r0: int) -> Program:
    """Increments array[0] and returns r0."""
    insns = (Prog().st(4, R10, -4, 0).mov(R2, "r10").add(R2, -4)
             .lddw(R1, 0, src=1).call(HELPER_IDS["map_lookup_elem"]).jeq(R0, 0, "out")
             .mov(R1, 1).atomic(8, "add", R0, 0, R1)
             .label("out").mov(R0, r0).exit().build())
    counts = MapDef("counts", 2, 4, 8, 1)
    return Program("count", "kprobe/f", "kprobe", "kprobe", "f", insns, len(insns) + 1, [counts])


def count(session: KprobeSession) -> int:
    entries = session.dump_maps()[0]["entries"]  # empty while no run has used the element: it is 0
    return int.from_bytes(bytes.fromhex(entries[0]["value"]), "little") if entries else 0


def test_event_storage_follows_r0() -> None:
    for r0, stored in ((0, False), (1, True), (7, True)):
        session = KprobeSession([counting_program(r0)])
        event = PerfEvent(session)
        event.set_bpf(0)
        result = event.fire(session.context({"di": 5}))
        assert (result.ran, result.r0, result.stored) == (True, r0, stored)
        assert len(event.records) == int(stored)
        assert count(session) == 1


def test_nmi_returns_one_without_running() -> None:
    session = KprobeSession([counting_program(0)])
    event = PerfEvent(session)
    event.set_bpf(0)
    result = event.fire(session.context({}), in_nmi=True)
    assert (result.ran, result.r0, result.stored) == (False, 1, True)
    assert count(session) == 0  # the program did not run


def test_recursion_guard_refuses_nested_runs_on_a_cpu() -> None:
    session = KprobeSession([counting_program(1)])
    outer = PerfEvent(session, "outer")
    outer.set_bpf(0)
    inner = PerfEvent(session, "inner")  # a probe on the function behind bpf_map_update_elem
    inner.set_bpf(0)
    update = (Prog().st(4, R10, -4, 0).st(8, R10, -16, 9).mov(R2, "r10").add(R2, -4)
              .mov(R3, "r10").add(R3, -16).mov(R4, 0).lddw(R1, 0, src=1)
              .call(HELPER_IDS["map_update_elem"]).mov(R0, 1).exit().build())
    session.programs.append(Program("update", "kprobe/g", "kprobe", "kprobe", "g", update, 12,
                                    session.programs[0].maps))
    session.probed_helpers["map_update_elem"] = inner
    outer.close()
    outer = PerfEvent(session, "outer")
    outer.set_bpf(1)
    result = outer.fire(session.context({}), cpu=0)
    assert (result.ran, result.r0, result.stored) == (True, 1, True)
    assert inner.records == []  # the nested firing returned 0: no run, no event
    assert count(session) == 9  # only the outer program's update happened
    # on its own, the inner probe runs normally
    assert inner.fire(session.context({})).ran


def test_attach_and_detach() -> None:
    session = KprobeSession([counting_program(1)])
    event = PerfEvent(session)
    no_program = event.fire(session.context({}))
    assert (no_program.ran, no_program.stored) == (False, True)  # a plain kprobe event is stored
    event.set_bpf(0)
    with pytest.raises(PerfEventError) as info:
        event.set_bpf(0)
    assert info.value.errno == 17
    event.fire(session.context({}))
    event.close()
    assert event.fire(session.context({})).ran is False  # closing detached the program
    assert count(session) == 1
    with pytest.raises(PerfEventError):
        event.set_bpf(0)
    socket = Program("s", "socket", "socket_filter", "socket", None, Prog().mov(R0, 0).exit().build(), 2)
    other = KprobeSession([socket])
    with pytest.raises(PerfEventError) as info:
        PerfEvent(other).set_bpf(0)
    assert info.value.errno == 22


# -- helpers given bad arguments fault, with the helper named ------------------------------


def run_program(insns: list, maps: list[MapDef] | None = None) -> tuple[KprobeSession, object]:
    program = Program("p", "kprobe/f", "kprobe", "kprobe", "f", insns, 0, maps or [], license="GPL")
    session = KprobeSession([program])
    return session, session.run_program(0, session.context({}))


def test_store_into_a_read_only_map_value_faults() -> None:
    # BPF_F_RDONLY_PROG (1 << 7): the program reads the value but may not write it
    insns = (Prog().st(4, R10, -4, 0).lddw(R1, 0, src=1).mov(R2, "r10").add(R2, -4).call(1)
             .jeq(R0, 0, "out").st(8, R0, 0, 1).label("out").mov(R0, 0).exit().build())
    _, outcome = run_program(insns, [MapDef("ro", 2, 4, 8, 1, flags=1 << 7)])
    fault = outcome.fault
    assert fault is not None and fault.kind == FaultKind.READ_ONLY and fault.pc == 7


def test_map_key_outside_readable_memory_faults() -> None:
    insns = Prog().lddw(R1, 0, src=1).mov(R2, 0x1234).call(1).mov(R0, 0).exit().build()
    _, outcome = run_program(insns, [MapDef("m", 1, 8, 8, 4)])
    fault = outcome.fault
    assert fault is not None and fault.kind == FaultKind.HELPER_ARGUMENT and fault.pc == 3
    assert fault.message.startswith("map_lookup_elem: r2 = 0x1234 must point to 8 readable bytes")


def test_probe_read_size_beyond_buffer_faults() -> None:
    insns = Prog().mov(R1, "r10").add(R1, -8).mov(R2, 64).mov(R3, 0).call(4).mov(R0, 0).exit().build()
    _, outcome = run_program(insns)
    fault = outcome.fault
    assert fault is not None and fault.kind == FaultKind.HELPER_ARGUMENT
    assert "probe_read: r1 = " in fault.message and "64 writable bytes" in fault.message


def test_not_a_map_pointer_faults() -> None:
    insns = Prog().mov(R1, "r10").add(R1, -8).st(8, R10, -8, 0).mov(R2, "r10").add(R2, -8).call(1).mov(R0, 0).exit().build()
    _, outcome = run_program(insns)
    assert outcome.fault is not None and "is not a map pointer" in outcome.fault.message


def test_unknown_helper_and_uninitialised_argument() -> None:
    _, outcome = run_program(Prog().call(9999).exit().build())
    assert outcome.fault is not None and outcome.fault.kind == FaultKind.UNKNOWN_HELPER
    _, outcome = run_program(Prog().call(HELPER_IDS["map_lookup_elem"]).exit().build())
    assert outcome.fault is not None and outcome.fault.kind == FaultKind.UNINITIALISED_REGISTER


def test_context_is_read_only_and_aligned() -> None:
    _, outcome = run_program(Prog().st(8, R1, 0, 5).mov(R0, 0).exit().build())
    assert outcome.fault is not None and outcome.fault.kind == FaultKind.READ_ONLY
    _, outcome = run_program(Prog().ldx(8, R0, R1, 3).exit().build())
    assert outcome.fault is not None and outcome.fault.kind == FaultKind.MISALIGNED
    _, outcome = run_program(Prog().ldx(8, R0, R1, 168).exit().build())
    assert outcome.fault is not None and outcome.fault.kind == FaultKind.OUT_OF_BOUNDS


def test_probe_read_of_unmapped_kernel_memory_zeroes_and_fails() -> None:
    insns = (Prog().st(8, R10, -8, -1).mov(R1, "r10").add(R1, -8).mov(R2, 8)
             .lddw(R3, 0xFFFF_8880_1234_0000).call(HELPER_IDS["probe_read_kernel"])
             .ldx(8, R1, R10, -8).add(R0, "r1").exit().build())
    _, outcome = run_program(insns)
    assert outcome.r0 == (-14) & 0xFFFF_FFFF_FFFF_FFFF  # -EFAULT + 0: the buffer was zeroed


# -- maps behave as the kernel's -------------------------------------------------------------


def make_map(mtype: int, max_entries: int = 2, ncpus: int = 1) -> MapState:
    state = MapState(0, MapDef("m", mtype, 4, 8, max_entries), AddressSpace(), ncpus)
    state.populate_arrays()
    return state


def test_hash_update_flags_and_limits() -> None:
    state = make_map(1)
    key, other, third = b"\1\0\0\0", b"\2\0\0\0", b"\3\0\0\0"
    assert state.update(key, u64(1), BPF_EXIST, 0) == -ENOENT
    assert state.update(key, u64(1), BPF_NOEXIST, 0) == 0
    assert state.update(key, u64(2), BPF_NOEXIST, 0) == -EEXIST
    assert state.update(key, u64(3), BPF_EXIST, 0) == 0
    assert state.update(other, u64(4), 0, 0) == 0
    assert state.update(third, u64(5), 0, 0) == -E2BIG
    assert state.update(key, u64(6), 3, 0) == -EINVAL
    assert state.delete(third) == -ENOENT
    assert bytes(state.lookup(key, 0).data) == u64(3)


def test_array_lru_and_percpu() -> None:
    array = make_map(2)
    assert array.update(b"\5\0\0\0", u64(1), 0, 0) == -E2BIG
    assert array.update(b"\1\0\0\0", u64(1), BPF_NOEXIST, 0) == -EEXIST
    assert array.delete(b"\1\0\0\0") == -EINVAL
    assert bytes(array.lookup(b"\0\0\0\0", 0).data) == bytes(8)
    lru = make_map(9)
    lru.update(b"\1\0\0\0", u64(1), 0, 0)
    lru.update(b"\2\0\0\0", u64(2), 0, 0)
    lru.lookup(b"\1\0\0\0", 0)  # 1 is now the most recently used
    assert lru.update(b"\3\0\0\0", u64(3), 0, 0) == 0
    assert sorted(lru.entries) == [b"\1\0\0\0", b"\3\0\0\0"]
    percpu = make_map(6, ncpus=2)
    percpu.update(b"\0\0\0\0", u64(7), 0, 1)
    assert bytes(percpu.lookup(b"\0\0\0\0", 0).data) == bytes(8)
    assert bytes(percpu.lookup(b"\0\0\0\0", 1).data) == u64(7)


def test_deleted_value_pointer_faults() -> None:
    insns = (Prog().st(4, R10, -4, 1).st(8, R10, -16, 5)
             .lddw(R1, 0, src=1).mov(R2, "r10").add(R2, -4).mov(R3, "r10").add(R3, -16).mov(R4, 0).call(2)
             .lddw(R1, 0, src=1).mov(R2, "r10").add(R2, -4).call(1).stx(8, R10, -24, R0)
             .lddw(R1, 0, src=1).mov(R2, "r10").add(R2, -4).call(3)
             .ldx(8, R1, R10, -24).ldx(8, R0, R1, 0).exit().build())
    _, outcome = run_program(insns, [MapDef("m", 1, 4, 8, 4)])
    assert outcome.fault is not None and outcome.fault.kind == FaultKind.OUT_OF_BOUNDS


def test_a_value_read_and_written_then_deleted_faults_on_the_next_access() -> None:
    """The generated code keeps the region its last load and store hit; a helper call (here the
    delete that unmaps the value) forgets it, so the access after it faults as it must."""
    asm = ("*(u32 *)(r10 -4) = 0\n*(u64 *)(r10 -16) = 5\n"
           "r1 = map[idx:0] ll\nr2 = r10\nr2 += -4\nr3 = r10\nr3 += -16\nr4 = 0\ncall 2\n"
           + LOOKUP0 + "if r0 == 0 goto out\nr6 = r0\nr7 = *(u64 *)(r6 +0)\n*(u64 *)(r6 +0) = r7\n"
           "r1 = map[idx:0] ll\nr2 = r10\nr2 += -4\ncall 3\n{access}\nout: r0 = 0\nexit")
    for access in ("r0 = *(u64 *)(r6 +0)", "*(u64 *)(r6 +0) = 1"):
        insns = assemble(asm.format(access=access))
        program = Program("del", "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns),
                          [MapDef("m", 1, 4, 8, 4)], license="GPL")
        outcome = KprobeSession([program]).run_program(0, bytes(168))
        assert outcome.fault is not None and outcome.fault.kind == FaultKind.OUT_OF_BOUNDS, access
        assert outcome.fault.pc == sum(i.slots for i in insns) - 3  # the access, before `r0 = 0` and `exit`


# -- calls the world fails ---------------------------------------------------------------------


LOOKUP0 = "r1 = map[idx:0] ll\nr2 = r10\nr2 += -4\ncall 1\n"


def _lookups_twice(map_type: int) -> Program:
    """r0 = 2 * (second lookup of key 0 found) + (first lookup found)."""

    insns = assemble("*(u32 *)(r10 -4) = 0\n" + LOOKUP0 + "r6 = 0\nif r0 == 0 goto second\nr6 = 1\n"
                     "second: " + LOOKUP0 + "if r0 == 0 goto out\nr6 += 2\nout: r0 = r6\nexit")
    return Program("twice", "kprobe/f", "kprobe", "kprobe", "f", insns, sum(i.slots for i in insns),
                   [MapDef("m", map_type, 4, 8, 4)], license="GPL")


@pytest.mark.parametrize("failing, expected", [([], 3), ([0], 2), ([1], 1), ([0, 1], 0)])
def test_failing_lookups_miss_a_present_key(failing: list[int], expected: int) -> None:
    session = KprobeSession([_lookups_twice(1)], env=Environment.from_json(
        {"failing_calls": {"map_lookup_elem": failing}}))
    session.maps[0].load_entries([{"key": "00000000", "value": "00" * 8}])
    assert session.run_program(0, session.context({})).r0 == expected


def test_array_elements_do_not_go_away() -> None:
    session = KprobeSession([_lookups_twice(2)], env=Environment.from_json({"failing_calls": {"map_lookup_elem": [0, 1]}}))
    assert session.run_program(0, session.context({})).r0 == 3


@pytest.mark.parametrize("document, phrase", [
    ({"failing_calls": {"map_update_elem": [0]}}, "map_update_elem"),
    ({"failing_calls": {"ringbuf_reserve": [-1]}}, "-1"),
    ({"failing_calls": {"ringbuf_reserve": 1}}, "a list of at most 1024 call numbers"),
])
def test_failing_calls_are_checked(document: dict, phrase: str) -> None:
    from interp.world import WorldError

    with pytest.raises(WorldError, match=phrase):
        Environment.from_json(document)
