"""Runs the reliability campaign exactly as docs/reliability.md shows it: the fast subset always,
the long run when HUGECTR_TF_CAMPAIGN=long. Every outcome that must never happen (crash, hang,
silent wrong result, partial load, unclear error, stale or mixed snapshot) must be absent."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
DOC = REPO / "docs" / "reliability.md"


def _documented_commands():
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), re.S)
    return [line for b in blocks for line in b.splitlines() if "run_campaign.py" in line]


def test_the_documented_commands_are_the_fast_and_the_long_run():
    commands = _documented_commands()
    assert commands[0] == ".venv/bin/python tests/reliability/run_campaign.py"
    assert commands[1].startswith("HUGECTR_TF_CAMPAIGN=long " + commands[0])


def test_campaign_finds_no_crash_hang_or_silent_result(tmp_path):
    line = _documented_commands()[0]
    argv = shlex.split(line)
    argv[0] = sys.executable  # the documented .venv/bin/python, whichever venv runs the tests
    report_path = tmp_path / "campaign.json"
    env = dict(os.environ)  # HUGECTR_TF_CAMPAIGN=long selects the long run
    result = subprocess.run(
        argv + ["--json", str(report_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=4 * 3600,
    )
    print(result.stdout[-6000:])
    report = json.loads(report_path.read_text())
    assert report["must_be_zero_seen"] == 0, result.stdout[-6000:]
    assert result.returncode == 0, result.stderr[-3000:]
    formats, kills = report["formats"]["total"], report["kill"]["total"]
    assert sum(formats.values()) >= 100 and formats.get("clean_error", 0) > 0
    assert sum(kills.values()) >= 4
