"""Large sequential reads and writes of the parameter server's row files at the disk's speed.

One `read`/`write` call of hundreds of MB on a buffered file keeps one request in flight: on this
machine's virtio disk that reaches 110 MB/s reading (dd with O_DIRECT: 524-800 MB/s) and 75-90
MB/s writing (dd: 1100 MB/s), because the kernel's 128 KiB read-ahead and its dirty-page throttling
serve one caller at a time. Splitting the range into 8 MiB pieces issued by a few threads
(`os.preadv` / `os.pwritev` release the GIL) keeps several requests in flight and measured
340-420 MB/s reading and 730-1130 MB/s writing (fsync included) on the same files
(benchmarks/mos_bench.py, docs/benchmarks.md). Data go straight between the file and the caller's
array: no intermediate buffer.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

CHUNK_BYTES = 8 << 20
WORKERS = 4

_pool = None


def _executor():
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="hugectr_tf_ps_io")
    return _pool


def _as_bytes(array):
    """The bytes of `array` as a flat memoryview over its memory (no copy)."""
    array = np.asarray(array)
    if not array.flags.c_contiguous:  # a reshape would read into / write from a copy
        raise ValueError("parameter-server file I/O needs a C-contiguous array")
    return memoryview(array.reshape(-1).view(np.uint8))


def _pieces(nbytes):
    return [(lo, min(lo + CHUNK_BYTES, nbytes)) for lo in range(0, nbytes, CHUNK_BYTES)]


def _run(jobs, parallel=True):
    """Runs the callables (on the I/O threads when `parallel` and more than one) and re-raises
    the first error."""
    if len(jobs) <= 1 or not parallel:
        return [job() for job in jobs]
    futures = [_executor().submit(job) for job in jobs]
    return [f.result() for f in futures]


def read_into(fd, offset, array, what, parallel=True):
    """Fills the C-contiguous `array` with the bytes of open file `fd` from `offset`.

    Raises ValueError naming `what` when the file ends first. `parallel=False` reads on the
    calling thread (a caller that runs on the I/O threads itself).
    """
    view = _as_bytes(array)

    def piece(lo, hi):
        def job():
            at = lo
            while at < hi:
                got = os.preadv(fd, [view[at:hi]], offset + at)
                if got == 0:
                    raise ValueError(
                        f"`{what}` ends at byte {offset + at}, before the {offset + len(view)} "
                        "bytes its rows need: the folder is damaged"
                    )
                at += got

        return job

    _run([piece(lo, hi) for lo, hi in _pieces(len(view))], parallel)


def write_from(fd, offset, array):
    """Writes the bytes of the C-contiguous `array` to open file `fd` at `offset`."""
    view = _as_bytes(array)

    def piece(lo, hi):
        def job():
            at = lo
            while at < hi:
                at += os.pwritev(fd, [view[at:hi]], offset + at)

        return job

    _run([piece(lo, hi) for lo, hi in _pieces(len(view))])


def map_parallel(fn, items):
    """[fn(item) for item in items], run on the I/O threads (work that mostly waits on reads;
    `fn` must not itself wait on the I/O threads: it reads with `parallel=False`)."""
    return _run([lambda item=item: fn(item) for item in items])
