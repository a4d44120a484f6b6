"""DAFL (data-free learning): the generator and phase blocks, and the baselines' rows.

A DAFL config trains a `teacher` (configs/dafl_*.py take the image task's
recipe from common.task_config), then the `dafl` phase: a generator trained
against the frozen teacher and a student distilled on its images, no
training data. `:baselines` adds the same student trained from scratch on
the labels and distilled on the real images.
"""

from __future__ import annotations

from gan_tsc.configs import common
from gan_tsc.configs.common import ConfigDict
from gan_tsc.configs.gan_tsc import distill_phase


def dafl_generator(latent_dim: int, image_size: int, channels: int, conv: str = "xla",
                   width: int = 128, output: str = "batch_norm") -> ConfigDict:
  """DAFL's generator; width 128 is the paper's. conv: 'xla' or 'matmul' (faster on CPU).

  output: 'batch_norm' (the paper's final BatchNorm) or 'pixels' (tanh pixels
  normalised like the data set's images; not in the paper).
  """
  return ConfigDict(dict(name="dafl", latent_dim=latent_dim, image_size=image_size,
                         channels=channels, conv=common.check_conv(conv), width=width,
                         output=output))


def dafl_phase(student_block: ConfigDict, generator_block: ConfigDict, *,
               generator_optimizer: ConfigDict, student_optimizer: ConfigDict,
               batch_size: int, num_steps: int, one_hot: float, information_entropy: float,
               activation: float, adversarial: float = 0.0, teacher: str = "teacher",
               **overrides) -> ConfigDict:
  """DAFL: generator against the frozen teacher, student distilled on its images.

  adversarial > 0 adds a term that is not in the paper: the generator also
  maximises the student's distillation loss (see phases/dafl.py).
  collapse_patience: logging intervals of collapsed images before the phase stops.
  """
  block = common.trained_phase(
      "dafl", teacher=teacher, student=student_block, generator=generator_block,
      generator_optimizer=generator_optimizer, student_optimizer=student_optimizer,
      temperature=1.0,
      loss_weights=dict(one_hot=one_hot, information_entropy=information_entropy,
                        activation=activation, adversarial=adversarial),
      collapse_patience=5, eval_batch_size=500, batch_size=batch_size, num_steps=num_steps,
      log_every_steps=120, eval_every_steps=1200)
  return common.updated(block, overrides)


def add_baselines(config: ConfigDict, student_block: ConfigDict, optimizer_block: ConfigDict,
                  *, batch_size: int, num_epochs: float, **overrides) -> None:
  """`:baselines`: `student_scratch` (the student on the labels) and `student_kd`
  (distilled from the teacher on the real images), appended to the pipeline."""
  config.student_scratch = common.supervised_phase(
      common.copy(student_block), common.copy(optimizer_block), batch_size=batch_size,
      num_epochs=num_epochs, **overrides)
  config.student_kd = distill_phase(
      common.copy(student_block), common.copy(optimizer_block), teacher="teacher",
      batch_size=batch_size, num_epochs=num_epochs, **overrides)
  config.pipeline = tuple(config.pipeline) + ("student_scratch", "student_kd")


def dafl_config(task: str, words: set[str], dafl_block: ConfigDict, *,
                teacher: dict | None = None, baselines: dict | None = None) -> ConfigDict:
  """A DAFL config: the task's data and teacher (with `teacher` overrides), and
  `dafl_block` as `dafl`. Words: `baselines` adds students of the DAFL
  student's architecture trained like the teacher (its optimizer, batch size
  and epochs), with `baselines` overrides; `smoke` shrinks every phase."""
  config = common.task_config(task, ("teacher", "dafl"), **(teacher or {}))
  config.dafl = dafl_block
  if "baselines" in words:
    recipe = dict(batch_size=config.teacher.batch_size, num_epochs=config.teacher.num_epochs)
    add_baselines(config, dafl_block.student, config.teacher.optimizer,
                  **{**recipe, **(baselines or {})})
  if "smoke" in words:
    common.smoke_task(config, task)
  return config
