"""The helpers beyond the common ones, run in the kprobe runtime with concrete values: each reads
the environment or the maps and gives the kernel's result; those that cannot be emulated fault as
unsupported, saying why."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interp.asm.kernel_syntax import assemble
from interp.faults import FaultKind
from interp.kprobe import KprobeSession, RunOutcome
from interp.kprobe_helpers import _strtoull
from interp.program import MapDef, Program
from interp.world import Environment

RODATA = MapDef("fmt", 2, 4, 32, 1, flags=1 << 7, origin="data",
                initial_value=b"pid=%d %s!\0%pI4 %05x\0".ljust(32, b"\0"), frozen=True)


def run(asm: str, maps: list[MapDef] | None = None, env: Environment | None = None,
        ncpus: int = 1) -> tuple[KprobeSession, RunOutcome]:
    program = Program("p", "kprobe/f", "kprobe", "kprobe", "f", assemble(asm), 0, maps or [], license="GPL")
    session = KprobeSession([program], env=env or Environment(), ncpus=ncpus)
    return session, session.run_program(0, session.context({}))


@pytest.mark.parametrize("helper, field, value", [
    (208, "tai_ns", 5_000_000_123), (42, "numa_node", 3), (17, "cgroup_classid", 0x10002),
    (173, "func_ip", 0xFFFF_FFFF_8123_4560), (174, "attach_cookie", 77), (158, "current_task", 0xFFFF_8880_0200_0000),
])
def test_helpers_that_read_the_environment(helper: int, field: str, value: int) -> None:
    env = Environment()
    setattr(env, field, value)
    _, outcome = run(f"call {helper}\nexit", env=env)
    assert outcome.fault is None and outcome.r0 == value


def test_ancestor_cgroups_by_level() -> None:
    env = Environment(cgroup_id=30, cgroup_ancestors=[1, 20, 30])
    asm = "r1 = {}\ncall 123\nexit"
    assert [run(asm.format(level), env=env)[1].r0 for level in (0, 1, 2, 3, -1)] == [1, 20, 30, 0, 0]
    assert run(asm.format(0), env=Environment(cgroup_id=9))[1].r0 == 9  # no path given: the root is the cgroup


def test_ns_pid_tgid() -> None:
    asm = "r1 = {dev}\nr2 = {ino} ll\nr3 = r10\nr3 += -8\nr4 = 8\ncall 120\n*(u64 *)(r10 -16) = r0\nr0 = *(u64 *)(r10 -8)\nexit"
    env = Environment(pid=100, tgid=99, ns_pid=5, ns_tgid=4)
    _, outcome = run(asm.format(dev=4, ino=0xEFFFFFFC), env=env)
    assert outcome.r0 == (4 << 32) | 5
    _, outcome = run(asm.format(dev=4, ino=1), env=env)  # another namespace: -EINVAL and zeroes
    assert outcome.r0 == 0


def test_send_signal_is_recorded() -> None:
    session, outcome = run("r1 = 9\ncall 109\nr1 = 10\ncall 117\nr1 = 65\ncall 109\nexit",
                           env=Environment(pid=7, tgid=6))
    assert outcome.r0 == (-22) & 0xFFFF_FFFF_FFFF_FFFF  # signal 65 does not exist
    assert session.output == [{"kind": "send_signal", "signal": 9, "to": "process", "pid": 6},
                              {"kind": "send_signal", "signal": 10, "to": "thread", "pid": 7}]


STRTOL = "r1 = r10\nr1 += -32\nr2 = {size}\nr3 = {flags}\nr4 = r10\nr4 += -40\ncall {helper}\n"


def _strtol(text: bytes, flags: int = 0, helper: int = 105) -> tuple[int, int]:
    """(return value, result) of strtol/strtoul on `text` placed at fp-32 (at most 32 bytes)"""
    stores = "".join(f"*(u8 *)(r10 {-32 + i}) = {b}\n" for i, b in enumerate(text.ljust(32, b"\0")))
    call = stores + STRTOL.format(size=len(text), flags=flags, helper=helper)
    ret = run(call + "exit")[1].r0
    result = run(call + "r0 = *(u64 *)(r10 -40)\nexit")[1].r0
    return ret - (1 << 64) if ret >> 63 else ret, result


@pytest.mark.parametrize("text, flags, helper, ret, value", [
    (b"  -42x", 0, 105, 5, -42 & 0xFFFF_FFFF_FFFF_FFFF),
    (b"0x1f", 0, 105, 4, 31),
    (b"0x1f", 16, 106, 4, 31),
    (b"017", 0, 106, 3, 15),
    (b"-5", 0, 106, -22, 0),  # strtoul refuses a sign
    (b"x", 0, 105, -22, 0),
    (b"12", 3, 105, -22, 0),  # base 3 is not accepted
    (b"99999999999999999999", 10, 106, -34, 0),  # overflows 64 bits: -ERANGE
    (b"9223372036854775808", 10, 105, -34, 0),  # above LLONG_MAX
])
def test_strtol_and_strtoul(text: bytes, flags: int, helper: int, ret: int, value: int) -> None:
    assert _strtol(text, flags, helper) == (ret, value)


@given(st.integers(0, (1 << 64) - 1), st.sampled_from([8, 10, 16]))
def test_strtoull_reads_what_python_writes(value: int, base: int) -> None:
    text = {8: f"{value:o}", 10: str(value), 16: f"{value:x}"}[base].encode()
    consumed, parsed, negative = _strtoull(text, base)
    if len(text) > 63:
        return
    assert (consumed, parsed, negative) == (len(text), value, False)


def test_snprintf_formats_from_rodata() -> None:
    asm = ("*(u64 *)(r10 -40) = 0x6b6f\n"  # "ok"
           "*(u64 *)(r10 -16) = -3\nr1 = r10\nr1 += -40\n*(u64 *)(r10 -8) = r1\n"
           "r1 = r10\nr1 += -32\nr2 = 16\nr3 = map[idx:0][0]+0 ll\nr4 = r10\nr4 += -16\nr5 = 16\ncall 165\n"
           "r1 = r10\nr1 += -32\nr2 = 16\nr3 = 0\nr4 = 0\ncall 177\nexit")
    session, outcome = run(asm, [RODATA])
    assert outcome.fault is None
    assert session.output == [{"kind": "trace_printk", "text": "pid=-3 ok!"}]


def test_snprintf_truncates_and_returns_the_full_length() -> None:
    asm = ("*(u64 *)(r10 -16) = 0x0100007f\nr1 = r10\nr1 += -16\n*(u64 *)(r10 -8) = r1\n*(u64 *)(r10 -24) = 26\n"
           "r1 = r10\nr1 += -32\nr2 = 8\nr3 = map[idx:0][0]+11 ll\nr4 = r10\nr4 += -8\n*(u64 *)(r10 -0) = 0\n"
           "r5 = 16\nr4 += -16\n*(u64 *)(r10 -24) = r1\n"
           "r4 = r10\nr4 += -48\n*(u64 *)(r10 -48) = 0\n*(u64 *)(r10 -40) = 26\n"
           "r6 = r10\nr6 += -16\n*(u64 *)(r10 -48) = r6\ncall 165\n"
           "r6 = r0\nr1 = r10\nr1 += -32\nr2 = 8\nr3 = 0\nr4 = 0\ncall 177\nr0 = r6\nexit")
    session, outcome = run(asm.replace("*(u64 *)(r10 -0) = 0\n", ""), [RODATA])
    assert outcome.fault is None
    assert outcome.r0 == len("127.0.0.1 0001a") + 1
    assert session.output == [{"kind": "trace_printk", "text": "127.0.0"}]


def test_strncmp() -> None:
    asm = ("*(u64 *)(r10 -8) = {word}\nr1 = r10\nr1 += -8\nr2 = {size}\nr3 = map[idx:0][0]+7 ll\ncall 182\n"
           "r0 <<= 32\nr0 s>>= 32\nexit")
    rodata = MapDef("s", 2, 4, 16, 1, flags=1 << 7, origin="data", initial_value=b"xxxxxxxabc\0".ljust(16, b"\0"),
                    frozen=True)
    results = [run(asm.format(word=w, size=n), [rodata])[1].r0 for w, n in
               ((0x636261, 8), (0x646261, 8), (0x626261, 8), (0x636261, 2), (0x63626100, 8))]
    assert [r - (1 << 64) if r >> 63 else r for r in results] == [0, 1, -1, 0, -1]


def test_queue_and_stack_maps() -> None:
    push = "*(u64 *)(r10 -8) = {v}\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -8\nr3 = {flags}\ncall 87\nr7 = r0\n"
    pop = "r1 = map[idx:0] ll\nr2 = r10\nr2 += -16\ncall {helper}\nr6 = *(u64 *)(r10 -16)\n"
    asm = push.format(v=1, flags=0) + push.format(v=2, flags=0) + push.format(v=3, flags=0) + \
        pop.format(helper=89) + "r8 = r6\n" + pop.format(helper=88) + "r0 = r8\nr0 <<= 8\nr0 |= r6\nexit"
    queue = MapDef("q", 22, 0, 8, 2)
    session, outcome = run(asm, [queue])
    assert outcome.fault is None
    assert outcome.r0 == (1 << 8) | 1  # full after 2: the third push fails, the oldest is peeked then popped
    assert session.maps[0].dump()["entries"] == [{"key": "", "value": (2).to_bytes(8, "little").hex()}]
    stack = MapDef("s", 23, 0, 8, 2)
    asm = push.format(v=1, flags=0) + push.format(v=2, flags=0) + push.format(v=3, flags=2) + pop.format(helper=88) + \
        "r0 = r6\nexit"
    assert run(asm, [stack])[1].r0 == 3  # BPF_EXIST made room; a stack pops its newest
    empty = run(pop.format(helper=88) + "r0 = r6\nexit", [queue])[1]
    assert empty.r0 == 0


def test_percpu_lookup_on_another_cpu() -> None:
    asm = ("*(u32 *)(r10 -4) = 0\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\nr3 = {cpu}\ncall 195\nif r0 == 0 goto +1\n"
           "r0 = *(u64 *)(r0 +0)\nexit")
    percpu = MapDef("pa", 6, 4, 8, 1)
    program = Program("p", "kprobe/f", "kprobe", "kprobe", "f", assemble(asm.format(cpu=1)), 0, [percpu],
                      license="GPL")
    session = KprobeSession([program], ncpus=2)
    session.maps[0].load_entries([{"key": "00000000", "value": ["0100000000000000", "0700000000000000"]}])
    assert session.run_program(0, session.context({})).r0 == 7
    assert run(asm.format(cpu=5), [percpu], ncpus=2)[1].r0 == 0  # no CPU 5: NULL


def test_task_storage_is_created_on_demand() -> None:
    asm = ("call 158\nr6 = r0\nr1 = map[idx:0] ll\nr2 = r6\nr3 = 0\nr4 = {flags}\ncall 156\nif r0 == 0 goto +3\n"
           "r1 = 5\n*(u64 *)(r0 +0) = r1\nr0 = 1\nexit")
    storage = MapDef("ts", 29, 4, 8, 0, flags=1)
    assert run(asm.format(flags=0), [storage])[1].r0 == 0  # not created: NULL, the program returns 0
    session, outcome = run(asm.format(flags=1), [storage])
    assert outcome.r0 == 1
    task = Environment().current_task
    assert session.maps[0].dump()["entries"] == [{"key": task.to_bytes(8, "little").hex(),
                                                  "value": (5).to_bytes(8, "little").hex()}]


def test_task_stack_and_saved_registers() -> None:
    env = Environment(stack=[0x1111, 0x2222, 0x3333], task_pt_regs=0xFFFF_C900_0000_1000)
    asm = ("call 158\nr1 = r0\nr2 = r10\nr2 += -16\nr3 = 16\nr4 = 1\ncall 141\nr6 = *(u64 *)(r10 -8)\n"
           "call 158\nr1 = r0\ncall 175\nr0 += r6\nexit")
    _, outcome = run(asm, env=env)
    assert outcome.r0 == 0xFFFF_C900_0000_1000 + 0x3333  # skip 1 frame: 0x2222 at -16, 0x3333 at -8


def test_branch_snapshot() -> None:
    env = Environment(branch_records=[[1, 2, 0], [3, 4, 0]])
    asm = "r1 = r10\nr1 += -48\nr2 = 48\nr3 = 0\ncall 176\nr6 = *(u64 *)(r10 -24)\nr0 <<= 8\nr0 |= r6\nexit"
    assert run(asm, env=env)[1].r0 == (48 << 8) | 3
    assert run("r1 = r10\nr1 += -48\nr2 = 48\nr3 = 0\ncall 176\nexit")[1].r0 == (-2) & 0xFFFF_FFFF_FFFF_FFFF


def test_ringbuf_query() -> None:
    ring = MapDef("rb", 27, 0, 0, 4096)
    asm = ("*(u64 *)(r10 -8) = 1\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -8\nr3 = 8\nr4 = 0\ncall 130\n"
           "r1 = map[idx:0] ll\nr2 = {flag}\ncall 134\nexit")
    assert [run(asm.format(flag=f), [ring])[1].r0 for f in (0, 1, 2, 3)] == [16, 4096, 0, 16]


@pytest.mark.parametrize("asm, reason", [
    ("r1 = r10\nr1 += -8\ncall 93\nexit", "spin_lock: cannot emulate: a tracing program cannot hold a bpf_spin_lock"),
    ("r1 = 0\ncall 154\nexit", "this_cpu_ptr: cannot emulate: per-CPU kernel variables (__ksym) are not part of"),
    ("r1 = 0\nr2 = 0\nr3 = 0\nr4 = r10\nr4 += -16\ncall 197\nexit", "dynptr_from_mem: cannot emulate: dynptrs are"),
])
def test_what_cannot_be_emulated_faults(asm: str, reason: str) -> None:
    _, outcome = run(asm)
    assert outcome.fault is not None and outcome.fault.kind == FaultKind.UNSUPPORTED
    assert outcome.fault.message.startswith(reason)


def test_another_task_is_not_made_up() -> None:
    _, outcome = run("r1 = 0x1234\ncall 175\nexit")
    assert outcome.fault is not None and outcome.fault.kind == FaultKind.UNSUPPORTED
    assert "is not the current task" in outcome.fault.message


def test_read_branch_records_sizes() -> None:
    env = Environment(branch_records=[[1, 2, 3]])
    assert run("r2 = 0\nr3 = 0\nr4 = 1\ncall 119\nexit", env=env)[1].r0 == 24
    assert run("r2 = r10\nr2 += -24\nr3 = 24\nr4 = 0\ncall 119\nr0 = *(u64 *)(r10 -8)\nexit", env=env)[1].r0 == 3

