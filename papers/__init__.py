"""Reproducible experiments: `python -m papers` regenerates every table and figure."""
