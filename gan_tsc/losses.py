"""Losses of the three methods, as pure functions of logits, scores and features."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import traverse_util


# ---------------------------------------------------------------------------
# Distillation.


def kd_kl(student_logits, teacher_logits, temperature: float = 1.0):
  """KL(softmax(t/T) || softmax(s/T)), summed over classes, mean over the batch.

  Multiplied by T² so gradients keep their scale across temperatures (at T=1,
  DAFL's distillation loss exactly).
  """
  t = jax.nn.log_softmax(teacher_logits / temperature, -1)
  s = jax.nn.log_softmax(student_logits / temperature, -1)
  kl = jnp.sum(jnp.exp(t) * (t - s), axis=-1)
  return jnp.mean(kl) * temperature**2


def logit_l1(student_logits, teacher_logits):
  """Mean absolute difference of logits (DFAD's student and adversarial loss)."""
  return jnp.mean(jnp.abs(student_logits - teacher_logits))


def logit_l2(student_logits, teacher_logits):
  """GAN-TSC's student loss: squared L2 between logits, mean over the batch."""
  return jnp.mean(jnp.sum((student_logits - teacher_logits) ** 2, axis=-1))


def logit_half_l2(student_logits, teacher_logits):
  """GAN-TSC's image code's loss: tf.nn.l2_loss(teacher - student) / B, half of
  `logit_l2` (the scale Adam's epsilon sees)."""
  return 0.5 * logit_l2(student_logits, teacher_logits)


# ---------------------------------------------------------------------------
# DAFL's generator losses (on one generated batch through the frozen teacher).


def dafl_one_hot(teacher_logits):
  """Cross-entropy of the teacher's logits against their own argmax."""
  pseudo_labels = jax.lax.stop_gradient(jnp.argmax(teacher_logits, -1))
  return optax.softmax_cross_entropy_with_integer_labels(teacher_logits, pseudo_labels).mean()


def dafl_activation(teacher_features):
  """−mean |f_T|: rewards strong penultimate activations."""
  return -jnp.mean(jnp.abs(teacher_features))


def dafl_information_entropy(teacher_logits):
  """Σ p̄·log10 p̄ of the batch-mean softmax: minimal when classes are balanced."""
  mean_probs = jnp.mean(jax.nn.softmax(teacher_logits, -1), axis=0)
  # A class whose mean probability underflows to 0 adds 0 (0·log 0), not NaN.
  return jnp.sum(mean_probs * jnp.log10(jnp.maximum(mean_probs, jnp.finfo(mean_probs.dtype).tiny)))


# ---------------------------------------------------------------------------
# Data-free losses after DAFL (on a generated batch through the frozen teacher).


def bn_statistics(input_stats, batch_stats):
  """Σ over the teacher's BatchNorm layers of ‖μ_batch − μ_running‖₂ + ‖σ²_batch − σ²_running‖₂.

  DeepInversion's feature-statistics loss. `input_stats` is the teacher's
  BN_INPUT_STATS collection (per layer, under 'input', a 1-tuple of the
  batch (mean, var) of that layer's input); `batch_stats` its running
  statistics, found under the same layer path.
  """
  running = traverse_util.flatten_dict(batch_stats)
  total = 0.0
  for path, ((mean, var),) in traverse_util.flatten_dict(input_stats).items():
    layer = path[:-1]  # drop 'input'
    total += jnp.linalg.norm(mean - running[layer + ("mean",)])
    total += jnp.linalg.norm(var - running[layer + ("var",)])
  return total


def total_variation(images):
  """Mean absolute difference of vertically and of horizontally adjacent pixels
  (NHWC), summed: DeepInversion's (ℓ1) smoothness prior."""
  return (jnp.mean(jnp.abs(images[:, 1:] - images[:, :-1]))
          + jnp.mean(jnp.abs(images[:, :, 1:] - images[:, :, :-1])))


def l2_prior(images):
  """Mean squared pixel: DeepInversion's ℓ2 prior, keeping pixels small."""
  return jnp.mean(jnp.square(images))


# ---------------------------------------------------------------------------
# Adversarial losses.


def gan_discriminator_loss(real_logits, fake_logits):
  """Non-saturating GAN: −log σ(real) − log(1 − σ(fake)), via log_sigmoid (stable)."""
  return -jnp.mean(jax.nn.log_sigmoid(real_logits)) - jnp.mean(jax.nn.log_sigmoid(-fake_logits))


def gan_generator_loss(fake_logits):
  """Non-saturating generator loss: −log σ(D(G(z)))."""
  return -jnp.mean(jax.nn.log_sigmoid(fake_logits))


def hinge_discriminator_loss(real_logits, fake_logits):
  """Hinge loss (Lim & Ye 2017; Miyato et al.): E[max(0, 1 − D(real))] + E[max(0, 1 + D(fake))]."""
  return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def hinge_generator_loss(fake_logits):
  """The hinge GAN's generator loss: −E[D(G(z))]."""
  return -jnp.mean(fake_logits)


def wgan_critic_loss(real_scores, fake_scores):
  """WGAN critic: E[D(fake)] − E[D(real)] (the penalty is added separately)."""
  return jnp.mean(fake_scores) - jnp.mean(real_scores)


def wgan_generator_loss(fake_scores):
  return -jnp.mean(fake_scores)


def gradient_penalty(critic_fn, real, fake, key):
  """WGAN-GP (Gulrajani et al. 2017): E[(‖∇D(x̂)‖₂ − 1)²] on random interpolates.

  `critic_fn(x) -> (N,)` scores; it must treat samples independently (no
  batch statistics), or the per-sample gradient is not defined.
  """
  shape = (real.shape[0],) + (1,) * (real.ndim - 1)
  eps = jax.random.uniform(key, shape, real.dtype)
  interpolates = eps * real + (1.0 - eps) * fake
  grads = jax.grad(lambda x: jnp.sum(critic_fn(x)))(interpolates)
  norms = jnp.sqrt(jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=-1) + 1e-12)
  return jnp.mean((norms - 1.0) ** 2)
