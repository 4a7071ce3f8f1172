"""`Network`: what `Model.compile` makes of a `ModelGraph`, shared by training, files and inference.

It holds the Keras model (inputs: the dense and sparse inputs by name; output: the logits the loss
takes), the embedding layers, the dense weights in HugeCTR's file order, the dense optimizer and
the loss layer, and knows how to split a reader batch and turn logits into probabilities.
"""

import keras
import tensorflow as tf

from hugectr_tf.api.optimizers import dense_optimizer
from hugectr_tf.config import Layer_t


class Network:
    """The compiled network of a `Model`.

    Args:
        graph: `ModelGraph` with a loss layer (for prediction only, it may have none).
        opt_params: `OptParamsPy` of the dense optimizer.
        learning_rate: Float. Initial dense learning rate.
        inference: Boolean. Prediction only: a graph without a loss layer predicts the output
            of its last layer as it is (HugeCTR's inference graphs end in a Sigmoid).
    """

    def __init__(self, graph, opt_params, learning_rate, inference=False):
        self.input = graph.input
        output = graph.output if inference else graph.logits
        self.keras_model = keras.Model(inputs=graph.model_inputs, outputs=output)
        self.input_names = list(graph.model_inputs)
        self.embedding_layers = list(graph.embedding_layers)
        self.dense_layers = graph.keras_dense_layers()
        self.loss_param = graph.loss_param
        self.loss_layer = graph.loss_layer
        # HugeCTR's dense model file: every dense layer's weights in add order.
        self.dense_weights = [w for layer in self.dense_layers for w in layer.trainable_weights]
        self.dense_non_trainable = [
            w for layer in self.dense_layers for w in layer.non_trainable_weights
        ]
        self.opt_params = opt_params
        self.dense_optimizer = dense_optimizer(opt_params, learning_rate)
        self.dense_optimizer.build(self.dense_weights)

    def split(self, batch):
        """(model inputs, labels) of a reader batch dict."""
        features = {name: batch[name] for name in self.input_names}
        return features, batch[self.input.label_name]

    def loss(self, features, labels, training):
        """(logits, float32 labels, float32 batch loss) of one batch."""
        logits = self.keras_model(features, training=training)
        labels = tf.cast(labels, tf.float32)
        loss = tf.cast(self.loss_layer([tf.cast(logits, tf.float32), labels]), tf.float32)
        return logits, labels, loss

    def regularization(self, batch_size):
        """The loss layer's L1/L2 term over the dense weights (0.0 when it has none)."""
        if not self.loss_param.use_regularizer or self.loss_param.lambda_ == 0:
            return 0.0
        return self.loss_layer.regularization(self.dense_weights, batch_size)

    def probabilities(self, logits):
        """Click probabilities [B, 1] (or [B, labels]) from the network's logits."""
        logits = tf.cast(logits, tf.float32)
        if self.loss_param is None:
            return logits  # the graph's own output layer made them (an inference graph)
        if self.loss_param.layer_type == Layer_t.CrossEntropyLoss:
            return tf.nn.softmax(logits)[:, -1:]
        return tf.sigmoid(logits)

    def predict(self, features):
        """Probabilities of a batch of features (inference: no key is inserted)."""
        return self.probabilities(self.keras_model(features, training=False))
