"""Classifiers: LeNet-5 (and its half-width student), CIFAR ResNets, an MLP, and
GAN-TSC's image pair: the Network-in-Network teacher and its LeNet student.

Every classifier is called as `model.apply(variables, x, train=...)` and
returns logits; with `return_features=True` it returns (logits, features),
the penultimate activations that DAFL's activation loss reads.

Every BatchNorm layer also records the mean and (biased) variance of its
input over the batch and spatial axes in the `BN_INPUT_STATS` collection,
under the layer's own path: applied with `mutable=[BN_INPUT_STATS]`, a
frozen teacher in eval mode tells how far a batch's statistics are from
its running ones (the data-free BN-statistics loss). Unasked, nothing is kept.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from gan_tsc.ops.layers import conv_layer

BN_INPUT_STATS = "bn_input_stats"


class BatchNorm(nn.BatchNorm):
  """nn.BatchNorm that also records its input's batch (mean, var) under its own
  path, in the BN_INPUT_STATS collection (as 'input')."""

  @nn.compact
  def __call__(self, x, use_running_average=None, **kwargs):
    axes = tuple(range(x.ndim - 1))
    wide = x.astype(jnp.float32)  # statistics in float32 whatever the compute dtype
    self.sow(BN_INPUT_STATS, "input", (jnp.mean(wide, axes), jnp.var(wide, axes)))
    return super().__call__(x, use_running_average, **kwargs)


def batch_norm(x, train: bool, name: str | None = None, dtype=jnp.float32):
  """A BatchNorm with PyTorch's defaults (momentum 0.1, eps 1e-5); its scale,
  offset and running statistics stay float32 whatever `dtype` computes."""
  return BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, name=name,
                   dtype=dtype)(x)


def float32_outputs(logits, features, return_features: bool):
  """Logits (and features) as float32: losses and metrics never see bfloat16."""
  logits, features = logits.astype(jnp.float32), features.astype(jnp.float32)
  return (logits, features) if return_features else logits


class LeNet5(nn.Module):
  """LeNet-5 on 32x32 inputs: conv5-pool-conv5-pool-conv5-fc-fc, ReLU.

  Default widths give 61,706 parameters for 10 classes on 1 channel; the
  half-width student (3, 8, 60, 42) gives 15,738. `batch_norm=True`
  ('lenet5_bn') puts a BatchNorm after each convolution (whose bias it
  replaces), for the data-free losses that match a teacher's BN statistics.
  `conv` 'matmul' computes the convolutions as patches @ kernel (the same
  parameters; gan_tsc/ops/layers.py), for CPUs where that is faster.
  """
  num_classes: int = 10
  widths: Sequence[int] = (6, 16, 120, 84)
  batch_norm: bool = False
  conv: str = "xla"
  dtype: Any = jnp.float32  # compute dtype; parameters stay float32

  @nn.compact
  def __call__(self, x, train: bool = False, return_features: bool = False):
    c1, c2, c3, f1 = self.widths
    x = x.astype(self.dtype)

    def conv_block(x, features: int, index: int):
      x = conv_layer(self.conv)(features, (5, 5), padding="VALID", use_bias=not self.batch_norm,
                                name=f"Conv_{index}", dtype=self.dtype)(x)
      if self.batch_norm:
        x = batch_norm(x, train, f"BatchNorm_{index}", self.dtype)
      return nn.relu(x)

    x = nn.max_pool(conv_block(x, c1, 0), (2, 2), (2, 2))
    x = nn.max_pool(conv_block(x, c2, 1), (2, 2), (2, 2))
    x = conv_block(x, c3, 2)
    features = x.reshape(x.shape[0], -1)
    x = nn.relu(nn.Dense(f1, dtype=self.dtype)(features))
    logits = nn.Dense(self.num_classes, dtype=self.dtype)(x)
    return float32_outputs(logits, features, return_features)


class NIN(nn.Module):
  """Network in Network as GAN-TSC's image teacher: three blocks of a conv and
  1x1 'cccp' convs (ReLU, SAME padding), max-pool 3/2 then dropout after the
  first, average-pool 3/2 then dropout after the second, then FC + ReLU and
  FC. `widths` = (block 1's three, block 2's three, block 3's two, the hidden
  FC); the default is Caffe's CIFAR-10 NIN (the authors' teacher.npy holds
  their exact sizes). Dropout (rate `dropout_rate`) is active with
  train=True and a 'dropout' rng: the authors' teacher labels the student's
  inputs that way, so its targets are noisy.
  """
  num_classes: int = 10
  widths: Sequence[int] = (192, 160, 96, 192, 192, 192, 192, 192, 1024)
  dropout_rate: float = 0.5
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False, return_features: bool = False):
    if len(self.widths) != 9:
      raise ValueError(f"nin takes 9 widths (3 + 3 + 2 convolutions and the hidden FC), "
                       f"got {tuple(self.widths)}.")
    conv = lambda features, size: lambda y: nn.relu(
        nn.Conv(features, (size, size), padding="SAME", dtype=self.dtype)(y))
    drop = nn.Dropout(self.dropout_rate, deterministic=not train)
    w = self.widths
    x = x.astype(self.dtype)
    x = conv(w[2], 1)(conv(w[1], 1)(conv(w[0], 5)(x)))
    x = drop(nn.max_pool(x, (3, 3), (2, 2), padding="SAME"))
    x = conv(w[5], 1)(conv(w[4], 1)(conv(w[3], 5)(x)))
    x = drop(nn.avg_pool(x, (3, 3), (2, 2), padding="SAME", count_include_pad=False))
    x = conv(w[7], 1)(conv(w[6], 3)(x))
    features = nn.relu(nn.Dense(w[8], dtype=self.dtype)(x.reshape(x.shape[0], -1)))
    logits = nn.Dense(self.num_classes, dtype=self.dtype)(features)
    return float32_outputs(logits, features, return_features)


class TSCLeNet(nn.Module):
  """GAN-TSC's image student ('lenet' of the authors' code): 5x5 conv 64
  (VALID) -> max-pool 2 -> 5x5 conv 128 (VALID) -> max-pool 2 -> FC 1024 +
  ReLU -> logits. No activation after the convolutions and no dropout, as
  theirs. `widths` = (conv 1, conv 2, FC)."""
  num_classes: int = 10
  widths: Sequence[int] = (64, 128, 1024)
  conv: str = "xla"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False, return_features: bool = False):
    del train
    c1, c2, f1 = self.widths
    x = x.astype(self.dtype)
    x = conv_layer(self.conv)(c1, (5, 5), padding="VALID", name="Conv_0", dtype=self.dtype)(x)
    x = nn.max_pool(x, (2, 2), (2, 2))
    x = conv_layer(self.conv)(c2, (5, 5), padding="VALID", name="Conv_1", dtype=self.dtype)(x)
    x = nn.max_pool(x, (2, 2), (2, 2))
    features = nn.relu(nn.Dense(f1, dtype=self.dtype)(x.reshape(x.shape[0], -1)))
    logits = nn.Dense(self.num_classes, dtype=self.dtype)(features)
    return float32_outputs(logits, features, return_features)


class BasicBlock(nn.Module):
  features: int
  stride: int = 1
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    norm = lambda name: lambda y: batch_norm(y, train, name, self.dtype)
    conv = functools.partial(nn.Conv, use_bias=False, dtype=self.dtype)
    y = conv(self.features, (3, 3), self.stride, padding=1)(x)
    y = nn.relu(norm("bn1")(y))
    y = conv(self.features, (3, 3), padding=1)(y)
    y = norm("bn2")(y)
    if self.stride != 1 or x.shape[-1] != self.features:
      x = conv(self.features, (1, 1), self.stride, name="shortcut")(x)
      x = norm("shortcut_bn")(x)
    return nn.relu(x + y)


class CifarResNet(nn.Module):
  """ResNet with a 3x3 stem and no max-pool, for 32x32 images."""
  stage_sizes: Sequence[int]
  num_classes: int = 10
  width: int = 64
  dtype: Any = jnp.float32  # compute dtype; parameters and BatchNorm statistics stay float32

  @nn.compact
  def __call__(self, x, train: bool = False, return_features: bool = False):
    x = nn.Conv(self.width, (3, 3), padding=1, use_bias=False, dtype=self.dtype)(
        x.astype(self.dtype))
    x = nn.relu(batch_norm(x, train, "BatchNorm_0", self.dtype))
    for stage, blocks in enumerate(self.stage_sizes):
      for block in range(blocks):
        stride = 2 if stage > 0 and block == 0 else 1
        x = BasicBlock(self.width * 2**stage, stride, self.dtype)(x, train)
    features = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
    logits = nn.Dense(self.num_classes, dtype=self.dtype)(features)
    return float32_outputs(logits, features, return_features)


class MLP(nn.Module):
  """A ReLU MLP for tabular rows, or images flattened to rows."""
  num_classes: int
  hidden: Sequence[int] = (256, 256)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool = False, return_features: bool = False):
    del train
    x = x.reshape(x.shape[0], -1).astype(self.dtype)
    for width in self.hidden:
      x = nn.relu(nn.Dense(width, dtype=self.dtype)(x))
    logits = nn.Dense(self.num_classes, dtype=self.dtype)(x)
    return float32_outputs(logits, x, return_features)
