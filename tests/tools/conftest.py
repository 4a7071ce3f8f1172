"""The real Criteo samples for converter tests, also found from a git worktree (../../shared)."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def criteo_dir():
    candidates = [os.environ.get("HUGECTR_TF_CRITEO_DIR", "")]
    candidates += [ROOT.parent / "shared/data/criteo", ROOT.parent.parent / "shared/data/criteo"]
    for path in candidates:
        if path and Path(path).is_dir():
            return Path(path)
    pytest.skip(f"real Criteo samples not found (tried {candidates})")
