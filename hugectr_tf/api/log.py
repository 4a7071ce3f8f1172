"""HugeCTR 3.1's log line layout, the one place every hugectr_tf log line is printed from.

`[30d16h06m36s][HUGECTR][INFO]: message`: HugeCTR's `MESSAGE_` helper (HugeCTR/include/common.hpp)
prints day of month, hour, minute and second, each two digits, so HugeCTR log parsers read ours.
"""

import time


def prefix(now=None):
    """HugeCTR's `MESSAGE_` prefix for local time `now` (seconds since the epoch)."""
    t = time.localtime(now)
    return f"[{t.tm_mday:02d}d{t.tm_hour:02d}h{t.tm_min:02d}m{t.tm_sec:02d}s][HUGECTR][INFO]: "


def log(message):
    """Prints one line in HugeCTR's layout."""
    print(prefix() + message, flush=True)
