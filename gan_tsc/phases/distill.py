"""Distillation of a frozen teacher into a student on real training images.

The student never sees a label: its targets are the teacher's logits, with
KL at a temperature (Hinton et al.; DAFL's 'KD with data' baseline) or the
squared L2 between logits (GAN-TSC's loss). Real images are augmented as the
data config says; the teacher sees the same augmented batch, in eval mode.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gan_tsc import losses, models, parallel, train_loop
from gan_tsc.data import images as image_data
from gan_tsc.metrics.classification import ClassifierEvaluator
from gan_tsc.phases import common, supervised

LOSSES = ("kl", "l2")


def make_step(teacher, student, dataset, c, schedule):
  if c.loss not in LOSSES:
    raise ValueError(f"Unknown distillation loss {c.loss!r}; choose one of {LOSSES}.")

  def step(state: common.TrainState, batch, key, teacher_variables):
    key = jax.random.fold_in(key, state.step)
    images = image_data.preprocess(batch["image"], dataset, key, train=True)
    t_logits = teacher.apply(teacher_variables, images, train=False)

    def loss_fn(params):
      s_logits, updates = student.apply({"params": params, "batch_stats": state.batch_stats},
                                        images, train=True, mutable=["batch_stats"])
      loss = (losses.kd_kl(s_logits, t_logits, c.temperature) if c.loss == "kl"
              else losses.logit_l2(s_logits, t_logits))
      return loss, (s_logits, updates.get("batch_stats", state.batch_stats))

    (loss, (s_logits, stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    metrics = {"distill_loss": loss,
               "teacher_agreement": jnp.mean(jnp.argmax(s_logits, -1) == jnp.argmax(t_logits, -1)),
               "learning_rate": schedule(state.step)}
    return state.apply_gradients(grads=grads, batch_stats=stats), metrics

  return step


def run(config, phase: str, workdir: str, inputs: dict) -> common.TrainedClassifier:
  c = config[phase]
  if c.teacher not in inputs:
    raise ValueError(f"{phase}.teacher={c.teacher!r} names no earlier phase of the pipeline.")
  if c.get("p_fake", 0.0):
    raise ValueError(f"{phase}.p_fake={c.p_fake}: synthetic inputs need a generator phase, "
                     "which this pipeline does not have; set p_fake=0.")
  teacher = inputs[c.teacher]
  dataset = image_data.load(config.data)
  common.check_num_classes(c.student, dataset.num_classes, phase)
  student = models.build_classifier(c.student)
  path, writer = common.start_phase(config, phase, workdir)
  parallel.check_batch_size(c.batch_size)
  batcher = image_data.EpochBatcher({"image": dataset.train_images}, c.batch_size,
                                    seed=common.phase_seed(config.seed, phase))
  num_steps = train_loop.num_steps_of(c, batcher.steps_per_epoch)
  key = common.phase_key(config.seed, phase)
  state, schedule = common.create_classifier_state(student, key, dataset.image_shape,
                                                   c.optimizer, num_steps)
  repl = parallel.replicated()
  step = jax.jit(make_step(teacher.model, student, dataset, c, schedule), donate_argnums=0,
                 in_shardings=(repl, parallel.batch_sharded(), repl, repl),
                 out_shardings=(repl, repl))
  evaluator = ClassifierEvaluator(student, dataset, c.eval_batch_size)
  evaluate = lambda s, _: {f"test_{k}": v for k, v in evaluator(s.variables).items()}
  settings = train_loop.LoopSettings.from_config(phase, workdir, c, num_steps)
  result = train_loop.run(settings, state, lambda s, b: step(s, b, key, teacher.variables),
                          batcher.batch, writer, evaluate)
  return supervised.finish(phase, workdir, writer, result, evaluate, student, c.student, num_steps)
