"""Saves one kind of file again and again (round 1, 2, ...) until it is killed; prints
"saved <r>" after each complete save. Usage: kill_child.py KIND FOLDER"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from save_kinds import Saver  # noqa: E402


def main():
    kind, folder = sys.argv[1], sys.argv[2]
    saver = Saver(kind, folder)
    r = 0
    while True:
        r += 1
        saver.save(r)
        print(f"saved {r}", flush=True)


if __name__ == "__main__":
    main()
