"""Program type and attach point from an ELF section name, as libbpf and the kernel samples name them.

Rules are prefixes tried in order; the first match wins. A rule ending in '/' takes what
follows as the attach point (`kprobe/sys_write` attaches to `sys_write`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SectionType:
    prog_type: str  # the kernel's program type, as in enum bpf_prog_type without the prefix
    attach_kind: str
    attach_to: str | None


# (prefix, prog_type, attach kind); longer and more specific prefixes first
_RULES: list[tuple[str, str, str]] = [
    ("kprobe.multi/", "kprobe", "kprobe_multi"),
    ("kretprobe.multi/", "kprobe", "kretprobe_multi"),
    ("kprobe/", "kprobe", "kprobe"),
    ("kretprobe/", "kprobe", "kretprobe"),
    ("ksyscall/", "kprobe", "ksyscall"),
    ("kretsyscall/", "kprobe", "kretsyscall"),
    ("uprobe.multi", "kprobe", "uprobe_multi"),
    ("uretprobe.multi", "kprobe", "uretprobe_multi"),
    ("uprobe", "kprobe", "uprobe"),
    ("uretprobe", "kprobe", "uretprobe"),
    ("usdt", "kprobe", "usdt"),
    ("tracepoint/", "tracepoint", "tracepoint"),
    ("tp/", "tracepoint", "tracepoint"),
    ("raw_tracepoint.w/", "raw_tracepoint_writable", "raw_tp"),
    ("raw_tp.w/", "raw_tracepoint_writable", "raw_tp"),
    ("raw_tracepoint/", "raw_tracepoint", "raw_tp"),
    ("raw_tp/", "raw_tracepoint", "raw_tp"),
    ("tp_btf/", "tracing", "tp_btf"),
    ("fentry/", "tracing", "fentry"),
    ("fexit/", "tracing", "fexit"),
    ("fmod_ret/", "tracing", "fmod_ret"),
    ("iter/", "tracing", "iter"),
    ("lsm/", "lsm", "lsm"),
    ("perf_event", "perf_event", "perf_event"),
    ("socket", "socket_filter", "socket"),
    ("sk_reuseport", "sk_reuseport", "other"),
    ("kprobe", "kprobe", "kprobe"),
    ("kretprobe", "kprobe", "kretprobe"),
    ("xdp", "xdp", "xdp"),
    ("tcx/", "sched_cls", "tc"),
    ("tc", "sched_cls", "tc"),
    ("classifier", "sched_cls", "tc"),
    ("action", "sched_act", "tc"),
    ("cgroup_skb/", "cgroup_skb", "cgroup"),
    ("cgroup/skb", "cgroup_skb", "cgroup"),
    ("cgroup/sock_create", "cgroup_sock", "cgroup"),
    ("cgroup/sock_release", "cgroup_sock", "cgroup"),
    ("cgroup/sock", "cgroup_sock", "cgroup"),
    ("cgroup/dev", "cgroup_device", "cgroup"),
    ("cgroup/sysctl", "cgroup_sysctl", "cgroup"),
    ("cgroup/getsockopt", "cgroup_sockopt", "cgroup"),
    ("cgroup/setsockopt", "cgroup_sockopt", "cgroup"),
    # bind4/6, connect4/6, sendmsg, recvmsg, getpeername...; post_bind too, as the corpus records it
    ("cgroup/", "cgroup_sock_addr", "cgroup"),
    ("sockops", "sock_ops", "other"),
    ("sk_skb", "sk_skb", "other"),
    ("sk_msg", "sk_msg", "other"),
    ("lirc_mode2", "lirc_mode2", "other"),
    ("flow_dissector", "flow_dissector", "other"),
    ("lwt_in", "lwt_in", "other"),
    ("lwt_out", "lwt_out", "other"),
    ("lwt_xmit", "lwt_xmit", "other"),
    ("lwt_seg6local", "lwt_seg6local", "other"),
    ("sk_lookup", "sk_lookup", "other"),
    ("struct_ops", "struct_ops", "other"),
    ("syscall", "syscall", "other"),
    ("netfilter", "netfilter", "other"),
]

# enum bpf_prog_type values of the names above
PROG_TYPE_IDS = {
    "unspec": 0, "socket_filter": 1, "kprobe": 2, "sched_cls": 3, "sched_act": 4, "tracepoint": 5,
    "xdp": 6, "perf_event": 7, "cgroup_skb": 8, "cgroup_sock": 9, "lwt_in": 10, "lwt_out": 11,
    "lwt_xmit": 12, "sock_ops": 13, "sk_skb": 14, "cgroup_device": 15, "sk_msg": 16,
    "raw_tracepoint": 17, "cgroup_sock_addr": 18, "lwt_seg6local": 19, "lirc_mode2": 20,
    "sk_reuseport": 21, "flow_dissector": 22, "cgroup_sysctl": 23, "raw_tracepoint_writable": 24,
    "cgroup_sockopt": 25, "tracing": 26, "struct_ops": 27, "ext": 28, "lsm": 29, "sk_lookup": 30,
    "syscall": 31, "netfilter": 32,
}
PROG_TYPE_NAMES = {v: k for k, v in PROG_TYPE_IDS.items()}


def section_type(section: str) -> SectionType:
    for prefix, prog_type, kind in _RULES:
        if section.startswith(prefix):
            rest = section[len(prefix):]
            if prefix.endswith("/"):
                return SectionType(prog_type, kind, rest or None)
            return SectionType(prog_type, kind, rest.lstrip("/") or None)
    return SectionType("unknown", "unknown", None)
