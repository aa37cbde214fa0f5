"""The verifier: CFG, abstract interpretation, proof obligations, reports."""
