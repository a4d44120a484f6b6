"""Losses of the three methods, as pure functions of logits and features."""

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
