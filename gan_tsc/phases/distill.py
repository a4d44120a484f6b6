"""Distillation of a frozen teacher into a student, on real and synthetic inputs.

The student never sees a label: its targets are the teacher's logits, with
KL at a temperature (Hinton et al.; DAFL's 'KD with data' baseline) or the
squared L2 between logits (GAN-TSC's loss). Real images are augmented as the
data config says; the teacher sees the same batch, in eval mode.

GAN-TSC: with `generator` naming an earlier `gan` phase, each step's batch is
synthetic with probability `p_fake`, drawn fresh from the frozen generator
inside the jitted step (no host round trip); else it is the real batch.
`p_fake=0` is the 'training data only' baseline, `p_fake=1` 'GAN data only'.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gan_tsc import losses, models, parallel, train_loop
from gan_tsc.data import images as image_data
from gan_tsc.metrics.classification import ClassifierEvaluator
from gan_tsc.phases import common, supervised

LOSSES = ("kl", "l2")


def make_step(teacher, student, dataset, c, schedule, sample=None):
  """step(state, batch, key, teacher_variables, generator_variables) -> (state, metrics).

  `sample(generator_variables, key, n)` draws n generator images in [-1, 1];
  without it every batch is real.
  """
  if c.loss not in LOSSES:
    raise ValueError(f"Unknown distillation loss {c.loss!r}; choose one of {LOSSES}.")
  p_fake = float(c.get("p_fake", 0.0)) if sample is not None else 0.0

  def step(state: common.TrainState, batch, key, teacher_variables, generator_variables):
    key = jax.random.fold_in(key, state.step)
    augment_key, coin_key, sample_key = jax.random.split(key, 3)
    real_images = lambda: image_data.preprocess(batch["image"], dataset, augment_key, train=True)
    if p_fake > 0:
      synthetic = jax.random.bernoulli(coin_key, p_fake)
      fake_images = lambda: image_data.from_tanh_range(
          sample(generator_variables, sample_key, batch["image"].shape[0])[0], dataset)
      # One branch runs: a real batch costs no generator pass.
      images = jax.lax.cond(synthetic, fake_images, real_images)
    else:
      synthetic, images = jnp.asarray(False), real_images()
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
               "synthetic_batch": synthetic.astype(jnp.float32),
               "learning_rate": schedule(state.step)}
    return state.apply_gradients(grads=grads, batch_stats=stats), metrics

  return step


def check_generator(generator: common.TrainedGenerator, image_shape, phase: str) -> None:
  """A generator whose images the teacher cannot take is refused before training."""
  shape = jax.eval_shape(lambda v: generator.sample(v, jax.random.PRNGKey(0), 2)[0],
                         generator.variables).shape
  if tuple(shape[1:]) != tuple(image_shape):
    raise ValueError(
        f"{phase}: the generator makes images of shape {tuple(shape[1:])} but the teacher "
        f"takes {tuple(image_shape)}; train the generator on the teacher's data "
        "(same config.data) or restore a matching checkpoint.")


def run(config, phase: str, workdir: str, inputs: dict) -> common.TrainedClassifier:
  c = config[phase]
  if c.teacher not in inputs:
    raise ValueError(f"{phase}.teacher={c.teacher!r} names no earlier phase of the pipeline.")
  if not 0.0 <= c.get("p_fake", 0.0) <= 1.0:
    raise ValueError(f"{phase}.p_fake={c.p_fake} is not a probability in [0, 1].")
  generator = None
  if c.get("p_fake", 0.0) > 0:
    if not c.get("generator", "") or c.generator not in inputs:
      raise ValueError(f"{phase}.p_fake={c.p_fake} needs synthetic inputs: set "
                       f"{phase}.generator to an earlier gan phase of the pipeline, or p_fake=0.")
    generator = inputs[c.generator]
  teacher = inputs[c.teacher]
  dataset = image_data.load(config.data)
  common.check_num_classes(c.student, dataset.num_classes, phase)
  student = models.build_classifier(c.student)
  if generator is not None:
    check_generator(generator, dataset.image_shape, phase)
  path, writer = common.start_phase(config, phase, workdir)
  parallel.check_batch_size(c.batch_size)
  batcher = image_data.EpochBatcher({"image": dataset.train_images}, c.batch_size,
                                    seed=common.phase_seed(config.seed, phase))
  num_steps = train_loop.num_steps_of(c, batcher.steps_per_epoch)
  key = common.phase_key(config.seed, phase)
  state, schedule = common.create_classifier_state(student, key, dataset.image_shape,
                                                   c.optimizer, num_steps)
  repl = parallel.replicated()
  step = jax.jit(make_step(teacher.model, student, dataset, c, schedule,
                           generator.sample if generator else None), donate_argnums=0,
                 in_shardings=(repl, parallel.batch_sharded(), repl, repl, repl),
                 out_shardings=(repl, repl))
  generator_variables = generator.variables if generator else {}
  evaluator = ClassifierEvaluator(student, dataset, c.eval_batch_size)
  evaluate = lambda s, _: {f"test_{k}": v for k, v in evaluator(s.variables).items()}
  settings = train_loop.LoopSettings.from_config(phase, workdir, c, num_steps)
  result = train_loop.run(settings, state, lambda s, b: step(s, b, key, teacher.variables, generator_variables),
                          batcher.batch, writer, evaluate)
  return supervised.finish(phase, workdir, writer, result, evaluate, student, c.student, num_steps)
