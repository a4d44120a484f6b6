"""Data-free distillation of a frozen teacher into a student: DAFL and the methods after it.

One jitted step per iteration (state donated, teacher passed in as an argument):
  `generator_updates` times: z ~ N(0, I) drawn on device -> generator (batch
      statistics) -> images -> teacher(images), eval mode -> the generator's
      loss terms -> generator update (the generator learns only from these);
  `student_updates` times: student(stop_gradient(images)) vs the teacher's
      logits -> KL at `temperature` (or L1) -> student update. The first
      student update uses the images of the last generator update (DAFL's
      order); each further one draws fresh images from the updated generator.
The generator's loss is a weighted sum of named terms (`loss_weights`):
  one_hot, information_entropy, activation   DAFL's three;
  bn_statistics   the teacher's BatchNorm input statistics against its
                  running ones (DeepInversion, DFQ); needs a teacher with BN;
  adversarial     minus the student-teacher discrepancy (`adversarial_loss`:
                  'kl' or DFAD's 'l1'), through the student, whose parameters
                  the generator cannot move;
  total_variation, l2   DeepInversion's image priors.
A replay memory (`replay.size` > 0 images) keeps past generated batches and
their teacher logits on device, in the checkpointed state; every student
update also learns from `replay.mix` x batch_size of them, drawn at random,
and `replay.updates` further student updates per iteration learn from the
memory alone (no generator or teacher pass: the cheap updates).
`student_augment.kind='crop_flip'` shifts and flips what the student sees, not
what the teacher labelled: the memory's logits stay usable without a teacher pass.
The training data is never read; the test split only measures the student.
"""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np

from gan_tsc import losses, models, parallel, reporting
from gan_tsc.data import images as image_data
from gan_tsc.errors import UserError
from gan_tsc.metrics.classification import ClassifierEvaluator
from gan_tsc.models.classifiers import BN_INPUT_STATS
from gan_tsc.ops import pixels
from gan_tsc.phases import shared
from gan_tsc.trained import TrainedClassifier, TrainedGenerator, TrainState

GENERATOR_TERMS = ("one_hot", "information_entropy", "activation", "bn_statistics",
                   "adversarial", "total_variation", "l2")
DISCREPANCIES = ("kl", "l1")  # kd_kl at the phase's temperature, or DFAD's logit L1
STUDENT_AUGMENTS = ("none", "crop_flip")
# Folded into a student update's key for its augmentation, so that turning the
# augmentation on leaves the other random streams (the memory's draws) as they were.
_AUGMENT_STREAM = 1 << 20


@flax.struct.dataclass
class DaflState:
  generator: TrainState
  student: TrainState
  # The replay memory: {'images', 'logits', 'count'} or {} when off.
  memory: Any = flax.struct.field(default_factory=dict)


class DaflError(UserError, ValueError):
  """A data-free setup that cannot work; the message says why."""


def student_augment(c) -> dict:
  """The block's student_augment ('none' in blocks saved before the option existed)."""
  return c.get("student_augment", {"kind": "none", "pad": 0})


def check_settings(c) -> None:
  """Refuses impossible data-free settings before anything is built."""
  weights = c.loss_weights
  unknown = sorted(set(weights) - set(GENERATOR_TERMS))
  if unknown:
    raise DaflError(f"Unknown generator loss term(s) {unknown}; the terms are {GENERATOR_TERMS}.")
  for name in weights:
    if weights[name] < 0:
      raise DaflError(f"loss_weights.{name} must be >= 0 (0 = off), got {weights[name]}.")
  for key in ("adversarial_loss", "student_loss"):
    if c[key] not in DISCREPANCIES:
      raise DaflError(f"{key} must be one of {DISCREPANCIES}, got {c[key]!r}.")
  if c.generator_updates < 1 or c.student_updates < 1:
    raise DaflError("generator_updates and student_updates must be >= 1, got "
                    f"{c.generator_updates} and {c.student_updates}.")
  if c.replay.size < 0 or c.replay.size % c.batch_size:
    raise DaflError(f"replay.size must be a multiple of batch_size ({c.batch_size}) "
                    f"(0 = no replay), got {c.replay.size}.")
  if replay_updates(c) < 0 or (replay_updates(c) and not c.replay.size):
    raise DaflError(f"replay.updates (student updates on the memory alone) must be >= 0 "
                    f"and needs a replay memory (replay.size > 0), got {replay_updates(c)} "
                    f"with replay.size {c.replay.size}.")
  augment = student_augment(c)
  if augment["kind"] not in STUDENT_AUGMENTS or augment["pad"] < 0:
    raise DaflError(f"student_augment.kind must be one of {STUDENT_AUGMENTS} and its pad "
                    f">= 0, got {augment['kind']!r} with pad {augment['pad']}.")
  if c.replay.size and not 0 < c.replay.mix:
    raise DaflError(f"replay.mix (replayed images per student batch, as a share of "
                    f"batch_size) must be > 0 with a replay memory, got {c.replay.mix}.")


def replay_updates(c) -> int:
  return int(c.replay.get("updates", 0))


def student_updates_per_iteration(c) -> int:
  """What the student's schedule counts per iteration: fresh and memory-only updates."""
  return c.student_updates + replay_updates(c)


def discrepancy(name: str, temperature: float):
  """(student logits, teacher logits) -> the named student-teacher discrepancy."""
  if name == "kl":
    return lambda s, t: losses.kd_kl(s, t, temperature)
  return losses.logit_l1


def make_step(generator, teacher, student, config_phase, g_schedule, s_schedule):
  """step(state, batch(None), key, teacher_variables) -> (state, metrics)."""
  c = config_phase
  check_settings(c)
  weights = {k: float(c.loss_weights[k]) for k in c.loss_weights}
  batch_size, latent_dim = c.batch_size, c.generator.latent_dim
  student_loss_fn = discrepancy(c.student_loss, c.temperature)
  adversarial_fn = discrepancy(c.adversarial_loss, c.temperature)
  n_generator, n_student = c.generator_updates, c.student_updates
  replayed = int(round(c.replay.mix * batch_size)) if c.replay.size else 0
  n_replay = replay_updates(c)
  augment = student_augment(c)
  # The three DAFL terms are always computed (and logged); the others only when weighted.
  optional = {k for k in ("bn_statistics", "adversarial", "total_variation", "l2")
              if weights.get(k, 0.0) > 0}

  def teacher_outputs(teacher_variables, images):
    if "bn_statistics" in optional:
      (logits, features), stats = teacher.apply(teacher_variables, images, train=False,
                                                return_features=True, mutable=[BN_INPUT_STATS])
      return logits, features, losses.bn_statistics(stats[BN_INPUT_STATS],
                                                    teacher_variables["batch_stats"])
    logits, features = teacher.apply(teacher_variables, images, train=False,
                                     return_features=True)
    return logits, features, None

  def generate(g, z):
    return generator.apply({"params": g.params, "batch_stats": g.batch_stats}, z,
                           mutable=["batch_stats"])[0]

  def generator_update(g, s, z, teacher_variables):
    def generator_loss(g_params):
      images, g_updates = generator.apply({"params": g_params, "batch_stats": g.batch_stats},
                                          z, mutable=["batch_stats"])
      t_logits, t_features, bn_distance = teacher_outputs(teacher_variables, images)
      parts = {"one_hot": losses.dafl_one_hot(t_logits),
               "information_entropy": losses.dafl_information_entropy(t_logits),
               "activation": losses.dafl_activation(t_features)}
      if "bn_statistics" in optional:
        parts["bn_statistics"] = bn_distance
      if "adversarial" in optional:
        # The generator seeks images the student gets wrong. The student's
        # parameters are constants here; only the image is differentiated.
        s_logits, _ = student.apply({"params": s.params, "batch_stats": s.batch_stats},
                                    images, train=True, mutable=["batch_stats"])
        parts["adversarial"] = -adversarial_fn(s_logits, t_logits)
      if "total_variation" in optional:
        parts["total_variation"] = losses.total_variation(images)
      if "l2" in optional:
        parts["l2"] = losses.l2_prior(images)
      total = sum(weights.get(k, 0.0) * v for k, v in parts.items())
      return total, (images, t_logits, g_updates["batch_stats"], parts)

    (g_loss, (images, t_logits, g_stats, parts)), g_grads = jax.value_and_grad(
        generator_loss, has_aux=True)(g.params)
    g = g.apply_gradients(grads=g_grads, batch_stats=g_stats)
    return g, g_loss, parts, jax.lax.stop_gradient(images), jax.lax.stop_gradient(t_logits)

  def remember(memory, images, t_logits):
    """Writes a batch into the ring (size a multiple of the batch: no wrap inside one)."""
    size = memory["images"].shape[0]
    at = (memory["count"] % size).astype(jnp.int32)
    return {"images": jax.lax.dynamic_update_slice_in_dim(memory["images"], images, at, 0),
            "logits": jax.lax.dynamic_update_slice_in_dim(memory["logits"], t_logits, at, 0),
            "count": memory["count"] + images.shape[0]}

  def recall(memory, key, n):
    """n images drawn at random from the filled part of the memory, with their logits."""
    filled = jnp.minimum(memory["count"], memory["images"].shape[0])
    pick = jax.random.randint(key, (n,), 0, filled)
    return memory["images"][pick], memory["logits"][pick]

  def learn(s, images, t_logits, key):
    """One student update towards the teacher's logits; the logits of the first batch_size."""
    if augment["kind"] == "crop_flip":
      # Pads with 0: the normalised mean pixel (the generators emit normalised images).
      images = image_data.random_crop_flip(jax.random.fold_in(key, _AUGMENT_STREAM), images,
                                           pad=int(augment["pad"]))

    def student_loss(s_params):
      s_logits, s_updates = student.apply({"params": s_params, "batch_stats": s.batch_stats},
                                          images, train=True, mutable=["batch_stats"])
      return student_loss_fn(s_logits, t_logits), (
          s_logits[:batch_size], s_updates.get("batch_stats", s.batch_stats))

    (loss, (s_logits, s_stats)), s_grads = jax.value_and_grad(student_loss, has_aux=True)(
        s.params)
    return s.apply_gradients(grads=s_grads, batch_stats=s_stats), loss, s_logits

  def student_update(s, memory, images, t_logits, key):
    if replayed:
      memory = remember(memory, images, t_logits)
      old_images, old_logits = recall(memory, key, replayed)
      images = jnp.concatenate([images, old_images])
      t_logits = jnp.concatenate([t_logits, old_logits])
    s, loss, s_logits = learn(s, images, t_logits, key)
    return s, memory, loss, s_logits

  def step(state: DaflState, batch, key, teacher_variables):
    del batch  # data-free
    g, s, memory = state.generator, state.student, state.memory
    iteration = s.step // (n_student + n_replay)
    key = jax.random.fold_in(key, iteration)
    normal = lambda k: parallel.normal_rows(k, batch_size, latent_dim)
    z = normal(key)  # DAFL's one draw per iteration; further draws use fold_in(key, 1, 2, ...)
    g_lr, s_lr = g_schedule(g.step), s_schedule(s.step)
    for i in range(n_generator):
      if i:
        z = normal(jax.random.fold_in(key, i))
      g, g_loss, parts, images, t_logits = generator_update(g, s, z, teacher_variables)
    s, memory, kd, s_logits = student_update(s, memory, images, t_logits,
                                             jax.random.fold_in(key, n_generator))

    def fresh_student_update(carry, k):
      """A further student update, on fresh images from the updated generator."""
      s, memory = carry[:2]
      images = generate(g, normal(jax.random.fold_in(k, 0)))
      t_logits = teacher_outputs(teacher_variables, images)[0]
      s, memory, kd, s_logits = student_update(s, memory, images, t_logits,
                                               jax.random.fold_in(k, 1))
      return (s, memory, images, t_logits, kd, s_logits), None

    if n_student > 1:  # a scan: one compiled update, however many
      keys = jnp.stack([jax.random.fold_in(key, n_generator + j) for j in range(1, n_student)])
      (s, memory, images, t_logits, kd, s_logits), _ = jax.lax.scan(
          fresh_student_update, (s, memory, images, t_logits, kd, s_logits), keys,
          unroll=True)  # unrolled: the memory is not carried through a loop

    def memory_student_update(s, k):
      """A further student update on the memory alone: a student-sized batch of it."""
      s, kd, _ = learn(s, *recall(memory, k, batch_size + replayed), k)
      return s, kd

    if n_replay:
      keys = jnp.stack([jax.random.fold_in(key, n_generator + n_student + j)
                        for j in range(n_replay)])
      s, replay_kd = jax.lax.scan(memory_student_update, s, keys)
    teacher_classes = jnp.argmax(t_logits, -1)
    metrics = {
        "generator_loss": g_loss, "kd_loss": kd,  # on the last fresh student batch
        **{f"loss_{k}": v for k, v in parts.items()},
        # On the last student batch, before that student update.
        "student_teacher_agreement": jnp.mean(jnp.argmax(s_logits, -1) == teacher_classes),
        "student_teacher_discrepancy": adversarial_fn(s_logits, t_logits),
        # Spread of pixels across the batch; ~0 means every image is the same.
        "generated_batch_std": jnp.mean(jnp.std(images, axis=0)),
        "lr_generator": g_lr, "lr_student": s_lr,
        "counts/teacher_class": jnp.bincount(teacher_classes, length=t_logits.shape[-1]),
    }
    if replayed:
      metrics["replay_filled"] = jnp.minimum(memory["count"], memory["images"].shape[0])
    if n_replay:
      metrics["kd_loss_replay"] = jnp.mean(replay_kd)
    return DaflState(g, s, memory), metrics

  return step


def create_state(generator, student, key, config_phase, image_shape, num_steps):
  """The generator's and student's states (their schedules count updates, not
  iterations) and an empty replay memory of `replay.size` images."""
  c = config_phase
  check_settings(c)
  g_key, s_key = jax.random.split(key)
  s_state, s_schedule = shared.create_classifier_state(
      student, s_key, image_shape, c.student_optimizer,
      num_steps * student_updates_per_iteration(c),
      c.student.get("init", "flax"))
  g_state, g_schedule = shared.create_generator_state(
      generator, g_key, (c.generator.latent_dim,), c.generator_optimizer,
      num_steps * c.generator_updates, c.generator.get("init", "flax"))
  memory = {}
  if c.replay.size:
    num_classes = c.student.num_classes
    memory = jax.jit(lambda: {
        "images": jnp.zeros((c.replay.size,) + tuple(image_shape), jnp.float32),
        "logits": jnp.zeros((c.replay.size, num_classes), jnp.float32),
        "count": jnp.zeros((), jnp.int32)}, out_shardings=parallel.replicated())()
  return DaflState(g_state, s_state, memory), g_schedule, s_schedule


def check_teacher(teacher: TrainedClassifier, generator, g_variables, config_phase,
                  image_shape, key) -> None:
  """Refuses teachers DAFL cannot learn from, before any training."""
  gen_shape = (config_phase.generator.image_size, config_phase.generator.image_size,
               config_phase.generator.channels)
  if gen_shape != tuple(image_shape):
    raise DaflError(
        f"The generator makes {gen_shape} images but the teacher takes {tuple(image_shape)}; "
        "set --config.<phase>.generator.image_size / .channels to match the teacher's data.")

  @jax.jit  # one program: run op by op, a ResNet-34 teacher compiled hundreds
  def teacher_on_generated(g_variables, t_variables, key):
    z = jax.random.normal(key, (16, config_phase.generator.latent_dim))
    images, _ = generator.apply(g_variables, z, mutable=["batch_stats"])
    return teacher.model.apply(t_variables, images, train=False, mutable=[BN_INPUT_STATS])

  outputs, recorded = teacher_on_generated(g_variables, teacher.variables, key)
  if config_phase.loss_weights.get("bn_statistics", 0.0) > 0 and not recorded.get(BN_INPUT_STATS):
    raise DaflError(
        f"loss_weights.bn_statistics={config_phase.loss_weights.bn_statistics} needs a teacher "
        f"with BatchNorm layers, and the teacher ({teacher.model.__class__.__name__}) has none. "
        "Train a teacher with BatchNorm (e.g. --config.teacher.model.name=lenet5_bn) or set "
        "the weight to 0.")
  outputs = np.asarray(outputs)
  if outputs.min() >= 0 and np.allclose(outputs.sum(-1), 1.0, atol=1e-4):
    raise DaflError(
        "The teacher's outputs are probabilities (non-negative, rows sum to 1): DAFL's "
        "one-hot and entropy losses need logits. Remove the final softmax from the teacher.")


def collapse_monitor(phase: str, patience: int, threshold: float = 0.9):
  """Warns when one class takes most generated images for `patience` logs,
  and at once when the generator's images stop varying across the batch."""
  streak = {"n": 0}

  def on_log(state, step, logged):
    del state
    if logged.get("generated_batch_std", 1.0) < 1e-3:
      reporting.warn(f"[{phase}] the generator's images no longer vary across the batch at step "
            f"{step} (batch std {logged['generated_batch_std']:.2g}): it has died and the "
            "student learns nothing more. Lower generator_optimizer.learning_rate or raise "
            "batch_size, and rerun in a fresh workdir.")
    counts = logged.get("counts/teacher_class")
    if counts is None or counts.sum() == 0:
      return
    share = counts.max() / counts.sum()
    streak["n"] = streak["n"] + 1 if share > threshold else 0
    if streak["n"] == patience:
      top = np.argsort(counts)[::-1][:5]
      hist = ", ".join(f"class {c}: {100 * counts[c] / counts.sum():.1f}%" for c in top)
      reporting.warn(f"[{phase}] the generator has collapsed: for {patience} log intervals up to "
            f"step {step}, >{threshold:.0%} of generated images go to one class ({hist}). "
            "Raise loss_weights.information_entropy or lower generator_optimizer.learning_rate.")

  return on_log


def run(config, phase: str, workdir: str, inputs: dict) -> TrainedClassifier:
  c = config[phase]
  if c.teacher not in inputs:
    raise DaflError(f"{phase}.teacher={c.teacher!r} names no earlier phase of the pipeline.")
  teacher: TrainedClassifier = inputs[c.teacher]
  if config.data.normalization == "pixel_mean":
    raise DaflError(f"{phase}: the data-free generator's output layer takes per-channel pixel "
                    "statistics; use data.normalization 'dataset' or 'symmetric', not "
                    "'pixel_mean'.")
  dataset = image_data.load(config.data)  # test split only: the student's accuracy
  shared.check_num_classes(c.student, dataset.num_classes, phase)
  generator = models.build_generator(c.generator, pixel_mean=dataset.mean,
                                     pixel_std=dataset.std)
  student = models.build_classifier(c.student)
  p = shared.start(config, phase, workdir)
  parallel.check_batch_size(c.batch_size)
  state, g_schedule, s_schedule = create_state(generator, student, p.key, c, dataset.image_shape,
                                               c.num_steps)
  check_teacher(teacher, generator, state.generator.variables, c, dataset.image_shape, p.key)
  evaluate = ClassifierEvaluator(student, dataset, c.eval_batch_size).test_metrics
  if c.checkpoint:  # the student of a finished run instead of training
    variables = shared.restore_classifier(p, student, dataset.image_shape, "student")
    return shared.finish_classifier(p, student, c.student, variables, evaluate, 0)

  step = shared.jit_step(make_step(generator, teacher.model, student, c, g_schedule, s_schedule),
                         batch=None, frozen=1)
  sample_z = jax.random.normal(p.subkey("samples"), (64, c.generator.latent_dim))
  sample = jax.jit(lambda v: generator.apply(v, sample_z, mutable=["batch_stats"])[0])

  def write_samples(s: DaflState, step_done: int):
    unit = pixels.normalized_to_unit(sample(s.generator.variables), dataset.mean, dataset.std)
    p.writer.write_images(step_done, {"generator/samples": reporting.image_grid(unit)})

  def evaluate_during(s: DaflState, step_done: int):
    """Monitoring only: the reported accuracy is the final step's."""
    write_samples(s, step_done)
    return evaluate(s.student.variables)

  reporting.write_real_grid(p.writer, dataset.test_images)
  result = shared.train(p, state, step, lambda _: None, c.num_steps, teacher.variables,
                        evaluate=evaluate_during, on_log=collapse_monitor(phase, c.collapse_patience))
  write_samples(result.state, c.num_steps)
  trained = shared.finish_classifier(p, student, c.student, result.state.student.variables,
                                     evaluate, c.num_steps, result)
  trained.generator = trained_generator(generator, c, dataset, result.state.generator.variables,
                                        trained.metrics)
  return trained


def trained_generator(generator, c, dataset, variables, metrics: dict) -> TrainedGenerator:
  """The data-free generator as later phases sample one: unconditional, images in
  [-1, 1], drawn as the student saw them (BatchNorm on each batch's own
  statistics, batches of the phase's batch size)."""
  latent_dim = c.generator.latent_dim

  def sample(variables, key, n: int, labels=None):
    if labels is not None:
      raise DaflError("The data-free generator is unconditional: it takes no labels.")
    z = jax.random.normal(key, (n, latent_dim))
    images, _ = generator.apply(variables, z, mutable=["batch_stats"])
    return pixels.normalized_to_unit(images, dataset.mean, dataset.std) * 2.0 - 1.0, None

  return TrainedGenerator(generator, variables, c.generator, metrics, sample,
                          sample_chunk=c.batch_size)
