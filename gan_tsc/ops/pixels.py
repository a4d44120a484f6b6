"""Every conversion between pixel ranges, in one place.

Three ranges meet in this codebase:
  uint8 pixels 0..255      what data sets store and batches carry;
  [-1, 1]                  what generators make (tanh) and GANs model;
  normalised               (pixel/255 - mean) / std, what classifiers take.
Data, models, phases and metrics all convert through these functions, so a
generated image and a real one are always put on the same scale.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def normalize(pixels, mean, std):
  """0..255 pixels (any dtype) -> (pixel/255 - mean) / std, float32."""
  x = pixels.astype(jnp.float32) / 255.0
  return (x - jnp.asarray(mean, jnp.float32)) / jnp.asarray(std, jnp.float32)


def to_tanh_range(pixels):
  """0..255 pixels -> [-1, 1], the range a GAN models."""
  return pixels.astype(jnp.float32) / 127.5 - 1.0


def from_tanh_range(images, mean, std, quantize: bool = False):
  """A generator's [-1, 1] images -> the normalised inputs a classifier takes;
  `quantize` first rounds them to uint8 levels, as a generated set stored as
  uint8 images would be (GAN-TSC's authors' pools)."""
  x = (images + 1.0) * 127.5
  if quantize:
    x = jnp.clip(jnp.round(x), 0.0, 255.0)
  return normalize(x, mean, std)


def tanh_to_unit(images):
  """[-1, 1] -> [0, 1] (clipped: tanh never quite reaches ±1), for display and sharpness."""
  return jnp.clip((images + 1.0) * 0.5, 0.0, 1.0)


def tanh_to_uint8(images) -> np.ndarray:
  """[-1, 1] -> uint8 pixels on the host: a generated set stored like a real one."""
  return np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def normalized_to_unit(images, mean, std):
  """Classifier inputs (pixel/255 - mean) / std -> [0, 1] (clipped), for display."""
  return jnp.clip(images * jnp.asarray(std, jnp.float32) + jnp.asarray(mean, jnp.float32),
                  0.0, 1.0)
