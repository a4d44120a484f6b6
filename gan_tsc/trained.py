"""What phases hand each other: a training state, a trained classifier, a trained generator.

They live below the phases so that any phase, metric or benchmark can take
them without importing the phase that made them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import flax.linen as nn
import jax
import numpy as np
from flax.training import train_state


class TrainState(train_state.TrainState):
  """Flax TrainState plus BatchNorm statistics."""
  batch_stats: Any = None

  @property
  def variables(self) -> dict:
    return {"params": self.params, "batch_stats": self.batch_stats}


@dataclasses.dataclass
class TrainedClassifier:
  """A phase's trained classifier, handed frozen to later phases.

  A data-free phase's student also carries the generator that made its
  inputs (`generator`), so that later phases can rate or sample it.
  """
  model: nn.Module
  variables: dict  # {'params', 'batch_stats'}, replicated on the mesh
  model_config: Any
  metrics: dict
  generator: TrainedGenerator | None = None


@dataclasses.dataclass
class TrainedGenerator:
  """A phase's trained generator, handed frozen to later phases.

  One sampling contract for every generator:
      sample(variables, key, n, labels=None) -> (outputs, labels)
  traceable inside jit, n static. Image generators give images in [-1, 1],
  tabular ones rows in the data's units. `labels` are the classes of a
  class-conditional generator (drawn by it unless given) and None for an
  unconditional one, which refuses given labels.
  """
  model: nn.Module
  variables: dict
  model_config: Any
  metrics: dict
  sample: Callable[..., tuple[jax.Array, Any]]
  sample_chunk: int = 1000  # outputs per compiled draw in `sample_on_host`
  # (chunk, with labels) -> the jitted draw: compiled once per generator, freed with it.
  _host_samplers: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

  def sample_on_host(self, key, n: int, labels=None):
    """n outputs (and labels, or None) as numpy, drawn in chunks of one shape.

    Chunk i uses fold_in(key, i), so the draw depends on (key, n) only.
    """
    chunk = min(self.sample_chunk, n)
    draw = self._host_sampler(chunk, labels is not None)
    outputs, drawn_labels = [], []
    for i, start in enumerate(range(0, n, chunk)):
      k = jax.random.fold_in(key, i)
      if labels is None:
        x, y = draw(self.variables, k)
      else:
        part = np.asarray(labels[start:start + chunk])
        part = np.concatenate([part, np.zeros(chunk - len(part), part.dtype)])
        x, y = draw(self.variables, k, part)
      outputs.append(np.asarray(x))
      drawn_labels.append(None if y is None else np.asarray(y))
    out = np.concatenate(outputs)[:n]
    return out, (None if drawn_labels[0] is None else np.concatenate(drawn_labels)[:n])

  def _host_sampler(self, chunk: int, with_labels: bool):
    key, sample = (chunk, with_labels), self.sample
    if key not in self._host_samplers:
      if with_labels:
        self._host_samplers[key] = jax.jit(lambda v, k, y: sample(v, k, chunk, y))
      else:
        self._host_samplers[key] = jax.jit(lambda v, k: sample(v, k, chunk))
    return self._host_samplers[key]


def generator_of(output) -> TrainedGenerator | None:
  """The generator a phase hands on: a GAN phase's own, or the one a data-free
  phase trained beside its student; None if the phase has none."""
  if isinstance(output, TrainedGenerator):
    return output
  return getattr(output, "generator", None)
