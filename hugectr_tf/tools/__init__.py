"""Command-line tools and their functions: the synthetic data generator, the Criteo converter and
the keyset writer. The console command is `hugectr-tf` (parsed in the top-level `hugectr_tf_cli`
module, run by `hugectr_tf.tools.cli`)."""

from hugectr_tf.tools.criteo import convert_criteo
from hugectr_tf.tools.generator import DataGenerator
from hugectr_tf.tools.keyset import write_source_keyset

__all__ = ["DataGenerator", "convert_criteo", "write_source_keyset"]
