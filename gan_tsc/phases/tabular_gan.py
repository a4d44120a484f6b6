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

The phase hands later phases a `common.TrainedGenerator` whose `sample(
variables, key, n)` returns (rows, labels): rows in the data's OWN units
(de-standardised, what the teacher was trained on) and labels drawn with the
training class frequencies. With `checkpoint` set, the phase trains nothing and
restores the generator of another run's finished `gan` phase instead.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np

from gan_tsc import checkpoints, losses, models, optim, parallel, reporting, train_loop
from gan_tsc.data import tabular as tabular_data
from gan_tsc.models import generators
from gan_tsc.phases import common


@flax.struct.dataclass
class GanState:
  generator: common.TrainState
  critic: common.TrainState
  # Exponential moving average of the generator's parameters: what the phase
  # hands on. A WGAN's generator keeps circling the optimum at a constant
  # learning rate; the average sits nearer it (equal to `generator.params`
  # when generator_ema_decay is 0).
  generator_ema: Any


class TabularGanError(ValueError):
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
  generator = generators.TabularGenerator(
      dataset.num_features, num_conditions, tuple(c.generator.hidden), c.generator.latent_dim)
  critic = generators.TabularCritic(num_conditions, tuple(c.critic.hidden))
  return generator, critic


def ensemble_size(c) -> int:
  members = c.get("ensemble_size", 1)
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
        common.TrainState.create(apply_fn=generator.apply, params=g_params, tx=g_tx,
                                 batch_stats={}),
        common.TrainState.create(apply_fn=critic.apply, params=d_params, tx=d_tx,
                                 batch_stats={}),
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
  ema_decay = c.get("generator_ema_decay", 0.0)

  def step(state: GanState, batch, key):
    key = jax.random.fold_in(key, state.generator.step)
    g_params = state.generator.params
    batch_size = batch["label"].shape[1]

    def critic_update(d_state, inputs):
      real, labels, index = inputs
      z_key, penalty_key = jax.random.split(jax.random.fold_in(key, index))
      z = jax.random.normal(z_key, (batch_size, latent_dim))
      fake = generator.apply({"params": g_params}, z, labels)

      def loss_fn(d_params):
        score = lambda x: critic.apply({"params": d_params}, x, labels)
        distance_loss = losses.wgan_critic_loss(score(real), score(fake))
        penalty = losses.gradient_penalty(score, real, fake, penalty_key)
        return distance_loss + penalty_weight * penalty, (distance_loss, penalty)

      (loss, (distance_loss, penalty)), grads = jax.value_and_grad(
          loss_fn, has_aux=True)(d_state.params)
      metrics = {"critic_loss": loss, "wasserstein_estimate": -distance_loss,
                 "gradient_penalty": penalty}
      return d_state.apply_gradients(grads=grads), metrics

    n_critic = batch["label"].shape[0]
    d_state, d_metrics = jax.lax.scan(
        critic_update, state.critic,
        (batch["features"], batch["label"], jnp.arange(n_critic)))

    labels = batch["label"][-1]
    z = jax.random.normal(jax.random.fold_in(key, n_critic), (batch_size, latent_dim))

    def generator_loss(params):
      fake = generator.apply({"params": params}, z, labels)
      return losses.wgan_generator_loss(critic.apply({"params": d_state.params}, fake, labels)), fake

    (g_loss, fake), g_grads = jax.value_and_grad(generator_loss, has_aux=True)(g_params)
    real = batch["features"][-1]
    metrics = {k: jnp.mean(v) for k, v in d_metrics.items()}
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


def jit_step(step_fn):
  repl = parallel.replicated()
  return jax.jit(step_fn, donate_argnums=0, in_shardings=(repl, parallel.stacked_batch_sharded(), repl),
                 out_shardings=(repl, repl))


class CriticBatcher:
  """n_critic real batches per step, drawn without replacement epoch by epoch.

  `batch(step)` depends only on (seed, step), so a resumed run sees the very
  batches a straight run would have.
  """

  def __init__(self, features: np.ndarray, labels: np.ndarray, batch_size: int,
               n_critic: int, seed: int):
    self.features, self.labels = features.astype(np.float32), labels.astype(np.int32)
    self.batch_size, self.n_critic, self.seed = batch_size, n_critic, seed
    rows_per_step = batch_size * n_critic
    if rows_per_step > len(features):
      raise ValueError(
          f"batch_size × n_critic = {rows_per_step} exceeds the {len(features)} training "
          "rows; lower --config.gan.batch_size or --config.gan.n_critic.")
    self.steps_per_epoch = len(features) // rows_per_step
    self._epoch, self._order = -1, None

  def batch(self, step: int) -> dict:
    epoch, index = divmod(step, self.steps_per_epoch)
    if epoch != self._epoch:
      self._order = np.random.default_rng([self.seed, epoch]).permutation(len(self.features))
      self._epoch = epoch
    rows_per_step = self.batch_size * self.n_critic
    rows = self._order[index * rows_per_step:(index + 1) * rows_per_step]
    rows = rows.reshape(self.n_critic, self.batch_size)[:, parallel.host_slice(self.batch_size)]
    sharding = parallel.stacked_batch_sharded()
    return {k: jax.make_array_from_process_local_data(sharding, v[rows])
            for k, v in (("features", self.features), ("label", self.labels))}


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
  """sample(variables, key, n) -> (rows in the data's units, labels), jitted, n static.

  `variables['params']` carry a leading member axis (see `ensemble_size`); row
  j comes from member j mod K. Conditions (so classes) are drawn with their
  training frequencies.
  """
  log_frequencies = np.log(conditions.frequencies).astype(np.float32)
  to_class = jnp.asarray(conditions.to_class)

  @functools.partial(jax.jit, static_argnums=2)
  def sample(variables, key, n: int):
    members = jax.tree.leaves(variables["params"])[0].shape[0]
    per_member = -(-n // members)
    condition_key, z_key = jax.random.split(key)
    ids = jax.random.categorical(condition_key, jnp.asarray(log_frequencies),
                                 shape=(per_member * members,))
    z = jax.random.normal(z_key, (per_member * members, latent_dim))
    # (per_member, K, ...) -> member-major for vmap, then back: row j is member j mod K.
    by_member = lambda a: jnp.swapaxes(a.reshape(per_member, members, *a.shape[1:]), 0, 1)
    rows = jax.vmap(lambda params, z, ids: generator.apply({"params": params}, z, ids))(
        variables["params"], by_member(z), by_member(ids))
    rows = jnp.swapaxes(rows, 0, 1).reshape(per_member * members, -1)[:n]
    return transform.inverse(rows), to_class[ids[:n]]

  return sample


def sample_rows(generated: common.TrainedGenerator, key, n: int, chunk: int = 32768):
  """n rows and labels as numpy, drawn in fixed-size chunks (one compile)."""
  chunk = min(chunk, n)
  rows, labels = [], []
  for start in range(0, n, chunk):
    r, y = generated.sample(generated.variables, jax.random.fold_in(key, start // chunk), chunk)
    rows.append(np.asarray(r))
    labels.append(np.asarray(y))
  return np.concatenate(rows)[:n].astype(np.float64), np.concatenate(labels)[:n]


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

  Reads the phase's config.json beside its checkpoints: the latest step must
  be its last, and its feature transform and conditioning must be this
  config's (the same weights decode to other rows under another transform).
  """
  source_config = os.path.join(os.path.dirname(directory), "config.json")
  if not os.path.exists(source_config):
    return  # a bare checkpoints folder: only its shapes can be checked
  with open(source_config) as f:
    source = json.load(f)
  manager = checkpoints.read_only_manager(directory)
  try:
    latest = manager.latest_step()
  finally:
    manager.close()
  if source.get("num_steps") and latest != source["num_steps"]:
    raise TabularGanError(
        f"{directory}: the run stopped at step {latest} of {source['num_steps']}; finish it "
        "(rerun its command) before restoring its generator.")
  for name, default in (("feature_transform", "standardize"), ("clusters_per_class", 1),
                        ("ensemble_size", 1)):
    theirs, ours = source.get(name, default), c.get(name, default)
    if theirs != ours:
      raise TabularGanError(
          f"The generator in {directory} was trained with {name}={theirs!r}, this config "
          f"has {ours!r}; set --config.<phase>.{name}={theirs!r}.")


def _restore_finished(c, dataset, generator, num_conditions, key, phase: str) -> dict:
  directory = checkpoints.find_checkpoint_dir(c.checkpoint)
  check_source_run(c, directory)
  params = stored_generator_params(directory)
  members = ensemble_size(c)
  check_generator_fits(params, dataset, directory, c.generator.latent_dim, num_conditions,
                       members)
  expected = jax.eval_shape(lambda: jax.vmap(lambda k: generator.init(
      k, jnp.zeros((1, c.generator.latent_dim)), jnp.zeros((1,), jnp.int32))["params"])(
          jax.random.split(key, members)))
  checkpoints.check_same_shapes(expected, params, directory)
  print(f"[{phase}] restored the generator of {directory}", flush=True)
  return parallel.replicate({"params": jax.tree.map(np.asarray, params), "batch_stats": {}})


# ----------------------------------------------------------------------------


def run(config, phase: str, workdir: str, inputs: dict) -> common.TrainedGenerator:
  del inputs  # trains on the data alone
  c = config[phase]
  dataset = tabular_data.load(config.data)
  transform = FeatureTransform(c.get("feature_transform", "standardize"), dataset)
  rows = transform.forward(dataset.train_features)
  conditions = Conditions(rows, dataset.train_labels, dataset.num_classes,
                          c.get("clusters_per_class", 1), config.seed)
  generator, critic = build_models(c, dataset, conditions.num)
  sampler = make_sampler(generator, c.generator.latent_dim, conditions, transform)
  path, writer = common.start_phase(config, phase, workdir)
  key = common.phase_key(config.seed, phase)

  if c.get("checkpoint", ""):
    variables = _restore_finished(c, dataset, generator, conditions.num, key, phase)
    generated = common.TrainedGenerator(generator, variables, c.generator, {}, sampler)
    metrics = {"restored_from": c.checkpoint, **_evaluate(generated, dataset, key)}
    reporting.record_results(workdir, phase, metrics)
    generated.metrics = metrics
    return generated

  ckpt_dir = os.path.join(path, "checkpoints")
  phase_checkpoints = checkpoints.PhaseCheckpoints(path)
  resuming = phase_checkpoints.latest_step()
  phase_checkpoints.close()
  if resuming:  # fail clearly on new data
    check_generator_fits(stored_generator_params(ckpt_dir), dataset, ckpt_dir,
                         c.generator.latent_dim, conditions.num, ensemble_size(c))
  parallel.check_batch_size(c.batch_size)
  batcher = CriticBatcher(rows, conditions.ids,
                          c.batch_size, c.n_critic, common.phase_seed(config.seed, phase))
  num_steps = train_loop.num_steps_of(c, batcher.steps_per_epoch)
  state, g_schedule, d_schedule = create_state(generator, critic, key, c,
                                               dataset.num_features, num_steps)
  step = jit_step(make_step(generator, critic, c, g_schedule, d_schedule))
  settings = train_loop.LoopSettings.from_config(phase, workdir, c, num_steps)
  result = train_loop.run(settings, state, lambda s, b: step(s, b, key), batcher.batch, writer)

  variables = {"params": result.state.generator_ema, "batch_stats": {}}
  generated = common.TrainedGenerator(generator, variables, c.generator, {}, sampler)
  metrics = _evaluate(generated, dataset, key)
  writer.write_scalars(num_steps, metrics)
  writer.flush()
  metrics.update(steps=num_steps,
                 ensemble_size=ensemble_size(c),  # the counts below are per member
                 generator_params=models.count_params(_first_member(result.state.generator.params)),
                 critic_params=models.count_params(_first_member(result.state.critic.params)))
  if result.trained_steps:
    # Real rows the critic read per second (n_critic batches per step).
    metrics["train_examples_per_sec"] = result.examples_per_sec * c.n_critic
  print(f"[{phase}] generated rows vs training rows (per class, in standard deviations): "
        f"mean gap {metrics['sample_feature_mean_gap']:.3f}, std gap "
        f"{metrics['sample_feature_std_gap']:.3f}, correlation gap "
        f"{metrics['sample_correlation_gap']:.3f}", flush=True)
  reporting.record_results(workdir, phase, metrics)
  generated.metrics = metrics
  return generated


def _first_member(tree):
  return jax.tree.map(lambda leaf: leaf[0], tree)


def _evaluate(generated: common.TrainedGenerator, dataset, key) -> dict:
  rows, labels = sample_rows(generated, jax.random.fold_in(key, 1 << 30),
                             max(len(dataset.train_features), 1024))
  return sample_statistics(rows, labels, dataset)
