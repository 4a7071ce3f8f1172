"""Runs a snippet in a fresh Python process, so a test of a crash, hang or memory blow-up fails
cleanly instead of taking the test runner down with it."""

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
# Address-space cap of the child: generous for TensorFlow, far below what a runaway allocation
# would reach, so a regression fails fast instead of starving the machine.
ADDRESS_SPACE_BYTES = 24 << 30


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))


def run_python(code, timeout=240):
    """Runs `code` with the repo's interpreter; returns the CompletedProcess (text output).

    A child killed by a signal has a negative returncode; a hang raises subprocess.TimeoutExpired.
    """
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limit_memory,
    )
