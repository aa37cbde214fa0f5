"""Shared test fixtures: where the shared corpus lives."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"
CONFORMANCE = SHARED / "corpus" / "conformance"


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    if not (CONFORMANCE / "tests").is_dir():
        pytest.skip(f"conformance suite not found at {CONFORMANCE}")
    return CONFORMANCE
