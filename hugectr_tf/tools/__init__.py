"""Command-line tools and their functions: the synthetic data generator and the Criteo converter.
The console command is `hugectr-tf` (`hugectr_tf.tools.cli:main`)."""

from hugectr_tf.tools.criteo import convert_criteo
from hugectr_tf.tools.generator import DataGenerator

__all__ = ["DataGenerator", "convert_criteo"]
