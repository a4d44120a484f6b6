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

from gan_tsc import losses, models, parallel, train_loop
from gan_tsc.data import images as image_data
from gan_tsc.metrics import generator_quality as gq
from gan_tsc.phases import common, wgan_gp

LOSSES = ("mse", "joint")


@flax.struct.dataclass
class CompressState:
  student: common.TrainState
  critic: Optional[common.TrainState] = None  # the joint loss's critic


def make_step(student, teacher, critic, c):
  """step(state, real_batches (n_critic, B, ...) uint8 or None, key, teacher_variables)."""
  if c.loss not in LOSSES:
    raise ValueError(f"Unknown compress loss {c.loss!r}; choose one of {LOSSES} "
                     "(--config.<phase>.loss).")
  batch_size, latent_dim = c.batch_size, c.student.latent_dim
  joint = c.loss == "joint"
  alpha = c.alpha

  def step(state: CompressState, real_batches, key, teacher_variables):
    key = jax.random.fold_in(key, state.student.step)
    s, critic_state, metrics = state.student, state.critic, {}
    if joint:
      make_fakes = lambda k: wgan_gp.train_mode_images(
          student, s, jax.random.normal(k, (batch_size, latent_dim)))
      critic_state, metrics = wgan_gp.critic_updates(
          critic, critic_state, image_data.to_tanh_range(real_batches), make_fakes,
          jax.random.fold_in(key, 0), c.gradient_penalty)
    z = jax.random.normal(jax.random.fold_in(key, 1), (batch_size, latent_dim))
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


def jit_step(step_fn, with_data: bool):
  repl = parallel.replicated()
  return jax.jit(step_fn, donate_argnums=0,
                 in_shardings=(repl, parallel.stacked_batch_sharded() if with_data else None, repl, repl),
                 out_shardings=(repl, repl))


def create_state(student, critic, key, c, image_shape) -> CompressState:
  s_key, c_key = jax.random.split(key)
  s_state, _ = common.create_generator_state(student, s_key, (c.student.latent_dim,),
                                             c.optimizer, c.num_steps)
  if c.loss != "joint":
    return CompressState(s_state)
  c_state = wgan_gp.create_critic_state(critic, c_key, image_shape, c.critic_optimizer,
                                        c.num_steps * c.n_critic)
  return CompressState(s_state, c_state)


def check_pair(teacher: common.TrainedGenerator, c, phase: str) -> None:
  """The student must map the teacher's latents to the teacher's image shape."""
  t = teacher.model_config
  for key in ("image_size", "channels", "latent_dim"):
    if t[key] != c.student[key]:
      raise ValueError(f"{phase}: student.{key}={c.student[key]} but the teacher's is {t[key]}; "
                       f"the student imitates the teacher on the same latents, so set "
                       f"--config.{phase}.student.{key}={t[key]}.")
  if c.loss == "joint" and not 0.0 <= c.alpha <= 1.0:
    raise ValueError(f"{phase}.alpha={c.alpha} must lie in [0, 1].")


def run(config, phase: str, workdir: str, inputs: dict) -> common.TrainedGenerator:
  c = config[phase]
  if c.teacher not in inputs or not isinstance(inputs[c.teacher], common.TrainedGenerator):
    raise ValueError(f"{phase}.teacher={c.teacher!r} names no generator phase that runs before it.")
  teacher: common.TrainedGenerator = inputs[c.teacher]
  check_pair(teacher, c, phase)
  if c.loss == "joint":
    wgan_gp.check_phase(c, phase)
  parallel.check_batch_size(c.batch_size)
  dataset = wgan_gp.load_dataset(config.data)
  student = wgan_gp.build_generator(c.student)
  critic = wgan_gp.build_critic(c.critic, c.student.image_size) if c.loss == "joint" else None
  sample = wgan_gp.sample_fn(student)
  evaluator, extractor_name = gq.evaluator_for(config, inputs, dataset, sample)
  path, writer = common.start_phase(config, phase, workdir)
  key = common.phase_key(config.seed, phase)
  state = create_state(student, critic, wgan_gp.init_key(config, phase), c, dataset.image_shape)
  if c.loss == "joint":
    batch_fn = wgan_gp.StackedBatcher(dataset.train_images, c.batch_size, c.n_critic,
                                      common.phase_seed(config.seed, phase)).batch
  else:
    batch_fn = lambda _: None  # data-free: latents only
  step = jit_step(make_step(student, teacher.model, critic, c), c.loss == "joint")
  grid_z = wgan_gp.grid_latents(config, phase, c.student.latent_dim)
  grid = jax.jit(lambda v, tv: (student.apply(v, grid_z, train=False),
                                teacher.model.apply(tv, grid_z, train=False)))

  def write_grid(s: CompressState, step_done: int):
    students, teachers = (np.asarray(x) for x in grid(s.student.variables, teacher.variables))
    writer.write_images(step_done, {"teacher_vs_student": gq.side_by_side(
        gq.image_grid(teachers), gq.image_grid(students))})
    return float(np.mean((students - teachers) ** 2))

  def evaluate(s: CompressState, step_done: int):
    """Monitoring only: the reported numbers are the final step's."""
    grid_mse = write_grid(s, step_done)
    return {**evaluator(s.student.variables), "grid_mse_to_teacher": grid_mse}

  settings = train_loop.LoopSettings.from_config(phase, workdir, c, c.num_steps)
  result = train_loop.run(settings, state, lambda s, b: step(s, b, key, teacher.variables),
                          batch_fn, writer, evaluate)
  extra = {"grid_mse_to_teacher": write_grid(result.state, c.num_steps),
           "teacher": c.teacher, "loss": c.loss,
           "compression": teacher.metrics["params"] / models.count_params(
               result.state.student.params)}
  if c.loss == "joint":
    extra.update(alpha=c.alpha, critic_params=models.count_params(result.state.critic.params))
  return wgan_gp.finish(config, phase, workdir, writer, result, result.state.student, student,
                        c.student, evaluator, extractor_name, sample, extra)
