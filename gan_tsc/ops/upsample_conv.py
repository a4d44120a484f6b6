"""Nearest x2 upsampling followed by a 3x3 'SAME' convolution, in 16/36 of the work.

DAFL's generator upsamples its feature maps by repeating each pixel 2x2 and
then convolves them with a 3x3 kernel. Every output pixel of that pair sees
only a 2x2 neighbourhood of the small map, and which 2x2 kernel applies
depends only on the pixel's parity (row and column, even or odd): the 3x3
taps that land on the same small pixel add up. So the same function is a 2x2
convolution of the small map, zero-padded by one, with the four parity
kernels side by side (4 x features outputs), whose outputs are interleaved
back to twice the size ("sub-pixel" form). It multiplies 4 x 4 = 16 taps per
small pixel and output channel where the upsampled 3x3 convolution multiplies
4 x 9 = 36: 2.25 times less work forward and backward, on any device.

`UpsampleConv` holds nn.Conv's parameters ('kernel' (3, 3, in, out), 'bias')
with the same initialisers, so checkpoints move between it and the plain
upsample + nn.Conv (tests compare both). Within ops/layers.standard_convs it
is the plain upsample + 3x3 convolution, so step_cost counts the model's FLOPs.
The 2x2 convolution is XLA's: on XLA:CPU a patches @ kernel form of it was
slower, on DAFL's stages forward and backward, than both XLA's 2x2 convolution
and the plain pair (a one-off probe; benchmarks/upsample_conv_speed.py times
the plain pair against this form).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gan_tsc.ops import FAST_PATH_SCOPE, layers

_NHWC = ("NHWC", "HWIO", "NHWC")
# _TAPS[parity][t, u]: 1 where 3x3 tap row u of an output row of that parity
# reads small-map row t of its 2-row window (window start = output row // 2 +
# parity, in the map padded by one). Even rows read the rows above and at
# their own (taps 0 | 1 and 2); odd rows the rows at and below (taps 0 and 1 | 2).
_TAPS = np.array([[[1, 0, 0], [0, 1, 1]],
                  [[1, 1, 0], [0, 0, 1]]], np.float32)


def upsample_nearest(x: jax.Array, factor: int = 2) -> jax.Array:
  """Nearest-neighbour upsampling of NHWC images by an integer factor."""
  return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def upsample_then_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """The plain pair: nearest x2 upsampling, then XLA's 3x3 'SAME' convolution."""
  return jax.lax.conv_general_dilated(upsample_nearest(x), kernel, (1, 1), "SAME",
                                      dimension_numbers=_NHWC)


def parity_kernels(kernel: jax.Array) -> jax.Array:
  """(3, 3, C, F) -> (2, 2, C, 4F): the four 2x2 parity kernels, channels
  ordered (row parity, column parity, feature)."""
  taps = jnp.asarray(_TAPS, kernel.dtype)
  combined = jnp.einsum("atu,bsv,uvcf->tscabf", taps, taps, kernel)
  t, s, c = combined.shape[:3]
  return combined.reshape(t, s, c, -1)


def _interleave(y: jax.Array, h: int, w: int, features: int) -> jax.Array:
  """(N, h+1, w+1, 4F) windows of the padded map -> (N, 2h, 2w, F)."""
  phases = [[y[:, a:a + h, b:b + w, (2 * a + b) * features:(2 * a + b + 1) * features]
             for b in (0, 1)] for a in (0, 1)]
  rows = [jnp.stack(pair, axis=3) for pair in phases]  # each (N, h, w, 2, F)
  out = jnp.stack(rows, axis=2)  # (N, h, 2, w, 2, F)
  return out.reshape(y.shape[0], 2 * h, 2 * w, features)


def upsample_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """conv3x3_same(upsample_nearest(x, 2), kernel), without the upsampled map."""
  _, h, w, _ = x.shape
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  y = jax.lax.conv_general_dilated(padded, parity_kernels(kernel), (1, 1), "VALID",
                                   dimension_numbers=_NHWC)
  return _interleave(y, h, w, kernel.shape[-1])


class UpsampleConv(nn.Module):
  """Nearest x2 upsampling, then a 3x3 'SAME' convolution with bias."""
  features: int
  kernel_init: Any = nn.initializers.lecun_normal()
  bias_init: Any = nn.initializers.zeros_init()

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param("kernel", self.kernel_init, (3, 3, x.shape[-1], self.features))
    bias = self.param("bias", self.bias_init, (self.features,))
    if layers.standard_convs_only():
      y = upsample_then_conv(x, kernel)
    else:
      with jax.named_scope(FAST_PATH_SCOPE):
        y = upsample_conv(x, kernel)
    return y + bias
