"""HugeCTR's inference API: `InferenceParams`, `CreateInferenceSession`, predict, evaluate.

`import hugectr_tf as hugectr` then `hugectr.inference.CreateInferenceSession(...)`, as in HugeCTR.
"""

from hugectr_tf.inference.session import CreateInferenceSession, InferenceParams, InferenceSession

__all__ = ["CreateInferenceSession", "InferenceParams", "InferenceSession"]
