"""`dataset_from_params`: the reader a HugeCTR `DataReaderParams` + `Input` describe."""

from hugectr_tf.config import Check_t, DataReaderType_t
from hugectr_tf.data.binary import norm_dataset, raw_dataset
from hugectr_tf.data.file_list import read_file_list
from hugectr_tf.data.layout import InputLayout
from hugectr_tf.data.parquet import parquet_dataset


def sources_of(reader_params, train):
    """The source names for training (`source`, a list) or evaluation (`eval_source`)."""
    if train:
        return list(reader_params.source)
    if not reader_params.eval_source:
        raise ValueError(
            "`eval_source` is empty, so there is no evaluation data. Received: eval_source=''"
        )
    return [reader_params.eval_source]


def dataset_for_sources(reader_params, input, batch_size, sources, *, train, repeat, i64_input_key):  # noqa: A002
    """Like `dataset_from_params`, reading the given source names instead of the params' ones."""
    kind = reader_params.data_reader_type
    workers = reader_params.num_workers
    if kind == DataReaderType_t.Norm:
        files = [f for src in sources for f in read_file_list(src)]
        ds = norm_dataset(
            files,
            input,
            batch_size,
            check_sum=reader_params.check_type == Check_t.Sum,
            i64_input_key=i64_input_key,
            repeat=repeat,
            num_workers=workers,
        )
    elif kind in (DataReaderType_t.Raw, DataReaderType_t.RawAsync):
        # RawAsync reads the same files; its AsyncParam gives the threads, the prefetch depth
        # and whether batches come in a shuffled order (training only, as HugeCTR's eval reader).
        asynchronous = kind == DataReaderType_t.RawAsync
        async_param = reader_params.async_param
        ds = raw_dataset(
            sources,
            input,
            batch_size,
            float_label_dense=reader_params.float_label_dense,
            slot_size_array=reader_params.slot_size_array,
            num_samples=reader_params.num_samples if train else reader_params.eval_num_samples,
            repeat=repeat,
            num_workers=async_param.num_threads if asynchronous else workers,
        )
        if asynchronous:
            batches = async_param.prefetch_batches
            if async_param.shuffle and train:
                ds = ds.shuffle(batches, seed=0)
            ds = ds.prefetch(batches)
    else:
        ds = parquet_dataset(
            sources,
            input,
            batch_size,
            slot_size_array=reader_params.slot_size_array,
            repeat=repeat,
        )
    if not train and reader_params.cache_eval_data > 0:
        # HugeCTR keeps the first `cache_eval_data` evaluation batches resident and evaluates on
        # them only: read them once, then replay them from memory.
        ds = ds.take(reader_params.cache_eval_data).cache()
        if repeat:
            ds = ds.repeat()
    return ds


def dataset_from_params(
    reader_params,
    input,  # noqa: A002 (HugeCTR's name)
    batch_size,
    train=True,
    repeat=None,
    *,
    repeat_dataset=True,
    i64_input_key=False,
):
    """Builds the tf.data pipeline HugeCTR's data reader would run for these parameters.

    Args:
        reader_params: `hugectr_tf.DataReaderParams`. Its `data_reader_type` picks Norm, Raw or
            Parquet; `source` (train) / `eval_source` (evaluation) name file lists (Norm, Parquet)
            or Raw files. Several `source` entries are read one after another as one stream.
            `check_type`, `num_workers`, `slot_size_array`, `float_label_dense`, `num_samples`,
            `eval_num_samples` and `cache_eval_data` are honoured.
        input: `hugectr_tf.Input`. Names and shapes of the batch, checked against the files.
        batch_size: Integer. Records per batch.
        train: Boolean. False reads `eval_source`.
        repeat: Boolean or None. Endless (True) or one pass (False); None follows
            `repeat_dataset`.
        repeat_dataset: Boolean. The Solver's `repeat_dataset`, used when `repeat` is None.
        i64_input_key: Boolean. The Solver's key type: Norm keys are int64 if True, else uint32.

    Returns:
        A `tf.data.Dataset` of dicts {input.label_name: float32 [B, label_dim],
        input.dense_name: float32 [B, dense_dim], sparse_name: int64 RaggedTensor
        [B, slot_num, None] per `DataReaderSparseParam`} (slots split across sparse inputs in
        declaration order). One pass yields ceil(N / batch_size) batches: batches span files and
        only the last one may be smaller (it is kept, not dropped). Use `split_label` to get the
        `(features, label)` pairs `keras.Model.fit` expects.
    """
    if repeat is None:
        repeat = bool(repeat_dataset)
    sources = sources_of(reader_params, train)
    return dataset_for_sources(
        reader_params,
        input,
        batch_size,
        sources,
        train=train,
        repeat=repeat,
        i64_input_key=i64_input_key,
    )


def split_label(dataset, input):  # noqa: A002
    """Maps batch dicts to `(features, label)` for `keras.Model.fit`: features keep the dense and
    sparse entries (named like the model's `keras.Input`s), the label is `input.label_name`."""
    name = InputLayout.from_input(input).label_name

    def split(batch):
        features = {k: v for k, v in batch.items() if k != name}
        return features, batch[name]

    return dataset.map(split)
