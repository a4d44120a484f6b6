"""GAN-TSC on images: the AC-GAN, the distilled students and the TSC Score blocks.

A GAN-TSC image config trains a `teacher` (the image task's recipe, see
common.task_config), a class-conditional GAN (`gan`) on the same training
images, and a `student` distilled from the frozen teacher on real and GAN
inputs. Its variants (`image_config`):
  baselines  + student_real_only (p_fake 0) and student_gan_only (p_fake 1),
  tsc        + `tsc`: the TSC Score of the `gan` phase's generator, rated
             with the config's student model and optimizer,
  smoke      every phase for a few steps.
"""

from __future__ import annotations

from gan_tsc.configs import common
from gan_tsc.configs.common import ConfigDict

P_FAKE = 0.8  # GAN-TSC's share of synthetic inputs in a student's batches
BASELINES = (("student_real_only", 0.0), ("student_gan_only", 1.0))


def acgan_phase(*, batch_size: int, num_steps: int | None = None, num_epochs: float = 0,
                latent_dim: int = 100, width: int = 64, conditional: bool = True,
                teacher: str = "", conv: str = "xla", discriminator_conv: str = "xla",
                **overrides) -> ConfigDict:
  """GAN-TSC's image GAN: AC-GAN (or, conditional=False, the same GAN unconditional).

  `teacher`, if set, only monitors: the share of samples it puts in the
  requested class (over `teacher_agreement_samples` samples). conv (the
  generator's transposed convolutions) and discriminator_conv: 'xla', or
  'matmul' (faster on CPU).
  """
  block = common.trained_phase(
      "gan", teacher=teacher, conditional=conditional, class_loss_weight=1.0,
      generator=dict(name="acgan", latent_dim=latent_dim, width=width,
                     conv=common.check_conv(conv)),
      discriminator=dict(name="acgan_discriminator", width=width,
                         conv=common.check_conv(discriminator_conv)),
      generator_optimizer=common.optimizer("adam", 2e-4, b1=0.5),
      discriminator_optimizer=common.optimizer("adam", 2e-4, b1=0.5),
      batch_size=batch_size, num_steps=num_steps, num_epochs=num_epochs,
      log_every_steps=200, eval_every_steps=1000, teacher_agreement_samples=1000)
  return common.updated(block, overrides)


def distill_phase(student_block: ConfigDict, optimizer_block: ConfigDict, *, teacher: str,
                  batch_size: int, num_epochs: float = 0, num_steps: int | None = None,
                  loss: str = "kl", temperature: float = 1.0, generator: str = "",
                  p_fake: float | None = None, **overrides) -> ConfigDict:
  """A student distilled from a frozen teacher on real and synthetic inputs.

  With `generator` (an earlier `gan` phase) each batch is synthetic with
  probability `p_fake` (GAN-TSC's P_FAKE by default), else real. loss 'kl'
  (at `temperature`) or 'l2' (on the logits).
  """
  if p_fake is None:
    p_fake = P_FAKE if generator else 0.0
  block = common.trained_phase(
      "distill", teacher=teacher, generator=generator, student=student_block,
      optimizer=optimizer_block, loss=loss, temperature=temperature, p_fake=p_fake,
      eval_batch_size=500, batch_size=batch_size, num_epochs=num_epochs, num_steps=num_steps)
  return common.updated(block, overrides)


def tsc_score_phase(*, generator: str, teacher: str = "teacher", student: ConfigDict,
                    optimizer: ConfigDict, batch_size: int = 128, num_seeds: int = 3,
                    loss: str = "l2", temperature: float = 1.0, num_samples: int = 0,
                    num_steps: int | None = None, eval_batch_size: int = 512) -> ConfigDict:
  """The TSC Score of `generator`'s samples (metrics/tsc_score.py).

  Fresh `student`s (optimizer `optimizer`, `num_steps` at `batch_size`;
  unset = one pass over as many inputs as the real training set) learn
  the frozen `teacher`'s outputs (`loss`, `temperature`) on num_samples
  generated images (0 = as many as the real training set), then on the real
  training set, `num_seeds` seeds each; the score is the ratio of their mean
  test accuracies.
  """
  return ConfigDict(dict(
      kind="tsc_score", generator=generator, teacher=teacher, student=student,
      optimizer=optimizer, batch_size=batch_size, num_seeds=num_seeds, loss=loss,
      temperature=temperature, num_samples=num_samples,
      num_steps=common.steps_or_unset(num_steps), eval_batch_size=eval_batch_size))


def add_students(config: ConfigDict, words: set[str], student_block: ConfigDict,
                 optimizer_block: ConfigDict, *, teacher: str = "teacher", generator: str = "gan",
                 **distill_args) -> None:
  """Appends `student` (p_fake P_FAKE) to the pipeline; with the word `baselines`
  the BASELINES students, with `tsc` the `tsc` phase. Every student is a
  `distill_phase` of its own copy of the blocks, with `distill_args`."""
  students = (("student", P_FAKE),) + (BASELINES if "baselines" in words else ())
  for name, p_fake in students:
    config[name] = distill_phase(
        common.copy(student_block), common.copy(optimizer_block), teacher=teacher,
        generator=generator, p_fake=p_fake, **distill_args)
  config.pipeline = tuple(config.pipeline) + tuple(name for name, _ in students)
  if "tsc" in words:
    # The protocol of benchmarks/gan_tsc_images.py: the student's model,
    # optimizer and loss; batch 128, 3 seeds.
    config.tsc = tsc_score_phase(
        generator=generator, teacher=teacher, student=common.copy(student_block),
        optimizer=common.copy(optimizer_block), loss=config.student.loss)
    config.pipeline = config.pipeline + ("tsc",)


def smoke(config: ConfigDict, task: str) -> None:
  """The task's smoke sizes for the trained phases; a TSC Score of 2 seeds, 4 steps,
  64 images, evaluated in the students' batches."""
  common.smoke_task(config, task)
  for phase in config.pipeline:
    if config[phase].kind == "tsc_score":
      config[phase].update(num_seeds=2, batch_size=16, num_samples=64, num_steps=4,
                           eval_batch_size=config.student.eval_batch_size)


def image_config(task: str, words: set[str], gan_block: ConfigDict, student_block: ConfigDict,
                 optimizer_block: ConfigDict, *, teacher: dict | None = None,
                 data: dict | None = None, **distill_args) -> ConfigDict:
  """A GAN-TSC image config: the task's data (with `data` overrides) and teacher
  (with `teacher` overrides), `gan_block` as `gan`, and `add_students`; the
  word `smoke` shrinks it."""
  config = common.task_config(task, ("teacher", "gan"), **(teacher or {}))
  config.data.update(data or {})
  config.gan = gan_block
  add_students(config, words, student_block, optimizer_block, **distill_args)
  if "smoke" in words:
    smoke(config, task)
  return config
