"""`hugectr-tf keyset`: the keyset file of an existing Norm or Parquet file list.

Model oversubscription trains a file list after loading the rows of its keyset (the distinct keys
it holds). The data generator and the Criteo converter write keysets as they write data; this tool
writes them for data that exists already, in HugeCTR's keyset format (`hugectr_tf.data.keyset`).
"""

import os

from hugectr_tf.data.keyset import default_keyset_path, keys_of_source, write_keyset


def write_source_keyset(
    data_reader_type,
    source,
    output=None,
    *,
    check_type=None,
    i64_input_key=False,
    slot_size_array=(),
):
    """Reads `source` and writes its keyset; returns {"source", "keyset", "keys"}.

    Args:
        data_reader_type: Norm or Parquet.
        source: String. The file list.
        output: String. The keyset path; default `source` with `.txt` replaced by `.keyset`.
        check_type: Check_t of Norm files; None reads it from the first file's header.
        i64_input_key: Boolean. int64 keys (Norm files and keyset) instead of uint32.
        slot_size_array: Parquet: the slot sizes whose offsets the reader adds to the keys.
    """
    keys = keys_of_source(
        data_reader_type,
        source,
        check_type=check_type,
        i64_input_key=i64_input_key,
        slot_size_array=slot_size_array,
    )
    output = os.fspath(output) if output else default_keyset_path(source)
    count = write_keyset(output, keys, i64_input_key)
    return {"source": os.fspath(source), "keyset": output, "keys": count}
