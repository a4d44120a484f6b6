"""Parts every phase uses: its state, its random key, its output folder."""

from __future__ import annotations

import dataclasses
import os
import zlib
from typing import Any

import flax.linen as nn
import jax
from flax.training import train_state

from gan_tsc import models, optim, parallel, reporting


class TrainState(train_state.TrainState):
  """Flax TrainState plus BatchNorm statistics."""
  batch_stats: Any = None

  @property
  def variables(self) -> dict:
    return {"params": self.params, "batch_stats": self.batch_stats}


@dataclasses.dataclass
class TrainedClassifier:
  """A phase's trained classifier, handed frozen to later phases."""
  model: nn.Module
  variables: dict  # {'params', 'batch_stats'}, replicated on the mesh
  model_config: Any
  metrics: dict


@dataclasses.dataclass
class TrainedGenerator:
  """A phase's trained generator, handed frozen to later phases.

  `sample(variables, key, n)` draws n outputs (and, for a class-conditional
  generator, their labels) inside jit; `variables` are replicated on the mesh.
  """
  model: nn.Module
  variables: dict
  model_config: Any
  metrics: dict
  sample: Any = None


def phase_key(seed: int, phase: str) -> jax.Array:
  """The root key of a phase: seed, then a stable hash of the phase name."""
  return jax.random.fold_in(jax.random.PRNGKey(seed), zlib.crc32(phase.encode()))


def phase_seed(seed: int, phase: str) -> int:
  """A stable integer seed for the host-side randomness of a phase (data order)."""
  return zlib.crc32(f"{seed}/{phase}".encode())


def phase_dir(workdir: str, phase: str) -> str:
  path = os.path.join(workdir, phase)
  os.makedirs(path, exist_ok=True)
  return path


def start_phase(config, phase: str, workdir: str):
  """Creates the phase folder, writes its config, returns (dir, writer)."""
  path = phase_dir(workdir, phase)
  reporting.write_file(os.path.join(path, "config.json"), config[phase].to_json_best_effort(indent=2))
  return path, reporting.create_writer(path)


def create_classifier_state(model, key, input_shape, optimizer_config, num_steps):
  """A replicated TrainState for `model`, and the learning-rate schedule."""
  tx, schedule = optim.build(optimizer_config, num_steps)

  def init():
    variables = models.init_variables(model, key, input_shape)
    return TrainState.create(apply_fn=model.apply, params=variables["params"], tx=tx,
                             batch_stats=variables["batch_stats"])

  state = jax.jit(init, out_shardings=parallel.replicated())()
  return state, schedule


def create_generator_state(generator, key, latent_shape, optimizer_config, num_steps):
  """A replicated TrainState for a generator taking latent codes of `latent_shape`."""
  import jax.numpy as jnp
  tx, schedule = optim.build(optimizer_config, num_steps)

  def init():
    variables = generator.init(key, jnp.zeros((2,) + tuple(latent_shape), jnp.float32))
    return TrainState.create(apply_fn=generator.apply, params=variables["params"], tx=tx,
                             batch_stats=variables.get("batch_stats", {}))

  state = jax.jit(init, out_shardings=parallel.replicated())()
  return state, schedule


def check_num_classes(model_config, num_classes: int, phase: str) -> None:
  if model_config.num_classes != num_classes:
    raise ValueError(
        f"{phase}: model.num_classes={model_config.num_classes} but the data set has "
        f"{num_classes} classes; set --config.{phase}.model.num_classes={num_classes}.")
