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
from gan_tsc.configs.gan_tsc import distill_phase, smoke_tsc_score, tsc_score_phase


def dafl_generator(latent_dim: int, image_size: int, channels: int, conv: str = "xla",
                   width: int = 128, output: str = "batch_norm", init: str = "flax") -> ConfigDict:
  """DAFL's generator; width 128 is the paper's. conv: 'xla' or 'matmul' (faster on CPU).

  output: 'batch_norm' (the paper's final BatchNorm) or 'pixels' (tanh pixels
  normalised like the data set's images; not in the paper). init: 'flax' or
  'torch' (PyTorch's default initialisation, as the official code has it).
  """
  return ConfigDict(dict(name="dafl", latent_dim=latent_dim, image_size=image_size,
                         channels=channels, conv=common.check_conv(conv), width=width,
                         output=output, init=init))


def dafl_phase(student_block: ConfigDict, generator_block: ConfigDict, *,
               generator_optimizer: ConfigDict, student_optimizer: ConfigDict,
               batch_size: int, num_steps: int, one_hot: float, information_entropy: float,
               activation: float, adversarial: float = 0.0, bn_statistics: float = 0.0,
               total_variation: float = 0.0, l2: float = 0.0, teacher: str = "teacher",
               **overrides) -> ConfigDict:
  """The data-free phase: generator against the frozen teacher, student distilled on its images.

  The paper's DAFL weighs one_hot, information_entropy and activation. The
  terms after it (phases/dafl.py): bn_statistics (needs a teacher with
  BatchNorm), adversarial (minus the student-teacher `adversarial_loss`,
  'kl' or 'l1'), total_variation and l2 image priors. `student_loss` 'kl'
  (at `temperature`) or 'l1'; `generator_updates` and `student_updates` per
  iteration (num_steps counts iterations); `replay.size` images of past
  batches (0 = off), of which `replay.mix` x batch_size join every student batch,
  and `replay.updates` further student updates per iteration on the memory alone.
  `student_augment.kind` 'crop_flip' shows the student each image shifted by up
  to `student_augment.pad` pixels and flipped at random (pad 0: flips only),
  against the teacher's logits of the image as generated; 'none' by default.
  collapse_patience: logging intervals of collapsed images before a warning.
  """
  block = common.trained_phase(
      "dafl", teacher=teacher, student=student_block, generator=generator_block,
      generator_optimizer=generator_optimizer, student_optimizer=student_optimizer,
      temperature=1.0, student_loss="kl", adversarial_loss="kl",
      loss_weights=dict(one_hot=one_hot, information_entropy=information_entropy,
                        activation=activation, bn_statistics=bn_statistics,
                        adversarial=adversarial, total_variation=total_variation, l2=l2),
      generator_updates=1, student_updates=1, replay=dict(size=0, mix=0.0, updates=0),
      student_augment=dict(kind="none", pad=2), collapse_patience=5, eval_batch_size=500,
      batch_size=batch_size, num_steps=num_steps, log_every_steps=120, eval_every_steps=1200)
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


def torch_init(config: ConfigDict) -> ConfigDict:
  """PyTorch's default initialisation for every network a DAFL config trains, as in
  the official code (Flax's default killed the generator at lr_G 0.2, batch 64)."""
  for phase in config.pipeline:
    for role in ("model", "student", "generator"):
      if role in config[phase] and isinstance(config[phase][role], ConfigDict):
        config[phase][role].init = "torch"
  return config


def dafl_config(task: str, words: set[str], dafl_block: ConfigDict, *,
                teacher: dict | None = None, baselines: dict | None = None) -> ConfigDict:
  """A DAFL config: the task's data and teacher (with `teacher` overrides), and
  `dafl_block` as `dafl`. Words: `baselines` adds students of the DAFL
  student's architecture trained like the teacher (its optimizer, batch size
  and epochs), with `baselines` overrides; `tsc` adds the TSC Score of the
  data-free generator (`tsc`: students of the data-free student's model and
  optimizer, L2 on the teacher's logits, as the GAN-TSC configs' `tsc`);
  `smoke` shrinks every phase."""
  config = common.task_config(task, ("teacher", "dafl"), **(teacher or {}))
  config.dafl = dafl_block
  if "baselines" in words:
    recipe = dict(batch_size=config.teacher.batch_size, num_epochs=config.teacher.num_epochs)
    add_baselines(config, dafl_block.student, config.teacher.optimizer,
                  **{**recipe, **(baselines or {})})
  if "tsc" in words:
    config.tsc = tsc_score_phase(generator="dafl", student=common.copy(dafl_block.student),
                                 optimizer=common.copy(dafl_block.student_optimizer))
    config.pipeline = tuple(config.pipeline) + ("tsc",)
  if "smoke" in words:
    common.smoke_task(config, task)
    if "tsc" in words:
      smoke_tsc_score(config.tsc, dafl_block.eval_batch_size)
  return config


# ----------------------------------------------------------------------------
# The data-free family after DAFL: one phase, a method per set of loss terms.

METHODS = ("dafl", "dfad", "bn_adversarial", "bn_adversarial_replay")


def datafree_method(block: ConfigDict, method: str, *, dafl_weights: dict,
                    bn_statistics: float = 1.0, one_hot: float = 1.0,
                    information_entropy: float = 5.0, adversarial: float = 1.0,
                    student_updates: int = 1, replay_size: int = 0,
                    replay_mix: float = 1.0, replay_updates: int = 0) -> ConfigDict:
  """Sets `block`'s generator terms and student updates for `method`:

    dafl                   the paper's one-hot, information entropy, activation
                           (`dafl_weights`); student KL; 1 : 1 updates.
    dfad                   adversarial L1 alone; student L1; 1 : 5 updates (DFAD).
    bn_adversarial         BN statistics + one-hot + information entropy +
                           adversarial KL (DFQ's terms); `student_updates`.
    bn_adversarial_replay  the same with a replay memory of `replay_size`
                           images, `replay_mix` x batch_size per student batch,
                           and `replay_updates` student updates on it alone.
  """
  if method not in METHODS:
    raise ValueError(f"Unknown data-free method {method!r}; choose one of {METHODS}.")
  off = {k: 0.0 for k in block.loss_weights}
  if method == "dafl":
    block.loss_weights.update({**off, **dafl_weights})
  elif method == "dfad":
    block.loss_weights.update({**off, "adversarial": 1.0})
    block.update(adversarial_loss="l1", student_loss="l1", student_updates=5)
  else:
    block.loss_weights.update({**off, "bn_statistics": bn_statistics, "one_hot": one_hot,
                               "information_entropy": information_entropy,
                               "adversarial": adversarial})
    block.student_updates = student_updates
    if method == "bn_adversarial_replay":
      block.replay.update(size=replay_size, mix=replay_mix, updates=replay_updates)
  return block


def datafree_config(task: str, words: set[str], method: str, block: ConfigDict,
                    **method_settings) -> ConfigDict:
  """A data-free config: the task's teacher with BatchNorm (`lenet5_bn` for the
  LeNet tasks), and `block` set up for `method` as `dafl`. Words as dafl_config."""
  config = dafl_config(task, words, datafree_method(block, method, **method_settings))
  if config.teacher.model.name == "lenet5":
    config.teacher.model.name = "lenet5_bn"
  return config


def lenet_datafree_config(task: str, variant: str, *, num_steps: int, replay_size: int,
                          eval_every_steps: int, dafl_recipe: dict,
                          dafl_weights: dict) -> ConfigDict:
  """configs/datafree_<task>.py on the LeNet tasks: `lenet5_bn` -> `lenet5_half`, CPU-sized.

  The default method (bn_adversarial_replay) and its siblings share DAFL's
  generator at width 32, batch 64, Adam lr_G 1e-3 and lr_S 2e-3 (cosine), BN
  statistics 1 + one-hot 1 + information entropy 20 + adversarial KL 0.3 and 2
  student updates per iteration (with the memory: 2 x batch_size replayed
  images in each, and 2 more updates on it alone), the student's convolutions
  as matrix products (`conv='matmul'`: the same network, faster on a CPU);
  `method=dafl` takes the task's DAFL config's recipe instead (`dafl_recipe`:
  generator width, lr_G, student schedule, num_steps) with `dafl_weights`.
  Variant: method=, baselines, tsc, smoke.
  """
  words, args = common.parse_variant(variant, words=("smoke", "baselines", "tsc"),
                                     args=dict(method=common.one_of(*METHODS)))
  method = args.get("method", "bn_adversarial_replay")
  block = dafl_phase(
      common.model("lenet5_half", 10, conv="matmul"),
      dafl_generator(100, 32, 1, conv="matmul", width=32),
      generator_optimizer=common.optimizer("adam", 1e-3),
      student_optimizer=common.optimizer("adam", 2e-3, schedule="cosine"), batch_size=64,
      num_steps=num_steps, one_hot=1.0, information_entropy=20.0, activation=0.0,
      log_every_steps=min(250, num_steps // 6), eval_every_steps=eval_every_steps,
      checkpoint_every_steps=min(500, eval_every_steps))
  if method == "dafl":
    block.generator.width = dafl_recipe["width"]
    block.generator_optimizer.learning_rate = dafl_recipe["generator_lr"]
    block.student_optimizer.schedule = dafl_recipe["student_schedule"]
    block.num_steps = dafl_recipe["num_steps"]
  return datafree_config(task, words, method, block, dafl_weights=dafl_weights,
                         information_entropy=20.0, adversarial=0.3, student_updates=2,
                         replay_size=replay_size, replay_mix=2.0, replay_updates=2)
