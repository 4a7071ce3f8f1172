"""hugectr_tf: NVIDIA HugeCTR's training API, layers and file formats on TensorFlow/Keras.

`import hugectr_tf as hugectr` gives the HugeCTR 3.1 Python API; `hugectr_tf.keras` holds the
Keras-native layers; `hugectr_tf.ops` the custom TensorFlow ops.
"""

from hugectr_tf._environment import check_environment as _check_environment

_check_environment()

__version__ = "0.1.0"

import hugectr_tf.keras  # noqa: E402,F401  (registers every Keras class for keras.models.load_model)
from hugectr_tf import inference  # noqa: E402  (hugectr.inference.CreateInferenceSession)
from hugectr_tf.api import *  # noqa: E402,F401,F403 (the HugeCTR API lives at top level)
from hugectr_tf.api import __all__ as _api_names  # noqa: E402

__all__ = list(_api_names) + ["inference"]
