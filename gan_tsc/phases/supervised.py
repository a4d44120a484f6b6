"""Supervised training of a classifier on labelled images: the teacher phase.

Also the 'student from scratch' baseline (same phase, the student's model).
With `checkpoint` set, the phase trains nothing: it restores a finished
classifier from another run, checks it fits the configured model, and
evaluates it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from gan_tsc import models, parallel, train_loop
from gan_tsc.data import batching
from gan_tsc.data import images as image_data
from gan_tsc.metrics.classification import ClassifierEvaluator
from gan_tsc.phases import shared
from gan_tsc.phases.shared import students
from gan_tsc.trained import TrainedClassifier, TrainState


def make_train_step(model, dataset: image_data.ImageDataset, schedule):
  """step(state, batch, key) -> (state, metrics); cross-entropy on labels."""

  def train_step(state: TrainState, batch, key):
    key = jax.random.fold_in(key, state.step)
    images = image_data.preprocess(batch["image"], dataset, key, train=True)

    def loss_fn(params):
      # A model with dropout (nin) draws its masks from its own stream; the
      # augmentation key stays what it was for models without.
      logits, updates = model.apply({"params": params, "batch_stats": state.batch_stats},
                                    images, train=True, mutable=["batch_stats"],
                                    rngs={"dropout": jax.random.fold_in(key, students.DROPOUT_STREAM)})
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
      return loss, (logits, updates.get("batch_stats", state.batch_stats))

    (loss, (logits, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    metrics = {"loss": loss,
               "accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"]),
               "learning_rate": schedule(state.step)}
    return state.apply_gradients(grads=grads, batch_stats=batch_stats), metrics

  return train_step


def run(config, phase: str, workdir: str, inputs: dict, dataset=None) -> TrainedClassifier:
  del inputs  # the first phase of a pipeline
  c = config[phase]
  dataset = dataset or image_data.load(config.data)
  shared.check_num_classes(c.model, dataset.num_classes, phase)
  model = models.build_classifier(c.model)
  p = shared.start(config, phase, workdir)
  evaluate = ClassifierEvaluator(model, dataset, c.eval_batch_size).test_metrics

  if c.checkpoint:  # a finished classifier of another run instead of training
    variables = shared.restore_classifier(p, model, dataset.image_shape)
    return shared.finish_classifier(p, model, c.model, variables, evaluate, 0)

  parallel.check_batch_size(c.batch_size)
  batcher = batching.EpochBatcher(
      {"image": dataset.train_images, "label": dataset.train_labels}, c.batch_size, seed=p.seed)
  num_steps = train_loop.num_steps_of(c, batcher.steps_per_epoch)
  state, schedule = shared.create_classifier_state(model, p.key, dataset.image_shape,
                                                   c.optimizer, num_steps,
                                                   c.model.get("init", "flax"))
  step = shared.jit_step(make_train_step(model, dataset, schedule))
  result = shared.train(p, state, step, batcher.batch, num_steps,
                        evaluate=lambda s, _: evaluate(s.variables))
  return shared.finish_classifier(p, model, c.model, result.state.variables, evaluate,
                                  num_steps, result)
