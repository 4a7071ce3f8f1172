"""The dtype policy and random streams a hugectr `Model` builds its layers with, kept apart from
the user's own Keras code.

HugeCTR seeds its generators from `Solver.seed` and picks the compute precision from
`Solver.use_mixed_precision`. In Keras both are process-wide (the global dtype policy; Python's
`random`, which seeds every unseeded Keras initializer and dropout; NumPy; Keras' global seed
generator). A `Model` therefore owns a private copy of that state, seeded from `solver.seed`, and
swaps it in only while it creates layers: building a Model leaves the user's dtype policy and
random streams exactly as they were, and the Model's initial weights depend on `solver.seed`
alone, whatever the user's code draws in between. TensorFlow's global seed is never touched.
"""

import random
from contextlib import contextmanager

import keras
import numpy as np

# Keras keeps its dtype policy and seed generator in `global_state`, with no public getter that
# leaves an unset value unset; reading the attributes directly restores them exactly.
from keras.src.backend.common import global_state

_POLICY = "dtype_policy"
_SEED_GENERATOR = "global_seed_generator"
_RANDOM_SEED = "global_random_seed"


def _capture():
    return {
        "random": random.getstate(),
        "numpy": np.random.get_state(),
        "keras": {
            name: global_state.get_global_attribute(name, None)
            for name in (_POLICY, _SEED_GENERATOR, _RANDOM_SEED)
        },
    }


def _install(state):
    random.setstate(state["random"])
    np.random.set_state(state["numpy"])
    for name, value in state["keras"].items():
        global_state.set_global_attribute(name, value)


class PrivateKerasState:
    """A Model's own dtype policy and random streams.

    Args:
        policy: String. Keras dtype policy name ("float32" or "mixed_float16").
        seed: Integer. Seed of the Model's random streams (`Solver.seed`).
    """

    def __init__(self, policy, seed):
        users = _capture()
        try:
            random.seed(seed)
            np.random.seed(seed % 2**32)
            global_state.set_global_attribute(_RANDOM_SEED, seed)
            global_state.set_global_attribute(_SEED_GENERATOR, None)  # recreated from `random`
            keras.config.set_dtype_policy(policy)
            self._state = _capture()
        finally:
            _install(users)

    @contextmanager
    def active(self):
        """Runs the body with the Model's state installed; the user's comes back afterwards."""
        users = _capture()
        _install(self._state)
        try:
            yield
        finally:
            self._state = _capture()
            _install(users)
