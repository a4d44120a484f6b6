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

import flax.linen as nn

from gan_tsc.ops import conv as im2col
from gan_tsc.ops import patch_conv

CONV_CHOICES = ("xla", "matmul")


def _matmul_conv(*args, padding="SAME", **kwargs) -> nn.Module:
  same = isinstance(padding, str) and padding.upper() == "SAME"
  return (im2col.FastConv if same else patch_conv.Conv)(*args, padding=padding, **kwargs)


def conv_layer(conv: str, transpose: bool = False):
  """The layer class (or constructor) for `conv` in CONV_CHOICES."""
  if conv not in CONV_CHOICES:
    raise ValueError(f"Unknown conv {conv!r}; choose one of {CONV_CHOICES} "
                     "(--config.<phase>.<network>.conv): 'xla' on GPU/TPU, 'matmul' on a CPU.")
  if conv == "xla":
    return nn.ConvTranspose if transpose else nn.Conv
  return patch_conv.ConvTranspose if transpose else _matmul_conv
