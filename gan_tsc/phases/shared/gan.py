"""The parts GAN phases share: one GAN state, the WGAN-GP critic updates, samplers.

Used by GAN-KD's teacher and scratch GANs (wgan_gp), its joint-loss students
(compress_generator), GAN-TSC's AC-GAN and its tabular WGAN-GP.
"""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp

from gan_tsc import losses, models, parallel
from gan_tsc.data import images as image_data
from gan_tsc.metrics import generator_quality as gq
from gan_tsc.phases import shared
from gan_tsc.trained import TrainedGenerator, TrainState

# Fixed latents of the TensorBoard sample grids.
GRID_SIZE = 64


@flax.struct.dataclass
class GanState:
  generator: TrainState
  critic: TrainState  # a WGAN-GP critic, or the AC-GAN's discriminator
  # What the phase hands on when it is not the last parameters (the tabular
  # GAN's moving average of its generator's parameters); None otherwise.
  generator_ema: Any = None


def check_n_critic(c, phase: str) -> None:
  if c.n_critic < 1:
    raise ValueError(f"{phase}.n_critic={c.n_critic}: the critic needs at least one update "
                     "per generator step.")


def critic_updates(score, critic_state: TrainState, reals, conditions, make_fakes, key,
                   penalty_weight: float):
  """len(reals) WGAN-GP critic updates, one per real batch, in one lax.scan.

  `score(params, x, condition)` -> (B,) critic scores; `reals` (n_critic, B,
  ...) in the GAN's space, with `conditions` (n_critic, B) labels or None;
  `make_fakes(key, condition)` gives a generated batch (no gradient flows back
  to its generator). Each update draws its fakes and penalty interpolates
  from fold_in(key, update index). Returns the critic state and the metrics
  averaged over the updates.
  """

  def update(state, inputs):
    real, condition, index = inputs
    fake_key, penalty_key = jax.random.split(jax.random.fold_in(key, index))
    fake = jax.lax.stop_gradient(make_fakes(fake_key, condition))
    both = None if condition is None else jnp.concatenate([condition, condition])

    def loss_fn(params):
      scores = score(params, jnp.concatenate([real, fake]), both)  # one pass
      real_scores, fake_scores = jnp.split(scores, 2)
      penalty = losses.gradient_penalty(lambda x: score(params, x, condition), real, fake,
                                        penalty_key)
      critic_loss = losses.wgan_critic_loss(real_scores, fake_scores)
      return critic_loss + penalty_weight * penalty, (critic_loss, penalty)

    (total, (critic_loss, penalty)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    metrics = {"critic_loss": total, "wasserstein_estimate": -critic_loss,
               "gradient_penalty": penalty}
    return state.apply_gradients(grads=grads), metrics

  # Unrolled: XLA:CPU ran the convolutions inside a rolled loop ~15x slower
  # (5 updates, d=32, Flax convolutions: 26.7 s rolled, 1.8 s unrolled). n_critic is
  # small, so the unrolled program stays small.
  state, metrics = jax.lax.scan(update, critic_state, (reals, conditions, jnp.arange(len(reals))),
                                unroll=True)
  return state, jax.tree.map(jnp.mean, metrics)


def train_mode_images(generator, state: TrainState, z):
  """Generator outputs on batch statistics; the running averages are left alone."""
  images, _ = generator.apply(state.variables, z, train=True, mutable=["batch_stats"])
  return images


def unconditional_sampler(generator):
  """sample(variables, key, n, labels=None) -> (n images in [-1, 1], None), BatchNorm
  on running averages: the TrainedGenerator contract for an unconditional generator."""

  def sample(variables, key, n, labels=None):
    if labels is not None:
      raise ValueError("This generator is unconditional: it takes no labels.")
    z = parallel.normal_rows(key, n, generator.latent_dim)
    return generator.apply(variables, z, train=False), None

  return sample


# ----------------------------------------------------------------------------
# GAN-KD's DCGANs: the teacher, the scratch baselines and the students.


def check_image_shape(generator_config, image_shape, phase: str) -> None:
  made = (generator_config.image_size, generator_config.image_size, generator_config.channels)
  if made != tuple(image_shape):
    raise ValueError(
        f"{phase}: the generator makes {made} images but the data are {tuple(image_shape)}; "
        "set --config.data.image_size or the generator's image_size / channels to match.")


def start_dcgan_phase(config, phase: str, workdir: str, inputs: dict, generator_block,
                      with_critic: bool = True):
  """The common start of GAN-KD's phases: checks, data, networks, rating, folder.

  Returns (dataset, generator, critic, evaluator, extractor_name, phase).
  """
  c = config[phase]
  if with_critic:
    check_n_critic(c, phase)
  parallel.check_batch_size(c.batch_size)
  dataset = image_data.load(config.data)
  check_image_shape(generator_block, dataset.image_shape, phase)
  generator, critic = build_networks(c, generator_block, generator_block.image_size)
  evaluator, extractor_name = gq.evaluator_for(config, inputs, dataset,
                                               unconditional_sampler(generator))
  return (dataset, generator, critic, evaluator, extractor_name,
          shared.start(config, phase, workdir))


def build_networks(c, generator_block, image_size: int):
  """A DCGAN generator (GAN-KD trains DCGANs) and, for a critic block, its critic."""
  if generator_block.name != "dcgan":
    raise ValueError(f"GAN-KD trains DCGAN generators; got generator.name="
                     f"{generator_block.name!r} (use 'dcgan').")
  return (models.build_generator(generator_block),
          models.build_adversary(c.critic, image_size=image_size))


def grid_latents(config, latent_dim: int):
  """The latents of the sample grids: the same for every phase of a run."""
  return jax.random.normal(shared.phase_key(config.seed, "sample_grid"), (GRID_SIZE, latent_dim))


def rate(p: shared.Phase, generator, variables, evaluator, extractor_name: str, num_steps: int,
         generator_block, result=None, **extra) -> TrainedGenerator:
  """Rates a final generator (never a chosen checkpoint) and records it; GAN-KD's table."""
  metrics = shared.finish(p, evaluator(variables), num_steps, result, **extra,
                          params=models.count_params(variables["params"]),
                          width=generator_block.width, feature_extractor=extractor_name,
                          num_samples=evaluator.num_samples)
  gq.write_sweep_table(p.config, p.workdir)
  return TrainedGenerator(generator, variables, generator_block, metrics,
                          unconditional_sampler(generator))
