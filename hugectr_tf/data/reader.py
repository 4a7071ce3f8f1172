"""`DataReader`: HugeCTR's low-level reader interface (`set_source`, `is_eof`) over a dataset."""

import tensorflow as tf

from hugectr_tf.data.params import dataset_for_sources, sources_of


class DataReader:
    """Pulls batches one at a time, as HugeCTR's `DataReader32/64` behind `Model.get_data_reader_*`.

    Args:
        reader_params: `hugectr_tf.DataReaderParams`.
        input: `hugectr_tf.Input`.
        batch_size: Integer. Records per batch.
        train: Boolean. Read `source` (True) or `eval_source` (False).
        repeat_dataset: Boolean. Endless reading; False is HugeCTR's epoch mode, where the reader
            reaches end of file after one pass and `set_source` starts the next.
        i64_input_key: Boolean. Norm key type.

    `next_batch()` returns the next batch dict, or None once the source is exhausted (then
    `is_eof()` is True). Bad data raises the reader's error (naming file, record and field).
    """

    def __init__(
        self,
        reader_params,
        input,  # noqa: A002
        batch_size,
        train=True,
        repeat_dataset=True,
        i64_input_key=False,
    ):
        self._params = reader_params
        self._input = input
        self._batch_size = batch_size
        self._train = train
        self._repeat = bool(repeat_dataset)
        self._i64 = i64_input_key
        self._sources = sources_of(reader_params, train)
        self._start()

    def _start(self):
        self._dataset = dataset_for_sources(
            self._params,
            self._input,
            self._batch_size,
            self._sources,
            train=self._train,
            repeat=self._repeat,
            i64_input_key=self._i64,
        )
        self._iterator = iter(self._dataset)
        self._eof = False

    @property
    def dataset(self):
        """The `tf.data.Dataset` of the current source."""
        return self._dataset

    def next_batch(self):
        """The next batch dict, or None at the end of the source (epoch mode)."""
        if self._eof:
            return None
        try:
            return next(self._iterator)
        except (StopIteration, tf.errors.OutOfRangeError):
            self._eof = True
            return None

    def tf_iterator(self):
        """The `tf.data` iterator that `next_batch` reads, for a compiled loop that reads its
        batches itself (`Trainer.fit`); None at the end of the source. Call `mark_eof` when the
        loop finds it exhausted."""
        return None if self._eof else self._iterator

    def mark_eof(self):
        """Records that the iterator of `tf_iterator` ran dry (as `next_batch` does)."""
        self._eof = True

    def is_eof(self):
        """True once the current source has been read to its end."""
        return self._eof

    def set_source(self, file_name=""):
        """Reads `file_name` (a file list for Norm/Parquet, a file for Raw) from its start; the
        default '' restarts the current source."""
        if not isinstance(file_name, str):
            raise TypeError(f"`file_name` must be a string. Received: file_name={file_name!r}")
        if file_name:
            self._sources = [file_name]
        self._start()

    def __iter__(self):
        while True:
            batch = self.next_batch()
            if batch is None:
                return
            yield batch
