"""GAN-KD's compression: a small student generator imitates a frozen teacher generator.

One jitted step (state donated, the teacher's variables an argument):
  z ~ N(0, I) drawn on device, fresh every step
  teacher(z), BatchNorm on running averages  -> target images
  loss 'mse':    mean (student(z) − teacher(z))²
  loss 'joint':  α·(−E[D(student(z))]) + (1 − α)·MSE, with a WGAN-GP critic
                 trained alongside (n_critic updates per step on real data
                 against the student's samples, as in the wgan_gp phase).
The student uses batch statistics in training and its running averages when
rated, as the teacher does. Only the joint loss reads training data.
"""

from __future__ import annotations

from typing import Optional

import flax
import jax
import jax.numpy as jnp
import numpy as np

from gan_tsc import losses, models, parallel, reporting
from gan_tsc.data import batching
from gan_tsc.ops import pixels
from gan_tsc.phases import shared
from gan_tsc.phases.shared import gan
from gan_tsc.trained import TrainedGenerator, TrainState

LOSSES = ("mse", "joint")


@flax.struct.dataclass
class CompressState:
  student: TrainState
  critic: Optional[TrainState] = None  # the joint loss's critic


def make_step(student, teacher, critic, c):
  """step(state, {'image': (n_critic, B, ...) uint8} or None, key, teacher_variables)."""
  if c.loss not in LOSSES:
    raise ValueError(f"Unknown compress loss {c.loss!r}; choose one of {LOSSES} "
                     "(--config.<phase>.loss).")
  batch_size, latent_dim = c.batch_size, c.student.latent_dim
  joint = c.loss == "joint"
  alpha = c.alpha
  score = lambda params, x, _: critic.apply({"params": params}, x)

  def step(state: CompressState, batch, key, teacher_variables):
    key = jax.random.fold_in(key, state.student.step)
    s, critic_state, metrics = state.student, state.critic, {}
    if joint:
      make_fakes = lambda k, _: gan.train_mode_images(
          student, s, parallel.normal_rows(k, batch_size, latent_dim))
      critic_state, metrics = gan.critic_updates(
          score, critic_state, pixels.to_tanh_range(batch["image"]), None, make_fakes,
          jax.random.fold_in(key, 0), c.gradient_penalty)
    z = parallel.normal_rows(jax.random.fold_in(key, 1), batch_size, latent_dim)
    target = teacher.apply(teacher_variables, z, train=False)

    def loss_fn(params):
      images, updates = student.apply({"params": params, "batch_stats": s.batch_stats}, z,
                                      train=True, mutable=["batch_stats"])
      mse = jnp.mean((images - target) ** 2)
      parts = {"mse_to_teacher": mse}
      total = mse
      if joint:
        scores = critic.apply({"params": critic_state.params}, images)
        adversarial = losses.wgan_generator_loss(scores)
        parts["adversarial_loss"] = adversarial
        total = alpha * adversarial + (1.0 - alpha) * mse
      return total, (updates["batch_stats"], parts)

    (loss, (stats, parts)), grads = jax.value_and_grad(loss_fn, has_aux=True)(s.params)
    metrics.update(parts, student_loss=loss)
    return CompressState(s.apply_gradients(grads=grads, batch_stats=stats), critic_state), metrics

  return step


def create_state(student, critic, key, c, image_shape) -> CompressState:
  s_key, c_key = jax.random.split(key)
  s_state, _ = shared.create_generator_state(student, s_key, (c.student.latent_dim,),
                                             c.optimizer, c.num_steps)
  if c.loss != "joint":
    return CompressState(s_state)
  c_state, _ = shared.create_classifier_state(critic, c_key, image_shape, c.critic_optimizer,
                                              c.num_steps * c.n_critic)
  return CompressState(s_state, c_state)


def check_pair(teacher: TrainedGenerator, c, phase: str) -> None:
  """The student must map the teacher's latents to the teacher's image shape."""
  t = teacher.model_config
  for key in ("image_size", "channels", "latent_dim"):
    if t[key] != c.student[key]:
      raise ValueError(f"{phase}: student.{key}={c.student[key]} but the teacher's is {t[key]}; "
                       f"the student imitates the teacher on the same latents, so set "
                       f"--config.{phase}.student.{key}={t[key]}.")
  if c.loss == "joint" and not 0.0 <= c.alpha <= 1.0:
    raise ValueError(f"{phase}.alpha={c.alpha} must lie in [0, 1].")


def run(config, phase: str, workdir: str, inputs: dict) -> TrainedGenerator:
  c = config[phase]
  if c.teacher not in inputs or not isinstance(inputs[c.teacher], TrainedGenerator):
    raise ValueError(f"{phase}.teacher={c.teacher!r} names no generator phase that runs before it.")
  teacher: TrainedGenerator = inputs[c.teacher]
  check_pair(teacher, c, phase)
  joint = c.loss == "joint"
  dataset, student, critic, evaluator, extractor_name, p = gan.start_dcgan_phase(
      config, phase, workdir, inputs, c.student, with_critic=joint)
  state = create_state(student, critic, shared.init_key(config.seed, phase), c,
                       dataset.image_shape)
  extra = {"teacher": c.teacher, "loss": c.loss}
  if joint:
    extra.update(alpha=c.alpha, critic_params=models.count_params(state.critic.params))
  grid_z = gan.grid_latents(config, c.student.latent_dim)
  grid = jax.jit(lambda v, tv: (student.apply(v, grid_z, train=False),
                                teacher.model.apply(tv, grid_z, train=False)))

  def write_grid(variables, step_done: int):
    students, teachers = (np.asarray(x) for x in grid(variables, teacher.variables))
    p.writer.write_images(step_done, {"generator/teacher_vs_student": reporting.side_by_side(
        reporting.image_grid(pixels.tanh_to_unit(teachers)),
        reporting.image_grid(pixels.tanh_to_unit(students)))})
    return float(np.mean((students - teachers) ** 2))

  def final(variables, num_steps, result=None):
    compression = teacher.metrics["params"] / models.count_params(variables["params"])
    return gan.rate(p, student, variables, evaluator, extractor_name, num_steps,
                              c.student, result, grid_mse_to_teacher=write_grid(variables, num_steps),
                              compression=compression, **extra)

  if c.checkpoint:  # a finished student of another run instead of training
    return final(shared.restore_handoff(p, state.student.variables, "student"), 0)
  if joint:
    batch_fn = batching.EpochBatcher({"image": dataset.train_images}, c.batch_size, p.seed,
                                     stacks=c.n_critic).batch
  else:
    batch_fn = lambda _: None  # data-free: latents only
  step = shared.jit_step(make_step(student, teacher.model, critic, c),
                         batch="stacked" if joint else None, frozen=1)

  def evaluate(s: CompressState, step_done: int):
    """Monitoring only: the reported numbers are the final step's."""
    grid_mse = write_grid(s.student.variables, step_done)
    return {**evaluator(s.student.variables), "grid_mse_to_teacher": grid_mse}

  result = shared.train(p, state, step, batch_fn, c.num_steps, teacher.variables,
                        evaluate=evaluate)
  return final(result.state.student.variables, c.num_steps, result)
