"""The distillation step: a student learns the frozen teacher's logits on real and synthetic inputs.

Shared by the distill phase (GAN-TSC's students, DAFL's KD-with-data
baseline) and the TSC Score phase (fresh students on candidate sets).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gan_tsc import losses
from gan_tsc.data import images as image_data
from gan_tsc.ops import pixels
from gan_tsc.trained import TrainState

LOSSES = ("kl", "l2", "l2_half")
DROPOUT_STREAM = 1  # folded into a step's key for dropout masks (teacher or trained model)


def make_distill_step(teacher, student, dataset, schedule, *, loss: str, temperature: float,
                      p_fake: float = 0.0, sample=None, teacher_dropout: bool = False,
                      quantize_synthetic: bool = False):
  """step(state, batch, key, teacher_variables, generator_variables) -> (state, metrics).

  The student never sees a label: its targets are the teacher's logits, with
  KL at `temperature`, the squared L2 between logits ('l2': Σ/B) or half of
  it ('l2_half': GAN-TSC's image code). With `sample` (a TrainedGenerator's),
  each step's batch is synthetic with probability `p_fake`, drawn fresh inside
  the step (rounded to uint8 levels with `quantize_synthetic`); else it is
  the real batch. `teacher_dropout`: the teacher labels in training mode, its
  dropout active (GAN-TSC's authors' noisy targets; a teacher without
  BatchNorm, checked by the phase).
  """
  if loss not in LOSSES:
    raise ValueError(f"Unknown distillation loss {loss!r}; choose one of {LOSSES}.")
  p_fake = float(p_fake) if sample is not None else 0.0

  def step(state: TrainState, batch, key, teacher_variables, generator_variables):
    key = jax.random.fold_in(key, state.step)
    augment_key, coin_key, sample_key = jax.random.split(key, 3)
    real_images = lambda: image_data.preprocess(batch["image"], dataset, augment_key, train=True)
    if p_fake > 0:
      synthetic = jax.random.bernoulli(coin_key, p_fake)
      fake_images = lambda: pixels.from_tanh_range(
          sample(generator_variables, sample_key, batch["image"].shape[0])[0],
          dataset.mean, dataset.std, quantize=quantize_synthetic)
      # One branch runs: a real batch costs no generator pass.
      images = jax.lax.cond(synthetic, fake_images, real_images)
    else:
      synthetic, images = jnp.asarray(False), real_images()
    if teacher_dropout:
      t_logits = teacher.apply(teacher_variables, images, train=True,
                               rngs={"dropout": jax.random.fold_in(key, DROPOUT_STREAM)})
    else:
      t_logits = teacher.apply(teacher_variables, images, train=False)

    def loss_fn(params):
      s_logits, updates = student.apply({"params": params, "batch_stats": state.batch_stats},
                                        images, train=True, mutable=["batch_stats"])
      value = (losses.kd_kl(s_logits, t_logits, temperature) if loss == "kl"
               else losses.logit_l2(s_logits, t_logits) if loss == "l2"
               else losses.logit_half_l2(s_logits, t_logits))
      return value, (s_logits, updates.get("batch_stats", state.batch_stats))

    (value, (s_logits, stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    metrics = {"distill_loss": value,
               "teacher_agreement": jnp.mean(jnp.argmax(s_logits, -1) == jnp.argmax(t_logits, -1)),
               "synthetic_batch": synthetic.astype(jnp.float32),
               "learning_rate": schedule(state.step)}
    return state.apply_gradients(grads=grads, batch_stats=stats), metrics

  return step
