"""Differential execution: kprobe programs attached through uprobes to the functions of a small
C program (built here with gcc) run in the kernel while the program calls them with chosen
arguments; the same programs run in our kprobe runtime with the same argument registers and
must leave the same map contents. What the kernel alone knows is given to the runtime: the
child's pid, uid, gid, comm and CPU (it is pinned to CPU 0), and the address of the string it
passes. Helpers whose results differ by nature (time, random numbers) are compared by shape."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from interp import kernel
from interp.kernel.maps import possible_cpus
from interp.kernel.probes import attach_uprobe
from interp.kprobe import KprobeSession, PerfEvent
from interp.loader import load_object
from interp.world import Environment, KernelMemory

TARGET = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static char message[32] = "hello from user space";
long f2(long a, long b) { return a + b; }
long f6(long a, long b, long c, long d, long e, long f) { return a ^ b ^ c ^ d ^ e ^ f; }
long fstr(long n, const char *s) { return n + s[0]; }
int main(int argc, char **argv) {
    printf("%p\n", (void *)message);
    fflush(stdout);
    for (int i = 1; i < argc; i++) {   /* each argument: NAME:ARG:ARG... */
        long v[6] = {0};
        int n = 0;
        char *name = strtok(argv[i], ":"), *word;
        while ((word = strtok(NULL, ":")) && n < 6)
            v[n++] = strtol(word, NULL, 0);
        if (!strcmp(name, "f2")) f2(v[0], v[1]);
        else if (!strcmp(name, "f6")) f6(v[0], v[1], v[2], v[3], v[4], v[5]);
        else if (!strcmp(name, "fstr")) fstr(v[0], message);
    }
    return 0;
}
"""
MESSAGE = b"hello from user space".ljust(32, b"\0")
ARG_REGISTERS = ("di", "si", "dx", "cx", "r8", "r9")  # x86_64: arguments 1-6

# (function, arguments); fstr's second argument is the address of `message`
CALLS: list[tuple[str, tuple[int, ...]]] = [
    ("f2", (1, 2)), ("f2", (30, 40)), ("f6", (1, 2, 3, 4, 5, 6)), ("f2", (-5, 7)), ("fstr", (3,)),
    ("f2", (0x7FFF_FFFF_FFFF_FFFF, 1)), ("f6", (-1, 0, 0x100, 7, 8, 9)), ("f2", (30, 1)), ("fstr", (4,)),
]


@dataclass
class Case:
    name: str
    source: str
    by_shape: frozenset[str] = frozenset()  # maps compared by keys and non-zero values only


CASES = [
    Case("sum_args", """
struct { __uint(type, 2); __uint(max_entries, 2); __type(key, u32); __type(value, u64); } sums SEC(".maps");
SEC("uprobe/f2") int sum_args(struct pt_regs *ctx) {
    u32 key = 0;
    u64 *v = bpf_map_lookup_elem(&sums, &key);
    if (v) __sync_fetch_and_add(v, ctx->di + ctx->si);
    key = 1;
    v = bpf_map_lookup_elem(&sums, &key);
    if (v) __sync_fetch_and_add(v, 1);
    return 0;
}"""),
    Case("count_by_first_arg", """
struct { __uint(type, 1); __uint(max_entries, 16); __type(key, u64); __type(value, u64); } counts SEC(".maps");
SEC("uprobe/f2") int count_by_first_arg(struct pt_regs *ctx) {
    u64 key = ctx->di, one = 1;
    u64 *v = bpf_map_lookup_elem(&counts, &key);
    if (v) __sync_fetch_and_add(v, 1);
    else bpf_map_update_elem(&counts, &key, &one, 1 /* BPF_NOEXIST */);
    return 0;
}"""),
    Case("six_arguments", """
struct { __uint(type, 2); __uint(max_entries, 6); __type(key, u32); __type(value, u64); } args SEC(".maps");
static void put(u32 key, u64 value) { u64 *v = bpf_map_lookup_elem(&args, &key); if (v) *v += value; }
SEC("uprobe/f6") int six_arguments(struct pt_regs *ctx) {
    put(0, ctx->di); put(1, ctx->si); put(2, ctx->dx); put(3, ctx->cx); put(4, ctx->r8); put(5, ctx->r9);
    return 0;
}"""),
    Case("per_cpu", """
struct { __uint(type, 6); __uint(max_entries, 1); __type(key, u32); __type(value, u64); } per_cpu SEC(".maps");
SEC("uprobe/f2") int per_cpu_sum(struct pt_regs *ctx) {
    u32 key = 0;
    u64 *v = bpf_map_lookup_elem(&per_cpu, &key);
    if (v) *v += ctx->si;
    return 0;
}"""),
    Case("who_called", """
struct who { u64 pid_tgid, uid_gid; char comm[16]; u32 cpu, pad; };
struct { __uint(type, 1); __uint(max_entries, 4); __type(key, u32); __type(value, struct who); } who SEC(".maps");
SEC("uprobe/f2") int who_called(struct pt_regs *ctx) {
    struct who w = {};
    u32 key = 0;
    w.pid_tgid = bpf_get_current_pid_tgid();
    w.uid_gid = bpf_get_current_uid_gid();
    bpf_get_current_comm(w.comm, sizeof(w.comm));
    w.cpu = bpf_get_smp_processor_id();
    bpf_map_update_elem(&who, &key, &w, 0);
    return 0;
}"""),
    Case("loop_in_a_subprogram", """
struct { __uint(type, 2); __uint(max_entries, 1); __type(key, u32); __type(value, u64); } totals SEC(".maps");
static __attribute__((noinline)) u64 mix(u64 n) {
    u64 sum = 0;
    for (u64 i = 0; i < (n & 31); i++) sum = (sum << 3) ^ (sum >> 5) ^ i;
    return sum;
}
SEC("uprobe/f2") int loop_in_a_subprogram(struct pt_regs *ctx) {
    u32 key = 0;
    u64 *v = bpf_map_lookup_elem(&totals, &key);
    if (v) *v += mix(ctx->di);
    return 0;
}"""),
    Case("global_data", """
const volatile u64 scale = 3;
u64 calls = 5;
u64 total;
SEC("uprobe/f2") int global_data(struct pt_regs *ctx) {
    total += ctx->di * scale;
    calls += 1;
    return 0;
}"""),
    Case("read_user_string", """
struct { __uint(type, 1); __uint(max_entries, 4); __type(key, u64); __type(value, char[16]); } seen SEC(".maps");
SEC("uprobe/fstr") int read_user_string(struct pt_regs *ctx) {
    char text[16] = {};
    u64 key = ctx->di;
    bpf_probe_read_user(text, sizeof(text), (void *)ctx->si);
    bpf_map_update_elem(&seen, &key, text, 0);
    return 0;
}"""),
    Case("time_and_random", """
struct { __uint(type, 2); __uint(max_entries, 2); __type(key, u32); __type(value, u64); } clock SEC(".maps");
struct { __uint(type, 2); __uint(max_entries, 1); __type(key, u32); __type(value, u64); } calls SEC(".maps");
SEC("uprobe/f2") int time_and_random(struct pt_regs *ctx) {
    u32 key = 0;
    u64 *v = bpf_map_lookup_elem(&clock, &key);
    if (v) *v = bpf_ktime_get_ns();
    key = 1;
    v = bpf_map_lookup_elem(&clock, &key);
    if (v) *v = bpf_get_prandom_u32() | 1;
    key = 0;
    v = bpf_map_lookup_elem(&calls, &key);
    if (v) *v += 1;
    return 0;
}""", by_shape=frozenset({"clock"})),
]


def normalised(dumps: list[dict[str, Any]], names: set[str], by_shape: frozenset[str]) -> dict[str, Any]:
    """Each named map's entries sorted by key; maps compared by shape keep keys and whether the
    value is non-zero."""
    out = {}
    for dump in dumps:
        if dump["name"] not in names:
            continue
        entries = sorted((e["key"], e["value"]) for e in dump["entries"])
        if dump["name"] in by_shape:
            entries = [(key, int(value, 16) != 0) for key, value in entries]
        out[dump["name"]] = entries
    return out


@pytest.fixture(scope="module")
def target(compile_native: Callable[[str, str], Path]) -> Path:
    return compile_native("target", TARGET)


def run_target(binary: Path) -> tuple[int, int]:
    """Run the target through CALLS on CPU 0: (its pid, the address of its message)."""
    child = subprocess.Popen([str(binary)] + [":".join([name, *map(str, args)]) for name, args in CALLS],
                             stdout=subprocess.PIPE, text=True, preexec_fn=lambda: os.sched_setaffinity(0, {0}))
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 0
    return child.pid, int(out.split()[0], 16)


def run_in_interpreter(obj: Path, function: str, pid: int, message: int) -> list[dict[str, Any]]:
    kmem = KernelMemory()
    kmem.add(message, MESSAGE, "message")
    env = Environment(pid=pid, tgid=pid, uid=os.getuid(), gid=os.getgid(), comm=b"target")
    session = KprobeSession(load_object(obj), kmem=kmem, env=env, ncpus=possible_cpus())
    event = PerfEvent(session, function)
    event.set_bpf(0)
    for name, args in CALLS:
        if name != function:
            continue
        values = list(args) + ([message] if name == "fstr" else [])
        fired = event.fire(session.context(dict(zip(ARG_REGISTERS, values))), cpu=0)
        assert fired.ran and fired.outcome is not None and fired.outcome.fault is None, fired
    return session.dump_maps()


@pytest.mark.kernel
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_kernel_and_interpreter_leave_the_same_maps(case: Case, target: Path,
                                                    compile_bpf: Callable[[str, str], Path]) -> None:
    obj = compile_bpf(case.name, case.source)
    program = load_object(obj)[0]
    function = program.attach_to
    assert function is not None
    with kernel.load_program(program) as loaded:
        assert loaded.verdict.accepted, loaded.verdict.log
        assert loaded.prog_fd is not None and loaded.maps is not None
        with attach_uprobe(loaded.prog_fd, target, function):
            pid, message = run_target(target)
        in_kernel = loaded.maps.dump()
    names = {dump["name"] for dump in in_kernel}
    interpreted = run_in_interpreter(obj, function, pid, message)
    expected = normalised(interpreted, names, case.by_shape)
    assert normalised(in_kernel, names, case.by_shape) == expected, json.dumps(in_kernel)
    assert any(entries for entries in expected.values())  # the probe fired and left something
