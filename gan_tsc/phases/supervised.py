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
from absl import logging

from gan_tsc import checkpoints, models, parallel, reporting, train_loop
from gan_tsc.data import images as image_data
from gan_tsc.metrics.classification import ClassifierEvaluator
from gan_tsc.phases import common


def make_train_step(model, dataset: image_data.ImageDataset, schedule):
  """step(state, batch, key) -> (state, metrics); cross-entropy on labels."""

  def train_step(state: common.TrainState, batch, key):
    key = jax.random.fold_in(key, state.step)
    images = image_data.preprocess(batch["image"], dataset, key, train=True)

    def loss_fn(params):
      logits, updates = model.apply({"params": params, "batch_stats": state.batch_stats},
                                    images, train=True, mutable=["batch_stats"])
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
      return loss, (logits, updates.get("batch_stats", state.batch_stats))

    (loss, (logits, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    metrics = {"loss": loss,
               "accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"]),
               "learning_rate": schedule(state.step)}
    return state.apply_gradients(grads=grads, batch_stats=batch_stats), metrics

  return train_step


def jit_step(step_fn):
  """jit with the state replicated and donated, the batch sharded on 'data'."""
  return jax.jit(step_fn, donate_argnums=0,
                 in_shardings=(parallel.replicated(), parallel.batch_sharded(), parallel.replicated()),
                 out_shardings=(parallel.replicated(), parallel.replicated()))


def run(config, phase: str, workdir: str, inputs: dict, dataset=None) -> common.TrainedClassifier:
  del inputs  # the first phase of a pipeline
  c = config[phase]
  dataset = dataset or image_data.load(config.data)
  common.check_num_classes(c.model, dataset.num_classes, phase)
  model = models.build_classifier(c.model)
  path, writer = common.start_phase(config, phase, workdir)
  evaluator = ClassifierEvaluator(model, dataset, c.get("eval_batch_size", 500))

  if c.get("checkpoint", ""):
    expected = jax.eval_shape(lambda: models.init_variables(
        model, jax.random.PRNGKey(0), dataset.image_shape))
    variables = parallel.replicate(checkpoints.restore_model_variables(c.checkpoint, expected))
    metrics = {f"test_{k}": v for k, v in evaluator(variables).items()}
    metrics["restored_from"] = c.checkpoint
    print(f"[{phase}] restored from {c.checkpoint}: test accuracy "
          f"{metrics['test_accuracy']:.4f}", flush=True)
    reporting.record_results(workdir, phase, metrics)
    return common.TrainedClassifier(model, variables, c.model, metrics)

  parallel.check_batch_size(c.batch_size)
  batcher = image_data.EpochBatcher(
      {"image": dataset.train_images, "label": dataset.train_labels}, c.batch_size,
      seed=common.phase_seed(config.seed, phase))
  num_steps = train_loop.num_steps_of(c, batcher.steps_per_epoch)
  key = common.phase_key(config.seed, phase)
  state, schedule = common.create_classifier_state(
      model, key, dataset.image_shape, c.optimizer, num_steps)
  step = jit_step(make_train_step(model, dataset, schedule))
  evaluate = lambda s, _: {f"test_{k}": v for k, v in evaluator(s.variables).items()}
  settings = train_loop.LoopSettings.from_config(phase, workdir, c, num_steps)
  result = train_loop.run(settings, state, lambda s, b: step(s, b, key), batcher.batch,
                          writer, evaluate)
  return finish(phase, workdir, writer, result, evaluate, model, c.model, num_steps)


def finish(phase, workdir, writer, result, evaluate, model, model_config, num_steps):
  """Final-step evaluation (never a chosen checkpoint), recorded in results.json."""
  metrics = evaluate(result.state, num_steps)
  writer.write_scalars(num_steps, metrics)
  writer.flush()
  metrics.update(steps=num_steps, params=models.count_params(result.state.params))
  if result.trained_steps:
    metrics["train_examples_per_sec"] = result.examples_per_sec
  logging.info("[%s] final: %s", phase, metrics)
  print(f"[{phase}] final test accuracy {metrics['test_accuracy']:.4f} "
        f"after {num_steps} steps", flush=True)
  reporting.record_results(workdir, phase, metrics)
  return common.TrainedClassifier(model, result.state.variables, model_config, metrics)
