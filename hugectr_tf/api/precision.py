"""The compute dtype behind HugeCTR's `use_mixed_precision=True`.

HugeCTR's mixed precision computes in float16 on GPUs. CPUs have no float16 arithmetic:
TensorFlow emulates it element by element, which made HugeCTR's mixed-precision samples run
orders of magnitude slower than their float32 twins. So on a machine without a GPU the dense
layers compute in bfloat16 where the CPU has bfloat16 instructions (AVX512-BF16 or AMX), else in
float32, and a machine that falls back says so once in the log. The loss is scaled by `scaler`
either way, as HugeCTR does (an exact power-of-two scaling in bfloat16 and float32).
"""

import tensorflow as tf

from hugectr_tf.api.log import log

_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
_noted = False


def cpu_has_bfloat16(cpuinfo="/proc/cpuinfo"):
    """Whether the CPU lists AVX512-BF16 or AMX-BF16 (Linux /proc/cpuinfo; False elsewhere)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return any(flag in line.split() for flag in _BF16_FLAGS)
    except OSError:
        return False
    return False


def mixed_precision_policy(use_mixed_precision, gpu=None, bfloat16=None):
    """(Keras dtype policy name, note or None) for a Solver's `use_mixed_precision`.

    Args:
        use_mixed_precision: Boolean, the Solver's flag.
        gpu: Boolean or None (None: whether TensorFlow sees a GPU).
        bfloat16: Boolean or None (None: `cpu_has_bfloat16()`).
    """
    if not use_mixed_precision:
        return "float32", None
    if gpu is None:
        gpu = bool(tf.config.list_physical_devices("GPU"))
    if gpu:
        return "mixed_float16", None
    if bfloat16 is None:
        bfloat16 = cpu_has_bfloat16()
    if bfloat16:
        return "mixed_bfloat16", None
    return "float32", (
        "use_mixed_precision=True: no GPU, and this CPU has no bfloat16 instructions "
        "(AVX512-BF16 or AMX), where float16 would be emulated; computing in float32 "
        "(the loss is still scaled by `scaler`)"
    )


def note_once(note):
    """Prints the fallback note the first time only (HugeCTR's log layout)."""
    global _noted
    if note and not _noted:
        _noted = True
        log(note)
