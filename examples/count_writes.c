// A kprobe on the write path: counts bytes written per process in a hash map.
// Built with: clang -O2 -g -target bpf -c count_writes.c -o count_writes.o
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

struct pt_regs { unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di; };

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, unsigned long flags) = (void *)2;
static unsigned long long (*bpf_get_current_pid_tgid)(void) = (void *)14;

struct {
    __uint(type, 1);  /* BPF_MAP_TYPE_HASH */
    __uint(max_entries, 1024);
    __type(key, unsigned int);
    __type(value, unsigned long long);
} bytes_by_pid SEC(".maps");

SEC("kprobe/ksys_write")
int count_writes(struct pt_regs *ctx)
{
    unsigned int pid = bpf_get_current_pid_tgid() >> 32;
    unsigned long long size = ctx->dx;  /* the third argument: count */
    unsigned long long *total = bpf_map_lookup_elem(&bytes_by_pid, &pid);

    if (total)
        __sync_fetch_and_add(total, size);
    else
        bpf_map_update_elem(&bytes_by_pid, &pid, &size, 1 /* BPF_NOEXIST */);
    return 0;
}

char _license[] SEC("license") = "GPL";
