"""The convolution layers a config's `conv` names: one vocabulary for every network.

  conv='xla'     Flax's nn.Conv / nn.ConvTranspose (use these on GPU and TPU)
  conv='matmul'  the same convolutions computed through matrix products, whose
                 gradients XLA:CPU runs several times faster: 'SAME'-padded
                 stride-1 convolutions (DAFL's 3x3) keep XLA's forward pass
                 with an im2col backward (ops/conv.py); strided and explicitly
                 padded ones (DCGAN, AC-GAN) are patches @ kernel, transposed
                 ones inputs @ kernel + overlap-add (ops/patch_conv.py).
Every choice has the same parameters, names and initial values, so
checkpoints move between them.
"""

from __future__ import annotations

import contextlib
import contextvars

import flax.linen as nn

from gan_tsc.ops import conv as im2col
from gan_tsc.ops import patch_conv

CONV_CHOICES = ("xla", "matmul")


# Set while a step is traced to count its model FLOPs (gan_tsc/step_cost.py):
# conv='matmul' layers are then built as the standard convolutions they compute.
_STANDARD_ONLY = contextvars.ContextVar("standard_convs_only", default=False)


@contextlib.contextmanager
def standard_convs():
  """Within it, every conv='matmul' layer a network builds is Flax's standard one
  (same parameters and names), so gan_tsc/step_cost.py counts the model's FLOPs,
  not a path's. Layers are built when a network is traced: trace inside it."""
  token = _STANDARD_ONLY.set(True)
  try:
    yield
  finally:
    _STANDARD_ONLY.reset(token)


def standard_convs_only() -> bool:
  """True within standard_convs: layers with a faster path build the standard one."""
  return _STANDARD_ONLY.get()


def _matmul_conv(*args, padding="SAME", **kwargs) -> nn.Module:
  if _STANDARD_ONLY.get():
    return nn.Conv(*args, padding=padding, **kwargs)
  same = isinstance(padding, str) and padding.upper() == "SAME"
  return (im2col.FastConv if same else patch_conv.Conv)(*args, padding=padding, **kwargs)


def _matmul_conv_transpose(*args, **kwargs) -> nn.Module:
  if _STANDARD_ONLY.get():
    return nn.ConvTranspose(*args, **kwargs)
  return patch_conv.ConvTranspose(*args, **kwargs)


def conv_layer(conv: str, transpose: bool = False):
  """The layer class (or constructor) for `conv` in CONV_CHOICES."""
  if conv not in CONV_CHOICES:
    raise ValueError(f"Unknown conv {conv!r}; choose one of {CONV_CHOICES} "
                     "(--config.<phase>.<network>.conv): 'xla' on GPU/TPU, 'matmul' on a CPU.")
  if conv == "xla":
    return nn.ConvTranspose if transpose else nn.Conv
  return _matmul_conv_transpose if transpose else _matmul_conv
