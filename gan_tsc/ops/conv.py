"""2-D convolution with a hand-written VJP that is fast on XLA:CPU.

XLA on CPU runs the forward convolution and the input gradient with fast
library kernels (YNNPACK in jaxlib 0.10), but its *weight* gradient (a
convolution whose "kernel" is the whole output-gradient image) is 3-10x
slower than the forward pass. `conv2d` keeps XLA's forward convolution and replaces the
backward pass:

- weight gradient: an im2col matmul, patches (kh*kw*C, M) @ output gradient
  (M, O), with the patches built per image ("flat-shift" im2col, see
  `_kernel_grad_im2col`) from contiguous row copies and in the layout
  XLA:CPU multiplies fastest. The batch is walked one image (a few MB of
  patches) at a time inside a `lax.scan`: one big patches buffer (1.2 GB for a
  3x3 128->64 conv of 256 images at 32x32) costs more in memory traffic and
  page faults than the matmul itself.
- input gradient: the transposed convolution (XLA conv with the flipped
  kernel) when the layer has many input channels; for few input channels
  (LeNet's 1, 6, 16) XLA's conv with few output channels is slow, so there it
  is a matmul with the kernel followed by an overlap-add of the kh*kw shifted
  patch gradients (col2im).

The forward stays `lax.conv_general_dilated`: an im2col forward measured
2x slower for the generator's layers, and saving patches as residuals would
cost gigabytes. Only stride 1, no dilation, one feature group.

`FastConv` is a drop-in replacement for `flax.linen.Conv` (same parameter
names, shapes and initialisers). It is meant for the CPU backend; on GPU/TPU
use `nn.Conv` (conv='xla', see ops/layers.py), whose kernels are fine there.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence, Tuple, Union

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax
import numpy as np

from gan_tsc.ops import FAST_PATH_SCOPE

Pads = Tuple[Tuple[int, int], Tuple[int, int]]
PaddingLike = Union[str, int, Sequence[Union[int, Tuple[int, int]]]]

_DIMENSION_NUMBERS = ('NHWC', 'HWIO', 'NHWC')
# Bytes of im2col patches per chunk of the weight-gradient scan: one image at
# a time unless an image's patches are tiny (3x3x128 at 32x32: 4.7 MB, at
# 16x16: 1.2 MB, 3x3x64 at 8x8: 0.2 MB all measured fastest one image per
# chunk, 2 images 20-60% slower); LeNet's 5x5x16 at 5x5 (8 KB) wants ~8-16.
_PATCH_CHUNK_BYTES = 128 << 10
# Up to this many input channels the input gradient uses col2im.
_COL2IM_MAX_IN_CHANNELS = 16


def _normalize_padding(padding: PaddingLike, kh: int, kw: int) -> Pads:
  """Returns ((top, bottom), (left, right)) for a stride-1 convolution."""
  if isinstance(padding, str):
    mode = padding.upper()
    if mode == 'SAME':
      return (((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2))
    if mode == 'VALID':
      return ((0, 0), (0, 0))
    raise ValueError(
        f"conv2d padding must be 'SAME', 'VALID' or explicit pairs, got "
        f'{padding!r} (FastConv also accepts CIRCULAR and REFLECT).')
  if isinstance(padding, (int, np.integer)):
    return ((int(padding), int(padding)),) * 2
  pads = []
  for p in padding:
    if isinstance(p, (int, np.integer)):
      pads.append((int(p), int(p)))
    elif len(p) == 2:
      pads.append((int(p[0]), int(p[1])))
    else:
      break
  if len(pads) != 2:
    raise ValueError(
        f'Invalid padding {padding!r}: expected a string, an int, or two '
        '(low, high) pairs (or ints) for the two spatial dimensions.')
  if any(v < 0 for pair in pads for v in pair):
    raise NotImplementedError(f'Negative padding is not supported: {padding!r}')
  return tuple(pads)  # type: ignore[return-value]


def _xla_conv(x, kernel, pads: Pads):
  return lax.conv_general_dilated(
      x, kernel, window_strides=(1, 1), padding=pads,
      dimension_numbers=_DIMENSION_NUMBERS)


def _input_grad_tconv(g, kernel, pads: Pads):
  """d(conv)/dx as a transposed convolution: conv of g with the flipped kernel."""
  kh, kw = kernel.shape[:2]
  flipped = jnp.flip(kernel, (0, 1)).swapaxes(2, 3)  # (kh, kw, O, C)
  tpads = ((kh - 1 - pads[0][0], kh - 1 - pads[0][1]),
           (kw - 1 - pads[1][0], kw - 1 - pads[1][1]))
  return _xla_conv(g, flipped, tpads)


def _input_grad_col2im(g, kernel, pads: Pads, x_shape):
  """d(conv)/dx as (g @ kernel^T) followed by an overlap-add of the patches."""
  kh, kw, c, o = kernel.shape
  n, h, w, _ = x_shape
  ho, wo = g.shape[1:3]
  hp, wp = h + pads[0][0] + pads[0][1], w + pads[1][0] + pads[1][1]
  dpatches = jnp.dot(g.reshape(-1, o), kernel.reshape(kh * kw * c, o).T)
  dpatches = dpatches.reshape(n, ho, wo, kh, kw, c)
  dxp = None
  for i in range(kh):
    for j in range(kw):
      term = jnp.pad(dpatches[:, :, :, i, j, :],
                     ((0, 0), (i, hp - ho - i), (j, wp - wo - j), (0, 0)))
      dxp = term if dxp is None else dxp + term
  return dxp[:, pads[0][0]:pads[0][0] + h, pads[1][0]:pads[1][0] + w, :]


def _chunk_size(n: int, bytes_per_image: int) -> int:
  """Largest power of two <= n whose patches fit in _PATCH_CHUNK_BYTES (>= 1)."""
  bs = 1
  while bs * 2 <= n and bs * 2 * bytes_per_image <= _PATCH_CHUNK_BYTES:
    bs *= 2
  return bs


def _flat_geometry(x_shape, kh: int, kw: int, pads: Pads, itemsize: int):
  n, h, w, c = x_shape
  hp = h + pads[0][0] + pads[0][1] + 1  # + 1 zero row: see _kernel_grad_im2col
  wp = w + pads[1][0] + pads[1][1]
  length = (hp - kh) * wp  # Ho * Wp
  bs = _chunk_size(n, kh * kw * c * length * itemsize)
  return hp, wp, length, bs


def _flat_images(x, kh: int, kw: int, pads: Pads):
  """x (N,H,W,C) -> padded, flattened, channels-major chunks for the weight gradient.

  Returns (main, tail): main (N // bs, C, bs, Hp*Wp), tail (1, C, N % bs, Hp*Wp)
  or None.
  """
  n, _, _, c = x.shape
  hp, wp, _, bs = _flat_geometry(x.shape, kh, kw, pads, x.dtype.itemsize)
  xp = jnp.pad(x, ((0, 0), (pads[0][0], pads[0][1] + 1), pads[1], (0, 0)))
  nc, rem = divmod(n, bs)

  def chunks(xs, k, b):
    return xs.reshape(k, b, hp * wp, c).transpose(0, 3, 1, 2)

  main = chunks(xp[:nc * bs], nc, bs)
  tail = chunks(xp[nc * bs:], 1, rem) if rem else None
  return main, tail


def _kernel_grad_im2col(flat, g, pads: Pads, kernel_shape, x_shape, dtype):
  """d(conv)/dkernel = patches @ g, one matmul per chunk of the batch.

  "Flat-shift" im2col: with the padded image flattened to rows of Wp pixels,
  the input pixel under kernel tap (i, j) for output pixel (h, w) is flat
  pixel (h + i) * Wp + (w + j) = q + (i * Wp + j), q = h * Wp + w. Taking the
  output over all Wp columns (the output gradient is zero-padded from Wo to
  Wp columns, so the extra ones contribute nothing), the patch rows of tap
  (i, j) are one contiguous window [i*Wp + j, i*Wp + j + Ho*Wp) of the
  flattened image (one extra zero row at the bottom keeps the last window,
  which reaches kw - 1 pixels past the padded image, in bounds). So the
  patches are built from contiguous row copies, and with channels-major
  images (`_flat_images`) the matmul (kh*kw*C, L) @ (L, O) has the layout
  XLA:CPU multiplies fastest.
  """
  kh, kw, c, o = kernel_shape
  wo = g.shape[2]
  _, wp, length, bs = _flat_geometry(x_shape, kh, kw, pads, np.dtype(dtype).itemsize)
  gp = jnp.pad(g, ((0, 0), (0, 0), (0, wp - wo), (0, 0)))
  offsets = [i * wp + j for i in range(kh) for j in range(kw)]
  acc_dtype = jnp.promote_types(dtype, jnp.float32)
  k = kh * kw * c

  def fill_patches(patches, xc):
    """Writes the patches of xc (C, b, Hp*Wp) into patches (K, b*length)."""
    b = xc.shape[1]
    for t, d in enumerate(offsets):
      # In-place row-block updates of a loop-carried buffer: one copy pass,
      # where slices + concatenate took two (~100 ms more for 3x3x128 at 32x32).
      patches = lax.dynamic_update_slice(
          patches, xc[:, :, d:d + length].reshape(c, b * length), (t * c, 0))
    return patches

  def chunk_grad(patches, xc, gc):
    patches = fill_patches(patches, xc)
    return jnp.dot(patches, gc, preferred_element_type=acc_dtype), patches

  main, tail = flat
  nc = main.shape[0]
  gs = gp[:nc * bs].reshape(nc, bs * length, o)
  buf = jnp.zeros((k, bs * length), dtype)
  if nc == 1:
    dk, _ = chunk_grad(buf, main[0], gs[0])
  else:
    def body(carry, xg):
      acc, patches = carry
      dk, patches = chunk_grad(patches, *xg)
      return (acc + dk, patches), None

    (dk, _), _ = lax.scan(body, (jnp.zeros((k, o), acc_dtype), buf), (main, gs))
  if tail is not None:
    rem = tail.shape[2]
    dk = dk + chunk_grad(jnp.zeros((k, rem * length), dtype), tail[0],
                         gp[nc * bs:].reshape(-1, o))[0]
  return dk.reshape(kernel_shape)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv2d(x, kernel, pads: Pads):
  return _xla_conv(x, kernel, pads)


def _conv2d_fwd(x, kernel, pads: Pads):
  # Residuals: x itself. Saving its channels-major copy for the weight
  # gradient instead (made here, next to x's producer) measured no faster.
  return _xla_conv(x, kernel, pads), (x, kernel)


def _conv2d_bwd(pads: Pads, residuals, g):
  x, kernel = residuals
  kh, kw, c, _ = kernel.shape
  if c <= _COL2IM_MAX_IN_CHANNELS:
    dx = _input_grad_col2im(g, kernel, pads, x.shape)
  else:
    dx = _input_grad_tconv(g, kernel, pads)
  dk = _kernel_grad_im2col(_flat_images(x, kh, kw, pads), g, pads,
                           kernel.shape, x.shape, x.dtype)
  return dx.astype(x.dtype), dk.astype(kernel.dtype)


_conv2d.defvjp(_conv2d_fwd, _conv2d_bwd)


def conv2d(x: jax.Array, kernel: jax.Array,
           padding: PaddingLike = 'SAME') -> jax.Array:
  """Stride-1 2-D convolution, NHWC input, HWIO kernel, fast VJP on XLA:CPU.

  Same result as `lax.conv_general_dilated(x, kernel, (1, 1), padding,
  dimension_numbers=('NHWC', 'HWIO', 'NHWC'))`. Reverse-mode only (a
  `jax.custom_vjp`): no `jax.jvp`/`jax.hessian` through it. Unused gradients
  (a frozen network's kernel, an input that is not differentiated) are
  removed by jit's dead-code elimination.

  Args:
    x: (N, H, W, C) input.
    kernel: (kh, kw, C, O) kernel.
    padding: 'SAME', 'VALID', an int, or two (low, high) pairs.

  Returns:
    (N, Ho, Wo, O) output.
  """
  if x.ndim != 4 or kernel.ndim != 4:
    raise ValueError(f'conv2d expects NHWC input and HWIO kernel, got shapes '
                     f'{x.shape} and {kernel.shape}.')
  if x.shape[3] != kernel.shape[2]:
    raise ValueError(f'Input has {x.shape[3]} channels but the kernel expects '
                     f'{kernel.shape[2]} (kernel shape {kernel.shape}).')
  pads = _normalize_padding(padding, kernel.shape[0], kernel.shape[1])
  return _conv2d(x, kernel, pads)


def _as_pair(v) -> Tuple[int, int]:
  if v is None:
    return (1, 1)
  if isinstance(v, (int, np.integer)):
    return (int(v), int(v))
  return tuple(int(a) for a in v)  # type: ignore[return-value]


class FastConv(nn.Module):
  """Drop-in for `nn.Conv` (2-D, stride 1) with a VJP that is fast on XLA:CPU.

  Parameters: 'kernel' (kh, kw, in, features) and 'bias' (features,), with the
  same initialisers as `nn.Conv` (lecun_normal, zeros), so parameter pytrees
  and checkpoints are interchangeable with `nn.Conv`. Inputs may have any
  number of leading batch dimensions (or none), as with `nn.Conv`.
  Strides, dilations and feature groups other than 1 raise NotImplementedError.
  """
  features: int
  kernel_size: Sequence[int]
  strides: Union[None, int, Sequence[int]] = 1
  padding: PaddingLike = 'SAME'
  input_dilation: Union[None, int, Sequence[int]] = 1
  kernel_dilation: Union[None, int, Sequence[int]] = 1
  feature_group_count: int = 1
  use_bias: bool = True
  dtype: Any = None
  param_dtype: Any = jnp.float32
  precision: Any = None
  kernel_init: Callable[..., Any] = nn.initializers.lecun_normal()
  bias_init: Callable[..., Any] = nn.initializers.zeros_init()

  @nn.compact
  def __call__(self, inputs: jax.Array) -> jax.Array:
    if isinstance(self.kernel_size, (int, np.integer)) or len(
        tuple(self.kernel_size)) != 2:
      raise ValueError(
          f'FastConv is 2-D: kernel_size must be a pair (kh, kw), got '
          f'{self.kernel_size!r} (nn.Conv reads an int as a 1-D kernel).')
    kh, kw = (int(k) for k in self.kernel_size)
    for name in ('strides', 'input_dilation', 'kernel_dilation'):
      if _as_pair(getattr(self, name)) != (1, 1):
        raise NotImplementedError(
            f'FastConv supports only {name}=1, got {getattr(self, name)!r}; '
            'use nn.Conv (conv="xla").')
    if self.feature_group_count != 1:
      raise NotImplementedError(
          'FastConv supports only feature_group_count=1; use nn.Conv.')
    if self.precision is not None:
      raise NotImplementedError('FastConv does not take a precision; use nn.Conv.')
    if inputs.ndim < 3:
      raise ValueError(f'FastConv expects (..., H, W, C) inputs, got {inputs.shape}.')

    batch_shape = inputs.shape[:-3]
    x = inputs.reshape((-1,) + inputs.shape[-3:])

    padding = self.padding
    if isinstance(padding, str) and padding.upper() in ('CIRCULAR', 'REFLECT'):
      mode = {'CIRCULAR': 'wrap', 'REFLECT': 'reflect'}[padding.upper()]
      x = jnp.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2),
                      ((kw - 1) // 2, kw // 2), (0, 0)), mode=mode)
      padding = 'VALID'
    elif isinstance(padding, str) and padding.upper() == 'CAUSAL':
      raise ValueError('CAUSAL padding is only for 1-D convolutions.')

    in_features = x.shape[-1]
    kernel = self.param('kernel', self.kernel_init,
                        (kh, kw, in_features, self.features), self.param_dtype)
    bias = (self.param('bias', self.bias_init, (self.features,), self.param_dtype)
            if self.use_bias else None)
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)

    with jax.named_scope(FAST_PATH_SCOPE):
      y = conv2d(x, kernel, padding)
    if bias is not None:
      y = y + bias
    return y.reshape(batch_shape + y.shape[1:]) if len(batch_shape) != 1 else y


# Flax names unnamed submodules '<class name>_<n>'. Under the name 'Conv' an
# unnamed FastConv gets the same name ('Conv_0', ...) and hence the same
# parameter path and the same initial values as the nn.Conv it replaces, so
# that switching implementations keeps parameter pytrees and checkpoints.
FastConv.__name__ = 'Conv'
