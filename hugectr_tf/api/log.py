"""HugeCTR-style log lines: `[HCTR_TF][12:00:00][INFO]: message`."""

import time


def log(message):
    print(f"[HCTR_TF][{time.strftime('%H:%M:%S')}][INFO]: {message}", flush=True)
