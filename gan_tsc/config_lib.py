"""Building blocks for experiment configs (configs/*.py).

Configs are plain `ml_collections.ConfigDict`s, locked by the launcher so a
mistyped `--config.x.y` override fails instead of being ignored. These helpers
give every config the same keys, so overrides read the same everywhere.
"""

from __future__ import annotations

import importlib.util
import os

import ml_collections

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")

ConfigDict = ml_collections.ConfigDict


def data(source: str, name: str, image_size: int = 32, **overrides) -> ConfigDict:
  """An image data block. `source`: 'tfds', 'idx' (local IDX files) or 'sklearn'."""
  block = ConfigDict(dict(
      source=source, name=name, data_dir="", image_size=image_size, augment="none",
      center_crop=False, normalization="dataset", download=False,
      max_train_examples=0, seed=0))
  block.update(overrides)
  return block


def optimizer(name: str, learning_rate: float, **overrides) -> ConfigDict:
  block = ConfigDict(dict(
      name=name, learning_rate=learning_rate, momentum=0.9, nesterov=False,
      weight_decay=0.0, b1=0.9, b2=0.999, schedule="constant", decay_at=(),
      decay_factor=0.1, warmup_fraction=0.0))
  block.update(overrides)
  return block


def model(name: str, num_classes: int, **overrides) -> ConfigDict:
  block = ConfigDict(dict(name=name, num_classes=num_classes))
  block.update(overrides)
  return block


def supervised_phase(model_block: ConfigDict, optimizer_block: ConfigDict, *,
                     batch_size: int, num_epochs: float = 0, num_steps: int = 0,
                     **overrides) -> ConfigDict:
  """Supervised training on labelled data (the teacher, or a scratch student)."""
  block = ConfigDict(dict(
      kind="supervised", model=model_block, optimizer=optimizer_block,
      batch_size=batch_size, num_epochs=num_epochs, num_steps=num_steps,
      eval_batch_size=500, log_every_steps=100, eval_every_steps=0,
      checkpoint_every_steps=1000,
      checkpoint=""))  # path of a finished phase to restore instead of training
  block.update(overrides)
  return block


def distill_phase(student_block: ConfigDict, optimizer_block: ConfigDict, *, teacher: str,
                  batch_size: int, num_epochs: float = 0, num_steps: int = 0,
                  loss: str = "kl", temperature: float = 1.0, **overrides) -> ConfigDict:
  """A student distilled from a frozen teacher on real (and later synthetic) inputs."""
  block = ConfigDict(dict(
      kind="distill", teacher=teacher, student=student_block, optimizer=optimizer_block,
      batch_size=batch_size, num_epochs=num_epochs, num_steps=num_steps, loss=loss,
      temperature=temperature, p_fake=0.0, eval_batch_size=500, log_every_steps=100,
      eval_every_steps=0, checkpoint_every_steps=1000))
  block.update(overrides)
  return block


def dafl_generator(latent_dim: int, image_size: int, channels: int, conv: str = "xla",
                   width: int = 128) -> ConfigDict:
  """DAFL's generator; width 128 is the paper's. conv: 'xla' or 'im2col' (faster on CPU)."""
  return ConfigDict(dict(name="dafl", latent_dim=latent_dim, image_size=image_size,
                         channels=channels, conv=conv, width=width))


def dafl_phase(student_block: ConfigDict, generator_block: ConfigDict, *,
               generator_optimizer: ConfigDict, student_optimizer: ConfigDict,
               batch_size: int, num_steps: int, one_hot: float, information_entropy: float,
               activation: float, teacher: str = "teacher", **overrides) -> ConfigDict:
  """DAFL: generator against the frozen teacher, student distilled on its images."""
  block = ConfigDict(dict(
      kind="dafl", teacher=teacher, student=student_block, generator=generator_block,
      generator_optimizer=generator_optimizer, student_optimizer=student_optimizer,
      batch_size=batch_size, num_steps=num_steps, temperature=1.0,
      loss_weights=dict(one_hot=one_hot, information_entropy=information_entropy,
                        activation=activation),
      collapse_patience=5, eval_batch_size=500, log_every_steps=120,
      eval_every_steps=1200, checkpoint_every_steps=1200))
  block.update(overrides)
  return block


def smoke(phase_block: ConfigDict, steps: int = 4, batch_size: int = 16) -> None:
  """Shrinks a phase to a few steps, logging and saving along the way."""
  phase_block.num_steps = steps
  phase_block.batch_size = batch_size
  phase_block.log_every_steps = 2
  if "eval_every_steps" in phase_block:
    phase_block.eval_every_steps = 2
  phase_block.checkpoint_every_steps = 2
  if "eval_batch_size" in phase_block:
    phase_block.eval_batch_size = 64


def parse_variant(variant: str, allowed=("smoke", "baselines")) -> set[str]:
  """'smoke,baselines' -> {'smoke', 'baselines'}; unknown words are an error."""
  words = {w for w in variant.split(",") if w}
  unknown = words - set(allowed)
  if unknown:
    raise ValueError(f"Unknown variant {','.join(sorted(unknown))!r}; use a comma-separated "
                     f"subset of {allowed}.")
  return words


def base(pipeline: tuple[str, ...], seed: int = 0) -> ConfigDict:
  return ConfigDict(dict(seed=seed, pipeline=pipeline))


def load(name: str, variant: str = "", lock: bool = True) -> ConfigDict:
  """configs/<name>.py's get_config(variant), as the launcher would build it."""
  path = name if name.endswith(".py") else os.path.join(CONFIG_DIR, f"{name}.py")
  spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config(variant)
  if lock:
    config.lock()
  return config
