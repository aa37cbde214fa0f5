"""Machine-checked soundness proofs of the abstract domains (z3)."""
