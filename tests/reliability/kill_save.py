"""The kill campaign: a child process saves one kind of file in a loop and is killed with SIGKILL
at a random moment; then a worker checks what is on disk. Outcome classes:

    complete       the files load as one whole round, the last finished one or the one in progress
    refused        the load fails with an error naming the file (an interrupted save)
    keras_error    Keras' and TensorFlow's own writers (save_weights, model.save,
                   tf.train.Checkpoint.write) rewrite the same names in place: an interrupted
                   file is refused by Keras/h5py/zipfile/TensorFlow, whose message does not name
                   the file (documented in docs/reliability.md; not this project's formats)
    unclear_error  the load fails without saying which file
    partial_load   the load failed but changed the model
    stale          the files load as a round older than the last finished save (a save was lost)
    silent         the files load but mix rounds
    crash, hang    the checking worker died or did not answer
"""

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from runner import REPO

HERE = Path(__file__).resolve().parent
# The kinds of save (save_kinds.Saver), and those the fast subset interrupts.
KINDS = (
    "save_params_to_files",
    "export_sparse_model",
    "save_optimizer_states",
    "graph_to_json",
    "keras_save_weights",
    "keras_model_save",
    "tf_checkpoint",
)
# Formats this project does not own: their readers' errors may not name the file. The long run
# of 2026-11-30 met one for tf_checkpoint ("The length checksum does not match: ..."):
# Checkpoint.write replaces the index and the data file one after the other.
KERAS_OWN = ("keras_save_weights", "keras_model_save", "tf_checkpoint")
FAST_KINDS = ("save_params_to_files", "export_sparse_model", "keras_save_weights", "tf_checkpoint")
CLASSES = (
    "complete",
    "refused",
    "keras_error",
    "unclear_error",
    "partial_load",
    "stale",
    "silent",
    "crash",
    "hang",
)
MUST_BE_ZERO = ("unclear_error", "partial_load", "stale", "silent", "crash", "hang")
TRIALS = {"fast": (FAST_KINDS, 1), "long": (KINDS, 10)}


def _pump(proc, lines):
    """Puts (round, time) of every "saved r" line of the child into `lines`; None at its end."""
    for line in proc.stdout:
        if line.startswith("saved "):
            lines.put((int(line.split()[1]), time.monotonic()))
    lines.put(None)


def trial(kind, folder, rng, log_file):
    """Runs one child, kills it during a save; returns (rounds finished, delay, save time)."""
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    with open(log_file, "a") as log:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "kill_child.py"), kind, str(folder)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            bufsize=1,
            cwd=REPO,
            env=env,
        )
        lines = queue.Queue()
        reader = threading.Thread(target=_pump, args=(proc, lines), daemon=True)
        reader.start()
        try:
            seen = []
            while len(seen) < 2:  # two finished saves: the child is in its loop, timed
                item = lines.get(timeout=600)
                if item is None:
                    raise RuntimeError(f"save child {kind} stopped; see {log_file}")
                seen.append(item)
            per_save = max(seen[-1][1] - seen[-2][1], 0.001)
            delay = rng.uniform(0, 1.5 * per_save)
            time.sleep(delay)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    reader.join()
    # Every line the child printed before it died names a finished save.
    while (item := lines.get()) is not None:
        seen.append(item)
    return seen[-1][0], delay, per_save


def judge(kind, answer, finished, folder):
    status = answer["status"]
    if status in ("crash", "hang"):
        return status
    if status == "error":
        if answer.get("changed"):
            return "partial_load"
        if str(folder) in answer["message"]:
            return "refused"
        return "keras_error" if kind in KERAS_OWN else "unclear_error"
    if "mixed" in answer:
        return "silent"
    if kind == "graph_to_json":
        return "complete"
    r = answer["round"]
    if r in (finished, finished + 1):
        return "complete"
    return "stale"


def start(folder, scale, seed, parallel=2):
    """Starts the kill trials in the background (`parallel` children at a time, so they overlap
    with other work); returns a future of [(kind, folder, rounds finished, delay, save time)]."""
    kinds, per_kind = TRIALS[scale]
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    plan = []
    for t in range(per_kind):
        for kind in kinds:
            place = folder / f"{kind}-{t}"
            place.mkdir()
            plan.append((kind, place, random.Random(rng.random())))
    executor = ThreadPoolExecutor(max_workers=parallel)

    def one(item):
        kind, place, own_rng = item
        return (kind, place, *trial(kind, place, own_rng, folder / f"{place.name}.log"))

    futures = [executor.submit(one, item) for item in plan]
    executor.shutdown(wait=False)
    return futures


def check(futures, pool, log):
    """Waits for the started trials and checks each folder with the campaign's worker pool."""
    trials = []
    for future in futures:
        kind, place, finished, delay, per_save = future.result()
        answer = pool.ask(
            {"id": place.name, "op": "kill_check", "kind": kind, "folder": str(place)}
        )
        outcome = judge(kind, answer, finished, place)
        trials.append(
            {
                "kind": kind,
                "outcome": outcome,
                "rounds_finished": finished,
                "kill_after_s": round(delay, 4),
                "save_s": round(per_save, 4),
                "answer": {k: v for k, v in answer.items() if k != "id"},
            }
        )
        log(f"kill trial {place.name}: {outcome} (after {finished} saves)")
    return trials


def summarize(trials):
    table = defaultdict(Counter)
    for item in trials:
        table[item["kind"]][item["outcome"]] += 1
    return table
