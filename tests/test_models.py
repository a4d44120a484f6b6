"""Classifier architectures: parameter counts of the papers, output shapes."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gan_tsc import models


def build(name, num_classes=10, **kw):
  return models.build_classifier(ml_collections.ConfigDict(dict(name=name, num_classes=num_classes, **kw)))


@pytest.mark.parametrize("name, shape, expected", [
    ("lenet5", (32, 32, 1), 61_706),
    ("lenet5_half", (32, 32, 1), 15_738),
    # LeNet-5 with BatchNorm: the three conv biases (6 + 16 + 120) become BN
    # scales and offsets (2 x 142): 61,706 - 142 + 284.
    ("lenet5_bn", (32, 32, 1), 61_848),
    ("resnet18", (32, 32, 3), 11_173_962),
    ("resnet34", (32, 32, 3), 21_282_122),
    # GAN-TSC's student: conv 3->64 5x5, conv 64->128 5x5, fc 5*5*128->1024, fc 1024->10.
    ("tsc_lenet", (32, 32, 3), (25 * 3 * 64 + 64) + (25 * 64 * 128 + 128)
     + (25 * 128 * 1024 + 1024) + (1024 * 10 + 10)),
    # NIN, Caffe's CIFAR-10 sizes: conv 5x5 192, 1x1 160, 1x1 96, pool -> 16x16;
    # conv 5x5 192, 1x1 192, 1x1 192, pool -> 8x8; conv 3x3 192, 1x1 192; fc 1024; fc 10.
    ("nin", (32, 32, 3), (25 * 3 * 192 + 192) + (192 * 160 + 160) + (160 * 96 + 96)
     + (25 * 96 * 192 + 192) + 2 * (192 * 192 + 192) + (9 * 192 * 192 + 192)
     + (192 * 192 + 192) + (8 * 8 * 192 * 1024 + 1024) + (1024 * 10 + 10)),
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


def test_torch_init_draws_uniform_kernels_and_biases_by_fan_in():
  model = models.build_classifier(ml_collections.ConfigDict(dict(name="lenet5_bn",
                                                                 num_classes=10)))
  params = models.init_variables(model, jax.random.PRNGKey(0), (32, 32, 1))["params"]
  assert models.reinitialize(params, jax.random.PRNGKey(1), "flax") is params
  torch = models.reinitialize(params, jax.random.PRNGKey(1), "torch")
  # Conv_0: 5x5x1 -> fan_in 25; Dense_0: 120 -> 84, fan_in 120 (kernel and bias).
  for layer, fan_in in (("Conv_0", 25), ("Conv_2", 5 * 5 * 16), ("Dense_0", 120)):
    bound = 1 / np.sqrt(fan_in)
    for name in ("kernel", "bias"):
      if name not in torch[layer]:
        continue  # BatchNorm follows the convolutions: no bias
      x = np.asarray(torch[layer][name])
      assert np.abs(x).max() <= bound and np.abs(x).max() > 0.8 * bound
      if x.size > 1000:  # the standard deviation of U(-b, b) is b / sqrt(3)
        assert x.std() == pytest.approx(bound / np.sqrt(3), rel=0.1)
  assert "bias" in torch["Dense_0"] and np.abs(np.asarray(torch["Dense_0"]["bias"])).max() > 0
  # BatchNorm scales and offsets keep PyTorch's (and Flax's) ones and zeros.
  np.testing.assert_array_equal(torch["BatchNorm_0"]["scale"], params["BatchNorm_0"]["scale"])
  np.testing.assert_array_equal(torch["BatchNorm_0"]["bias"], params["BatchNorm_0"]["bias"])
  with pytest.raises(ValueError, match="Unknown init"):
    models.reinitialize(params, jax.random.PRNGKey(1), "xavier")


def test_nin_drops_out_only_in_training_with_a_dropout_rng():
  model = build("nin", widths=(8, 8, 8, 8, 8, 8, 8, 8, 16))
  variables = models.init_variables(model, jax.random.PRNGKey(0), (32, 32, 1))
  assert not variables["batch_stats"]  # no BatchNorm: labelling in training mode is safe
  x = jax.random.normal(jax.random.PRNGKey(1), (4, 32, 32, 1))
  evaluated = model.apply(variables, x)
  np.testing.assert_array_equal(evaluated, model.apply(variables, x, train=False))
  noisy = [model.apply(variables, x, train=True, rngs={"dropout": jax.random.PRNGKey(k)})
           for k in (2, 3)]
  assert not np.allclose(noisy[0], noisy[1]) and not np.allclose(noisy[0], evaluated)
  no_dropout = build("nin", widths=(8, 8, 8, 8, 8, 8, 8, 8, 16), dropout_rate=0.0)
  np.testing.assert_allclose(no_dropout.apply(variables, x, train=True,
                                              rngs={"dropout": jax.random.PRNGKey(2)}),
                             evaluated, rtol=1e-6)
  with pytest.raises(ValueError, match="9 widths"):
    models.init_variables(build("nin", widths=(8, 8)), jax.random.PRNGKey(0), (32, 32, 1))


def test_gan_tsc_init_draws_xavier_kernels_and_wide_normal_biases():
  model = build("tsc_lenet")
  params = models.init_variables(model, jax.random.PRNGKey(0), (32, 32, 1))["params"]
  drawn = models.reinitialize(params, jax.random.PRNGKey(1), "gan_tsc")
  # Xavier-uniform: bound sqrt(6 / (fan_in + fan_out)), fan = receptive field x channels.
  for layer, fan_in, fan_out in (("Conv_0", 25 * 1, 25 * 64), ("Conv_1", 25 * 64, 25 * 128),
                                 ("Dense_0", 5 * 5 * 128, 1024), ("Dense_1", 1024, 10)):
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    kernel = np.asarray(drawn[layer]["kernel"])
    assert 0.9 * bound < np.abs(kernel).max() <= bound * (1 + 1e-6)  # float32 rounding
    assert kernel.std() == pytest.approx(bound / np.sqrt(3), rel=0.1)
  biases = np.concatenate([np.asarray(drawn[k]["bias"]) for k in drawn])  # 64+128+1024+10
  assert biases.std() == pytest.approx(0.5, rel=0.1) and abs(biases.mean()) < 0.1
