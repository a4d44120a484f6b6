"""GAN-TSC's tabular GAN: a class-conditional WGAN-GP on standardised rows.

The GAN learns the teacher's training rows, features standardised with the
training split's statistics. One jitted step (state donated) makes one
generator update and, before it, `n_critic` critic updates, each on its own
real batch; the host delivers the n_critic batches as one array of shape
(n_critic, batch_size, features), sharded on the batch axis, and the step
runs the critic updates with `lax.scan`:

  for each of the n_critic real batches (x, y):
    z ~ N(0, I); fake = G(z, y)                      (the generator is frozen here)
    critic loss = E[D(fake, y)] - E[D(x, y)] + λ·GP   (λ = gradient_penalty)
  z ~ N(0, I) with the last batch's labels -> generator loss -E[D(G(z, y), y)]

Fake rows take the real batch's labels, so the class mix the GAN sees is the
training set's. Neither network has BatchNorm (the critic must not, for the
per-sample penalty; the generator's output layer is linear on standardised
features), so each step changes only its own network's parameters.

With `ensemble_size` K > 1 the phase trains K such GANs side by side, from
their own initial weights and noise, on the same real batches: the state
carries a leading member axis (K = 1 included) and the step is vmapped over
it. Samples are drawn from the members in turn (row j from member j mod K),
so each contributes equally and no one run's quirks dominate the synthetic
set (configs/gan_tsc_magic.py says what it is worth there).

The phase hands later phases a `TrainedGenerator` whose `sample(
variables, key, n)` returns (rows, labels): rows in the data's OWN units
(de-standardised, what the teacher was trained on) and labels drawn with the
training class frequencies. With `checkpoint` set, the phase trains nothing and
restores the generator of another run's finished `gan` phase instead.
"""

from __future__ import annotations

import functools
import json
import os
import jax
import jax.numpy as jnp
import numpy as np

from gan_tsc import checkpoints, losses, models, optim, parallel, reporting, train_loop
from gan_tsc.data import batching
from gan_tsc.data import tabular as tabular_data
from gan_tsc.errors import UserError
from gan_tsc.phases import shared
from gan_tsc.phases.shared import gan
from gan_tsc.phases.shared.gan import GanState
from gan_tsc.trained import TrainedGenerator, TrainState

# The state's `generator_ema` is an exponential moving average of the
# generator's parameters: what the phase hands on. A WGAN's generator keeps
# circling the optimum at a constant learning rate; the average sits nearer
# it (equal to `generator.params` when generator_ema_decay is 0).


# Rows per compiled draw when the generator's rows are drawn on the host.
SAMPLE_CHUNK = 32768


class TabularGanError(UserError, ValueError):
  """A generator that does not fit the data; the message says what to change."""


class Conditions:
  """What the GAN is conditioned on: the class, or the class and a cluster in it.

  With `clusters_per_class` m > 1, k-means splits each class's training rows
  (in the GAN's space) into m clusters, and the networks see the cluster's id
  instead of the class's (class k owns a contiguous block of ids). Sampling
  ids with their training frequencies then forces the generator to cover
  every cluster in proportion, where a class-conditional GAN may thin out
  rare regions; each id still names one class (`to_class`). m = 1 is the
  plain class-conditional GAN.
  """

  def __init__(self, rows: np.ndarray, labels: np.ndarray, num_classes: int,
               clusters_per_class: int = 1, seed: int = 0):
    self.ids = labels.astype(np.int32)
    self.to_class = np.arange(num_classes, dtype=np.int32)
    if clusters_per_class > 1:
      from sklearn.cluster import KMeans
      ids, to_class = np.zeros(len(labels), np.int32), []
      for k in range(num_classes):
        members = np.flatnonzero(labels == k)
        m = min(clusters_per_class, len(members))
        clusters = KMeans(m, n_init=1, random_state=seed).fit_predict(rows[members])
        ids[members] = len(to_class) + clusters
        to_class += [k] * m
      self.ids, self.to_class = ids, np.asarray(to_class, np.int32)
    self.num = len(self.to_class)
    self.frequencies = np.bincount(self.ids, minlength=self.num) / len(self.ids)


def build_models(c, dataset: tabular_data.TabularDataset, num_conditions: int):
  """The generator and critic; both take one-hot condition ids (classes, or clusters)."""
  data = dict(num_features=dataset.num_features, num_labels=num_conditions)
  return models.build_generator(c.generator, **data), models.build_adversary(c.critic, **data)


def ensemble_size(c) -> int:
  members = c.ensemble_size
  if members < 1:
    raise TabularGanError(f"ensemble_size={members}: train at least one GAN "
                          "(--config.gan.ensemble_size=1 for a single GAN).")
  return members


def create_state(generator, critic, key, c, num_features: int, num_steps: int):
  """A replicated GanState with a leading member axis (`ensemble_size`), and
  the two learning-rate schedules."""
  g_tx, g_schedule = optim.build(c.generator_optimizer, num_steps)
  d_tx, d_schedule = optim.build(c.critic_optimizer, num_steps * c.n_critic)
  labels = jnp.zeros((2,), jnp.int32)

  def init(member_key):
    g_key, d_key = jax.random.split(member_key)
    g_params = generator.init(g_key, jnp.zeros((2, c.generator.latent_dim)), labels)["params"]
    d_params = critic.init(d_key, jnp.zeros((2, num_features)), labels)["params"]
    return GanState(
        TrainState.create(apply_fn=generator.apply, params=g_params, tx=g_tx, batch_stats={}),
        TrainState.create(apply_fn=critic.apply, params=d_params, tx=d_tx, batch_stats={}),
        g_params)

  def init_members():
    return jax.vmap(init)(jax.random.split(key, ensemble_size(c)))

  return jax.jit(init_members, out_shardings=parallel.replicated())(), g_schedule, d_schedule


def make_step(generator, critic, c, g_schedule, d_schedule):
  """step(state, batch, key) -> (state, metrics), for all ensemble members at once.

  `batch` = {'features': (n_critic, B, F) standardised, 'label': (n_critic, B)},
  the same for every member; each member draws its own noise. Metrics are the
  members' means.
  """
  latent_dim, penalty_weight = c.generator.latent_dim, c.gradient_penalty
  ema_decay = c.generator_ema_decay
  score = lambda params, x, labels: critic.apply({"params": params}, x, labels)

  def step(state: GanState, batch, key):
    key = jax.random.fold_in(key, state.generator.step)
    g_params = state.generator.params
    n_critic, batch_size = batch["label"].shape
    make_fakes = lambda k, labels: generator.apply(
        {"params": g_params}, parallel.normal_rows(k, batch_size, latent_dim), labels)
    d_state, metrics = gan.critic_updates(score, state.critic, batch["features"], batch["label"],
                                          make_fakes, key, penalty_weight)

    labels = batch["label"][-1]
    z = parallel.normal_rows(jax.random.fold_in(key, n_critic), batch_size, latent_dim)

    def generator_loss(params):
      fake = generator.apply({"params": params}, z, labels)
      return losses.wgan_generator_loss(critic.apply({"params": d_state.params}, fake, labels)), fake

    (g_loss, fake), g_grads = jax.value_and_grad(generator_loss, has_aux=True)(g_params)
    real = batch["features"][-1]
    metrics.update(
        generator_loss=g_loss,
        # Cheap sample-quality curves: how far the fake batch's per-feature
        # mean and spread are from the real batch's, in standard deviations.
        feature_mean_gap=jnp.mean(jnp.abs(fake.mean(0) - real.mean(0))),
        feature_std_gap=jnp.mean(jnp.abs(fake.std(0) - real.std(0))),
        lr_generator=g_schedule(state.generator.step),
        lr_critic=d_schedule(state.critic.step))
    g_state = state.generator.apply_gradients(grads=g_grads)
    ema = jax.tree.map(lambda avg, new: ema_decay * avg + (1.0 - ema_decay) * new,
                       state.generator_ema, g_state.params)
    return GanState(g_state, d_state, ema), metrics

  members = ensemble_size(c)

  def ensemble_step(state: GanState, batch, key):
    state, metrics = jax.vmap(step, in_axes=(0, None, 0))(
        state, batch, jax.random.split(key, members))
    return state, jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics)

  return ensemble_step


TRANSFORMS = ("standardize", "quantile")


class FeatureTransform:
  """What the GAN models: each feature standardised, or mapped to normal scores.

  'standardize': (x - mean) / std with the training split's statistics.
  'quantile': each feature through its training-split empirical CDF, then the
  standard normal's inverse CDF (average ranks for ties). Spiky or
  heavy-tailed features become plain N(0, 1) marginals, so the generator
  spends its capacity on how features depend on each other and on the class;
  the way back interpolates between the sorted training values, so generated
  values stay inside each feature's training range. Both give zero-mean,
  unit-variance features.
  """

  def __init__(self, kind: str, dataset: tabular_data.TabularDataset):
    if kind not in TRANSFORMS:
      raise ValueError(f"Unknown feature_transform {kind!r}; choose one of {TRANSFORMS} "
                       "(--config.gan.feature_transform).")
    self.kind = kind
    self.mean = dataset.mean.astype(np.float32)
    self.std = dataset.std.astype(np.float32)
    n = len(dataset.train_features)
    self.levels = ((np.arange(n) + 0.5) / n).astype(np.float32)
    self.sorted_values = np.sort(dataset.train_features, axis=0).astype(np.float32)  # (N, F)

  def forward(self, features: np.ndarray) -> np.ndarray:
    """Training rows (data units) -> the GAN's space, on the host."""
    if self.kind == "standardize":
      return ((features - self.mean) / self.std).astype(np.float32)
    from scipy import special, stats
    ranks = stats.rankdata(features, axis=0)  # 1..N, ties averaged
    return special.ndtri((ranks - 0.5) / len(features)).astype(np.float32)

  def inverse(self, rows: jax.Array) -> jax.Array:
    """The GAN's space -> data units; traceable (runs inside the jitted sampler)."""
    if self.kind == "standardize":
      return rows * self.std + self.mean
    probabilities = jax.scipy.special.ndtr(rows)
    levels, values = jnp.asarray(self.levels), jnp.asarray(self.sorted_values)
    return jax.vmap(lambda p, v: jnp.interp(p, levels, v), in_axes=(1, 1), out_axes=1)(
        probabilities, values)


def make_sampler(generator, latent_dim: int, conditions: Conditions,
                 transform: FeatureTransform):
  """sample(variables, key, n, labels=None) -> (rows in the data's units, labels),
  jitted, n static.

  The TrainedGenerator contract. `variables['params']` carry a leading member
  axis (see `ensemble_size`); row j comes from member j mod K. Without
  `labels`, conditions (so classes) are drawn with their training
  frequencies; with `labels` (n class ids), row i is of class labels[i], its
  condition (a cluster of that class) drawn with the clusters' frequencies
  within the class.
  """
  log_frequencies = np.log(conditions.frequencies).astype(np.float32)
  to_class = jnp.asarray(conditions.to_class)

  @functools.partial(jax.jit, static_argnums=2)
  def sample(variables, key, n: int, labels=None):
    members = jax.tree.leaves(variables["params"])[0].shape[0]
    per_member = -(-n // members)
    condition_key, z_key = jax.random.split(key)
    if labels is None:
      ids = jax.random.categorical(condition_key, jnp.asarray(log_frequencies),
                                   shape=(per_member * members,))
    else:  # each row's class fixed; a cluster of it by the clusters' frequencies
      wanted = jnp.resize(jnp.asarray(labels, jnp.int32), (per_member * members,))
      ids = jax.random.categorical(condition_key, jnp.where(
          to_class[None, :] == wanted[:, None], jnp.asarray(log_frequencies)[None, :], -jnp.inf))
    z = jax.random.normal(z_key, (per_member * members, latent_dim))
    # (per_member, K, ...) -> member-major for vmap, then back: row j is member j mod K.
    by_member = lambda a: jnp.swapaxes(a.reshape(per_member, members, *a.shape[1:]), 0, 1)
    rows = jax.vmap(lambda params, z, ids: generator.apply({"params": params}, z, ids))(
        variables["params"], by_member(z), by_member(ids))
    rows = jnp.swapaxes(rows, 0, 1).reshape(per_member * members, -1)[:n]
    return transform.inverse(rows), to_class[ids[:n]]

  return sample


def sample_statistics(rows: np.ndarray, labels: np.ndarray,
                      dataset: tabular_data.TabularDataset) -> dict:
  """How far generated rows are from the training rows, class by class,
  in the training split's standard deviations (0 = same moments)."""
  x_fake, x_real = dataset.standardize(rows), dataset.standardize(dataset.train_features)
  mean_gaps, std_gaps, corr_gaps = [], [], []
  for k in range(dataset.num_classes):
    fake, real = x_fake[labels == k], x_real[dataset.train_labels == k]
    if len(fake) < 2:
      continue
    mean_gaps.append(np.mean(np.abs(fake.mean(0) - real.mean(0))))
    std_gaps.append(np.mean(np.abs(fake.std(0) - real.std(0))))
    if dataset.num_features > 1:
      with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.abs(np.corrcoef(fake, rowvar=False) - np.corrcoef(real, rowvar=False))
      corr_gaps.append(np.nanmean(gap))
  return {"sample_feature_mean_gap": float(np.mean(mean_gaps)),
          "sample_feature_std_gap": float(np.mean(std_gaps)),
          "sample_correlation_gap": float(np.mean(corr_gaps)) if corr_gaps else 0.0}


# ----------------------------------------------------------------------------
# Stored generators: their shapes are checked before anything is restored.


def stored_generator_params(directory: str) -> dict:
  """The generator parameters (the moving average) of the latest step under a
  checkpoints folder."""
  raw = checkpoints.read_latest(directory)
  params = raw.get("generator_ema") if isinstance(raw, dict) else None
  if not params:
    raise TabularGanError(f"{directory} holds no tabular GAN generator (no 'generator_ema'); "
                          "give the folder of a finished tabular `gan` phase.")
  return params


def check_generator_fits(params: dict, dataset: tabular_data.TabularDataset, where: str,
                         latent_dim: int, num_conditions: int, members: int) -> None:
  """Refuses a stored generator whose rows, classes or member count do not fit."""
  dense = sorted((k for k in params if k.startswith("Dense_")), key=lambda k: int(k[6:]))
  if not dense:
    raise TabularGanError(f"The generator in {where} has no dense layers; it is not a "
                          "TabularGenerator.")
  first, last = np.shape(params[dense[0]]["kernel"]), np.shape(params[dense[-1]]["kernel"])
  if len(first) != 3:
    raise TabularGanError(
        f"The generator in {where} has no ensemble axis (kernels of shape {first}): it was "
        "saved by an older version of this phase. Train it again with a fresh --workdir.")
  if first[0] != members:
    raise TabularGanError(
        f"The generator in {where} is an ensemble of {first[0]} GANs but the config asks "
        f"for {members}; set --config.<phase>.ensemble_size={first[0]}.")
  inputs, outputs = first[1], last[2]
  if outputs != dataset.num_features:
    raise TabularGanError(
        f"The generator in {where} makes rows of {outputs} features but the data "
        f"({dataset.name}) and its teacher have {dataset.num_features}. Use a generator "
        "trained on this data set, or a fresh --workdir to train one.")
  if inputs != latent_dim + num_conditions:
    raise TabularGanError(
        f"The generator in {where} takes {inputs} inputs (latent + one-hot condition) but "
        f"the config and data need {latent_dim} + {num_conditions} conditions = "
        f"{latent_dim + num_conditions}. Match --config.<phase>.generator.latent_dim and "
        "clusters_per_class to the run it came from, and use the same data set.")


def check_source_run(c, directory: str) -> None:
  """Refuses another run's gan phase that did not finish, or that decodes rows otherwise.

  The run must have finished (its latest step is its final one), and its
  feature transform and conditioning must be this config's (the same
  weights decode to other rows under another transform).
  """
  checkpoints.check_finished(directory)
  source_config = os.path.join(os.path.dirname(directory), "config.json")
  if not os.path.exists(source_config):
    return
  with open(source_config) as f:
    source = json.load(f)
  for name in ("feature_transform", "clusters_per_class", "ensemble_size"):
    theirs, ours = source.get(name), c[name]
    if theirs != ours:
      raise TabularGanError(
          f"The generator in {directory} was trained with {name}={theirs!r}, this config "
          f"has {ours!r}; set --config.<phase>.{name}={theirs!r}.")


def _restore_finished(p: shared.Phase, dataset, generator, num_conditions) -> dict:
  c = p.c
  directory = checkpoints.find_checkpoint_dir(c.checkpoint)
  check_source_run(c, directory)
  params = stored_generator_params(directory)
  members = ensemble_size(c)
  check_generator_fits(params, dataset, directory, c.generator.latent_dim, num_conditions,
                       members)
  expected = jax.eval_shape(lambda: jax.vmap(lambda k: generator.init(
      k, jnp.zeros((1, c.generator.latent_dim)), jnp.zeros((1,), jnp.int32))["params"])(
          jax.random.split(p.key, members)))
  checkpoints.check_same_shapes(expected, params, directory)
  reporting.say(f"[{p.name}] restored the generator of {directory}")
  return parallel.replicate({"params": jax.tree.map(np.asarray, params), "batch_stats": {}})


def fitted_batch_size(c, num_rows: int, phase: str) -> int:
  """`batch_size`, lowered (with a warning) when n_critic batches would not fit the data."""
  if c.batch_size * c.n_critic <= num_rows:
    return c.batch_size
  devices = jax.device_count()
  fitted = num_rows // c.n_critic // devices * devices
  if fitted < devices:
    raise TabularGanError(
        f"{phase}: {num_rows} training rows cannot fill {c.n_critic} critic batches of even "
        f"{devices} rows; lower --config.{phase}.n_critic.")
  reporting.warn(f"[{phase}] batch_size={c.batch_size} x n_critic={c.n_critic} exceeds the "
                 f"{num_rows} training rows; training with batch_size={fitted} instead "
                 f"(set --config.{phase}.batch_size to choose).")
  return fitted


# ----------------------------------------------------------------------------


def run(config, phase: str, workdir: str, inputs: dict) -> TrainedGenerator:
  del inputs  # trains on the data alone
  c = config[phase]
  dataset = tabular_data.load(config.data)
  transform = FeatureTransform(c.feature_transform, dataset)
  rows = transform.forward(dataset.train_features)
  conditions = Conditions(rows, dataset.train_labels, dataset.num_classes,
                          c.clusters_per_class, config.seed)
  generator, critic = build_models(c, dataset, conditions.num)
  sampler = make_sampler(generator, c.generator.latent_dim, conditions, transform)
  p = shared.start(config, phase, workdir)
  members = ensemble_size(c)
  handoff = lambda variables, metrics: TrainedGenerator(
      generator, variables, c.generator, metrics, sampler, sample_chunk=SAMPLE_CHUNK)
  evaluate = lambda variables: _evaluate(handoff(variables, {}), dataset, p.key)

  if c.checkpoint:  # the generator of a finished run instead of training
    variables = _restore_finished(p, dataset, generator, conditions.num)
    num_steps, result, extra = 0, None, {}
  else:
    ckpt_dir = os.path.join(p.dir, "checkpoints")
    phase_checkpoints = checkpoints.PhaseCheckpoints(p.dir)
    resuming = phase_checkpoints.latest_step()
    phase_checkpoints.close()
    if resuming:  # fail clearly on new data
      check_generator_fits(stored_generator_params(ckpt_dir), dataset, ckpt_dir,
                           c.generator.latent_dim, conditions.num, members)
    batch_size = fitted_batch_size(c, len(rows), phase)
    parallel.check_batch_size(batch_size)
    batcher = batching.EpochBatcher({"features": rows, "label": conditions.ids}, batch_size,
                                    p.seed, stacks=c.n_critic,
                                    hint=f"lower --config.{phase}.batch_size or .n_critic")
    num_steps = train_loop.num_steps_of(c, batcher.steps_per_epoch)
    state, g_schedule, d_schedule = create_state(generator, critic, p.key, c,
                                                 dataset.num_features, num_steps)
    step = shared.jit_step(make_step(generator, critic, c, g_schedule, d_schedule),
                           batch="stacked")
    result = shared.train(p, state, step, batcher.batch, num_steps)
    variables = {"params": result.state.generator_ema, "batch_stats": {}}
    first = lambda tree: jax.tree.map(lambda leaf: leaf[0], tree)  # counts are per member
    extra = {"generator_params": models.count_params(first(result.state.generator.params)),
             "critic_params": models.count_params(first(result.state.critic.params))}
  metrics = evaluate(variables)
  reporting.say(f"[{phase}] generated rows vs training rows (per class, in standard deviations): "
                f"mean gap {metrics['sample_feature_mean_gap']:.3f}, std gap "
                f"{metrics['sample_feature_std_gap']:.3f}, correlation gap "
                f"{metrics['sample_correlation_gap']:.3f}")
  if result is not None and result.trained_steps:
    # Real rows the critic read per second (n_critic batches per step).
    extra["train_examples_per_sec"] = result.examples_per_sec * c.n_critic
  metrics = shared.finish(p, metrics, num_steps, ensemble_size=members, **extra)
  return handoff(variables, metrics)


def _evaluate(generated: TrainedGenerator, dataset, key) -> dict:
  rows, labels = generated.sample_on_host(jax.random.fold_in(key, 1 << 30),
                                          max(len(dataset.train_features), 1024))
  return sample_statistics(rows.astype(np.float64), labels, dataset)
