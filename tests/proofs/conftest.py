"""The rule generators of tests/verifier (program_shapes, random_inputs) are importable here too."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "verifier"))
