"""The linux-6.18 helper sets: the data file is well formed, every helper it allows has a prototype,
and it matches what the running kernel allows (where bpf() works).

Kernels differ between machines (lockdown can forbid probe_write_user, override_return needs
CONFIG_BPF_KPROBE_OVERRIDE, ...). A helper the data allows but the running kernel refuses, or a
GPL-only helper the data lets any program call, fails the test: the profile would accept programs
this kernel refuses. A helper the running kernel allows beyond the data only warns: the profile is
then stricter than this kernel, which is safe."""

from __future__ import annotations

import json
import warnings

import jsonschema
import pytest

from interp import probe_helpers
from interp.helper_ids import HELPER_NAMES
from interp.helper_sets import DATA_FILE, HelperSets, TypeHelpers, linux_6_18
from interp.kernel_bpf import BpfUnavailable
from interp.kprobe_helpers import kprobe_helpers
from verifier.profiles import LINUX_6_18, helper_registry

HELPER = {"type": "object", "required": ["id", "name"], "properties": {
    "id": {"type": "integer", "minimum": 1}, "name": {"type": "string"}, "gpl_only": {"type": "boolean"},
    "reason": {"type": "string"}}}
SCHEMA = {
    "type": "object",
    "required": ["kernel_release", "machine", "command", "program_types"],
    "properties": {
        "kernel_release": {"type": "string"}, "machine": {"type": "string"}, "command": {"type": "string"},
        "program_types": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["prog_type", "allowed", "refused"],
            "properties": {"prog_type": {"type": "integer"},
                           "allowed": {"type": "array", "items": {**HELPER, "required": ["id", "name", "gpl_only"]}},
                           "refused": {"type": "array", "items": {**HELPER, "required": ["id", "name", "reason"]}}}}},
    },
}


def test_data_file_is_well_formed() -> None:
    raw = json.loads(DATA_FILE.read_text())
    jsonschema.validate(raw, SCHEMA)
    data = linux_6_18()
    assert set(data.types) == set(LINUX_6_18.program_types)
    for t in raw["program_types"].values():
        for row in t["allowed"] + t["refused"]:
            assert HELPER_NAMES[row["id"]] == row["name"]
    assert DATA_FILE.read_text() == data.dumps()  # the file is exactly what the probe writes


def test_every_allowed_helper_has_a_prototype() -> None:
    registry = kprobe_helpers()
    for name, helpers in linux_6_18().types.items():
        assert sorted(i for i in helpers.allowed if i not in registry.helpers) == [], name


def test_the_profile_reads_the_data() -> None:
    kprobe = linux_6_18().types["kprobe"]
    ops = LINUX_6_18.program_types["kprobe"]
    assert ops.helpers == kprobe.names()
    assert {"get_func_ip", "get_numa_node_id", "send_signal", "ktime_get_tai_ns"} <= ops.helpers
    assert "get_func_ip" not in LINUX_6_18.program_types["tracepoint"].helpers
    assert ops.refused["copy_from_user"] == "helper call might sleep in a non-sleepable prog"
    # GPL-only per program type: perf_event programs have their own get_stackid, not GPL-only
    by_name = {h.name: h for h in helper_registry(LINUX_6_18.program_types["perf_event"]).helpers.values()}
    assert not by_name["get_stackid"].gpl_only and by_name["get_stack"].gpl_only
    by_name = {h.name: h for h in helper_registry(ops).helpers.values()}
    assert by_name["get_stackid"].gpl_only


def test_the_helper_records_say_the_kprobe_gpl_flags() -> None:
    registry = kprobe_helpers()
    kprobe = linux_6_18().types["kprobe"]
    assert {registry.helpers[i].name for i, gpl in kprobe.allowed.items() if registry.helpers[i].gpl_only != gpl} == set()


def _sets(allowed: dict[int, bool]) -> HelperSets:
    return HelperSets("x", "x86_64", "c", {"kprobe": TypeHelpers("kprobe", 2, allowed, {})})


def test_differences_name_the_helper_ids() -> None:
    serious, benign = probe_helpers.differences(_sets({1: False, 36: True, 35: False}),
                                                _sets({1: False, 109: False, 35: True}))
    assert serious == ["kprobe: the data allows helpers the running kernel refuses: 36 (probe_write_user)",
                       "kprobe: the data lets non-GPL programs call GPL-only helpers: 35 (get_current_task)"]
    assert benign == ["kprobe: the running kernel also allows: 109 (send_signal)"]


def test_unknown_program_type_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert probe_helpers.main(["--types", "xdp"]) == 2
    assert capsys.readouterr().err == "unknown program type xdp; known: kprobe, tracepoint, perf_event, raw_tracepoint\n"


def test_a_bad_data_file_is_a_usage_error(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"kernel_release": "x"}')
    assert probe_helpers.main(["--check", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("bad.json: not a helper-set file")


@pytest.mark.kernel
def test_data_matches_the_running_kernel() -> None:
    try:
        kernel = probe_helpers.probe_kernel(list(linux_6_18().types))
    except BpfUnavailable:
        pytest.skip("bpf() is not permitted here")
    serious, benign = probe_helpers.differences(linux_6_18(), kernel)
    for line in benign:
        warnings.warn(f"kernel {kernel.kernel_release}: {line}")
    assert not serious, f"kernel {kernel.kernel_release} differs from {DATA_FILE.name}:\n" + "\n".join(serious)
