"""Assembly syntaxes: the kernel/LLVM syntax and the conformance-suite syntax."""
