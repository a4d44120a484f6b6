"""Generators and their adversaries for DAFL, GAN-KD and GAN-TSC.

All image modules are NHWC with outputs in [-1, 1] (tanh). BatchNorm momentum
0.9 in Flax is PyTorch's momentum 0.1. A module with BatchNorm updates its
'batch_stats' collection when it uses batch statistics, so callers apply it
with `mutable=['batch_stats']` in that mode.

  DAFLGenerator        DAFL's generator, always on batch statistics.
  DCGANGenerator       GAN-KD's width-scaled DCGAN generator (32 or 64 px).
  DCGANCritic          WGAN-GP critic mirroring it (no normalisation).
  ACGANGenerator       GAN-TSC's class-conditional image generator.
  ACGANDiscriminator   its discriminator: (source logit, class logits).
  TabularGenerator     class-conditional generator for standardised features.
  TabularCritic        its WGAN-GP critic.
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_tsc.ops import pixels
from gan_tsc.ops.upsample_conv import UpsampleConv

__all__ = [
    "DAFLGenerator",
    "DCGANGenerator",
    "DCGANCritic",
    "ACGANGenerator",
    "ACGANDiscriminator",
    "TabularGenerator",
    "TabularCritic",
]

# Flax padding for a 4x4 stride-2 layer that exactly doubles (transposed) or
# halves (plain) the spatial size, as PyTorch's kernel 4, stride 2, padding 1.
_UP_PADDING = ((2, 2), (2, 2))
_DOWN_PADDING = ((1, 1), (1, 1))
_BN_MOMENTUM = 0.9


def _check_divisible_by_4(image_size: int, module: str) -> None:
  if image_size <= 0 or image_size % 4:
    raise ValueError(f"{module} needs an image_size divisible by 4 (it upsamples "
                     f"twice by 2), got {image_size}.")


def _dcgan_hidden_widths(width: int, image_size: int, module: str) -> tuple[int, ...]:
  """Hidden widths from the 4x4 layer upwards: (8d, 4d, 2d, d) at 64 px."""
  if image_size == 64:
    return (8 * width, 4 * width, 2 * width, width)
  if image_size == 32:
    return (4 * width, 2 * width, width)
  raise ValueError(f"{module} supports image_size 32 or 64, got {image_size}; "
                   "resize the data or pick one of those sizes in the config.")


class DAFLGenerator(nn.Module):
  """DAFL's generator: Dense, two nearest-upsample + conv stages, tanh, BN.

  It always normalises with batch statistics (as the original does, training
  mode throughout), so every apply must pass `mutable=['batch_stats']`. The
  final affine-free BatchNorm keeps each output channel at zero mean and unit
  variance over the batch, which the teacher's input normalisation expects.

  The two upsample + 3x3 conv stages are `UpsampleConv` (ops/upsample_conv.py:
  the same function and parameters in 16/36 of the multiplies). `conv` builds
  the last 3x3 convolution; any module class taking `features, kernel_size,
  padding, use_bias` with params 'kernel' (kh, kw, in, out) and 'bias' can
  replace nn.Conv, e.g. a faster CPU convolution. `width` is 128 in the
  paper; the two conv stages have `width` and `width // 2` filters.

  `output='pixels'` (not in the paper) drops the final BatchNorm: the tanh
  output is read as pixels in [-1, 1] and normalised with the data set's
  `pixel_mean` / `pixel_std`, so every generated pixel is one a real image
  could have.
  """
  latent_dim: int
  image_size: int
  channels: int
  conv: Callable[..., nn.Module] = nn.Conv
  width: int = 128
  output: str = "batch_norm"
  pixel_mean: tuple[float, ...] = (0.5,)
  pixel_std: tuple[float, ...] = (0.5,)

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    _check_divisible_by_4(self.image_size, "DAFLGenerator")
    if z.shape[-1] != self.latent_dim:
      raise ValueError(f"DAFLGenerator expects latents of size {self.latent_dim}, "
                       f"got shape {z.shape}.")
    side = self.image_size // 4

    def batch_norm(name: str, epsilon: float, affine: bool = True) -> nn.BatchNorm:
      return nn.BatchNorm(use_running_average=False, momentum=_BN_MOMENTUM,
                          epsilon=epsilon, use_scale=affine, use_bias=affine, name=name)

    def conv3x3(features: int, name: str) -> nn.Module:
      return self.conv(features=features, kernel_size=(3, 3), padding="SAME",
                       use_bias=True, name=name)

    x = nn.Dense(self.width * side * side, name="dense")(z)
    x = x.reshape(z.shape[0], side, side, self.width)
    x = batch_norm("bn0", 1e-5)(x)
    x = UpsampleConv(self.width, name="conv1")(x)
    x = nn.leaky_relu(batch_norm("bn1", 0.8)(x), 0.2)
    x = UpsampleConv(self.width // 2, name="conv2")(x)
    x = nn.leaky_relu(batch_norm("bn2", 0.8)(x), 0.2)
    x = jnp.tanh(conv3x3(self.channels, "conv3")(x))
    if self.output == "pixels":  # [-1, 1] -> 0..255 -> the classifiers' normalisation
      return pixels.from_tanh_range(x, self.pixel_mean, self.pixel_std)
    if self.output != "batch_norm":
      raise ValueError(f"DAFLGenerator output must be 'batch_norm' or 'pixels', got {self.output!r}.")
    return batch_norm("bn_out", 1e-5, affine=False)(x)


class DCGANGenerator(nn.Module):
  """GAN-KD's DCGAN generator, widths scaled by the depth factor d (`width`).

  64 px: latent (1x1) -> 8d (4x4) -> 4d -> 2d -> d -> channels (64x64);
  32 px drops the 8d layer. 4x4 transposed convolutions with bias, affine-free
  BatchNorm and ReLU on hidden layers, tanh output. With channels=1 at 64 px
  it has 672 d^2 + 12831 d + 1 parameters, the paper's counts. Under batch
  statistics the hidden biases cancel in the BatchNorm (zero gradient); they
  are kept so the counts match.

  `conv_transpose` builds the transposed convolutions: nn.ConvTranspose or a
  drop-in with its parameters (gan_tsc.ops.patch_conv, faster on XLA:CPU).
  """
  width: int
  channels: int = 1
  image_size: int = 64
  latent_dim: int = 100
  conv_transpose: Callable[..., nn.Module] = nn.ConvTranspose

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
    widths = _dcgan_hidden_widths(self.width, self.image_size, "DCGANGenerator")
    if z.shape[-1] != self.latent_dim:
      raise ValueError(f"DCGANGenerator expects latents of size {self.latent_dim}, "
                       f"got shape {z.shape}.")
    x = z.reshape(z.shape[0], 1, 1, self.latent_dim)
    for index, features in enumerate(widths):
      if index == 0:  # 1x1 -> 4x4
        x = self.conv_transpose(features, (4, 4), (1, 1), padding="VALID")(x)
      else:  # doubles the side
        x = self.conv_transpose(features, (4, 4), (2, 2), padding=_UP_PADDING)(x)
      x = nn.BatchNorm(use_running_average=not train, momentum=_BN_MOMENTUM,
                       epsilon=1e-5, use_scale=False, use_bias=False)(x)
      x = nn.relu(x)
    x = self.conv_transpose(self.channels, (4, 4), (2, 2), padding=_UP_PADDING)(x)
    return jnp.tanh(x)


class DCGANCritic(nn.Module):
  """WGAN-GP critic mirroring DCGANGenerator: strided 4x4 convs, LeakyReLU.

  No normalisation layers: the gradient penalty is taken per sample, which
  batch statistics would break. `train` is accepted for a uniform call
  signature and ignored. Returns unbounded scores of shape (N,). `conv`:
  nn.Conv or a drop-in with its parameters (gan_tsc.ops.patch_conv).
  """
  width: int
  image_size: int = 64
  conv: Callable[..., nn.Module] = nn.Conv

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> jax.Array:
    del train  # no batch statistics or dropout
    widths = _dcgan_hidden_widths(self.width, self.image_size, "DCGANCritic")
    if x.shape[1:3] != (self.image_size, self.image_size):
      raise ValueError(f"DCGANCritic was built for {self.image_size}px images, "
                       f"got shape {x.shape}.")
    for features in reversed(widths):  # halves the side down to 4x4
      x = self.conv(features, (4, 4), (2, 2), padding=_DOWN_PADDING)(x)
      x = nn.leaky_relu(x, 0.2)
    x = self.conv(1, (4, 4), padding="VALID")(x)  # 4x4 -> 1x1
    return x.reshape(x.shape[0])


class ACGANGenerator(nn.Module):
  """GAN-TSC's class-conditional generator for 28 or 32 px images.

  The latent is multiplied by a learned class embedding, projected to a
  (s/4, s/4, 2w) map and doubled twice by 4x4 transposed convolutions.
  Layers followed by BatchNorm have no bias (it would cancel).
  `conditional_bn`: each BatchNorm's scale and offset are the class's own
  (categorical conditional BatchNorm, the class conditioning of Miyato &
  Koyama's projection-GAN generator), starting at one and zero, so the class
  steers every layer, not only the latent.
  `conv_transpose`: nn.ConvTranspose or a drop-in with its parameters
  (gan_tsc.ops.patch_conv, much faster weight gradients on XLA:CPU).
  """
  num_classes: int
  channels: int
  image_size: int
  latent_dim: int = 100
  width: int = 64
  conditional_bn: bool = False
  conv_transpose: Callable[..., nn.Module] = nn.ConvTranspose

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array, train: bool = True) -> jax.Array:
    _check_divisible_by_4(self.image_size, "ACGANGenerator")
    side = self.image_size // 4

    def batch_norm(x: jax.Array, index: int) -> jax.Array:
      shared = not self.conditional_bn
      x = nn.BatchNorm(use_running_average=not train, momentum=_BN_MOMENTUM, epsilon=1e-5,
                       use_scale=shared, use_bias=shared, name=f"BatchNorm_{index}")(x)
      if shared:
        return x
      features = x.shape[-1]
      scale = nn.Embed(self.num_classes, features, embedding_init=nn.initializers.ones,
                       name=f"class_scale_{index}")(labels)
      offset = nn.Embed(self.num_classes, features, embedding_init=nn.initializers.zeros,
                        name=f"class_offset_{index}")(labels)
      return x * scale[:, None, None, :] + offset[:, None, None, :]

    x = z * nn.Embed(self.num_classes, self.latent_dim, name="label_embedding")(labels)
    x = nn.Dense(side * side * 2 * self.width, use_bias=False)(x)
    x = x.reshape(z.shape[0], side, side, 2 * self.width)
    x = nn.relu(batch_norm(x, 0))
    x = self.conv_transpose(self.width, (4, 4), (2, 2), padding=_UP_PADDING,
                            use_bias=False)(x)
    x = nn.relu(batch_norm(x, 1))
    x = self.conv_transpose(self.channels, (4, 4), (2, 2), padding=_UP_PADDING)(x)
    return jnp.tanh(x)


class ACGANDiscriminator(nn.Module):
  """AC-GAN discriminator: two strided 4x4 convs, then two linear heads.

  Returns (source_logit (N,), class_logits (N, num_classes)); the source
  logit is real-vs-fake before the sigmoid. Works for any image size
  divisible by 4. `train` is accepted for a uniform call signature.
  `conv`: nn.Conv or a drop-in with its parameters (gan_tsc.ops.patch_conv).
  """
  num_classes: int
  width: int = 64
  conv: Callable[..., nn.Module] = nn.Conv

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = True) -> tuple[jax.Array, jax.Array]:
    del train  # no batch statistics or dropout
    x = nn.leaky_relu(self.conv(self.width, (4, 4), (2, 2), padding=_DOWN_PADDING)(x), 0.2)
    x = nn.leaky_relu(self.conv(2 * self.width, (4, 4), (2, 2), padding=_DOWN_PADDING)(x), 0.2)
    x = x.reshape(x.shape[0], -1)
    source_logit = nn.Dense(1, name="source_head")(x).reshape(x.shape[0])
    class_logits = nn.Dense(self.num_classes, name="class_head")(x)
    return source_logit, class_logits


class ProjectionDiscriminator(nn.Module):
  """A class-conditional discriminator with a projection head (Miyato & Koyama
  2018), every layer spectrally normalised (Miyato et al. 2018).

  D(x, y) = ψ(φ(x)) + ⟨embed(y), φ(x)⟩: φ the AC-GAN discriminator's two
  strided 4x4 convs (LeakyReLU 0.2), flattened; returns the logit (N,). The
  spectral norms' power-iteration vectors live in 'batch_stats'; train=True
  (with mutable=['batch_stats']) takes one more iteration, train=False reads
  the stored ones.
  """
  num_classes: int
  width: int = 64
  conv: Callable[..., nn.Module] = nn.Conv

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array, train: bool = True) -> jax.Array:
    sn = lambda layer, *args: nn.SpectralNorm(layer)(*args, update_stats=train)
    x = nn.leaky_relu(sn(self.conv(self.width, (4, 4), (2, 2), padding=_DOWN_PADDING), x), 0.2)
    x = nn.leaky_relu(sn(self.conv(2 * self.width, (4, 4), (2, 2), padding=_DOWN_PADDING), x),
                      0.2)
    features = x.reshape(x.shape[0], -1)
    source = sn(nn.Dense(1, name="source_head"), features).reshape(x.shape[0])
    embedded = sn(nn.Embed(self.num_classes, features.shape[-1], name="label_projection"),
                  labels)
    return source + jnp.sum(embedded * features, axis=-1)


def _with_one_hot(x: jax.Array, labels: jax.Array, num_classes: int) -> jax.Array:
  return jnp.concatenate([x, jax.nn.one_hot(labels, num_classes, dtype=x.dtype)], axis=-1)


class TabularGenerator(nn.Module):
  """Class-conditional MLP generator for standardised tabular features.

  Input is [z, one_hot(label)]; the output layer is linear because the
  features are standardised, not bounded.
  """
  num_features: int
  num_classes: int
  hidden: Sequence[int] = (256, 256)
  latent_dim: int = 64

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array) -> jax.Array:
    x = _with_one_hot(z, labels, self.num_classes)
    for features in self.hidden:
      x = nn.relu(nn.Dense(features)(x))
    return nn.Dense(self.num_features)(x)


class TabularCritic(nn.Module):
  """Class-conditional MLP critic for WGAN-GP: [x, one_hot(label)] -> (N,).

  No normalisation layers, so the per-sample gradient penalty is well defined.
  """
  num_classes: int
  hidden: Sequence[int] = (256, 256)

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array) -> jax.Array:
    h = _with_one_hot(x, labels, self.num_classes)
    for features in self.hidden:
      h = nn.leaky_relu(nn.Dense(features)(h), 0.2)
    return nn.Dense(1)(h).reshape(x.shape[0])
