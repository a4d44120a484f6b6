"""GAN-TSC's image GAN: a class-conditional AC-GAN on the teacher's training data.

One jitted step (state donated), in the order of the AC-GAN paper:
  discriminator update: real images vs fresh fakes, source (real/fake) loss
      plus the class loss on both; the generator runs on batch statistics
      but its statistics are not kept (they belong to its own update)
  generator update: fresh fakes through the updated discriminator,
      non-saturating source loss plus the class loss
With `conditional=False` the same networks train as an unconditional GAN
(one label for everything, no class loss): the TSC Score table compares both.

`loss='hinge'` trains the same generator against a projection discriminator
(`projection_discriminator`: D(x, y) with spectral normalisation, Miyato &
Koyama 2018) with the hinge loss, in the same order (discriminator, then
generator on fresh fakes); the class enters through D's projection, not a
class loss. The spectral norms' power iterations advance with each
discriminator update and are kept in its `batch_stats`. Its block's
`discriminator_steps` (n, the projection authors' n_dis) gives each
generator step n discriminator updates, each on its own real batch and fresh
fakes; the host delivers the n batches stacked, and the discriminator's
learning-rate schedule counts its own updates.

Either loss can keep an exponential moving average of the generator's
parameters (`generator_ema_decay` > 0, in the state's `generator_ema` as
{'params': ...}; Yazici et al. 2019): the phase then hands on, and monitors,
the average. The average was never run as a network, so its BatchNorm
statistics are recomputed before each use ("standing statistics": the
running averages taken over STANDING_BATCHES fresh batches of its own
samples, from the last generator's); the monitor then also reports the last
parameters' agreement (`teacher_agreement_last_params`).

The phase hands later phases a frozen generator whose `sample(variables, key,
n)` draws n images in [-1, 1] with their requested labels, inside jit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from gan_tsc import losses, models, optim, parallel, reporting, train_loop
from gan_tsc.data import batching
from gan_tsc.data import images as image_data
from gan_tsc.ops import pixels
from gan_tsc.phases import shared
from gan_tsc.phases.shared.gan import GanState
from gan_tsc.trained import TrainedGenerator, TrainState


def build_networks(c, num_classes: int, channels: int, image_size: int):
  """(generator, discriminator) of a `gan` block; one label when unconditional."""
  labels = num_classes if c.conditional else 1
  generator = models.build_generator(c.generator, num_labels=labels, channels=channels,
                                     image_size=image_size)
  discriminator = models.build_adversary(c.discriminator, num_labels=labels)
  return generator, discriminator


def make_sampler(generator, latent_dim: int, num_labels: int):
  """sample(variables, key, n, labels=None) -> (images in [-1, 1], labels).

  The frozen generator runs on its running averages. Labels are uniform over
  the classes unless given.
  """

  def sample(variables, key, n, labels=None):
    z_key, label_key = jax.random.split(key)
    if labels is None:
      labels = parallel.shard_rows(jax.random.randint(label_key, (n,), 0, num_labels))
    z = parallel.normal_rows(z_key, n, latent_dim)
    return generator.apply(variables, z, labels, train=False), labels

  return sample


LOSSES = ("acgan", "hinge")

# Batches (and their size) over which an averaged generator's BatchNorm
# statistics are recomputed: with momentum 0.9 the starting statistics weigh
# 0.9**100 < 1e-4 at the end.
STANDING_BATCHES, STANDING_BATCH_SIZE = 100, 256


def ema_decay(c) -> float:
  """The generator's weight-average decay per step (0 where the block has none:
  the phase hands on its last parameters)."""
  return c.get("generator_ema_decay", 0.0)


def with_average(state: GanState, decay: float) -> GanState:
  """The state after a generator update, its parameter average (if kept) moved
  toward the new parameters by 1 - decay."""
  if state.generator_ema is None:
    return state
  average = optax.incremental_update(state.generator.params, state.generator_ema["params"],
                                     1.0 - decay)
  return state.replace(generator_ema={"params": average})


def standing_statistics(generator, latent_dim: int, num_labels: int, key):
  """(params, batch_stats) -> generator variables whose BatchNorm statistics are
  those of `params`' own samples: STANDING_BATCHES batches of fresh fakes (the
  same latents every call), starting from `batch_stats`."""
  fakes = fake_batch(generator, latent_dim, num_labels)
  # A host loop over one jitted batch: XLA:CPU runs convolutions inside a
  # rolled loop several times slower (shared/gan.py's critic_updates).
  update = jax.jit(lambda params, stats, k: fakes(params, stats, k, STANDING_BATCH_SIZE)[2])

  def variables(params, batch_stats):
    for i in range(STANDING_BATCHES):
      batch_stats = update(params, batch_stats, jax.random.fold_in(key, i))
    return {"params": params, "batch_stats": batch_stats}

  return variables


def handed_variables(state: GanState, standing) -> dict:
  """What the phase hands on: the generator's last variables, or its parameter
  average with standing statistics (`standing_statistics`)."""
  if state.generator_ema is None:
    return state.generator.variables
  return standing(state.generator_ema["params"], state.generator.batch_stats)


def discriminator_steps(c) -> int:
  """Discriminator updates per generator step: the hinge GAN's `discriminator_steps`
  (1 where the block has none: the AC-GAN's own order, one of each)."""
  n = c.get("discriminator_steps", 1)
  if not isinstance(n, int) or n < 1:
    raise ValueError(f"discriminator_steps={n!r}: the discriminator needs at least one update "
                     "per generator step.")
  if n > 1 and c.loss != "hinge":
    raise ValueError(f"discriminator_steps={n} trains the hinge GAN only (loss='hinge'); the "
                     "AC-GAN takes one discriminator update per generator step.")
  return n


def make_step(generator, discriminator, c, num_labels: int):
  """step(state, batch, key) -> (state, metrics), by `c.loss`."""
  if c.loss not in LOSSES:
    raise ValueError(f"Unknown GAN loss {c.loss!r}; choose one of {LOSSES} (--config.gan.loss).")
  if (c.loss == "hinge") != (c.discriminator.name == "projection_discriminator"):
    raise ValueError(f"gan.loss={c.loss!r} with discriminator {c.discriminator.name!r}: the "
                     "hinge loss trains a projection_discriminator, the AC-GAN loss an "
                     "acgan_discriminator (--config.gan.discriminator.name).")
  discriminator_steps(c)  # a bad count fails here, for either loss
  if c.loss == "hinge":
    return make_hinge_step(generator, discriminator, c, num_labels)
  return make_acgan_step(generator, discriminator, c, num_labels)


def fake_batch(generator, latent_dim: int, num_labels: int):
  """(g_params, g_stats, key, n) -> (images, labels, generator batch_stats): n fresh
  fakes of uniform random classes, the generator on batch statistics."""

  def fakes(g_params, g_stats, key, n):
    z_key, label_key = jax.random.split(key)
    labels = parallel.shard_rows(jax.random.randint(label_key, (n,), 0, num_labels))
    z = parallel.normal_rows(z_key, n, latent_dim)
    images, updates = generator.apply({"params": g_params, "batch_stats": g_stats}, z, labels,
                                      train=True, mutable=["batch_stats"])
    return images, labels, updates["batch_stats"]

  return fakes


def discriminator_inputs(fakes, conditional: bool, g, batch, key):
  """A discriminator update's inputs, for either loss: (real images in [-1, 1], their
  labels (all 0 when unconditional), fresh fakes of generator state `g` without
  gradient, their labels)."""
  real = pixels.to_tanh_range(batch["image"])
  real_labels = batch["label"] if conditional else jnp.zeros_like(batch["label"])
  fake, fake_labels, _ = fakes(g.params, g.batch_stats, key, real.shape[0])
  return real, real_labels, jax.lax.stop_gradient(fake), fake_labels


def make_hinge_step(generator, discriminator, c, num_labels: int):
  """The hinge GAN with a projection discriminator: step(state, batch, key); with
  `discriminator_steps` n > 1 the batch is stacked, (n, B, ...)."""
  fakes = fake_batch(generator, c.generator.latent_dim, num_labels)
  n, decay = discriminator_steps(c), ema_decay(c)

  def discriminator_update(g, d, real_batch, key):
    real, real_labels, fake, fake_labels = discriminator_inputs(fakes, c.conditional, g,
                                                                real_batch, key)

    def d_loss_fn(d_params):
      # Both passes normalise by the same power iteration (from the stored
      # vectors); the real pass keeps its result, one iteration per update.
      variables = {"params": d_params, "batch_stats": d.batch_stats}
      real_out, updates = discriminator.apply(variables, real, real_labels, train=True,
                                              mutable=["batch_stats"])
      fake_out = discriminator.apply(variables, fake, fake_labels, train=False)
      return (losses.hinge_discriminator_loss(real_out, fake_out),
              (real_out, fake_out, updates["batch_stats"]))

    (d_loss, (real_out, fake_out, d_stats)), d_grads = jax.value_and_grad(
        d_loss_fn, has_aux=True)(d.params)
    return d.apply_gradients(grads=d_grads, batch_stats=d_stats), (d_loss, real_out, fake_out)

  def step(state: GanState, batch, key):
    g, d = state.generator, state.critic
    d_key, g_key = jax.random.split(jax.random.fold_in(key, g.step))
    if n == 1:
      updates = [(batch, d_key)]
    else:  # unrolled: n is small (the note in shared/gan.py's critic_updates)
      updates = [(jax.tree.map(lambda a, i=i: a[i], batch), jax.random.fold_in(d_key, i))
                 for i in range(n)]
    for real_batch, update_key in updates:
      d, (d_loss, real_out, fake_out) = discriminator_update(g, d, real_batch, update_key)
    batch_size = batch["label"].shape[-1]

    def g_loss_fn(g_params):
      images, labels, stats = fakes(g_params, g.batch_stats, g_key, batch_size)
      out = discriminator.apply(d.variables, images, labels, train=False)
      return losses.hinge_generator_loss(out), stats

    (g_loss, g_stats), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(g.params)
    # The discriminator's figures are its last update's.
    metrics = {"d_loss": d_loss, "g_loss": g_loss,
               "d_real_score": jnp.mean(real_out), "d_fake_score": jnp.mean(fake_out)}
    return with_average(state.replace(
        generator=g.apply_gradients(grads=g_grads, batch_stats=g_stats), critic=d),
        decay), metrics

  return step


def make_acgan_step(generator, discriminator, c, num_labels: int):
  """The AC-GAN: step(state, batch, key) -> (state, metrics)."""
  class_weight = c.class_loss_weight if c.conditional else 0.0
  latent_dim, decay = c.generator.latent_dim, ema_decay(c)

  def class_loss(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

  fakes = fake_batch(generator, latent_dim, num_labels)

  def step(state: GanState, batch, key):
    g, d = state.generator, state.critic
    d_key, g_key = jax.random.split(jax.random.fold_in(key, g.step))
    real, real_labels, fake, fake_labels = discriminator_inputs(fakes, c.conditional, g, batch,
                                                                d_key)
    n = real.shape[0]

    def d_loss_fn(d_params):
      real_source, real_classes = discriminator.apply({"params": d_params}, real)
      fake_source, fake_classes = discriminator.apply({"params": d_params}, fake)
      source = losses.gan_discriminator_loss(real_source, fake_source)
      classes = class_loss(real_classes, real_labels) + class_loss(fake_classes, fake_labels)
      return source + class_weight * classes, (real_source, fake_source, real_classes, classes)

    (d_loss, (real_source, fake_source, real_classes, d_class_loss)), d_grads = jax.value_and_grad(
        d_loss_fn, has_aux=True)(d.params)
    d = d.apply_gradients(grads=d_grads)

    def g_loss_fn(g_params):
      images, labels, stats = fakes(g_params, g.batch_stats, g_key, n)
      source, classes = discriminator.apply({"params": d.params}, images)
      g_class_loss = class_loss(classes, labels)
      return (losses.gan_generator_loss(source) + class_weight * g_class_loss,
              (stats, classes, labels, g_class_loss))

    (g_loss, (g_stats, fake_classes, labels, g_class_loss)), g_grads = jax.value_and_grad(
        g_loss_fn, has_aux=True)(g.params)
    metrics = {
        "d_loss": d_loss, "g_loss": g_loss,
        # The class terms alone (unweighted): these fall as the AC-GAN learns;
        # the source terms see-saw, as adversarial losses do.
        "d_class_loss": d_class_loss, "g_class_loss": g_class_loss,
        "d_real_prob": jnp.mean(jax.nn.sigmoid(real_source)),
        "d_fake_prob": jnp.mean(jax.nn.sigmoid(fake_source)),
        "d_real_class_accuracy": jnp.mean(jnp.argmax(real_classes, -1) == real_labels),
        "d_fake_class_accuracy": jnp.mean(jnp.argmax(fake_classes, -1) == labels),
    }
    return with_average(state.replace(
        generator=g.apply_gradients(grads=g_grads, batch_stats=g_stats), critic=d),
        decay), metrics

  return step


def create_state(generator, discriminator, key, c, image_shape, num_steps) -> GanState:
  g_tx, _ = optim.build(c.generator_optimizer, num_steps)
  d_tx, _ = optim.build(c.discriminator_optimizer, num_steps * discriminator_steps(c))
  g_key, d_key = jax.random.split(key)

  def init():
    z = jnp.zeros((2, c.generator.latent_dim), jnp.float32)
    labels = jnp.zeros((2,), jnp.int32)
    g_vars = generator.init(g_key, z, labels, train=False)
    images = jnp.zeros((2,) + tuple(image_shape), jnp.float32)
    d_vars = (discriminator.init(d_key, images, labels, train=False) if c.loss == "hinge"
              else discriminator.init(d_key, images))
    return GanState(
        TrainState.create(apply_fn=generator.apply, params=g_vars["params"], tx=g_tx,
                          batch_stats=g_vars["batch_stats"]),
        TrainState.create(apply_fn=discriminator.apply, params=d_vars["params"], tx=d_tx,
                          batch_stats=d_vars.get("batch_stats", {})),
        {"params": g_vars["params"]} if ema_decay(c) else None)

  return jax.jit(init, out_shardings=parallel.replicated())()


def class_grid_sampler(generator, latent_dim: int, num_labels: int, key, columns: int = 8):
  """A jitted function: variables -> one image, a row per class, a column per latent."""
  z = jnp.tile(jax.random.normal(key, (1, columns, latent_dim)), (num_labels, 1, 1))
  z = z.reshape(num_labels * columns, latent_dim)
  labels = jnp.repeat(jnp.arange(num_labels), columns)
  draw = jax.jit(lambda v: pixels.tanh_to_unit(generator.apply(v, z, labels, train=False)))
  return lambda variables: reporting.image_grid(draw(variables), columns)


def teacher_agreement(teacher, dataset, sample, num_samples: int = 1000):
  """Share of conditional samples the teacher puts in the requested class."""

  @jax.jit
  def agree(variables, teacher_variables, key):
    images, labels = sample(variables, key, num_samples)
    logits = teacher.model.apply(teacher_variables,
                                 pixels.from_tanh_range(images, dataset.mean, dataset.std),
                                 train=False)
    return jnp.mean(jnp.argmax(logits, -1) == labels)

  return lambda variables, key: float(agree(variables, teacher.variables, key))


def run(config, phase: str, workdir: str, inputs: dict) -> TrainedGenerator:
  c = config[phase]
  dataset = image_data.load(config.data)
  num_labels = dataset.num_classes if c.conditional else 1
  size, channels = dataset.image_shape[0], dataset.image_shape[-1]
  generator, discriminator = build_networks(c, dataset.num_classes, channels, size)
  p = shared.start(config, phase, workdir)
  parallel.check_batch_size(c.batch_size)
  stacks = discriminator_steps(c)
  batcher = batching.EpochBatcher(
      {"image": dataset.train_images, "label": dataset.train_labels}, c.batch_size, p.seed,
      stacks=stacks, hint=f"lower --config.{phase}.batch_size or .discriminator_steps")
  num_steps = train_loop.num_steps_of(c, batcher.steps_per_epoch)
  state = create_state(generator, discriminator, p.key, c, dataset.image_shape, num_steps)
  sample = make_sampler(generator, c.generator.latent_dim, num_labels)
  grid = class_grid_sampler(generator, c.generator.latent_dim, num_labels, p.subkey("grid"))
  teacher = inputs.get(c.teacher or None)
  agreement = (teacher_agreement(teacher, dataset, sample, c.teacher_agreement_samples)
               if teacher and c.conditional else None)
  monitor_key = p.subkey("monitor")
  standing = standing_statistics(generator, c.generator.latent_dim, num_labels,
                                 p.subkey("standing"))

  def evaluate(state: GanState, step_done: int):
    """(the variables handed on, monitoring metrics): a class-by-class sample grid,
    and the teacher's view of the samples (of the last parameters too, when the
    phase hands on their average)."""
    variables = handed_variables(state, standing)
    p.writer.write_images(step_done, {"generator/samples_by_class": grid(variables)})
    metrics = {}
    if agreement:
      metrics["teacher_agreement"] = agreement(variables, monitor_key)
      if state.generator_ema is not None:
        metrics["teacher_agreement_last_params"] = agreement(state.generator.variables,
                                                             monitor_key)
    return variables, metrics

  extra = {"discriminator_params": models.count_params(state.critic.params)}
  if c.checkpoint:  # a finished generator of another run instead of training
    restored = shared.restore_handoff(p, state.generator.variables, "generator")
    final = state.replace(generator=state.generator.replace(**restored))
    if state.generator_ema is not None:
      final = final.replace(generator_ema=shared.restore_handoff(p, state.generator_ema,
                                                                 "generator_ema"))
    num_steps, result = 0, None
  else:
    step = shared.jit_step(make_step(generator, discriminator, c, num_labels),
                           batch="stacked" if stacks > 1 else "data")
    reporting.write_real_grid(p.writer, dataset.train_images)
    result = shared.train(p, state, step, batcher.batch, num_steps,
                          evaluate=lambda s, done: evaluate(s, done)[1])
    final = result.state
  variables, final_metrics = evaluate(final, num_steps)
  metrics = shared.finish(p, final_metrics, num_steps, result,
                          params=models.count_params(variables["params"]), **extra)
  return TrainedGenerator(generator, variables, c.generator, metrics, sample)
