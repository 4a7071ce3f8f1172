"""Large sequential reads and writes of the parameter server's row files at the disk's speed.

One `read`/`write` call of hundreds of MB on a buffered file keeps one request in flight: on this
machine's virtio disk (2026-11-30, load average 14) that reached 110-120 MB/s reading 1.5 GB and
75-90 MB/s writing 1 GB with its fsync, where dd with O_DIRECT reads 800 MB/s. Splitting the
range into 8 MiB pieces issued by 4 threads (`os.preadv` / `os.pwritev` release the GIL) keeps
several requests in flight: 340-420 MB/s reading and 730-1130 MB/s writing (fsync included) on
the same files at the same time. Data go straight between the file and the caller's array: no
intermediate buffer. docs/benchmarks.md has the passes of benchmarks/mos_bench.py.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
import tensorflow as tf

CHUNK_BYTES = 8 << 20
WORKERS = 4
# TensorFlow's kernels require tensor data aligned to 64 bytes (Eigen's EIGEN_MAX_ALIGN_BYTES);
# memory it does not own is used in place only when so aligned.
TENSOR_ALIGNMENT = 64

_pool = None
_pool_lock = threading.Lock()


def _executor():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="hugectr_tf_ps_io")
        return _pool


def _forget_pool():
    """A forked child has none of the parent's threads: it starts a pool of its own."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def aligned_empty(shape, dtype):
    """An uninitialised C-contiguous array whose data start on a TENSOR_ALIGNMENT boundary, so
    that `as_tensor` can hand it to TensorFlow without a copy."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + TENSOR_ALIGNMENT, np.uint8)
    skip = -raw.ctypes.data % TENSOR_ALIGNMENT
    return raw[skip : skip + nbytes].view(dtype).reshape(shape)


def as_tensor(array, dtype):
    """`array` as a tf.Tensor of `dtype`: sharing its memory through DLPack when it is C-contiguous,
    writable, of that dtype and TENSOR_ALIGNMENT-aligned (a rows block of a few GB is not copied),
    else a copy (tf.convert_to_tensor). The array must not change while the tensor is in use."""
    array = np.asarray(array)
    shareable = (
        array.dtype == dtype.as_numpy_dtype
        and array.size > 0
        and array.flags.c_contiguous
        and array.flags.writeable
        and array.ctypes.data % TENSOR_ALIGNMENT == 0
    )
    if shareable:
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.convert_to_tensor(array, dtype)


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
    wait(futures)  # every piece has finished (none writes after a caller's roll back)
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
    write_many([(fd, offset, array)])


def write_many(writes):
    """Writes [(fd, offset, C-contiguous array)], the pieces of all of them in parallel."""
    jobs = []
    for fd, offset, array in writes:
        view = _as_bytes(array)

        def piece(lo, hi, fd=fd, offset=offset, view=view):
            def job():
                at = lo
                while at < hi:
                    at += os.pwritev(fd, [view[at:hi]], offset + at)

            return job

        jobs += [piece(lo, hi) for lo, hi in _pieces(len(view))]
    _run(jobs)


def map_parallel(fn, items):
    """[fn(item) for item in items], run on the I/O threads (work that mostly waits on reads;
    `fn` must not itself wait on the I/O threads: it reads with `parallel=False`)."""
    return _run([lambda item=item: fn(item) for item in items])
