"""What every phase does, written once: its folder and keys, its states, its jitted step,
its end, and the restore of a finished phase from another run.

A phase module reads top to bottom as: `phase = shared.start(config, name,
workdir)`; build models and state; `shared.jit_step(step, ...)`;
`train_loop.run(...)` (or `shared.restore_handoff(...)` when the config names
a finished phase of another run); final metrics; `shared.finish(...)`.
"""

from __future__ import annotations

import dataclasses
import os
import zlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from gan_tsc import checkpoints, models, optim, parallel, reporting, train_loop
from gan_tsc.trained import TrainedClassifier, TrainState


def phase_key(seed: int, phase: str) -> jax.Array:
  """The root key of a phase: seed, then a stable hash of the phase name."""
  return jax.random.fold_in(jax.random.PRNGKey(seed), zlib.crc32(phase.encode()))


def phase_seed(seed: int, phase: str) -> int:
  """A stable integer seed for the host-side randomness of a phase (data order)."""
  return zlib.crc32(f"{seed}/{phase}".encode())


def init_key(seed: int, phase: str) -> jax.Array:
  """A key that initialises large networks quickly, from (seed, phase).

  An RBG key: XLA:CPU compiles threefry's bits for each parameter shape
  slowly (a DCGAN generator + critic took ~20 s to initialise, ~3 s with
  RBG). Steps keep the threefry phase key, whose draws do not depend on how
  the batch is sharded.
  """
  return jax.random.key(phase_seed(seed, phase + "/init"), impl="rbg")


@dataclasses.dataclass
class Phase:
  """One phase of a run: its config block, folder, keys and TensorBoard writer."""
  config: Any  # the whole run's config
  name: str
  workdir: str
  writer: Any = None

  @property
  def c(self):
    return self.config[self.name]

  @property
  def dir(self) -> str:
    return os.path.join(self.workdir, self.name)

  @property
  def key(self) -> jax.Array:
    return phase_key(self.config.seed, self.name)

  @property
  def seed(self) -> int:
    return phase_seed(self.config.seed, self.name)

  def subkey(self, purpose: str) -> jax.Array:
    """A key of its own for a side stream (sample grids, monitoring)."""
    return phase_key(self.config.seed, f"{self.name}/{purpose}")

  def loop_settings(self, num_steps: int) -> train_loop.LoopSettings:
    return train_loop.LoopSettings.from_config(self.name, self.workdir, self.c, num_steps)


def start(config, name: str, workdir: str) -> Phase:
  """Creates the phase folder and writer; logs the block's config as text and hparams."""
  phase = Phase(config, name, workdir)
  os.makedirs(phase.dir, exist_ok=True)
  reporting.write_file(os.path.join(phase.dir, "config.json"),
                       phase.c.to_json_best_effort(indent=2))
  phase.writer = reporting.create_writer(phase.dir)
  reporting.write_config(phase.writer, phase.c, config)
  return phase


def check_num_classes(model_config, num_classes: int, phase: str) -> None:
  if model_config.num_classes != num_classes:
    raise ValueError(
        f"{phase}: model.num_classes={model_config.num_classes} but the data set has "
        f"{num_classes} classes; set --config.{phase}.model.num_classes={num_classes}.")


# ----------------------------------------------------------------------------
# States and steps.


def create_state(model, key, example_inputs: tuple, optimizer_config, num_steps: int,
                 init: str = "flax", **apply_kwargs) -> tuple[TrainState, Any]:
  """A replicated TrainState for `model` initialised on `example_inputs` (`init`:
  'flax', or 'torch' for PyTorch's default initialisation), and its schedule."""
  tx, schedule = optim.build(optimizer_config, num_steps)

  def initialise():
    variables = model.init(key, *example_inputs, **apply_kwargs)
    params = models.reinitialize(variables["params"], jax.random.fold_in(key, 1), init)
    return TrainState.create(apply_fn=model.apply, params=params, tx=tx,
                             batch_stats=variables.get("batch_stats", {}))

  return jax.jit(initialise, out_shardings=parallel.replicated())(), schedule


def create_classifier_state(model, key, input_shape, optimizer_config, num_steps,
                            init: str = "flax"):
  """A classifier's state for inputs of `input_shape` (one example), and its schedule."""
  return create_state(model, key, (jnp.zeros((1,) + tuple(input_shape), jnp.float32),),
                      optimizer_config, num_steps, init)


def create_generator_state(generator, key, latent_shape, optimizer_config, num_steps,
                           init: str = "flax"):
  """A generator's state for latent codes of `latent_shape`, and its schedule."""
  return create_state(generator, key, (jnp.zeros((2,) + tuple(latent_shape), jnp.float32),),
                      optimizer_config, num_steps, init)


BATCH_SHARDINGS = {"data": parallel.batch_sharded, "stacked": parallel.stacked_batch_sharded,
                   None: lambda: None}


def jit_step(step_fn, batch: str | None = "data", frozen: int = 0):
  """jit `step(state, batch, key, *frozen) -> (state, metrics)` once.

  The state is replicated and donated; the batch is split over the devices
  on its batch axis ('data': (B, ...); 'stacked': (stacks, B, ...); None:
  no data); the key and the `frozen` networks' variables that follow it are
  replicated arguments, never constants folded into the program.
  """
  repl = parallel.replicated()
  return jax.jit(step_fn, donate_argnums=0,
                 in_shardings=(repl, BATCH_SHARDINGS[batch](), repl) + (repl,) * frozen,
                 out_shardings=(repl, repl))


def train(phase: Phase, state, step, batch_fn, num_steps: int, *frozen, evaluate=None,
          on_log=None) -> train_loop.LoopResult:
  """Runs the loop with the jitted `step(state, batch, phase key, *frozen)`."""
  compiled = train_loop.CompiledStep(step, phase.key, *frozen)
  return train_loop.run(phase.loop_settings(num_steps), state, compiled, batch_fn,
                        phase.writer, evaluate, on_log=on_log, cost=compiled.cost)


# ----------------------------------------------------------------------------
# The end of a phase, and restoring a finished phase of another run.


def finish(phase: Phase, metrics: dict, num_steps: int,
           result: train_loop.LoopResult | None = None, **extra) -> dict:
  """Final metrics (of the final step, never a chosen checkpoint): TensorBoard,
  the log, and `results.json`; returns them."""
  phase.writer.write_scalars(num_steps, {f"eval/{k}": v for k, v in metrics.items()
                                         if isinstance(v, (int, float, np.floating))})
  metrics = {**metrics, **extra, "steps": num_steps}
  if result is not None and result.trained_steps:
    metrics["train_examples_per_sec"] = result.examples_per_sec
    if result.step_flops:
      metrics["step_flops"] = result.step_flops
    if result.mfu:
      metrics["mfu"] = result.mfu
    if result.step_peak_memory_bytes:
      metrics["step_peak_memory_bytes"] = result.step_peak_memory_bytes
  if "checkpoint" in phase.c and phase.c.checkpoint:
    metrics["restored_from"] = phase.c.checkpoint
  logging.info("[%s] final: %s", phase.name, metrics)
  shown = " ".join(f"{k}={v:.4g}" for k, v in metrics.items()
                   if isinstance(v, float) and k not in ("train_examples_per_sec", "step_flops",
                                                           "step_peak_memory_bytes"))
  reporting.say(f"[{phase.name}] final after {num_steps} steps: {shown}")
  reporting.record_results(phase.workdir, phase.name, metrics)
  phase.writer.flush()
  return metrics


def restore_handoff(phase: Phase, expected, where: str = "") -> dict:
  """What a finished phase of another run hands on, read from `phase.c.checkpoint`.

  `expected` is the tree this phase would hand on (e.g. {'params',
  'batch_stats'}; real or abstract arrays), found in the stored state under
  the key `where` ('' = the state's top level, 'student', 'generator', ...).
  A run that did not finish is refused with the step it stopped at; shapes
  that differ from the configured model are refused leaf by leaf.
  """
  directory = checkpoints.find_checkpoint_dir(phase.c.checkpoint)
  checkpoints.check_finished(directory)
  stored = checkpoints.read_latest(directory)
  if where:
    if where not in stored:
      raise checkpoints.CheckpointError(
          f"{directory} holds no '{where}' network: it is not a checkpoint of a "
          f"'{phase.c.kind}' phase.")
    stored = stored[where]
  stored = {k: stored.get(k) or {} for k in expected}
  checkpoints.check_same_shapes(expected, stored, directory)
  reporting.say(f"[{phase.name}] restored the finished phase in {directory}")
  return parallel.replicate(jax.tree.map(np.asarray, checkpoints.select(expected, stored)))


def restore_classifier(phase: Phase, model, input_shape, where: str = "") -> dict:
  """The classifier variables a finished phase of another run hands on (see restore_handoff)."""
  expected = jax.eval_shape(lambda: models.init_variables(
      model, jax.random.PRNGKey(0), input_shape))
  return restore_handoff(phase, expected, where)


def finish_classifier(phase: Phase, model, model_config, variables, evaluate, num_steps: int,
                      result: train_loop.LoopResult | None = None) -> TrainedClassifier:
  """`finish` for a phase that hands on a classifier: its final test metrics and size."""
  metrics = finish(phase, evaluate(variables), num_steps, result,
                   params=models.count_params(variables["params"]))
  return TrainedClassifier(model, variables, model_config, metrics)
