"""Model registry: every network of every phase is built here from its config block.

    build_classifier(block)                   LeNet-5 (half, with BatchNorm), CIFAR ResNets, MLP,
                                              GAN-TSC's NIN teacher and LeNet student
    build_generator(block, **data)            DAFL, DCGAN, AC-GAN, tabular generators
    build_adversary(block, **data)            DCGAN critic, AC-GAN discriminator, tabular critic

A block names its network (`name`) and holds its settings; what the data
decides (classes, channels, image size, feature count, pixel statistics) is
passed as keyword arguments by the phase, so models know no data source.
`conv` is one vocabulary everywhere: 'xla' or 'matmul' (gan_tsc/ops/layers.py).
"""

from __future__ import annotations

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import traverse_util

from gan_tsc.models import classifiers, generators
from gan_tsc.ops.layers import conv_layer

_CLASSIFIERS = {
    "lenet5": lambda c, dtype: classifiers.LeNet5(c.num_classes, conv=c.get("conv", "xla"),
                                                  dtype=dtype),
    "lenet5_half": lambda c, dtype: classifiers.LeNet5(c.num_classes, (3, 8, 60, 42),
                                                       conv=c.get("conv", "xla"), dtype=dtype),
    "lenet5_bn": lambda c, dtype: classifiers.LeNet5(c.num_classes, batch_norm=True,
                                                     conv=c.get("conv", "xla"), dtype=dtype),
    "resnet18": lambda c, dtype: classifiers.CifarResNet((2, 2, 2, 2), c.num_classes,
                                                         dtype=dtype),
    "resnet34": lambda c, dtype: classifiers.CifarResNet((3, 4, 6, 3), c.num_classes,
                                                         dtype=dtype),
    "mlp": lambda c, dtype: classifiers.MLP(c.num_classes, tuple(c.hidden), dtype=dtype),
    "nin": lambda c, dtype: classifiers.NIN(
        c.num_classes, tuple(c.get("widths", classifiers.NIN.widths)),
        c.get("dropout_rate", 0.5), dtype=dtype),
    "tsc_lenet": lambda c, dtype: classifiers.TSCLeNet(
        c.num_classes, tuple(c.get("widths", classifiers.TSCLeNet.widths)),
        conv=c.get("conv", "xla"), dtype=dtype),
}

COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def compute_dtype(block):
  """The block's `compute_dtype` ('float32' by default, or 'bfloat16': activations
  and products in bfloat16; parameters, optimizer state, BatchNorm statistics
  and the logits the losses see stay float32)."""
  name = block.get("compute_dtype", "float32")
  if name not in COMPUTE_DTYPES:
    raise ValueError(f"Unknown compute_dtype {name!r}; choose one of {tuple(COMPUTE_DTYPES)} "
                     "(--config.<phase>.<network>.compute_dtype).")
  return COMPUTE_DTYPES[name]


def classifier_names() -> tuple[str, ...]:
  return tuple(_CLASSIFIERS)


def _lookup(table: dict, block, what: str):
  if block.name not in table:
    raise ValueError(f"Unknown {what} {block.name!r}; choose one of {tuple(table)} "
                     f"(--config.<phase>.<{what}>.name).")
  return table[block.name]


def build_classifier(model_config) -> nn.Module:
  return _lookup(_CLASSIFIERS, model_config, "model")(model_config, compute_dtype(model_config))


def _dafl(c, pixel_mean=(0.5,), pixel_std=(0.5,), **_):
  return generators.DAFLGenerator(
      c.latent_dim, c.image_size, c.channels, conv=conv_layer(c.conv), width=c.width,
      output=c.output, pixel_mean=tuple(pixel_mean), pixel_std=tuple(pixel_std))


def _dcgan(c, **_):
  return generators.DCGANGenerator(c.width, c.channels, c.image_size, c.latent_dim,
                                   conv_transpose=conv_layer(c.conv, transpose=True))


def _acgan(c, num_labels, channels, image_size, conditional_bn=False, **_):
  return generators.ACGANGenerator(num_labels, channels, image_size, latent_dim=c.latent_dim,
                                   width=c.width, conditional_bn=conditional_bn,
                                   conv_transpose=conv_layer(c.conv, transpose=True))


def _tabular(c, num_features, num_labels, **_):
  return generators.TabularGenerator(num_features, num_labels, tuple(c.hidden), c.latent_dim)


_GENERATORS = {"dafl": _dafl, "dcgan": _dcgan, "acgan": _acgan,
               # the same generator with class-conditional BatchNorm
               "acgan_cbn": functools.partial(_acgan, conditional_bn=True),
               "tabular": _tabular}


def build_generator(generator_config, **data) -> nn.Module:
  """A generator; `data` holds what the data decides (num_labels, channels, ...)."""
  return _lookup(_GENERATORS, generator_config, "generator")(generator_config, **data)


_ADVERSARIES = {
    "dcgan_critic": lambda c, image_size, **_: generators.DCGANCritic(
        c.width, image_size, conv=conv_layer(c.conv)),
    "acgan_discriminator": lambda c, num_labels, **_: generators.ACGANDiscriminator(
        num_labels, width=c.width, conv=conv_layer(c.conv)),
    "projection_discriminator": lambda c, num_labels, **_: generators.ProjectionDiscriminator(
        num_labels, width=c.width, conv=conv_layer(c.conv)),
    "tabular_critic": lambda c, num_labels, **_: generators.TabularCritic(
        num_labels, tuple(c.hidden)),
}


def build_adversary(adversary_config, **data) -> nn.Module:
  """A GAN's critic or discriminator; `data` as for `build_generator`."""
  return _lookup(_ADVERSARIES, adversary_config, "critic")(adversary_config, **data)


INITS = ("flax", "torch", "gan_tsc")
GAN_TSC_BIAS_STD = 0.5  # the GAN-TSC student's biases: N(0, 0.5^2)


def reinitialize(params, key, init: str):
  """`params` as initialised by `init`: 'flax' leaves them as they are; 'torch'
  draws every layer's kernel and bias as PyTorch's defaults do for Linear and
  Conv (kaiming-uniform with a=√5 and uniform biases: both U(±1/√fan_in),
  fan_in = the kernel's size over its output axis); 'gan_tsc' as the GAN-TSC
  authors' image student: Xavier-uniform kernels (U(±√(6/(fan_in + fan_out))),
  fan_out = the output axis times the receptive field) and N(0, 0.5²) biases.
  BatchNorm scales and offsets (no kernel) keep their ones and zeros."""
  if init not in INITS:
    raise ValueError(f"Unknown init {init!r}; choose one of {INITS}.")
  if init == "flax":
    return params
  flat = traverse_util.flatten_dict(params)
  layers = sorted({path[:-1] for path in flat if path[-1] == "kernel"})
  for index, layer in enumerate(layers):
    kernel = flat[layer + ("kernel",)]
    fan_in = math.prod(kernel.shape[:-1])
    bound = 1.0 / math.sqrt(fan_in)
    if init == "gan_tsc":
      fan_out = math.prod(kernel.shape[:-2]) * kernel.shape[-1]
      bound = math.sqrt(6.0 / (fan_in + fan_out))
    k_kernel, k_bias = jax.random.split(jax.random.fold_in(key, index))
    flat[layer + ("kernel",)] = jax.random.uniform(k_kernel, kernel.shape, kernel.dtype,
                                                   -bound, bound)
    if layer + ("bias",) in flat:
      bias = flat[layer + ("bias",)]
      flat[layer + ("bias",)] = (
          GAN_TSC_BIAS_STD * jax.random.normal(k_bias, bias.shape, bias.dtype)
          if init == "gan_tsc" else
          jax.random.uniform(k_bias, bias.shape, bias.dtype, -bound, bound))
  return traverse_util.unflatten_dict(flat)


def init_variables(model: nn.Module, key, input_shape, **kwargs) -> dict:
  """Initial {'params', 'batch_stats'} for a batch-of-one input of `input_shape`."""
  variables = model.init(key, jnp.zeros((1,) + tuple(input_shape), jnp.float32), **kwargs)
  return {"params": variables["params"], "batch_stats": variables.get("batch_stats", {})}


def count_params(params) -> int:
  return sum(x.size for x in jax.tree.leaves(params))
