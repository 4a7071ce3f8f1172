"""GPU harness tests: writes the largest errors of each comparison (compare.MAX_ERR) at the end
of the session, to stdout and to $HCTR_GPU_REPORT when set."""

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def report_errors():
    yield
    if not compare.MAX_ERR:
        return
    lines = [f"{k}: max rel err {v:.3g}" for k, v in sorted(compare.MAX_ERR.items())]
    print("\n[gpu-harness] " + "\n[gpu-harness] ".join(lines))
    if os.environ.get("HCTR_GPU_REPORT"):
        Path(os.environ["HCTR_GPU_REPORT"]).write_text(
            json.dumps({"max_rel_err": compare.MAX_ERR}, indent=1)
        )
