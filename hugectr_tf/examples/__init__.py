"""Runnable examples: the README's main job (`dcn_demo`) and plain-Keras reference models."""
