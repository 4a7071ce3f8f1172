"""Wrappers of the build-description and checksum ops."""

import json

import tensorflow as tf

from hugectr_tf.ops import load_library


def build_info():
    """Returns a dict: the TensorFlow version the library was compiled for and `cuda` (bool)."""
    return json.loads(load_library().huge_ctr_build_info().numpy().decode())


def sum_checksum(data):
    """HugeCTR Check_t.Sum checksum (wrapping int8 sum) of each byte string in `data`, as int32."""
    return load_library().huge_ctr_sum_checksum(tf.convert_to_tensor(data, tf.string))
