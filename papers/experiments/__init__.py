"""The experiments `python -m papers` runs, each a function of a `papers.runner.Context`."""
