// A kprobe that the verifier must refuse: it dereferences a map lookup's result without
// checking it for NULL, so a pid missing from the map would fault in the kernel.
// Built with: clang -O2 -g -target bpf -c unchecked_lookup.c -o unchecked_lookup.o
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static unsigned long long (*bpf_get_current_pid_tgid)(void) = (void *)14;

struct {
    __uint(type, 1);  /* BPF_MAP_TYPE_HASH */
    __uint(max_entries, 1024);
    __type(key, unsigned int);
    __type(value, unsigned long long);
} budget_by_pid SEC(".maps");

SEC("kprobe/ksys_write")
int over_budget(void *ctx)
{
    unsigned int pid = bpf_get_current_pid_tgid() >> 32;
    unsigned long long *budget = bpf_map_lookup_elem(&budget_by_pid, &pid);

    return *budget == 0;  /* missing: if (!budget) return 0; */
}

char LICENSE[] SEC("license") = "GPL";
