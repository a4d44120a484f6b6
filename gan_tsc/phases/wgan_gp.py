"""WGAN-GP training of a DCGAN generator: GAN-KD's teacher and its scratch baselines.

One jitted step (state donated) runs `n_critic` critic updates and then one
generator update:
  critic, n_critic times, each on its own real batch and fresh latents:
      E[D(G(z))] − E[D(x)] + λ·E[(‖∇D(x̂)‖₂ − 1)²]   (lax.scan over the batches)
  generator, once:  −E[D(G(z))]
The host delivers the n_critic real batches of a step stacked as one
(n_critic, B, H, W, C) uint8 array, sharded on B. Latents and penalty
interpolates come from fold_in(phase key, generator step), so a resumed run
draws exactly what a straight run would. Real images are mapped to [-1, 1]
(the generator's tanh range) whatever the data block's normalisation, which
stays the classifier judge's.

The critic parts are shared with the compress phase's joint loss.
"""

from __future__ import annotations

import flax
import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from gan_tsc import losses, models, parallel, reporting, train_loop
from gan_tsc.data import images as image_data
from gan_tsc.metrics import generator_quality as gq
from gan_tsc.models import generators
from gan_tsc.phases import common

# Fixed latents of the TensorBoard sample grids.
GRID_SIZE = 64


@flax.struct.dataclass
class GanState:
  generator: common.TrainState
  critic: common.TrainState


class StackedBatcher:
  """`stacks` consecutive training batches per step, shape (stacks, B, H, W, C).

  Batches walk an epoch permutation drawn from (seed, epoch), dropping each
  epoch's remainder, so the images of a step depend only on the step: a
  resumed run continues with the very batches a straight run would see.
  """

  def __init__(self, images: np.ndarray, batch_size: int, stacks: int, seed: int):
    if batch_size > len(images):
      raise ValueError(f"batch_size={batch_size} exceeds the {len(images)} training images.")
    self.images, self.batch_size, self.stacks, self.seed = images, batch_size, stacks, seed
    self.batches_per_epoch = len(images) // batch_size
    self._orders: dict[int, np.ndarray] = {}

  def _order(self, epoch: int) -> np.ndarray:
    if epoch not in self._orders:
      self._orders = {e: o for e, o in self._orders.items() if e >= epoch - 1}
      self._orders[epoch] = np.random.default_rng([self.seed, epoch]).permutation(len(self.images))
    return self._orders[epoch]

  def rows(self, step: int) -> np.ndarray:
    """Indices (stacks, B) of the images of `step`."""
    rows = []
    for index in range(step * self.stacks, (step + 1) * self.stacks):
      epoch, position = divmod(index, self.batches_per_epoch)
      rows.append(self._order(epoch)[position * self.batch_size:(position + 1) * self.batch_size])
    return np.stack(rows)

  def batch(self, step: int) -> jax.Array:
    rows = np.sort(self.rows(step)[:, parallel.host_slice(self.batch_size)], axis=1)
    return jax.make_array_from_process_local_data(parallel.stacked_batch_sharded(), self.images[rows])


_DATASETS: dict = {}


def load_dataset(data_config) -> image_data.ImageDataset:
  """`image_data.load`, kept for the next phase of the same data.

  A GAN-KD pipeline runs many phases on one data set, and loading resizes
  every image (Fashion-MNIST: seconds; CelebA: minutes). One data set is
  kept at a time.
  """
  key = data_config.to_json()
  if key not in _DATASETS:
    _DATASETS.clear()
    _DATASETS[key] = image_data.load(data_config)
  return _DATASETS[key]


# ----------------------------------------------------------------------------
# Models and state.


def build_generator(generator_config) -> generators.DCGANGenerator:
  if generator_config.name != "dcgan":
    raise ValueError(f"GAN-KD trains DCGAN generators; got generator.name="
                     f"{generator_config.name!r} (use 'dcgan').")
  return models.build_generator(generator_config)


def build_critic(critic_config, image_size: int) -> generators.DCGANCritic:
  return generators.DCGANCritic(critic_config.width, image_size,
                                conv=models.dcgan_layer(critic_config.get("conv", "xla"), "Conv"))


def check_image_shape(generator_config, image_shape, phase: str) -> None:
  made = (generator_config.image_size, generator_config.image_size, generator_config.channels)
  if made != tuple(image_shape):
    raise ValueError(
        f"{phase}: the generator makes {made} images but the data are {tuple(image_shape)}; "
        "set --config.data.image_size or the generator's image_size / channels to match.")


def create_critic_state(critic, key, image_shape, optimizer_config, num_updates: int):
  state, _ = common.create_classifier_state(critic, key, image_shape, optimizer_config,
                                            num_updates)
  return state


def sample_fn(generator):
  """sample(variables, key, n) -> n images in [-1, 1], BatchNorm on running averages."""

  def sample(variables, key, n):
    z = jax.random.normal(key, (n, generator.latent_dim))
    return generator.apply(variables, z, train=False)

  return sample


# ----------------------------------------------------------------------------
# The step.


def critic_updates(critic, critic_state: common.TrainState, reals, make_fakes, key,
                   penalty_weight: float):
  """len(reals) WGAN-GP critic updates, one per real batch, in one lax.scan.

  `reals`: (n_critic, B, H, W, C) images in [-1, 1]; `make_fakes(key)` gives
  a batch of generated images (no gradient flows back to their generator).
  Returns the critic state and the metrics averaged over the updates.
  """

  def update(state, inputs):
    real, index = inputs
    fake_key, penalty_key = jax.random.split(jax.random.fold_in(key, index))
    fake = jax.lax.stop_gradient(make_fakes(fake_key))

    def loss_fn(params):
      score = lambda x: critic.apply({"params": params}, x)
      scores = score(jnp.concatenate([real, fake]))  # one pass; no batch statistics
      real_scores, fake_scores = jnp.split(scores, 2)
      penalty = losses.gradient_penalty(score, real, fake, penalty_key)
      critic_loss = losses.wgan_critic_loss(real_scores, fake_scores)
      return critic_loss + penalty_weight * penalty, (critic_loss, penalty)

    (total, (critic_loss, penalty)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    metrics = {"critic_loss": total, "wasserstein_estimate": -critic_loss,
               "gradient_penalty": penalty}
    return state.apply_gradients(grads=grads), metrics

  # Unrolled: XLA:CPU ran the convolutions inside a rolled loop ~15x slower
  # (5 updates, d=32, Flax convolutions: 26.7 s rolled, 1.8 s unrolled). n_critic is
  # small, so the unrolled program stays small.
  state, metrics = jax.lax.scan(update, critic_state, (reals, jnp.arange(len(reals))),
                                unroll=True)
  return state, jax.tree.map(jnp.mean, metrics)


def train_mode_images(generator, state: common.TrainState, z):
  """Generator outputs on batch statistics; the running averages are left alone."""
  images, _ = generator.apply(state.variables, z, train=True, mutable=["batch_stats"])
  return images


def make_step(generator, critic, c):
  """step(state, real_batches (n_critic, B, ...) uint8, key) -> (state, metrics)."""
  batch_size, latent_dim = c.batch_size, c.generator.latent_dim
  penalty_weight = c.gradient_penalty

  def step(state: GanState, real_batches, key):
    key = jax.random.fold_in(key, state.generator.step)
    g = state.generator
    make_fakes = lambda k: train_mode_images(
        generator, g, jax.random.normal(k, (batch_size, latent_dim)))
    critic_state, metrics = critic_updates(
        critic, state.critic, image_data.to_tanh_range(real_batches), make_fakes,
        jax.random.fold_in(key, 0), penalty_weight)
    z = jax.random.normal(jax.random.fold_in(key, 1), (batch_size, latent_dim))

    def generator_loss(params):
      images, updates = generator.apply({"params": params, "batch_stats": g.batch_stats}, z,
                                        train=True, mutable=["batch_stats"])
      scores = critic.apply({"params": critic_state.params}, images)
      return losses.wgan_generator_loss(scores), (images, updates["batch_stats"])

    (g_loss, (images, g_stats)), grads = jax.value_and_grad(generator_loss, has_aux=True)(g.params)
    metrics.update(generator_loss=g_loss,
                   generated_batch_std=jnp.mean(jnp.std(images, axis=0)))
    return GanState(g.apply_gradients(grads=grads, batch_stats=g_stats), critic_state), metrics

  return step


def jit_step(step_fn):
  repl = parallel.replicated()
  return jax.jit(step_fn, donate_argnums=0, in_shardings=(repl, parallel.stacked_batch_sharded(), repl),
                 out_shardings=(repl, repl))


def init_key(config, phase: str) -> jax.Array:
  """The key that initialises a phase's networks, from (seed, phase).

  An RBG key: XLA:CPU compiles threefry's bits for each parameter shape
  slowly (a DCGAN generator + critic took ~20 s to initialise, ~3 s with
  RBG). Steps keep the threefry phase key, whose draws do not depend on how
  the batch is sharded.
  """
  return jax.random.key(common.phase_seed(config.seed, phase + "/init"), impl="rbg")


def create_state(generator, critic, key, c, image_shape) -> GanState:
  g_key, c_key = jax.random.split(key)
  g_state, _ = common.create_generator_state(
      generator, g_key, (c.generator.latent_dim,), c.generator_optimizer, c.num_steps)
  c_state = create_critic_state(critic, c_key, image_shape, c.critic_optimizer,
                                c.num_steps * c.n_critic)
  return GanState(g_state, c_state)


# ----------------------------------------------------------------------------
# The phase.


def check_phase(c, phase: str) -> None:
  if c.n_critic < 1:
    raise ValueError(f"{phase}.n_critic={c.n_critic}: the critic needs at least one update "
                     "per generator step.")
  parallel.check_batch_size(c.batch_size)


def grid_latents(config, phase: str, latent_dim: int):
  """The latents of the sample grids: the same for every phase of a run."""
  del phase
  return jax.random.normal(common.phase_key(config.seed, "sample_grid"), (GRID_SIZE, latent_dim))


def run(config, phase: str, workdir: str, inputs: dict) -> common.TrainedGenerator:
  c = config[phase]
  check_phase(c, phase)
  dataset = load_dataset(config.data)
  check_image_shape(c.generator, dataset.image_shape, phase)
  generator = build_generator(c.generator)
  critic = build_critic(c.critic, c.generator.image_size)
  sample = sample_fn(generator)
  evaluator, extractor_name = gq.evaluator_for(config, inputs, dataset, sample)
  path, writer = common.start_phase(config, phase, workdir)
  key = common.phase_key(config.seed, phase)
  state = create_state(generator, critic, init_key(config, phase), c, dataset.image_shape)
  batcher = StackedBatcher(dataset.train_images, c.batch_size, c.n_critic,
                           common.phase_seed(config.seed, phase))
  step = jit_step(make_step(generator, critic, c))
  grid_z = grid_latents(config, phase, c.generator.latent_dim)
  grid = jax.jit(lambda v: generator.apply(v, grid_z, train=False))

  def evaluate(s: GanState, step_done: int):
    """Monitoring only: the reported numbers are the final step's."""
    samples = gq.image_grid(np.asarray(grid(s.generator.variables)))[None]
    writer.write_images(step_done, {"samples": samples})
    return evaluator(s.generator.variables)

  settings = train_loop.LoopSettings.from_config(phase, workdir, c, c.num_steps)
  result = train_loop.run(settings, state, lambda s, b: step(s, b, key), batcher.batch, writer,
                          evaluate)
  variables = result.state.generator.variables
  writer.write_images(c.num_steps, {"samples": gq.image_grid(np.asarray(grid(variables)))[None]})
  extra = {"critic_params": models.count_params(result.state.critic.params)}
  return finish(config, phase, workdir, writer, result, result.state.generator, generator,
                c.generator, evaluator, extractor_name, sample, extra)


def finish(config, phase, workdir, writer, result, generator_state, generator, generator_config,
           evaluator, extractor_name, sample, extra=None) -> common.TrainedGenerator:
  """Rates the final generator (never a chosen checkpoint) and records it in results.json."""
  c = config[phase]
  variables = generator_state.variables
  metrics = evaluator(variables)
  writer.write_scalars(c.num_steps, metrics)
  writer.flush()
  metrics.update(extra or {})
  metrics.update(steps=c.num_steps, params=models.count_params(variables["params"]),
                 width=generator_config.width, feature_extractor=extractor_name,
                 num_samples=evaluator.num_samples)
  if result.trained_steps:
    metrics["train_examples_per_sec"] = result.examples_per_sec
  logging.info("[%s] final: %s", phase, metrics)
  shown = " ".join(f"{k}={metrics[k]:.4g}" for k in ("inception_score", "fid", "sharpness")
                   if k in metrics)
  print(f"[{phase}] final after {c.num_steps} steps: {shown} ({metrics['params']:,} params)",
        flush=True)
  reporting.record_results(workdir, phase, metrics)
  gq.write_sweep_table(config, workdir)
  return common.TrainedGenerator(generator, variables, generator_config, metrics, sample)
