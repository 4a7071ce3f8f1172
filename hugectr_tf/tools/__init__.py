"""Command-line tools and their functions: the synthetic data generator and the Criteo converter.
The console command is `hugectr-tf` (parsed in the top-level `hugectr_tf_cli` module, run by
`hugectr_tf.tools.cli`)."""

from hugectr_tf.tools.criteo import convert_criteo
from hugectr_tf.tools.generator import DataGenerator

__all__ = ["DataGenerator", "convert_criteo"]
