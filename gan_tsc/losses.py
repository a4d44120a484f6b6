"""Losses of the three methods, as pure functions of logits, scores and features."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


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


def logit_l2(student_logits, teacher_logits):
  """GAN-TSC's student loss: squared L2 between logits, mean over the batch."""
  return jnp.mean(jnp.sum((student_logits - teacher_logits) ** 2, axis=-1))


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
  return jnp.sum(mean_probs * jnp.log10(mean_probs))


# ---------------------------------------------------------------------------
# Adversarial losses.


def gan_discriminator_loss(real_logits, fake_logits):
  """Non-saturating GAN: −log σ(real) − log(1 − σ(fake)), via log_sigmoid (stable)."""
  return -jnp.mean(jax.nn.log_sigmoid(real_logits)) - jnp.mean(jax.nn.log_sigmoid(-fake_logits))


def gan_generator_loss(fake_logits):
  """Non-saturating generator loss: −log σ(D(G(z)))."""
  return -jnp.mean(jax.nn.log_sigmoid(fake_logits))


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
