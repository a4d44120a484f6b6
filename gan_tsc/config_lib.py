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
                  loss: str = "kl", temperature: float = 1.0, generator: str = "",
                  p_fake: float | None = None, **overrides) -> ConfigDict:
  """A student distilled from a frozen teacher on real and synthetic inputs.

  With `generator` (an earlier `gan` phase) each batch is synthetic with
  probability `p_fake` (GAN-TSC's 0.8 by default), else real.
  """
  if p_fake is None:
    p_fake = 0.8 if generator else 0.0
  block = ConfigDict(dict(
      kind="distill", teacher=teacher, generator=generator, student=student_block,
      optimizer=optimizer_block, batch_size=batch_size, num_epochs=num_epochs,
      num_steps=num_steps, loss=loss, temperature=temperature, p_fake=p_fake,
      eval_batch_size=500, log_every_steps=100, eval_every_steps=0,
      checkpoint_every_steps=1000))
  block.update(overrides)
  return block


def dafl_generator(latent_dim: int, image_size: int, channels: int, conv: str = "xla",
                   width: int = 128, output: str = "batch_norm") -> ConfigDict:
  """DAFL's generator; width 128 is the paper's. conv: 'xla' or 'im2col' (faster on CPU).

  output: 'batch_norm' (the paper's final BatchNorm) or 'pixels' (tanh pixels
  normalised like the data set's images; not in the paper).
  """
  return ConfigDict(dict(name="dafl", latent_dim=latent_dim, image_size=image_size,
                         channels=channels, conv=conv, width=width, output=output))


def dafl_phase(student_block: ConfigDict, generator_block: ConfigDict, *,
               generator_optimizer: ConfigDict, student_optimizer: ConfigDict,
               batch_size: int, num_steps: int, one_hot: float, information_entropy: float,
               activation: float, adversarial: float = 0.0, teacher: str = "teacher",
               **overrides) -> ConfigDict:
  """DAFL: generator against the frozen teacher, student distilled on its images.

  adversarial > 0 adds a term that is not in the paper: the generator also
  maximises the student's distillation loss (see phases/dafl.py).
  """
  block = ConfigDict(dict(
      kind="dafl", teacher=teacher, student=student_block, generator=generator_block,
      generator_optimizer=generator_optimizer, student_optimizer=student_optimizer,
      batch_size=batch_size, num_steps=num_steps, temperature=1.0,
      loss_weights=dict(one_hot=one_hot, information_entropy=information_entropy,
                        activation=activation, adversarial=adversarial),
      collapse_patience=5, eval_batch_size=500, log_every_steps=120,
      eval_every_steps=1200, checkpoint_every_steps=1200))
  block.update(overrides)
  return block


def acgan_phase(*, batch_size: int, num_steps: int = 0, num_epochs: float = 0,
                latent_dim: int = 100, width: int = 64, conditional: bool = True,
                teacher: str = "", conv: str = "xla", **overrides) -> ConfigDict:
  """GAN-TSC's image GAN: AC-GAN (or, conditional=False, the same GAN unconditional).

  `teacher`, if set, only monitors: the share of samples it puts in the
  requested class. conv: 'xla', or 'patch' (faster on CPU).
  """
  block = ConfigDict(dict(
      kind="gan", teacher=teacher, conditional=conditional, class_loss_weight=1.0,
      generator=dict(name="acgan", latent_dim=latent_dim, width=width, conv=conv),
      discriminator=dict(width=width),
      generator_optimizer=optimizer("adam", 2e-4, b1=0.5),
      discriminator_optimizer=optimizer("adam", 2e-4, b1=0.5),
      batch_size=batch_size, num_steps=num_steps, num_epochs=num_epochs,
      log_every_steps=200, eval_every_steps=1000, checkpoint_every_steps=1000))
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


# ----------------------------------------------------------------------------
# GAN-KD: a WGAN-GP teacher generator, students distilled from it, and
# same-size GANs trained from scratch as baselines.


def dcgan_generator(width: int, image_size: int = 32, channels: int = 1,
                    latent_dim: int = 100, conv: str = "xla") -> ConfigDict:
  """GAN-KD's DCGAN generator of width factor d; image_size 64 (the paper's) or 32.

  conv 'xla' (Flax's layers) or 'patch' (same maths as matrix products; much
  faster on XLA:CPU).
  """
  return ConfigDict(dict(name="dcgan", width=width, image_size=image_size, channels=channels,
                         latent_dim=latent_dim, conv=conv))


def dcgan_critic(width: int, conv: str = "xla") -> ConfigDict:
  """The WGAN-GP critic mirroring the generator (its image size is the generator's)."""
  return ConfigDict(dict(name="dcgan_critic", width=width, conv=conv))


def wgan_optimizer(learning_rate: float = 1e-4) -> ConfigDict:
  """Adam as WGAN-GP's DCGAN experiments use it: beta1 0.5, beta2 0.9."""
  return optimizer("adam", learning_rate, b1=0.5, b2=0.9)


def wgan_gp_phase(generator_block: ConfigDict, critic_block: ConfigDict, *, batch_size: int,
                  num_steps: int, n_critic: int = 5, gradient_penalty: float = 10.0,
                  learning_rate: float = 1e-4, **overrides) -> ConfigDict:
  """A DCGAN generator trained as a WGAN-GP; num_steps counts generator updates."""
  block = ConfigDict(dict(
      kind="wgan_gp", generator=generator_block, critic=critic_block,
      generator_optimizer=wgan_optimizer(learning_rate),
      critic_optimizer=wgan_optimizer(learning_rate), batch_size=batch_size,
      num_steps=num_steps, n_critic=n_critic, gradient_penalty=gradient_penalty,
      log_every_steps=100, eval_every_steps=0, checkpoint_every_steps=1000))
  block.update(overrides)
  return block


def compress_phase(student_block: ConfigDict, critic_block: ConfigDict, *, teacher: str,
                   loss: str, batch_size: int, num_steps: int, alpha: float = 0.0,
                   learning_rate: float = 1e-3, critic_learning_rate: float = 1e-4,
                   n_critic: int = 5, gradient_penalty: float = 10.0,
                   **overrides) -> ConfigDict:
  """A student generator imitating the frozen `teacher` phase's generator.

  loss 'mse', or 'joint' = alpha * adversarial + (1 - alpha) * MSE with a
  WGAN-GP critic (critic_block, n_critic updates per step) trained alongside.
  """
  block = ConfigDict(dict(
      kind="compress", teacher=teacher, student=student_block, critic=critic_block, loss=loss,
      alpha=alpha, optimizer=wgan_optimizer(learning_rate),
      critic_optimizer=wgan_optimizer(critic_learning_rate), batch_size=batch_size,
      num_steps=num_steps, n_critic=n_critic, gradient_penalty=gradient_penalty,
      log_every_steps=100, eval_every_steps=0, checkpoint_every_steps=1000))
  block.update(overrides)
  return block


def generator_metrics(extractor: str = "classifier", classifier: str = "judge",
                      inception_graph: str = "", num_samples: int = 10000,
                      batch_size: int = 500, is_splits: int = 10, **overrides) -> ConfigDict:
  """How generators are rated: IS and FID through `extractor`, and sharpness.

  extractor 'classifier': the earlier supervised phase named `classifier`
  (offline; its own scale). 'inception': InceptionV3 from the standard FID
  weights file `inception_graph` (classify_image_graph_def.pb). 'none':
  sharpness only. FID compares with the data's test split (its first
  `max_reference_images`, if set).
  """
  block = ConfigDict(dict(extractor=extractor, classifier=classifier,
                          inception_graph=inception_graph, num_samples=num_samples,
                          batch_size=batch_size, is_splits=is_splits, max_reference_images=0,
                          inception_batch_size=100))
  block.update(overrides)
  return block


def gan_kd_students(config: ConfigDict, widths, *, teacher: str, generator: ConfigDict,
                    critic_width: int, batch_size: int, num_steps: int, alpha: float,
                    n_critic: int = 5, learning_rate: float = 1e-3,
                    gan_learning_rate: float = 1e-4, losses=("mse", "joint"),
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
    student = ConfigDict(generator.to_dict())
    student.width = width
    critic = lambda: dcgan_critic(critic_width, generator.conv)
    for loss in losses:
      name = f"student_d{width}_{loss}"
      config[name] = compress_phase(
          ConfigDict(student.to_dict()), critic(), teacher=teacher, loss=loss,
          alpha=alpha if loss == "joint" else 0.0, batch_size=batch_size, num_steps=num_steps,
          learning_rate=learning_rate, critic_learning_rate=gan_learning_rate,
          n_critic=n_critic, **overrides)
      names.append(name)
    if scratch:
      name = f"scratch_d{width}"
      config[name] = wgan_gp_phase(
          ConfigDict(student.to_dict()), critic(), batch_size=batch_size,
          num_steps=num_steps, n_critic=n_critic, learning_rate=gan_learning_rate, **overrides)
      names.append(name)
  return tuple(names)


def gan_kd_accelerator_phases(config: ConfigDict, generator: ConfigDict, student_widths, *,
                              teacher_critic_width: int, critic_width: int, teacher_steps: int,
                              student_steps: int, eval_every_steps: int,
                              checkpoint_every_steps: int) -> tuple[str, ...]:
  """The paper-sized GAN-KD settings shared by the accelerator configs.

  Adds the WGAN-GP `teacher` (batch 64, 5 critic updates, Adam 1e-4) and,
  through `gan_kd_students`, the students (Adam 1e-3, joint alpha 0.05) and
  scratch GANs; returns the student and scratch phase names.
  """
  every = dict(eval_every_steps=eval_every_steps, checkpoint_every_steps=checkpoint_every_steps)
  config.teacher = wgan_gp_phase(
      generator, dcgan_critic(teacher_critic_width), batch_size=64, num_steps=teacher_steps,
      n_critic=5, learning_rate=1e-4, **every)
  return gan_kd_students(
      config, student_widths, teacher="teacher", generator=generator, critic_width=critic_width,
      batch_size=64, num_steps=student_steps, alpha=0.05, n_critic=5, learning_rate=1e-3,
      gan_learning_rate=1e-4, **every)


def gan_kd_smoke(config: ConfigDict, max_width: int = 4) -> None:
  """A few steps per phase, widths capped at `max_width`, a few hundred rated samples."""
  for phase in config.pipeline:
    block = config[phase]
    smoke(block)
    for role in ("generator", "student", "critic"):
      if role in block and "width" in block[role]:
        block[role].width = min(block[role].width, max_width)
    if "n_critic" in block:  # a smaller step graph: compiles faster
      block.n_critic = min(block.n_critic, 2)
  if "generator_metrics" in config:
    config.generator_metrics.num_samples = 128
    config.generator_metrics.batch_size = 64
    config.generator_metrics.is_splits = 2
    config.generator_metrics.max_reference_images = 128


# ----------------------------------------------------------------------------
# GAN-TSC on tabular data: a conditional WGAN-GP on the rows, a random-forest
# teacher, and random-forest students.


def tabular_data(source: str, *, path: str = "", name: str = "", test_fraction: float = 0.3,
                 split_seed: int = 0) -> ConfigDict:
  """A tabular data block. source 'npz' (`path` with X_train/y_train/X_test/y_test),
  'csv' (`path`; features then the class id in the last column, optional header)
  or 'sklearn' (`name`, e.g. 'breast_cancer'). CSV and sklearn rows are split
  by `test_fraction` and `split_seed`; an .npz keeps its own split."""
  return ConfigDict(dict(kind="tabular", source=source, path=path, name=name,
                         test_fraction=test_fraction, split_seed=split_seed))


def tabular_gan_phase(*, num_steps: int, batch_size: int = 256, n_critic: int = 5,
                      hidden=(256, 256), latent_dim: int = 64, learning_rate: float = 1e-4,
                      gradient_penalty: float = 10.0, generator_ema_decay: float = 0.0,
                      feature_transform: str = "standardize", clusters_per_class: int = 1,
                      ensemble_size: int = 1, **overrides) -> ConfigDict:
  """Class-conditional WGAN-GP on standardised rows; num_steps counts generator
  updates, each after n_critic critic updates on n_critic fresh real batches.
  The phase hands on a moving average of the generator's parameters
  (`generator_ema_decay` per step; 0 = the last parameters). feature_transform:
  'standardize' or 'quantile' (normal scores of each feature's training CDF).
  clusters_per_class > 1 conditions on k-means clusters within each class.
  ensemble_size K > 1 trains K GANs side by side (own initial weights and
  noise) and draws samples from each in turn.
  `checkpoint`: a finished tabular `gan` phase folder to restore instead of training."""
  block = ConfigDict(dict(
      kind="gan", generator=dict(name="tabular", hidden=tuple(hidden), latent_dim=latent_dim),
      critic=dict(hidden=tuple(hidden)),
      generator_optimizer=optimizer("adam", learning_rate, b1=0.5, b2=0.9),
      critic_optimizer=optimizer("adam", learning_rate, b1=0.5, b2=0.9),
      batch_size=batch_size, num_steps=num_steps, num_epochs=0, n_critic=n_critic,
      gradient_penalty=gradient_penalty, generator_ema_decay=generator_ema_decay,
      feature_transform=feature_transform, clusters_per_class=clusters_per_class,
      ensemble_size=ensemble_size,
      log_every_steps=200,
      checkpoint_every_steps=1000, checkpoint=""))
  block.update(overrides)
  return block


def forest_phase(*, generator: str = "gan", teacher_trees: int = 500,
                 tree_counts=(1, 5, 10, 15, 20), num_seeds: int = 3, synthetic_multiplier: int = 9,
                 n_jobs: int = 2, **overrides) -> ConfigDict:
  """GAN-TSC's random forests: a RandomForestClassifier teacher and
  RandomForestRegressor students fit to its class probabilities on real,
  GAN (`generator`: an earlier `gan` phase; '' drops the GAN rows), MUNGE and
  per-class Gaussian-mixture rows, `synthetic_multiplier` times the training
  set; every student size over `num_seeds` seeds. n_jobs: cores for sklearn."""
  block = ConfigDict(dict(
      kind="forest", generator=generator,
      model=dict(name="random_forest", teacher_trees=teacher_trees, tree_counts=tuple(tree_counts)),
      num_seeds=num_seeds, synthetic_multiplier=synthetic_multiplier,
      munge=dict(swap_probability=0.1, spread=1.5),
      gaussian_mixture=dict(components=10, covariance="full"),
      clip_to_training_range=True, n_jobs=n_jobs))
  block.update(overrides)
  return block


def tabular_smoke(config: ConfigDict) -> None:
  """A few GAN steps and small forests: every phase runs in seconds."""
  if "gan" in config:
    smoke(config.gan, steps=4, batch_size=16)
    config.gan.n_critic = 2
    config.gan.generator.hidden = (32, 32)
    config.gan.critic.hidden = (32, 32)
  if "forest" in config:
    config.forest.model.teacher_trees = 20
    config.forest.model.tree_counts = (1, 3)
    config.forest.num_seeds = 2
    config.forest.synthetic_multiplier = 2
    config.forest.gaussian_mixture.components = 2
    config.forest.n_jobs = 1  # forests this small start threads for longer than they fit
