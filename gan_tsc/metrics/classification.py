"""Test-set accuracy of a classifier, computed on device over padded batches."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan_tsc import parallel
from gan_tsc.data import batching
from gan_tsc.data import images as image_data


class ClassifierEvaluator:
  """Top-1 accuracy and cross-entropy of `model` on a labelled image set.

  The jitted function is built once; every call reuses the compiled step.
  """

  def __init__(self, model, dataset: image_data.ImageDataset, batch_size: int,
               split: str = "test"):
    parallel.check_batch_size(batch_size, "eval_batch_size")
    self.images = getattr(dataset, f"{split}_images")
    self.labels = getattr(dataset, f"{split}_labels")
    self.batch_size = batch_size

    def batch_sums(variables, batch):
      x = image_data.preprocess(batch["image"], dataset)
      logits = model.apply(variables, x, train=False)
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"])
      correct = (jnp.argmax(logits, -1) == batch["label"]).astype(jnp.float32)
      mask = batch["mask"]
      return jnp.stack([(correct * mask).sum(), (loss * mask).sum(), mask.sum()])

    self._batch_sums = jax.jit(batch_sums, out_shardings=parallel.replicated())

  def __call__(self, variables) -> dict[str, float]:
    # Each batch's sums are read before the next is dispatched: evaluation is
    # off the hot path, and hundreds of queued collectives can starve
    # XLA:CPU's thread pool when devices are simulated on few cores.
    totals = np.zeros(3, np.float64)
    for batch in batching.eval_batches({"image": self.images, "label": self.labels},
                                       self.batch_size):
      totals += np.asarray(self._batch_sums(variables, batch), np.float64)
    correct, loss, count = totals
    return {"accuracy": correct / count, "loss": loss / count}

  def test_metrics(self, variables) -> dict[str, float]:
    """The same, named as phases report them: test_accuracy, test_loss."""
    return {f"test_{k}": v for k, v in self(variables).items()}
