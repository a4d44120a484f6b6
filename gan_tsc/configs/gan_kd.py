"""GAN-KD: a WGAN-GP teacher generator, students distilled from it, scratch GANs.

A GAN-KD config trains a DCGAN `teacher` generator as a WGAN-GP, then per
student width d the phases `student_d{d}_mse`, `student_d{d}_joint` (the
student imitating the frozen teacher, by MSE or the joint loss) and
`scratch_d{d}` (the same width trained as an ordinary WGAN-GP), and rates
them with `generator_metrics`. The student widths are one variant argument,
`widths=3` or `widths=2+4`: phase names, folders and the table follow them.
"""

from __future__ import annotations

from gan_tsc.configs import common
from gan_tsc.configs.common import ConfigDict

LOSSES = ("mse", "joint")
PAPER_WIDTHS = (2, 4, 8, 16, 32)  # the paper's student widths d
VARIANT_ARGS = dict(widths=common.ints)  # student widths, e.g. widths=3 or widths=2+4


def dcgan_generator(width: int, image_size: int = 32, channels: int = 1,
                    latent_dim: int = 100, conv: str = "xla") -> ConfigDict:
  """GAN-KD's DCGAN generator of width factor d; image_size 64 (the paper's) or 32.

  conv 'xla' (the framework's convolutions) or 'matmul' (the same maths as
  matrix products; much faster on XLA:CPU).
  """
  return ConfigDict(dict(name="dcgan", width=width, image_size=image_size, channels=channels,
                         latent_dim=latent_dim, conv=common.check_conv(conv)))


def dcgan_critic(width: int, conv: str = "xla") -> ConfigDict:
  """The WGAN-GP critic mirroring the generator (its image size is the generator's)."""
  return ConfigDict(dict(name="dcgan_critic", width=width, conv=common.check_conv(conv)))


def wgan_optimizer(learning_rate: float = 1e-4) -> ConfigDict:
  """Adam as WGAN-GP's DCGAN experiments use it: beta1 0.5, beta2 0.9."""
  return common.optimizer("adam", learning_rate, b1=0.5, b2=0.9)


def wgan_gp_phase(generator_block: ConfigDict, critic_block: ConfigDict, *, batch_size: int,
                  num_steps: int, n_critic: int = 5, gradient_penalty: float = 10.0,
                  learning_rate: float = 1e-4, **overrides) -> ConfigDict:
  """A DCGAN generator trained as a WGAN-GP; num_steps counts generator updates."""
  block = common.trained_phase(
      "wgan_gp", generator=generator_block, critic=critic_block,
      generator_optimizer=wgan_optimizer(learning_rate),
      critic_optimizer=wgan_optimizer(learning_rate), n_critic=n_critic,
      gradient_penalty=gradient_penalty, batch_size=batch_size, num_steps=num_steps)
  return common.updated(block, overrides)


def compress_phase(student_block: ConfigDict, critic_block: ConfigDict, *, teacher: str,
                   loss: str, batch_size: int, num_steps: int, alpha: float = 0.0,
                   learning_rate: float = 1e-3, critic_learning_rate: float = 1e-4,
                   n_critic: int = 5, gradient_penalty: float = 10.0,
                   **overrides) -> ConfigDict:
  """A student generator imitating the frozen `teacher` phase's generator.

  loss 'mse', or 'joint' = alpha * adversarial + (1 - alpha) * MSE with a
  WGAN-GP critic (critic_block, n_critic updates per step) trained alongside.
  """
  block = common.trained_phase(
      "compress", teacher=teacher, student=student_block, critic=critic_block, loss=loss,
      alpha=alpha, optimizer=wgan_optimizer(learning_rate),
      critic_optimizer=wgan_optimizer(critic_learning_rate), n_critic=n_critic,
      gradient_penalty=gradient_penalty, batch_size=batch_size, num_steps=num_steps)
  return common.updated(block, overrides)


def generator_metrics(extractor: str = "classifier", classifier: str = "judge",
                      inception_graph: str = "", num_samples: int = 10000,
                      batch_size: int = 500, is_splits: int = 10, max_reference_images: int = 0,
                      inception_batch_size: int = 100) -> ConfigDict:
  """How generators are rated: IS and FID through `extractor`, and sharpness.

  extractor 'classifier': the earlier supervised phase named `classifier`
  (offline; its own scale). 'inception': InceptionV3 from the standard FID
  weights file `inception_graph` (classify_image_graph_def.pb), run in
  batches of inception_batch_size. 'none': sharpness only. FID compares with
  the data's test split (its first `max_reference_images`; 0 = all).
  """
  return ConfigDict(dict(extractor=extractor, classifier=classifier,
                         inception_graph=inception_graph, num_samples=num_samples,
                         batch_size=batch_size, is_splits=is_splits,
                         max_reference_images=max_reference_images,
                         inception_batch_size=inception_batch_size))


def gan_kd_students(config: ConfigDict, widths, *, teacher: str, generator: ConfigDict,
                    critic_width: int, batch_size: int, num_steps: int, alpha: float,
                    n_critic: int = 5, learning_rate: float = 1e-3,
                    gan_learning_rate: float = 1e-4, losses=LOSSES,
                    scratch: bool = True, **overrides) -> tuple[str, ...]:
  """Adds, per student width d, `student_d{d}_{loss}` phases and `scratch_d{d}`.

  Students share the teacher's image size, channels and latents (`generator`
  is the teacher's block; only the width changes). The joint students' and
  the scratch GANs' critics have width `critic_width`, so the baseline is the
  same student size trained as an ordinary WGAN-GP for the same number of
  generator steps. Returns the new phase names, in pipeline order.
  """
  names = []
  for width in widths:
    student = common.copy(generator)
    student.width = width
    critic = lambda: dcgan_critic(critic_width, generator.conv)
    for loss in losses:
      name = f"student_d{width}_{loss}"
      config[name] = compress_phase(
          common.copy(student), critic(), teacher=teacher, loss=loss,
          alpha=alpha if loss == "joint" else 0.0, batch_size=batch_size, num_steps=num_steps,
          learning_rate=learning_rate, critic_learning_rate=gan_learning_rate,
          n_critic=n_critic, **overrides)
      names.append(name)
    if scratch:
      name = f"scratch_d{width}"
      config[name] = wgan_gp_phase(
          common.copy(student), critic(), batch_size=batch_size,
          num_steps=num_steps, n_critic=n_critic, learning_rate=gan_learning_rate, **overrides)
      names.append(name)
  return tuple(names)


def smallest_student_phases(students: tuple[str, ...], widths) -> tuple[str, ...]:
  """The phases of the smallest student width: what a smoke run keeps."""
  d = min(widths)
  return tuple(p for p in students if p.endswith(f"_d{d}") or f"_d{d}_" in p)


def gan_kd_smoke(config: ConfigDict, max_width: int = 4) -> None:
  """A few steps per phase, a teacher and critics of width <= `max_width` (the
  students keep the widths their names say), a few hundred rated samples."""
  for phase in config.pipeline:
    block = config[phase]
    common.smoke(block)
    roles = ("generator", "critic") if phase == "teacher" else ("critic",)
    for role in roles:
      if role in block:
        block[role].width = min(block[role].width, max_width)
    if "n_critic" in block:  # a smaller step graph: compiles faster
      block.n_critic = min(block.n_critic, 2)
  if "generator_metrics" in config:
    config.generator_metrics.update(num_samples=128, batch_size=64, is_splits=2,
                                    max_reference_images=128)


def gan_kd_accelerator_phases(config: ConfigDict, generator: ConfigDict, student_widths, *,
                              teacher_critic_width: int, critic_width: int, teacher_steps: int,
                              student_steps: int, eval_every_steps: int,
                              checkpoint_every_steps: int) -> tuple[str, ...]:
  """The paper-sized GAN-KD phases: the WGAN-GP `teacher` (batch 64, 5 critic
  updates, Adam 1e-4) and, through `gan_kd_students`, the students (Adam
  1e-3, joint alpha 0.05) and scratch GANs; returns the student and scratch
  phase names."""
  every = dict(eval_every_steps=eval_every_steps, checkpoint_every_steps=checkpoint_every_steps)
  config.teacher = wgan_gp_phase(
      generator, dcgan_critic(teacher_critic_width), batch_size=64, num_steps=teacher_steps,
      n_critic=5, learning_rate=1e-4, **every)
  return gan_kd_students(
      config, student_widths, teacher="teacher", generator=generator, critic_width=critic_width,
      batch_size=64, num_steps=student_steps, alpha=0.05, n_critic=5, learning_rate=1e-3,
      gan_learning_rate=1e-4, **every)


def accelerator_config(variant: str, data: ConfigDict, *, teacher_width: int, channels: int,
                       judge: ConfigDict | None = None, smoke_judge: ConfigDict | None = None,
                       metrics: ConfigDict | None = None, student_widths=PAPER_WIDTHS,
                       teacher_critic_width: int | None = None, critic_width: int = 64,
                       teacher_steps: int = 100000, student_steps: int = 50000,
                       eval_every_steps: int = 10000,
                       checkpoint_every_steps: int = 5000) -> ConfigDict:
  """The paper-sized GAN-KD configs (for accelerators), at 64x64.

  `judge`: a supervised phase rating the generators (generator_metrics'
  classifier, the default `metrics`), run first. Then
  `gan_kd_accelerator_phases`: a DCGAN teacher of `teacher_width` and
  `channels` (critic width teacher_critic_width, by default the teacher's),
  and the students and scratch GANs (critics of `critic_width`) of
  `student_widths`, or of the variant's `widths=...`. Variant `smoke`: with
  `smoke_judge`, the same pipeline at 32x32 with that judge, the smallest
  students only; without, the teacher and the smallest MSE student at full
  size, sharpness only.
  """
  words, args = common.parse_variant(variant, words=("smoke",), args=VARIANT_ARGS)
  widths = args.get("widths", student_widths)
  config = common.base(pipeline=())
  config.data = data
  if judge is not None:
    config.judge = judge
  students = gan_kd_accelerator_phases(
      config, dcgan_generator(teacher_width, image_size=64, channels=channels), widths,
      teacher_critic_width=teacher_critic_width or teacher_width, critic_width=critic_width,
      teacher_steps=teacher_steps, student_steps=student_steps,
      eval_every_steps=eval_every_steps, checkpoint_every_steps=checkpoint_every_steps)
  config.pipeline = ("judge",) * (judge is not None) + ("teacher",) + students
  config.generator_metrics = metrics or generator_metrics()
  if "smoke" in words:
    smallest = smallest_student_phases(students, widths)
    if smoke_judge is not None:  # 32x32 and a small judge: the same code paths at a CPU's cost
      config.data.image_size = 32
      config.judge.model = smoke_judge
      for phase in students + ("teacher",):
        block = config[phase].get("generator", None) or config[phase].student
        block.image_size = 32
      config.pipeline = ("judge", "teacher") + smallest
    else:  # the 64 px paths
      config.pipeline = ("teacher", smallest[0])
      config.generator_metrics.extractor = "none"
    gan_kd_smoke(config)
  return config
