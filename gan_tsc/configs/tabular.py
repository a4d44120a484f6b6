"""GAN-TSC on tabular data: a conditional WGAN-GP on the rows, a random-forest
teacher, and random-forest students (configs/gan_tsc_magic.py, gan_tsc_breast_cancer.py).

Each generator step of the `gan` phase reads n_critic fresh real batches of
batch_size rows, so batch_size x n_critic must not exceed the training rows
(the phase lowers batch_size to fit, with a warning).
"""

from __future__ import annotations

from gan_tsc.configs import common
from gan_tsc.configs.common import ConfigDict


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
  updates, each after n_critic critic updates on n_critic fresh real batches
  (batch_size x n_critic rows a step: at most the training rows).
  The phase hands on a moving average of the generator's parameters
  (`generator_ema_decay` per step; 0 = the last parameters). feature_transform:
  'standardize' or 'quantile' (normal scores of each feature's training CDF).
  clusters_per_class > 1 conditions on k-means clusters within each class.
  ensemble_size K > 1 trains K GANs side by side (own initial weights and
  noise) and draws samples from each in turn.
  `checkpoint`: a finished tabular `gan` phase folder to restore instead of training."""
  block = common.trained_phase(
      "gan", generator=dict(name="tabular", hidden=tuple(hidden), latent_dim=latent_dim),
      critic=dict(name="tabular_critic", hidden=tuple(hidden)),
      generator_optimizer=common.optimizer("adam", learning_rate, b1=0.5, b2=0.9),
      critic_optimizer=common.optimizer("adam", learning_rate, b1=0.5, b2=0.9),
      n_critic=n_critic, gradient_penalty=gradient_penalty,
      generator_ema_decay=generator_ema_decay, feature_transform=feature_transform,
      clusters_per_class=clusters_per_class, ensemble_size=ensemble_size,
      batch_size=batch_size, num_steps=num_steps, log_every_steps=200)
  return common.updated(block, overrides)


def forest_phase(*, generator: str = "gan", teacher_trees: int = 500,
                 tree_counts=(1, 5, 10, 15, 20), num_seeds: int = 3, synthetic_multiplier: int = 9,
                 n_jobs: int = 2, rows=(), **overrides) -> ConfigDict:
  """GAN-TSC's random forests: a RandomForestClassifier teacher and
  RandomForestRegressor students fit to its class probabilities on real,
  GAN (`generator`: an earlier `gan` phase; '' drops the GAN rows), MUNGE and
  per-class Gaussian-mixture rows, `synthetic_multiplier` times the training
  set; every student size over `num_seeds` seeds. n_jobs: cores for sklearn.
  rows: the table's rows (training sets), () = the default rows (both MUNGE
  protocols among them: 'munge' training + MUNGE, 'munge_only' the authors').
  clip_to_training_range: GAN and mixture rows (and MUNGE's) clipped to each
  feature's training range (True here; the authors do not clip). class_mix:
  the classes of GAN and mixture rows, 'training' (the training frequencies,
  here) or 'balanced' (N/K each, the authors'); MUNGE rows follow the
  training rows they come from either way."""
  block = ConfigDict(dict(
      kind="forest", generator=generator,
      model=dict(name="random_forest", teacher_trees=teacher_trees, tree_counts=tuple(tree_counts)),
      num_seeds=num_seeds, synthetic_multiplier=synthetic_multiplier,
      munge=dict(swap_probability=0.1, spread=1.5),
      gaussian_mixture=dict(components=10, covariance="full"),
      clip_to_training_range=True, class_mix="training", n_jobs=n_jobs, rows=tuple(rows)))
  return common.updated(block, overrides)


def tabular_smoke(config: ConfigDict) -> None:
  """A few GAN steps and small forests: every phase runs in seconds."""
  if "gan" in config:
    common.smoke(config.gan, steps=4, batch_size=16)
    config.gan.n_critic = 2
    config.gan.generator.hidden = (32, 32)
    config.gan.critic.hidden = (32, 32)
  if "forest" in config:
    config.forest.model.update(teacher_trees=20, tree_counts=(1, 3))
    config.forest.update(num_seeds=2, synthetic_multiplier=2)
    config.forest.gaussian_mixture.components = 2
    config.forest.n_jobs = 1  # forests this small start threads for longer than they fit


def tabular_config(variant: str, data: ConfigDict, **gan_args) -> ConfigDict:
  """A tabular GAN-TSC config: `data`, the `gan` phase (tabular_gan_phase(**gan_args))
  and the `forest` phase on its rows. Variant: smoke."""
  words, _ = common.parse_variant(variant, words=("smoke",))
  config = common.base(pipeline=("gan", "forest"))
  config.data = data
  config.gan = tabular_gan_phase(**gan_args)
  config.forest = forest_phase(generator="gan")
  if "smoke" in words:
    tabular_smoke(config)
  return config
