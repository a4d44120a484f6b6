"""Classifier architectures: parameter counts of the papers, output shapes."""

import jax
import jax.numpy as jnp
import ml_collections
import pytest

from gan_tsc import models


def build(name, num_classes=10, **kw):
  return models.build_classifier(ml_collections.ConfigDict(dict(name=name, num_classes=num_classes, **kw)))


@pytest.mark.parametrize("name, shape, expected", [
    ("lenet5", (32, 32, 1), 61_706),
    ("lenet5_half", (32, 32, 1), 15_738),
    ("resnet18", (32, 32, 3), 11_173_962),
    ("resnet34", (32, 32, 3), 21_282_122),
])
def test_parameter_counts(name, shape, expected):
  model = build(name)
  variables = jax.eval_shape(lambda: models.init_variables(model, jax.random.PRNGKey(0), shape))
  assert models.count_params(variables["params"]) == expected


def test_lenet5_by_hand():
  # conv 1->6 5x5, conv 6->16 5x5, conv 16->120 5x5, fc 120->84, fc 84->10
  by_hand = (25 * 6 + 6) + (25 * 6 * 16 + 16) + (25 * 16 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
  assert by_hand == 61_706


def test_features_and_logits_shapes():
  model = build("lenet5")
  variables = models.init_variables(model, jax.random.PRNGKey(0), (32, 32, 1))
  logits, features = model.apply(variables, jnp.zeros((3, 32, 32, 1)), return_features=True)
  assert logits.shape == (3, 10) and features.shape == (3, 120)
  resnet = build("resnet18", 100)
  variables = jax.eval_shape(lambda: models.init_variables(resnet, jax.random.PRNGKey(0), (32, 32, 3)))
  logits, features = jax.eval_shape(lambda v: resnet.apply(v, jnp.zeros((2, 32, 32, 3)), return_features=True), variables)
  assert logits.shape == (2, 100) and features.shape == (2, 512)


def test_mlp():
  model = build("mlp", 3, hidden=(8,))
  variables = models.init_variables(model, jax.random.PRNGKey(0), (5,))
  assert model.apply(variables, jnp.ones((4, 5))).shape == (4, 3)
  assert models.count_params(variables["params"]) == 5 * 8 + 8 + 8 * 3 + 3
  # Images are flattened to rows: one weight per pixel, not per channel.
  variables = models.init_variables(model, jax.random.PRNGKey(0), (32, 32, 1))
  assert model.apply(variables, jnp.ones((4, 32, 32, 1))).shape == (4, 3)
  assert models.count_params(variables["params"]) == 1024 * 8 + 8 + 8 * 3 + 3


def test_unknown_model_name_is_a_clear_error():
  with pytest.raises(ValueError, match="Unknown model 'lenet7'.*lenet5"):
    build("lenet7")
