"""The eBPF instruction set, its concrete semantics, and the interpreter."""
