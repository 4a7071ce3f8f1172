"""The dense-network optimizer for a HugeCTR `OptParamsPy`, as a Keras optimizer.

The formulas agree with HugeCTR's: Keras' SGD momentum (`v = mu*v - lr*g; w += v`) is HugeCTR's
MomentumSGD, Keras' Nesterov form equals HugeCTR's (`w += -mu*v_old + (1+mu)*v_new`) after
expansion, and Keras' Adam applies the same bias-corrected step. Keras' Adagrad divides by
`sqrt(acc + eps)` where HugeCTR divides by `sqrt(acc) + eps`; with eps = 1e-7 the difference is
below float32 resolution once the accumulator has grown past eps.
"""

import keras
import tensorflow as tf

from hugectr_tf.config import Optimizer_t
from hugectr_tf.ops import dense_ops


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


def fused_apply(optimizer, variables):
    """`optimizer.apply(grads, variables)` as one fused op where that gives the same result, else
    `optimizer.apply` itself. Returns a function of the gradients (traced in a train step).

    Keras' Adam dispatches some 20 small ops per variable; `dense_ops.fused_adam` updates every
    variable in one op with the same arithmetic (bit for bit, tests/ops/test_fused_adam.py). It
    applies to a plain `keras.optimizers.Adam` (no AMSGrad, weight decay, clipping, EMA, gradient
    accumulation or loss scale factor) over float32 variables without constraints, on one CPU
    device (no GPU, not in XLA, not under a tf.distribute strategy: the caller decides that);
    anything else, and a step whose gradients are missing or sparse, runs `optimizer.apply`.
    """
    variables = list(variables)

    def keras_apply(grads):
        optimizer.apply(grads, variables)

    if not (variables and _plain_adam(optimizer) and dense_ops.fused_kernels_apply(tf.float32)):
        return keras_apply
    if any(v.dtype != "float32" or v.constraint is not None for v in variables):
        return keras_apply
    index = [optimizer._get_variable_index(v) for v in variables]
    ms = [optimizer._momentums[i] for i in index]
    vs = [optimizer._velocities[i] for i in index]

    def apply(grads):
        if any(g is None or isinstance(g, tf.IndexedSlices) for g in grads):
            return keras_apply(grads)
        with tf.name_scope(optimizer.name):
            # Keras' Adam.update_step computes these per variable with the same ops.
            local_step = tf.cast(optimizer.iterations + 1, tf.float32)
            beta_1_power = tf.pow(tf.cast(optimizer.beta_1, tf.float32), local_step)
            beta_2_power = tf.pow(tf.cast(optimizer.beta_2, tf.float32), local_step)
            lr = tf.cast(optimizer.learning_rate, tf.float32)
            alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
            dense_ops.fused_adam(
                variables, ms, vs, grads, alpha,
                optimizer.beta_1, optimizer.beta_2, optimizer.epsilon,
            )  # fmt: skip
            optimizer.iterations.assign_add(1)

    return apply


def _plain_adam(optimizer):
    return (
        type(optimizer) is keras.optimizers.Adam
        and not optimizer.amsgrad
        and not optimizer.weight_decay
        and optimizer.clipnorm is None
        and optimizer.clipvalue is None
        and optimizer.global_clipnorm is None
        and not optimizer.use_ema
        and not optimizer.gradient_accumulation_steps
        and optimizer.loss_scale_factor is None
    )
