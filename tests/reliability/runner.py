"""Runs campaign cases through a worker process with a timeout each; a worker that dies is a crash
and one that does not answer in time is a hang, and either is replaced for the next case."""

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


class Worker:
    """One worker process (worker.py); `ask` sends a case and waits for its answer."""

    def __init__(self, log_path, timeout):
        self.timeout = timeout
        self.log = open(log_path, "a")  # noqa: SIM115 - lives as long as the worker
        env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            bufsize=1,
            cwd=REPO,
            env=env,
        )
        # A thread reads the worker's lines into a queue: waiting on the queue with a timeout is
        # exact, where select() on a buffered pipe misses lines already read into the buffer.
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        ready = self._answer(max(timeout, 300))
        if not (ready and ready.get("ready")):
            raise RuntimeError(f"campaign worker did not start; see {log_path}")

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)  # end of output: the process is gone

    def _answer(self, timeout):
        """The next JSON line, None if the process died, "hang" after `timeout` seconds."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return "hang"
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return "hang"
            if line is None:
                return None
            try:
                answer = json.loads(line)
            except json.JSONDecodeError:
                continue  # log output (the Model's training log): not an answer
            if isinstance(answer, dict):
                return answer

    def ask(self, case):
        """The worker's answer to `case`, or {"status": "crash"/"hang", ...}."""
        try:
            self.proc.stdin.write(json.dumps(case) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return {"status": "crash", "signal": self.proc.poll()}
        answer = self._answer(self.timeout)
        if answer == "hang":
            self.stop()
            return {"status": "hang"}
        if answer is None:
            code = self.proc.wait()
            return {"status": "crash", "signal": -code if code < 0 else None, "exit": code}
        return answer

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()


class Pool:
    """Keeps one live worker; replaces it after a crash or hang."""

    def __init__(self, folder, timeout):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.timeout = timeout
        self.worker = None
        self.started = 0

    def ask(self, case):
        if self.worker is None:
            self.started += 1
            self.worker = Worker(self.folder / "worker.log", self.timeout)
        answer = self.worker.ask(case)
        if answer["status"] in ("crash", "hang"):
            self.worker.stop()
            self.worker = None
        return answer

    def close(self):
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
