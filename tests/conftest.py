"""Shared test fixtures: where the shared corpus lives; tests marked `kernel` skip in one line
where bpf() cannot be used, and the summary says how many kernel tests ran and were skipped."""

from __future__ import annotations

import collections
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"
CONFORMANCE = SHARED / "corpus" / "conformance"

_kernel_outcomes: collections.Counter[str] = collections.Counter()
_kernel_skips: collections.Counter[str] = collections.Counter()


# what BPF C test programs need, without kernel headers: section and map macros, pt_regs (x86_64)
# and the helpers by id
BPF_PRELUDE = """\
#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
typedef unsigned int u32;
typedef unsigned long long u64;
struct pt_regs { unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di; };
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *)2;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static u32 (*bpf_get_prandom_u32)(void) = (void *)7;
static u32 (*bpf_get_smp_processor_id)(void) = (void *)8;
static u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static u64 (*bpf_get_current_uid_gid)(void) = (void *)15;
static long (*bpf_get_current_comm)(void *buf, u32 size) = (void *)16;
static long (*bpf_probe_read_user)(void *dst, u32 size, const void *src) = (void *)112;
static long (*bpf_probe_read_kernel)(void *dst, u32 size, const void *src) = (void *)113;
char _license[] SEC("license") = "GPL";
"""


def _compile(tool: str, args: list[str], source: Path) -> None:
    result = subprocess.run([tool, *args], capture_output=True, text=True)
    assert result.returncode == 0, f"{tool} failed on {source.name}:\n{result.stderr}"


@pytest.fixture(scope="session")
def compile_bpf(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """compile_bpf(name, source) -> the object clang -O2 -g -target bpf makes of prelude + source."""
    clang = shutil.which("clang")
    if clang is None:
        pytest.skip("clang is not installed; cannot compile BPF test programs")
    directory = tmp_path_factory.mktemp("bpf")

    def compile_one(name: str, source: str) -> Path:
        src, obj = directory / f"{name}.c", directory / f"{name}.o"
        src.write_text(BPF_PRELUDE + source)
        _compile(clang, ["-O2", "-g", "-target", "bpf", "-c", str(src), "-o", str(obj)], src)
        return obj

    return compile_one


@pytest.fixture(scope="session")
def compile_native(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """compile_native(name, source) -> an executable gcc -O0 makes of source (for uprobes)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed; cannot build the program to probe")
    directory = tmp_path_factory.mktemp("native")

    def compile_one(name: str, source: str) -> Path:
        src, binary = directory / f"{name}.c", directory / name
        src.write_text(source)
        _compile(gcc, ["-O0", "-o", str(binary), str(src)], src)
        return binary

    return compile_one


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    if not (CONFORMANCE / "tests").is_dir():
        pytest.skip(f"conformance suite not found at {CONFORMANCE}")
    return CONFORMANCE


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("kernel") is not None:
        from interp.kernel import unavailable_reason

        reason = unavailable_reason()
        if reason is not None:
            pytest.skip(f"kernel: {reason}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "kernel" not in report.keywords:
        return
    if report.skipped:
        _kernel_outcomes["skipped"] += 1
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _kernel_skips[reason.removeprefix("Skipped: ")] += 1
    elif report.when == "call":
        _kernel_outcomes["passed" if report.passed else "failed"] += 1
    elif report.failed:  # an error in setup or teardown
        _kernel_outcomes["failed"] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _kernel_outcomes:
        return
    ran = _kernel_outcomes["passed"] + _kernel_outcomes["failed"]
    terminalreporter.write_line(f"kernel tests: {ran} ran ({_kernel_outcomes['passed']} passed, "
                                f"{_kernel_outcomes['failed']} failed), {_kernel_outcomes['skipped']} skipped")
    for reason, count in _kernel_skips.most_common():
        terminalreporter.write_line(f"  skipped {count}: {reason}")
