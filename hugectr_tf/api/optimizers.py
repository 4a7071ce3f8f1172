"""The dense-network optimizer for a HugeCTR `OptParamsPy`, as a Keras optimizer.

The formulas agree with HugeCTR's: Keras' SGD momentum (`v = mu*v - lr*g; w += v`) is HugeCTR's
MomentumSGD, Keras' Nesterov form equals HugeCTR's (`w += -mu*v_old + (1+mu)*v_new`) after
expansion, and Keras' Adam applies the same bias-corrected step. Keras' Adagrad divides by
`sqrt(acc + eps)` where HugeCTR divides by `sqrt(acc) + eps`; with eps = 1e-7 the difference is
below float32 resolution once the accumulator has grown past eps.
"""

import keras

from hugectr_tf.config import Optimizer_t


def dense_optimizer(opt, learning_rate):
    kind = opt.optimizer_type
    if kind == Optimizer_t.Adam:
        return keras.optimizers.Adam(
            learning_rate=learning_rate, beta_1=opt.beta1, beta_2=opt.beta2, epsilon=opt.epsilon
        )
    if kind == Optimizer_t.Adagrad:
        return keras.optimizers.Adagrad(
            learning_rate=learning_rate,
            initial_accumulator_value=opt.initial_accu_value,
            epsilon=opt.epsilon,
        )
    if kind == Optimizer_t.MomentumSGD:
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=opt.momentum_factor)
    if kind == Optimizer_t.Nesterov:
        return keras.optimizers.SGD(
            learning_rate=learning_rate, momentum=opt.momentum_factor, nesterov=True
        )
    return keras.optimizers.SGD(learning_rate=learning_rate)


def slot_variables(optimizer, weights):
    """The optimizer's state as lists in HugeCTR's order: [first slots...] + [second slots...]."""
    first, second = [], []
    for w in weights:
        if isinstance(optimizer, keras.optimizers.Adam):
            first.append(optimizer._momentums[optimizer._get_variable_index(w)])
            second.append(optimizer._velocities[optimizer._get_variable_index(w)])
        elif isinstance(optimizer, keras.optimizers.Adagrad):
            first.append(optimizer._accumulators[optimizer._get_variable_index(w)])
        elif isinstance(optimizer, keras.optimizers.SGD) and optimizer.momentum > 0:
            first.append(optimizer.momentums[optimizer._get_variable_index(w)])
    return first + second
