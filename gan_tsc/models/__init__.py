"""Model registry: `build(model_config)` from a config block with a `name`."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_tsc.models import classifiers, generators
from gan_tsc.ops import conv as conv_ops

_CLASSIFIERS = {
    "lenet5": lambda c: classifiers.LeNet5(c.num_classes),
    "lenet5_half": lambda c: classifiers.LeNet5(c.num_classes, (3, 8, 60, 42)),
    "resnet18": lambda c: classifiers.CifarResNet((2, 2, 2, 2), c.num_classes),
    "resnet34": lambda c: classifiers.CifarResNet((3, 4, 6, 3), c.num_classes),
    "mlp": lambda c: classifiers.MLP(c.num_classes, tuple(c.get("hidden", (256, 256)))),
}


def classifier_names() -> tuple[str, ...]:
  return tuple(_CLASSIFIERS)


def build_classifier(model_config) -> nn.Module:
  name = model_config.name
  if name not in _CLASSIFIERS:
    raise ValueError(f"Unknown model {name!r}; choose one of {classifier_names()} "
                     "(--config.<phase>.model.name).")
  return _CLASSIFIERS[name](model_config)


_GENERATORS = {
    "dafl": lambda c: generators.DAFLGenerator(c.latent_dim, c.image_size, c.channels,
                                               conv=conv_ops.conv_module(c.get("conv", "xla")),
                                               width=c.get("width", 128),
                                               output=c.get("output", "batch_norm")),
    "dcgan": lambda c: generators.DCGANGenerator(
        c.width, c.channels, c.image_size, c.get("latent_dim", 100),
        conv_transpose=dcgan_layer(c.get("conv", "xla"), "ConvTranspose")),
}


def dcgan_layer(conv: str, layer: str):
  """Flax's `layer` ('Conv' or 'ConvTranspose') for conv='xla', the matrix-product
  version with the same parameters for conv='patch' (faster on XLA:CPU)."""
  from gan_tsc.ops import patch_conv
  choices = {"xla": nn, "patch": patch_conv}
  if conv not in choices:
    raise ValueError(f"Unknown DCGAN conv {conv!r}; choose one of {tuple(choices)} "
                     "(--config.<phase>.generator.conv / .critic.conv).")
  return getattr(choices[conv], layer)


def build_generator(generator_config) -> nn.Module:
  name = generator_config.name
  if name not in _GENERATORS:
    raise ValueError(f"Unknown generator {name!r}; choose one of {tuple(_GENERATORS)} "
                     "(--config.<phase>.generator.name).")
  return _GENERATORS[name](generator_config)


def init_variables(model: nn.Module, key, input_shape, **kwargs) -> dict:
  """Initial {'params', 'batch_stats'} for a batch-of-one input of `input_shape`."""
  variables = model.init(key, jnp.zeros((1,) + tuple(input_shape), jnp.float32), **kwargs)
  return {"params": variables["params"], "batch_stats": variables.get("batch_stats", {})}


def count_params(params) -> int:
  return sum(x.size for x in jax.tree.leaves(params))
