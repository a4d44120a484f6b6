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

The critic updates live in phases/shared/gan.py, shared with the compress
phase's joint loss and the tabular GAN.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gan_tsc import losses, models, parallel, reporting
from gan_tsc.data import batching
from gan_tsc.ops import pixels
from gan_tsc.phases import shared
from gan_tsc.phases.shared import gan
from gan_tsc.trained import TrainedGenerator

def make_step(generator, critic, c):
  """step(state, {'image': (n_critic, B, ...) uint8}, key) -> (state, metrics)."""
  batch_size, latent_dim = c.batch_size, c.generator.latent_dim
  score = lambda params, x, _: critic.apply({"params": params}, x)

  def step(state: gan.GanState, batch, key):
    key = jax.random.fold_in(key, state.generator.step)
    g = state.generator
    make_fakes = lambda k, _: gan.train_mode_images(
        generator, g, parallel.normal_rows(k, batch_size, latent_dim))
    critic_state, metrics = gan.critic_updates(
        score, state.critic, pixels.to_tanh_range(batch["image"]), None, make_fakes,
        jax.random.fold_in(key, 0), c.gradient_penalty)
    z = parallel.normal_rows(jax.random.fold_in(key, 1), batch_size, latent_dim)

    def generator_loss(params):
      images, updates = generator.apply({"params": params, "batch_stats": g.batch_stats}, z,
                                        train=True, mutable=["batch_stats"])
      scores = critic.apply({"params": critic_state.params}, images)
      return losses.wgan_generator_loss(scores), (images, updates["batch_stats"])

    (g_loss, (images, g_stats)), grads = jax.value_and_grad(generator_loss, has_aux=True)(g.params)
    metrics.update(generator_loss=g_loss,
                   generated_batch_std=jnp.mean(jnp.std(images, axis=0)))
    return gan.GanState(g.apply_gradients(grads=grads, batch_stats=g_stats), critic_state), metrics

  return step


def create_state(generator, critic, key, c, image_shape) -> gan.GanState:
  g_key, c_key = jax.random.split(key)
  g_state, _ = shared.create_generator_state(
      generator, g_key, (c.generator.latent_dim,), c.generator_optimizer, c.num_steps)
  c_state, _ = shared.create_classifier_state(critic, c_key, image_shape, c.critic_optimizer,
                                              c.num_steps * c.n_critic)
  return gan.GanState(g_state, c_state)


def run(config, phase: str, workdir: str, inputs: dict) -> TrainedGenerator:
  c = config[phase]
  dataset, generator, critic, evaluator, extractor_name, p = gan.start_dcgan_phase(
      config, phase, workdir, inputs, c.generator)
  state = create_state(generator, critic, shared.init_key(config.seed, phase), c,
                       dataset.image_shape)
  critic_params = models.count_params(state.critic.params)
  if c.checkpoint:  # a finished generator of another run instead of training
    variables = shared.restore_handoff(p, state.generator.variables, "generator")
    return gan.rate(p, generator, variables, evaluator, extractor_name, 0, c.generator,
                critic_params=critic_params)

  batcher = batching.EpochBatcher({"image": dataset.train_images}, c.batch_size, p.seed,
                                  stacks=c.n_critic)
  step = shared.jit_step(make_step(generator, critic, c), batch="stacked")
  grid_z = gan.grid_latents(config, c.generator.latent_dim)
  grid = jax.jit(lambda v: generator.apply(v, grid_z, train=False))

  def write_samples(s: gan.GanState, step_done: int):
    unit = pixels.tanh_to_unit(grid(s.generator.variables))
    p.writer.write_images(step_done, {"generator/samples": reporting.image_grid(unit)})

  def evaluate(s: gan.GanState, step_done: int):
    """Monitoring only: the reported numbers are the final step's."""
    write_samples(s, step_done)
    return evaluator(s.generator.variables)

  reporting.write_real_grid(p.writer, dataset.train_images)
  result = shared.train(p, state, step, batcher.batch, c.num_steps, evaluate=evaluate)
  write_samples(result.state, c.num_steps)
  return gan.rate(p, generator, result.state.generator.variables, evaluator, extractor_name,
              c.num_steps, c.generator, result, critic_params=critic_params)
