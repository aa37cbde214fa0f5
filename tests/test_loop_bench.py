"""`python -m papers.loop_bench --corpus DIR`: the loops of a corpus's tracing programs by how their
bound was found, and the programs with loops the kernel accepts that the verifier does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable

from papers.loop_bench import corpus_loops, manifest_of

ROOT = Path(__file__).resolve().parent.parent

SOURCE = """
SEC("kprobe/counted") int counted(struct pt_regs *ctx)
{
    unsigned long sum = 0;
    #pragma clang loop unroll(disable)
    for (unsigned long i = 0; i < 10; i++) {
        sum += i;
        asm volatile("" : "+r"(sum));
    }
    return sum;
}

SEC("kprobe/wraps") int wraps(struct pt_regs *ctx)
{
    unsigned long sum = 0;
    #pragma clang loop unroll(disable)
    for (unsigned int i = 1; i != 100; i += 2) {  /* odd: never 100 */
        sum += i;
        asm volatile("" : "+r"(sum));
    }
    return sum;
}

SEC("kprobe/straight") int straight(struct pt_regs *ctx)
{
    return 0;
}
"""


def test_corpus_loops_counts_bounds_and_lists_what_the_kernel_accepts_and_we_do_not(
        tmp_path: Path, compile_bpf: Callable[[str, str], Path]) -> None:
    obj = compile_bpf("loops", SOURCE)
    (tmp_path / "loops.o").write_bytes(obj.read_bytes())
    rows = ["file\tsection\tfunction\tprog_type\tkernel_6_18",
            "loops.o\tkprobe/counted\tcounted\tkprobe\taccept",
            "loops.o\tkprobe/wraps\twraps\tkprobe\taccept",  # (not what the kernel says: the listing is the test)
            "loops.o\tkprobe/straight\tstraight\tkprobe\taccept",
            "loops.o\tkprobe/straight\tstraight\txdp\taccept"]  # not a tracing program: left out
    (tmp_path / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    manifest = manifest_of(tmp_path)
    assert manifest == tmp_path / "MANIFEST.tsv"
    found = corpus_loops(manifest)
    assert (found.programs, found.with_loops, dict(found.how)) == (3, 2, {"proved": 1, "unbounded": 1})
    assert found.kernel_accepts == 2
    [listed] = found.not_accepted
    assert listed.startswith("loops.o kprobe/wraps wraps: rejected (unbounded-loop at insn ")


def test_a_corpus_directory_without_a_manifest_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "papers.loop_bench", "--corpus", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == f"loop_bench: {tmp_path}: no MANIFEST.tsv there or in its ebpf-samples/"
