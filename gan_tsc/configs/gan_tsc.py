"""GAN-TSC on images: the AC-GAN, the distilled students and the TSC Score blocks.

A GAN-TSC image config trains a `teacher` (the image task's recipe, see
common.task_config), a class-conditional GAN (`gan`) on the same training
images, and a `student` distilled from the frozen teacher on real and GAN
inputs. Its variants (`image_config`):
  baselines  + student_real_only (p_fake 0) and student_gan_only (p_fake 1),
  tsc        + `tsc`: the TSC Score of the `gan` phase's generator, rated
             with the config's student model and optimizer,
  smoke      every phase for a few steps.
`authors_image_config` is the authors' image recipe (their `cifar10.py`):
NIN teacher, their LeNet student, Adam 1e-4 at batch 256 for 200 epochs, the
½Σ L2 loss, the teacher's dropout on while it labels, per-pixel mean
subtraction, generated images at uint8 levels.
"""

from __future__ import annotations

from gan_tsc.configs import common
from gan_tsc.configs.common import ConfigDict

P_FAKE = 0.8  # GAN-TSC's share of synthetic inputs in a student's batches
BASELINES = (("student_real_only", 0.0), ("student_gan_only", 1.0))


def acgan_phase(*, batch_size: int, num_steps: int | None = None, num_epochs: float = 0,
                latent_dim: int = 100, width: int = 64, conditional: bool = True,
                teacher: str = "", conv: str = "xla", discriminator_conv: str = "xla",
                loss: str = "acgan", **overrides) -> ConfigDict:
  """GAN-TSC's image GAN: AC-GAN (or, conditional=False, the same GAN unconditional);
  loss='hinge': the hinge GAN of `as_hinge_gan`.

  `teacher`, if set, only monitors: the share of samples it puts in the
  requested class (over `teacher_agreement_samples` samples). conv (the
  generator's transposed convolutions) and discriminator_conv: 'xla', or
  'matmul' (faster on CPU).
  """
  block = common.trained_phase(
      "gan", teacher=teacher, conditional=conditional, class_loss_weight=1.0, loss=loss,
      generator=dict(name="acgan", latent_dim=latent_dim, width=width,
                     conv=common.check_conv(conv)),
      discriminator=dict(name="acgan_discriminator", width=width,
                         conv=common.check_conv(discriminator_conv)),
      generator_optimizer=common.optimizer("adam", 2e-4, b1=0.5),
      discriminator_optimizer=common.optimizer("adam", 2e-4, b1=0.5),
      batch_size=batch_size, num_steps=num_steps, num_epochs=num_epochs,
      log_every_steps=200, eval_every_steps=1000, teacher_agreement_samples=1000)
  if loss == "hinge":
    block = as_hinge_gan(block)
  return common.updated(block, overrides)


def as_hinge_gan(block: ConfigDict) -> ConfigDict:
  """An AC-GAN block as the hinge GAN: the same generator against a spectrally
  normalised projection discriminator, hinge loss (Miyato & Koyama 2018), at
  the block's constant learning rates, handing on an exponential moving
  average of the generator's parameters (`generator_ema_decay` 0.999; Yazici
  et al. 2019). On Fashion-MNIST the average lifted the teacher's agreement
  with the samples from 89.4% (last parameters) to 92.1%, steadier from one
  thousand steps to the next; decaying both rates linearly to zero instead
  (their `schedule='linear'`, as the projection authors' code) gave 88.1%
  and, averaged, 88.9% (docs/RESULTS.md). `generator.name='acgan_cbn'` gives
  the generator their class-conditional BatchNorm; `discriminator_steps` their
  several discriminator updates per generator step (1 here; theirs 5)."""
  block = block.copy_and_resolve_references()
  block.loss = "hinge"
  block.discriminator_steps = 1
  block.generator_ema_decay = 0.999
  block.discriminator.name = "projection_discriminator"
  block.generator_optimizer.schedule = block.discriminator_optimizer.schedule = "constant"
  return block


def distill_phase(student_block: ConfigDict, optimizer_block: ConfigDict, *, teacher: str,
                  batch_size: int, num_epochs: float = 0, num_steps: int | None = None,
                  loss: str = "kl", temperature: float = 1.0, generator: str = "",
                  p_fake: float | None = None, teacher_dropout: bool = False,
                  quantize_synthetic: bool = False, real_examples: int = 0,
                  heldout_examples: int = 0, **overrides) -> ConfigDict:
  """A student distilled from a frozen teacher on real and synthetic inputs.

  With `generator` (an earlier `gan` phase) each batch is synthetic with
  probability `p_fake` (GAN-TSC's P_FAKE by default), else real. loss 'kl'
  (at `temperature`), 'l2' (on the logits) or 'l2_half' (half of it, the
  authors' image code). teacher_dropout: the teacher labels with its dropout
  active; quantize_synthetic: generated images rounded to uint8 levels;
  real_examples: the student's real images are the first that many training
  images (0 = all; epochs count over them); heldout_examples: also report
  the accuracy on the last that many training images (heldout_accuracy).
  """
  if p_fake is None:
    p_fake = P_FAKE if generator else 0.0
  block = common.trained_phase(
      "distill", teacher=teacher, generator=generator, student=student_block,
      optimizer=optimizer_block, loss=loss, temperature=temperature, p_fake=p_fake,
      teacher_dropout=teacher_dropout, quantize_synthetic=quantize_synthetic,
      real_examples=real_examples, heldout_examples=heldout_examples,
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
  64 images, evaluated in the students' batches; students' real and held-out
  sets of 64."""
  common.smoke_task(config, task)
  for phase in config.pipeline:
    if config[phase].get("real_examples"):
      config[phase].real_examples = 64
    if config[phase].get("heldout_examples"):
      config[phase].heldout_examples = 64
    if config[phase].kind == "tsc_score":
      smoke_tsc_score(config[phase], config.student.eval_batch_size)


def smoke_tsc_score(block: ConfigDict, eval_batch_size: int) -> None:
  """A TSC Score of 2 seeds, 4 steps, 64 images, evaluated in batches of eval_batch_size."""
  block.update(num_seeds=2, batch_size=16, num_samples=64, num_steps=4,
               eval_batch_size=eval_batch_size)


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


NIN_CAFFE_WIDTHS = (192, 160, 96, 192, 192, 192, 192, 192, 1024)


def authors_image_config(task: str, words: set[str], gan_block: ConfigDict, *,
                         teacher_widths: tuple = NIN_CAFFE_WIDTHS,
                         teacher_optimizer: ConfigDict, teacher_recipe: dict,
                         real_examples: int = 0, num_epochs: float = 200,
                         student_conv: str = "xla", eval_every_steps: int = 0,
                         heldout_examples: int = 0) -> ConfigDict:
  """GAN-TSC's image recipe as the authors' code has it, on `task`'s data.

  Teacher: NIN (`teacher_widths`; dropout 0.5 after its two pooling stages),
  trained here by `teacher_optimizer` and `teacher_recipe` (theirs came
  pre-trained). Students: their LeNet (Xavier kernels, N(0, 0.5²) biases),
  Adam 1e-4 constant, batch 256, `num_epochs` over their `real_examples`
  real images (0 = all), loss ½Σ(t − s)²/B on the logits, the teacher's
  dropout on while it labels, each batch generated with probability 0.8
  (rounded to uint8 levels). Every network sees 0..255 pixels minus the
  per-pixel training mean, no augmentation. With `heldout_examples` the
  students also report their accuracy on the last that many training images
  (outside their real images; for choosing settings). Words as `image_config`.
  """
  config = common.task_config(task, ("teacher", "gan"))
  config.data.update(normalization="pixel_mean", augment="none")
  config.teacher.model = common.model("nin", config.teacher.model.num_classes,
                                      widths=tuple(teacher_widths), dropout_rate=0.5)
  config.teacher.optimizer = teacher_optimizer
  config.teacher.update(teacher_recipe)
  config.gan = gan_block
  student = common.model("tsc_lenet", config.teacher.model.num_classes, widths=(64, 128, 1024),
                         init="gan_tsc", conv=common.check_conv(student_conv))
  add_students(config, words, student, common.optimizer("adam", 1e-4), loss="l2_half",
               batch_size=256, num_epochs=num_epochs, teacher_dropout=True,
               quantize_synthetic=True, real_examples=real_examples,
               eval_every_steps=eval_every_steps, heldout_examples=heldout_examples)
  if "smoke" in words:
    smoke(config, task)
    # Narrow networks: the suite compiles without XLA's optimisations, where
    # full-width convolutions take a minute a step (tests/test_full_size.py
    # runs the full widths).
    config.teacher.model.widths = (8,) * 8 + (16,)
    for phase in config.pipeline:
      if config[phase].get("kind") == "distill":
        config[phase].student.widths = (8, 16, 32)
  return config
