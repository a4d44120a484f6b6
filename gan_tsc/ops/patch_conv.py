"""Strided 4x4 convolutions as one matrix product, for DCGAN on XLA:CPU.

A DCGAN generator and its WGAN-GP critic are built from strided 4x4
(transposed) convolutions. On XLA:CPU their weight gradients, and the second
derivatives the gradient penalty takes through the critic, run on slow
generic kernels: a WGAN-GP step of a d=32 pair at batch 64 spent ~0.45 s in
the generator's backward pass and ~0.3 s per critic update in the penalty's
double backward. Written as patches @ kernel (critic) or inputs @ kernel
followed by an overlap-add (generator), every derivative of any order is a
matrix product plus slicing and padding, which XLA:CPU runs fast.

`Conv` and `ConvTranspose` take the constructor arguments of their Flax
namesakes that DCGAN uses, hold the same parameters ('kernel' (kh, kw, in,
out), 'bias') with the same initialisers, and compute the same function
(tests compare them). They carry Flax's class names, so a module built
with either gets the same auto-named parameter paths and checkpoints.
On GPU/TPU use Flax's own layers.
"""

from __future__ import annotations

from typing import Any, Sequence, Union

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_tsc.ops import FAST_PATH_SCOPE

Padding = Union[str, Sequence[tuple[int, int]]]


def _pads(padding: Padding, kernel_size) -> tuple[tuple[int, int], tuple[int, int]]:
  if isinstance(padding, str):
    if padding.upper() != "VALID":
      raise ValueError(f"Only 'VALID' or explicit ((lo, hi), (lo, hi)) padding, got {padding!r}.")
    return ((0, 0), (0, 0))
  pads = tuple(tuple(int(v) for v in p) for p in padding)
  if len(pads) != 2 or any(len(p) != 2 for p in pads):
    raise ValueError(f"Padding must be ((lo, hi), (lo, hi)), got {padding!r}.")
  return pads


def conv_patches(x: jax.Array, kernel_size, strides, pads) -> jax.Array:
  """(N, H, W, C) -> (N, Ho, Wo, kh*kw*C): each output pixel's receptive field.

  Features are ordered (tap row, tap column, channel), the kernel's
  (kh, kw, C) order. With the kernel and padded size divisible by the
  stride, the image is first folded into stride x stride cells (space to
  depth), so the patches are (kh/s)*(kw/s) plain slices of the cells rather
  than kh*kw strided ones: a smaller graph, which compiles faster, and
  whose derivatives are pads and reshapes.
  """
  (kh, kw), (sh, sw) = kernel_size, strides
  x = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
  n, h, w, c = x.shape
  ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
  if (h, w) == (kh, kw):  # one output pixel: the whole image is the patch
    return x.reshape(n, 1, 1, kh * kw * c)
  if kh % sh or kw % sw or h % sh or w % sw:
    taps = [x[:, a:a + sh * (ho - 1) + 1:sh, b:b + sw * (wo - 1) + 1:sw]
            for a in range(kh) for b in range(kw)]
    return jnp.stack(taps, axis=3).reshape(n, ho, wo, kh * kw * c)
  cells = x.reshape(n, h // sh, sh, w // sw, sw, c).transpose(0, 1, 3, 2, 4, 5)
  taps = [cells[:, p:p + ho, q:q + wo] for p in range(kh // sh) for q in range(kw // sw)]
  # (n, ho, wo, p, q, r, t, c) with tap row a = sh*p + r, column b = sw*q + t.
  patches = jnp.stack(taps, axis=3).reshape(n, ho, wo, kh // sh, kw // sw, sh, sw, c)
  return patches.transpose(0, 1, 2, 3, 5, 4, 6, 7).reshape(n, ho, wo, kh * kw * c)


class _ConvAttributes(nn.Module):
  """The attributes both layers share with flax.linen's, so either swaps in by name."""
  features: int
  kernel_size: Sequence[int]
  strides: Sequence[int] = (1, 1)
  padding: Padding = "VALID"
  use_bias: bool = True
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()
  dtype: Any = None  # compute dtype (None: the inputs'); parameters stay float32

  def _bias_param(self):
    return self.param("bias", self.bias_init, (self.features,)) if self.use_bias else None


class Conv(_ConvAttributes):
  """nn.Conv (cross-correlation, any stride) as im2col patches @ kernel."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kh, kw = self.kernel_size
    kernel = self.param("kernel", self.kernel_init, (kh, kw, x.shape[-1], self.features))
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, self._bias_param(), dtype=self.dtype)
    # lax.conv_general_dilated_patches compiles faster still, but its
    # backward pass ran ~7x slower than these slices on XLA:CPU.
    with jax.named_scope(FAST_PATH_SCOPE):
      patches = conv_patches(x, (kh, kw), tuple(self.strides), _pads(self.padding, (kh, kw)))
      y = patches @ kernel.reshape(-1, self.features)
    return y if bias is None else y + bias


class ConvTranspose(_ConvAttributes):
  """nn.ConvTranspose (transpose_kernel=False) as inputs @ kernel, then overlap-add.

  Every input pixel paints a kh x kw patch of the output, `strides` apart;
  overlapping patches add up. Needs the kernel size divisible by the stride
  (DCGAN's 4x4 with stride 2 or 1). Flax's layer applies the kernel flipped,
  and its padding (lo, hi) drops kh-1-lo rows before and kh-1-hi after the
  full overlap-add.
  """

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    (kh, kw), (sh, sw) = self.kernel_size, tuple(self.strides)
    if kh % sh or kw % sw:
      raise ValueError(f"ConvTranspose needs the kernel {self.kernel_size} divisible by the "
                       f"strides {self.strides}; use flax.linen.ConvTranspose.")
    # Flax's (and lax's) 'VALID' for a transposed convolution keeps the full
    # overlap-add, i.e. padding kernel_size - 1 on both sides.
    pads = (((kh - 1,) * 2, (kw - 1,) * 2) if isinstance(self.padding, str)
            else _pads(self.padding, (kh, kw)))
    if any(lo > k - 1 or hi > k - 1 for (lo, hi), k in zip(pads, (kh, kw))):
      raise ValueError(f"Padding {self.padding} exceeds kernel_size - 1.")
    kernel = self.param("kernel", self.kernel_init, (kh, kw, x.shape[-1], self.features))
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, self._bias_param(), dtype=self.dtype)
    n, h, w, cin = x.shape
    ph, pw = kh // sh, kw // sw  # patch cells per stride cell
    # Tap (a, b) of the flipped kernel, split as a = sh*p + r: cell offset p, phase r.
    flipped = kernel[::-1, ::-1].reshape(ph, sh, pw, sw, cin, self.features)
    weights = flipped.transpose(4, 0, 2, 1, 3, 5).reshape(cin, -1)
    with jax.named_scope(FAST_PATH_SCOPE):
      painted = (x @ weights).reshape(n, h, w, ph, pw, sh, sw, self.features)
    full = 0.0
    for p in range(ph):  # shift each cell offset into place and add
      for q in range(pw):
        full = full + jnp.pad(painted[:, :, :, p, q],
                              ((0, 0), (p, ph - 1 - p), (q, pw - 1 - q), (0, 0), (0, 0), (0, 0)))
    hc, wc = h + ph - 1, w + pw - 1
    full = full.transpose(0, 1, 3, 2, 4, 5).reshape(n, hc * sh, wc * sw, self.features)
    (top, bottom), (left, right) = pads
    y = full[:, kh - 1 - top:hc * sh - (kh - 1 - bottom), kw - 1 - left:wc * sw - (kw - 1 - right)]
    return y if bias is None else y + bias
