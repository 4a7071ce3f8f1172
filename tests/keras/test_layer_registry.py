import keras
import pytest

from hugectr_tf.api.enums import Layer_t
from hugectr_tf.keras import layers


def test_every_layer_type_has_a_registered_class():
    assert set(layers.LAYER_CLASSES) == {m.value for m in Layer_t}
    for member in Layer_t:
        cls = layers.layer_class_for(member)
        assert cls is layers.layer_class_for(member.value) is layers.layer_class_for(member.name)
        name = keras.saving.get_registered_name(cls)
        assert name.startswith("hugectr_tf>") and keras.saving.get_registered_object(name) is cls


def test_unknown_layer_type_message():
    with pytest.raises(ValueError, match=r"layer_type='Conv2D'"):
        layers.layer_class_for("Conv2D")
