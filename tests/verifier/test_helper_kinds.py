"""The argument and result kinds of the helpers beyond the common ones: each accepted where right and
refused with its code and message where wrong. Cases with a kernel label are checked against the
running kernel (`test_labels_match_the_kernel`, through interp.kernel_bpf, which also creates
frozen .rodata maps); where the label is "accept" and a code is set, the verifier is knowingly
stricter (the kind is not modelled)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from interp.asm.kernel_syntax import assemble
from interp.kernel_bpf import PROG_TYPES, BpfUnavailable, load_with_maps
from interp.program import MapDef, Program
from verifier.check import check_program

RODATA = MapDef("fmt", 2, 4, 16, 1, flags=1 << 7, origin="data", initial_value=b"pid %d\0\0%z\0abc\0\0", frozen=True)
NOT_FROZEN = MapDef("fmtw", 2, 4, 16, 1, origin="data", initial_value=b"pid %d\0" + bytes(9))
QUEUE = MapDef("q", 22, 0, 8, 4)
PERCPU_ARRAY = MapDef("pa", 6, 4, 16, 4)
ARRAY = MapDef("a", 2, 4, 16, 4)
TASK_STORAGE = MapDef("ts", 29, 4, 8, 0, flags=1)

STRTOL = ("*(u64 *)(r10 -16) = 0x3432\nr1 = r10\nr1 += -16\nr2 = 8\nr3 = 0\nr4 = r10\nr4 += {res}\ncall 105\n"
          "r0 = 0\nexit")  # strtol("24", 8, 0, res)
# snprintf(out, size, fmt, data, data_len) with the format at `fmt` in map 0 and one argument at fp-8
SNPRINTF = ("*(u64 *)(r10 -8) = 7\nr1 = {out}\nr2 = {size}\nr3 = map[idx:0][0]+{fmt} ll\nr4 = r10\nr4 += -8\n"
            "r5 = {data_len}\ncall 165\nr0 = 0\nexit")
TASK_STACK = "call 158\nr1 = r0\n{move}r2 = r10\nr2 += -64\nr3 = 64\nr4 = 0\ncall 141\n"


@dataclass
class Case:
    name: str
    asm: str
    kernel: str | None  # the running kernel's verdict; None where it cannot be asked without BTF
    code: str | None = None
    maps: tuple[MapDef, ...] = ()
    prog_type: str = "kprobe"
    message: str | None = None  # the finding's exact message


CASES = [
    Case("strtol aligned result", STRTOL.format(res=-24), "accept"),
    Case("strtol misaligned result", STRTOL.format(res=-20), "reject", "helper-memory",
         message="strtol: r4 (an 8-byte result) must be 8-byte aligned, but its offset is fp-20; pass an aligned "
                 "slot such as r10 - 8"),
    Case("strtol result past the stack", STRTOL.format(res=-24).replace("r4 += -24", "r4 += 0"), "reject",
         "helper-memory", message="strtol: r4 (an 8-byte result) points to stack bytes [0, 8), outside the 512-byte "
                                  "stack; make the buffer fit"),
    Case("strtol result is a number", STRTOL.format(res=-24).replace("r4 = r10\nr4 += -24", "r4 = 0"), "reject",
         "helper-argument", message="strtol: r4 (an 8-byte result) must point to writable memory (the stack, a map "
                                    "value or a ring buffer record), but it is NULL"),
    Case("snprintf measures", SNPRINTF.format(out=0, size=0, fmt=0, data_len=8), "accept", maps=(RODATA,)),
    Case("snprintf to the stack", SNPRINTF.format(out="r10", size=16, fmt=0, data_len=8).replace(
        "r1 = r10\n", "r1 = r10\nr1 += -32\n"), "accept", maps=(RODATA,)),
    Case("snprintf NULL with a size", SNPRINTF.format(out=0, size=8, fmt=0, data_len=8), "reject", "helper-argument",
         maps=(RODATA,), message="snprintf: r2 (a size) may be 8, but the buffer r1 is NULL; pass a size of 0 with a "
                                 "NULL buffer"),
    Case("snprintf format on the stack", SNPRINTF.format(out=0, size=0, fmt=0, data_len=8).replace(
        "r3 = map[idx:0][0]+0 ll", "r3 = r10\nr3 += -8"), "reject", "helper-argument", maps=(RODATA,),
         message="snprintf: r3 must point to a constant string at a constant offset in a read-only map (.rodata), "
                 "but it is fp-8"),
    Case("snprintf format in a writable map", SNPRINTF.format(out=0, size=0, fmt=0, data_len=8), "reject",
         "helper-argument", maps=(NOT_FROZEN,),
         message="snprintf: r3 must point to a constant NUL-terminated string, but map fmtw is not a frozen read-only "
                 "map (.rodata), so its contents may change"),
    Case("snprintf invalid conversion", SNPRINTF.format(out=0, size=0, fmt=8, data_len=8), "reject",
         "helper-argument", maps=(RODATA,),
         message="snprintf: invalid format string '%z': conversion at byte 0: %z is not accepted (only d i u x X, c, "
                 "s and p forms)"),
    Case("snprintf conversion without argument", SNPRINTF.format(out=0, size=0, fmt=0, data_len=0), "reject",
         "helper-argument", maps=(RODATA,),
         message="snprintf: invalid format string 'pid %d': conversion at byte 4 has no argument: 0 given"),
    Case("snprintf data_len not a multiple of 8", SNPRINTF.format(out=0, size=0, fmt=0, data_len=4), "reject",
         "helper-argument", maps=(RODATA,),
         message="snprintf: r5 (data_len) is 4, not a multiple of 8: the data is an array of 8-byte arguments"),
    Case("strncmp constant string", "*(u64 *)(r10 -8) = 0x636261\nr1 = r10\nr1 += -8\nr2 = 8\n"
         "r3 = map[idx:0][0]+11 ll\ncall 182\nexit", "accept", maps=(RODATA,)),
    Case("strncmp string without NUL", "*(u64 *)(r10 -8) = 0x636261\nr1 = r10\nr1 += -8\nr2 = 8\n"
         "r3 = map[idx:0][0]+11 ll\ncall 182\nexit", "reject", "helper-argument",
         maps=(MapDef("nonul", 2, 4, 16, 1, flags=1 << 7, origin="data", initial_value=b"x" * 16, frozen=True),),
         message="strncmp: r3 must point to a constant NUL-terminated string, but the bytes from offset 11 of map "
                 "nonul hold no NUL: the string is not terminated"),
    Case("trace_vprintk without data", "*(u64 *)(r10 -8) = 0x6968\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\nr4 = 0\n"
         "call 177\nr0 = 0\nexit", "accept"),
    Case("trace_vprintk NULL data with a size", "*(u64 *)(r10 -8) = 0x6968\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\n"
         "r4 = 8\ncall 177\nr0 = 0\nexit", "reject", "helper-argument"),
    Case("get_task_stack of the current task", TASK_STACK.format(move="") + "r0 = 0\nexit", "accept"),
    # the result is at most the buffer size: it may index the buffer
    Case("get_task_stack result bounded", TASK_STACK.format(move="") + "if r0 s< 1 goto +4\nr1 = r10\nr1 += -64\n"
         "r1 += r0\nr0 = *(u8 *)(r1 -1)\nr0 = 0\nexit", "accept"),
    Case("get_task_stack of a moved task pointer", TASK_STACK.format(move="r1 += 8\n") + "r0 = 0\nexit", "reject",
         "helper-argument", message="get_task_stack: r1 must be a task pointer from bpf_get_current_task_btf "
                                    "(unmoved), but it is trusted_ptr_task_struct+8"),
    Case("get_task_stack of get_current_task", TASK_STACK.format(move="").replace("call 158", "call 35") +
         "r0 = 0\nexit", "reject", "helper-argument"),
    # the kernel reads task_struct through BTF; we do not model its layout
    Case("task pointer read", "call 158\nr0 = *(u64 *)(r0 +0)\nexit", "accept", "invalid-dereference"),
    Case("task_pt_regs", "call 158\nr1 = r0\ncall 175\nr0 = 0\nexit", "accept"),
    Case("get_current_task_btf without gpl", "call 158\nr0 = 0\nexit", "reject", "gpl-only-helper"),
    Case("queue push and pop", "*(u64 *)(r10 -8) = 5\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -8\nr3 = 0\ncall 87\n"
         "r1 = map[idx:0] ll\nr2 = r10\nr2 += -16\ncall 88\nr0 = *(u64 *)(r10 -16)\nexit", "accept", maps=(QUEUE,)),
    Case("queue pop past the stack", "r1 = map[idx:0] ll\nr2 = r10\nr2 += -4\ncall 88\nr0 = 0\nexit", "reject",
         "helper-memory", maps=(QUEUE,)),
    Case("queue pop into a number", "r1 = map[idx:0] ll\nr2 = 0\ncall 89\nr0 = 0\nexit", "reject", "helper-argument",
         maps=(QUEUE,)),
    Case("push to an array", "*(u64 *)(r10 -16) = 5\n*(u64 *)(r10 -8) = 5\nr1 = map[idx:0] ll\nr2 = r10\n"
         "r2 += -16\nr3 = 0\ncall 87\nr0 = 0\nexit", "reject", "helper-argument", maps=(ARRAY,)),
    # another CPU may not exist: the lookup can miss even with a constant key into an array
    Case("percpu lookup needs a check", "*(u32 *)(r10 -4) = 0\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\nr3 = 1\n"
         "call 195\nr0 = *(u64 *)(r0 +0)\nexit", "reject", "possible-null-dereference", maps=(PERCPU_ARRAY,)),
    Case("percpu lookup checked", "*(u32 *)(r10 -4) = 0\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\nr3 = 1\n"
         "call 195\nif r0 == 0 goto +1\nr0 = *(u64 *)(r0 +0)\nexit", "accept", maps=(PERCPU_ARRAY,)),
    Case("percpu lookup of an array", "*(u32 *)(r10 -4) = 0\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\nr3 = 1\n"
         "call 195\nr0 = 0\nexit", "reject", "helper-argument", maps=(ARRAY,)),
    Case("get_ns_current_pid_tgid", "r1 = 4\nr2 = 0\nr3 = r10\nr3 += -8\nr4 = 8\ncall 120\nr0 = 0\nexit", "accept"),
    Case("send_signal", "r1 = 10\ncall 109\nr0 = 0\nexit", "accept"),
    Case("get_func_ip", "call 173\nexit", "accept"),
    Case("get_func_ip of a number", "r1 = 0\ncall 173\nexit", "reject", "helper-argument"),
    Case("get_func_ip in a tracepoint", "call 173\nexit", "reject", "unknown-helper", prog_type="tracepoint"),
    Case("copy_from_user may sleep", "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 148\nr0 = 0\nexit", "reject",
         "unknown-helper"),
    Case("read_branch_records measures", "r2 = 0\nr3 = 0\nr4 = 1\ncall 119\nexit", "accept", prog_type="perf_event"),
    Case("read_branch_records NULL with a size", "r2 = 0\nr3 = 24\nr4 = 0\ncall 119\nexit", "reject",
         "helper-argument", prog_type="perf_event"),
    Case("ancestor cgroup and numa node", "r1 = 1\ncall 123\ncall 42\ncall 17\ncall 208\nexit", "accept"),
    # (the kernel needs BTF func_info for a callback: not asked)
    Case("bpf_loop callback", "r1 = 4\nr2 = func[pc+6] ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 0\nexit\n"
         "r0 = 0\nexit", None),
    # not modelled: refused, though the kernel takes them
    Case("for_each_map_elem callback", "r1 = map[idx:0] ll\nr2 = func[pc+6] ll\nr3 = 0\nr4 = 0\ncall 164\n"
         "r0 = 0\nexit\nr0 = 0\nexit", None, "unsupported-helper",
         message="for_each_map_elem: r2 must be a callback, which the helper calls with arguments and effects on "
                 "the caller's stack that this verifier does not analyse; the call is refused", maps=(ARRAY,)),
    Case("dynptr from a map value", "*(u32 *)(r10 -4) = 0\nr1 = map[idx:0] ll\nr2 = r10\nr2 += -4\ncall 1\n"
         "if r0 == 0 goto +5\nr1 = r0\nr2 = 16\nr3 = 0\nr4 = r10\nr4 += -24\ncall 197\nr0 = 0\nexit", "accept",
         "unsupported-helper", maps=(ARRAY,)),
    Case("spin lock on the stack", "r1 = r10\nr1 += -8\ncall 93\nr0 = 0\nexit", "reject", "unsupported-helper"),
    # task storage maps need BTF to be created: not asked of the kernel
    Case("task storage get", "call 158\nr2 = r0\nr1 = map[idx:0] ll\nr3 = 0\nr4 = 1\ncall 156\nif r0 == 0 goto +1\n"
         "r0 = *(u64 *)(r0 +0)\nexit", None, maps=(TASK_STORAGE,)),
    Case("task storage get unchecked", "call 158\nr2 = r0\nr1 = map[idx:0] ll\nr3 = 0\nr4 = 1\ncall 156\n"
         "r0 = *(u64 *)(r0 +0)\nexit", None, "possible-null-dereference", maps=(TASK_STORAGE,)),
    Case("task storage of a NULL task", "r2 = 0\nr1 = map[idx:0] ll\nr3 = 0\nr4 = 1\ncall 156\nr0 = 0\nexit", None,
         maps=(TASK_STORAGE,)),
    Case("task storage of a number", "r2 = 1\nr1 = map[idx:0] ll\nr3 = 0\nr4 = 1\ncall 156\nr0 = 0\nexit", None,
         "helper-argument", maps=(TASK_STORAGE,)),
    Case("task storage initial value too short", "call 158\nr2 = r0\nr1 = map[idx:0] ll\nr3 = r10\nr3 += -4\n"
         "*(u32 *)(r10 -4) = 0\nr4 = 1\ncall 156\nr0 = 0\nexit", None, "helper-memory", maps=(TASK_STORAGE,)),
    Case("cgroup storage", "r1 = map[idx:0] ll\nr2 = 0\ncall 211\nr0 = 0\nexit", None, "unsupported-helper",
         maps=(MapDef("cs", 32, 4, 8, 0, flags=1),)),
    # the kernel does not bound get_numa_node_id; MAX_NUMNODES does
    Case("numa node bounded", "call 42\nr0 &= 0xffff\nif r0 > 1023 goto +1\nexit\nr1 = 0\nr0 = *(u64 *)(r1 +0)\n"
         "exit", None),
]


def program(case: Case) -> Program:
    insns = assemble(case.asm)
    license = "Proprietary" if "without gpl" in case.name else "GPL"
    return Program(case.name, f"{case.prog_type}/f", case.prog_type, case.prog_type, "f", insns,
                   sum(i.slots for i in insns), list(case.maps), license=license)


def test_case_names_are_unique() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_verdict_code_and_message(case: Case) -> None:
    result = check_program(program(case))
    if case.code is None:
        assert result.verdict == "accepted", [str(f) for f in result.findings]
        return
    assert result.verdict == "rejected"
    assert case.code in {f.code for f in result.findings}, [str(f) for f in result.findings]
    if case.message is not None:
        assert case.message in [f.message for f in result.findings]


def kernel_verdict(case: Case) -> str:
    prog = program(case)
    loaded = load_with_maps(prog.insns, list(case.maps), PROG_TYPES[case.prog_type], prog.license).loaded
    return "accept" if loaded else "reject"


@pytest.mark.kernel
def test_labels_match_the_kernel() -> None:
    try:
        load_with_maps(assemble("r0 = 0\nexit"), [], PROG_TYPES["kprobe"])
    except BpfUnavailable:
        pytest.skip("bpf() is not permitted here")
    wrong = [f"{c.name}: kernel says {v}, label says {c.kernel}"
             for c in CASES if c.kernel is not None and (v := kernel_verdict(c)) != c.kernel]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("case", [c for c in CASES if c.kernel == "reject"], ids=lambda c: c.name)
def test_never_accept_what_the_kernel_refuses(case: Case) -> None:
    assert check_program(program(case)).verdict == "rejected"
