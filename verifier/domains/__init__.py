"""Abstract domains of the verifier."""
