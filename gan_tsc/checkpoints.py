"""Orbax checkpoints of a phase, and read-only restores of finished phases.

A phase saves its whole state every `checkpoint_every_steps` and at its last
step. Orbax writes each step into a temporary folder and renames it when the
write is complete, so a run killed mid-save leaves no step that a rerun could
take for finished: a phase counts as finished only when a checkpoint at its
final step exists.
"""

from __future__ import annotations

import json
import logging
import os

import jax
import numpy as np
import orbax.checkpoint as ocp

from gan_tsc.errors import UserError


class CheckpointError(UserError, ValueError):
  """A checkpoint that does not fit what the config asks for."""


class PhaseCheckpoints:
  """The checkpoints of one phase under `<phase_dir>/checkpoints`."""

  def __init__(self, phase_dir: str, save_every_steps: int = 0, max_to_keep: int = 2):
    self.directory = os.path.abspath(os.path.join(phase_dir, "checkpoints"))
    self.save_every_steps = save_every_steps
    # Synchronous saves: the train step donates the state's buffers right after.
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False))

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def is_finished(self, num_steps: int) -> bool:
    return self.latest_step() == num_steps

  def should_save(self, step: int, num_steps: int) -> bool:
    return step == num_steps or (
        self.save_every_steps > 0 and step % self.save_every_steps == 0)

  def save(self, step: int, state) -> None:
    self.manager.save(step, args=ocp.args.StandardSave(state), force=True)
    self.manager.wait_until_finished()

  def restore(self, state_template, step: int | None = None):
    """Restores the latest (or given) step into the structure of `state_template`."""
    step = self.latest_step() if step is None else step
    raw = self.manager.restore(step, args=ocp.args.StandardRestore())
    check_same_shapes(_as_tree(state_template), raw, self.directory)
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_template)
    return self.manager.restore(step, args=ocp.args.StandardRestore(abstract))

  def close(self) -> None:
    self.manager.close()


def _as_tree(state):
  """A TrainState as the nested dict that Orbax stores."""
  from flax import serialization
  return serialization.to_state_dict(state)


def check_same_shapes(expected, stored, where: str) -> None:
  """Raises CheckpointError listing every leaf whose shape differs or is missing."""
  expected_leaves = dict(_flatten(expected))
  stored_leaves = dict(_flatten(stored))
  problems = []
  for path, leaf in expected_leaves.items():
    shape = np.shape(leaf)
    if path not in stored_leaves:
      problems.append(f"  {path}: missing in the checkpoint (expected {shape})")
    elif np.shape(stored_leaves[path]) != shape:
      problems.append(f"  {path}: checkpoint has {np.shape(stored_leaves[path])}, "
                      f"config's model needs {shape}")
  if problems:
    shown = "\n".join(problems[:10]) + ("\n  ..." if len(problems) > 10 else "")
    raise CheckpointError(
        f"The checkpoint in {where} does not fit the model in the config:\n{shown}\n"
        "Use the model settings it was trained with, or a fresh --workdir.")


def _flatten(tree, prefix=""):
  if isinstance(tree, dict):
    for key, value in tree.items():
      yield from _flatten(value, f"{prefix}/{key}" if prefix else str(key))
  elif isinstance(tree, (list, tuple)):
    for i, value in enumerate(tree):
      yield from _flatten(value, f"{prefix}/{i}")
  elif hasattr(tree, "shape"):
    yield prefix, tree


def find_checkpoint_dir(path: str) -> str:
  """Accepts a checkpoints folder, a phase folder, or a workdir + phase name."""
  for candidate in (path, os.path.join(path, "checkpoints")):
    if os.path.isdir(candidate) and any(name.isdigit() for name in os.listdir(candidate)):
      return os.path.abspath(candidate)
  raise CheckpointError(
      f"No finished checkpoint found at {path!r}. Give the phase folder of a "
      "finished run (e.g. OTHER_WORKDIR/teacher) or its checkpoints folder.")


class _DropReadOnlyNotice(logging.Filter):
  """Orbax logs a warning each time a read-only manager opens; here that is the intent."""

  def filter(self, record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Given directory is read only")


def read_only_manager(directory: str) -> ocp.CheckpointManager:
  # The options a read-only manager would set itself, given, so Orbax does not warn of them.
  options = ocp.CheckpointManagerOptions(read_only=True, create=False, save_interval_steps=0)
  notice_filter = _DropReadOnlyNotice()
  absl_logger = logging.getLogger("absl")
  absl_logger.addFilter(notice_filter)
  try:
    return ocp.CheckpointManager(os.path.abspath(directory), options=options,
                                 item_handlers=ocp.StandardCheckpointHandler())
  finally:
    absl_logger.removeFilter(notice_filter)


def read_latest(directory: str) -> dict:
  """The latest step under a checkpoints folder, as stored (nested dicts), read-only.

  Read onto this process's first device whatever devices wrote it: a run on
  other devices or hosts (a TPU slice, 2 processes) stored shardings that do
  not exist here, and Orbax would refuse them.
  """
  manager = read_only_manager(directory)
  try:
    step = manager.latest_step()
    here = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=here),
                          manager.item_metadata(step))
    return manager.restore(step, args=ocp.args.StandardRestore(target))
  finally:
    manager.close()


def check_finished(directory: str) -> int:
  """The final step of the finished phase whose checkpoints are in `directory`.

  A phase is finished when its latest checkpoint is the step its run
  recorded as final in `results.json` (written after the final save). A run
  that was stopped early is refused, with the step it reached.
  """
  phase_dir = os.path.dirname(os.path.abspath(directory))
  phase, workdir = os.path.basename(phase_dir), os.path.dirname(phase_dir)
  manager = read_only_manager(directory)
  try:
    latest = manager.latest_step()
  finally:
    manager.close()
  results_file = os.path.join(workdir, "results.json")
  final = None
  if os.path.exists(results_file):
    with open(results_file) as f:
      final = json.load(f).get(phase, {}).get("steps")
  if final is not None and latest == final:
    return latest
  planned = None
  config_file = os.path.join(phase_dir, "config.json")
  if os.path.exists(config_file):
    with open(config_file) as f:
      planned = json.load(f).get("num_steps") or None
  of = f" of {planned}" if planned else ""
  raise CheckpointError(
      f"The phase in {phase_dir} did not finish: its latest checkpoint is step {latest}{of}, "
      f"and {results_file} records no final step {latest} for '{phase}'. Finish that run "
      "(rerun its command with its --workdir) before restoring from it.")


def select(expected, stored):
  """The leaves of `stored` at the paths of `expected` (extra leaves dropped)."""
  if isinstance(expected, dict):
    return {k: select(v, stored[k]) for k, v in expected.items()}
  return stored
