"""DAFL: data-free distillation of a frozen teacher into a student.

One jitted step (state donated, teacher passed in as an argument):
  z ~ N(0, I) drawn on device -> generator (batch statistics) -> images
  teacher(images), eval mode -> one-hot + information-entropy + activation
      losses -> generator update (the generator learns only from these)
  student(stop_gradient(images)) vs stop_gradient(teacher logits) -> KL
      -> student update (the student learns only from this)
Optionally (loss_weights.adversarial > 0, not in the paper) the generator
also maximises that KL through the student, whose parameters it cannot move.
The training data is never read; the test split only measures the student.
"""

from __future__ import annotations

import flax
import jax
import jax.numpy as jnp
import numpy as np

from gan_tsc import losses, models, parallel, reporting
from gan_tsc.data import images as image_data
from gan_tsc.errors import UserError
from gan_tsc.metrics.classification import ClassifierEvaluator
from gan_tsc.ops import pixels
from gan_tsc.phases import shared
from gan_tsc.trained import TrainedClassifier, TrainState


@flax.struct.dataclass
class DaflState:
  generator: TrainState
  student: TrainState


class DaflError(UserError, ValueError):
  """A DAFL setup that cannot work; the message says why."""


def make_step(generator, teacher, student, config_phase, g_schedule, s_schedule):
  """step(state, batch(None), key, teacher_variables) -> (state, metrics)."""
  weights = config_phase.loss_weights
  batch_size, latent_dim = config_phase.batch_size, config_phase.generator.latent_dim
  temperature = config_phase.temperature
  adversarial_weight = weights.adversarial
  if adversarial_weight < 0:
    raise DaflError(f"loss_weights.adversarial must be >= 0 (0 = the paper), got "
                    f"{adversarial_weight}.")
  adversarial = adversarial_weight > 0

  def step(state: DaflState, batch, key, teacher_variables):
    del batch  # data-free
    g, s = state.generator, state.student
    z = jax.random.normal(jax.random.fold_in(key, s.step), (batch_size, latent_dim))

    def generator_loss(g_params):
      images, g_updates = generator.apply({"params": g_params, "batch_stats": g.batch_stats},
                                          z, mutable=["batch_stats"])
      t_logits, t_features = teacher.apply(teacher_variables, images, train=False,
                                           return_features=True)
      parts = {"one_hot": losses.dafl_one_hot(t_logits),
               "information_entropy": losses.dafl_information_entropy(t_logits),
               "activation": losses.dafl_activation(t_features)}
      if adversarial:
        # Not in the paper (off unless loss_weights.adversarial > 0): the
        # generator also seeks images the student gets wrong. The student's
        # parameters are constants here; only the image is differentiated.
        s_logits, _ = student.apply({"params": s.params, "batch_stats": s.batch_stats},
                                    images, train=True, mutable=["batch_stats"])
        parts["adversarial"] = -losses.kd_kl(s_logits, t_logits, temperature)
      total = sum(weights[k] * v for k, v in parts.items())
      return total, (images, t_logits, g_updates["batch_stats"], parts)

    (g_loss, (images, t_logits, g_stats, parts)), g_grads = jax.value_and_grad(
        generator_loss, has_aux=True)(g.params)
    images, t_logits = jax.lax.stop_gradient(images), jax.lax.stop_gradient(t_logits)

    def student_loss(s_params):
      s_logits, s_updates = student.apply({"params": s_params, "batch_stats": s.batch_stats},
                                          images, train=True, mutable=["batch_stats"])
      return losses.kd_kl(s_logits, t_logits, temperature), (
          s_logits, s_updates.get("batch_stats", s.batch_stats))

    (kd, (s_logits, s_stats)), s_grads = jax.value_and_grad(student_loss, has_aux=True)(s.params)
    teacher_classes = jnp.argmax(t_logits, -1)
    metrics = {
        "generator_loss": g_loss, "kd_loss": kd,
        **{f"loss_{k}": v for k, v in parts.items()},
        "student_teacher_agreement": jnp.mean(jnp.argmax(s_logits, -1) == teacher_classes),
        # Spread of pixels across the batch; ~0 means every image is the same.
        "generated_batch_std": jnp.mean(jnp.std(images, axis=0)),
        "lr_generator": g_schedule(g.step), "lr_student": s_schedule(s.step),
        "counts/teacher_class": jnp.bincount(teacher_classes, length=t_logits.shape[-1]),
    }
    new_state = DaflState(g.apply_gradients(grads=g_grads, batch_stats=g_stats),
                          s.apply_gradients(grads=s_grads, batch_stats=s_stats))
    return new_state, metrics

  return step


def create_state(generator, student, key, config_phase, image_shape, num_steps):
  g_key, s_key = jax.random.split(key)
  s_state, s_schedule = shared.create_classifier_state(
      student, s_key, image_shape, config_phase.student_optimizer, num_steps)
  g_state, g_schedule = shared.create_generator_state(
      generator, g_key, (config_phase.generator.latent_dim,), config_phase.generator_optimizer,
      num_steps)
  return DaflState(g_state, s_state), g_schedule, s_schedule


def check_teacher(teacher: TrainedClassifier, generator, g_variables, config_phase,
                  image_shape, key) -> None:
  """Refuses teachers DAFL cannot learn from, before any training."""
  gen_shape = (config_phase.generator.image_size, config_phase.generator.image_size,
               config_phase.generator.channels)
  if gen_shape != tuple(image_shape):
    raise DaflError(
        f"The generator makes {gen_shape} images but the teacher takes {tuple(image_shape)}; "
        "set --config.<phase>.generator.image_size / .channels to match the teacher's data.")
  z = jax.random.normal(key, (16, config_phase.generator.latent_dim))
  images, _ = generator.apply(g_variables, z, mutable=["batch_stats"])
  outputs = np.asarray(teacher.model.apply(teacher.variables, images, train=False))
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
  return shared.finish_classifier(p, student, c.student, result.state.student.variables,
                                  evaluate, c.num_steps, result)
