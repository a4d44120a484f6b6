"""Distillation of a frozen teacher into a student, on real and synthetic inputs.

The student never sees a label: its targets are the teacher's logits, with
KL at a temperature (Hinton et al.; DAFL's 'KD with data' baseline) or the
squared L2 between logits (GAN-TSC's loss). Real images are augmented as the
data config says; the teacher sees the same batch, in eval mode unless
`teacher_dropout` (GAN-TSC's image code: its NIN labels with dropout on).
`real_examples` (0 = all) keeps the student's real images to the first that
many of the training set the teacher and the GAN learnt from: a small
compression set, where a student trained long on real data alone overfits.
`heldout_examples` also scores the student on the last that many training
images (outside its real set), for choosing settings without the test split.

GAN-TSC: with `generator` naming an earlier `gan` phase, each step's batch is
synthetic with probability `p_fake`, drawn fresh from the frozen generator
inside the jitted step (no host round trip); else it is the real batch.
`p_fake=0` is the 'training data only' baseline, `p_fake=1` 'GAN data only'.
"""

from __future__ import annotations

import dataclasses

import jax

from gan_tsc import models, parallel, train_loop
from gan_tsc.data import batching
from gan_tsc.data import images as image_data
from gan_tsc.metrics.classification import ClassifierEvaluator
from gan_tsc.phases import shared
from gan_tsc.phases.shared import students
from gan_tsc.trained import TrainedClassifier, TrainedGenerator

def check_generator(generator: TrainedGenerator, image_shape, phase: str) -> None:
  """A generator whose images the teacher cannot take is refused before training."""
  shape = jax.eval_shape(lambda v: generator.sample(v, jax.random.PRNGKey(0), 2)[0],
                         generator.variables).shape
  if tuple(shape[1:]) != tuple(image_shape):
    raise ValueError(
        f"{phase}: the generator makes images of shape {tuple(shape[1:])} but the teacher "
        f"takes {tuple(image_shape)}; train the generator on the teacher's data "
        "(same config.data) or restore a matching checkpoint.")


def heldout_and_test_metrics(c, phase: str, student, dataset):
  """variables -> test metrics, and with `heldout_examples` the accuracy on the
  last that many training images (`heldout_accuracy`), which the student's
  real set (`real_examples`) must leave out: settings are chosen there, not
  on the test split."""
  test_metrics = ClassifierEvaluator(student, dataset, c.eval_batch_size).test_metrics
  if not c.heldout_examples:
    return test_metrics
  n = len(dataset.train_images)
  if not c.real_examples or c.real_examples + c.heldout_examples > n:
    raise ValueError(f"{phase}.heldout_examples={c.heldout_examples} must leave out the "
                     f"student's real images: set real_examples so that real_examples + "
                     f"heldout_examples <= {n} (now real_examples={c.real_examples}).")
  held = dataclasses.replace(dataset, train_images=dataset.train_images[-c.heldout_examples:],
                             train_labels=dataset.train_labels[-c.heldout_examples:])
  heldout = ClassifierEvaluator(student, held, c.eval_batch_size, split="train")
  return lambda variables: {**test_metrics(variables),
                            "heldout_accuracy": heldout(variables)["accuracy"]}


def run(config, phase: str, workdir: str, inputs: dict) -> TrainedClassifier:
  c = config[phase]
  if c.teacher not in inputs:
    raise ValueError(f"{phase}.teacher={c.teacher!r} names no earlier phase of the pipeline.")
  if not 0.0 <= c.p_fake <= 1.0:
    raise ValueError(f"{phase}.p_fake={c.p_fake} is not a probability in [0, 1].")
  generator = None
  if c.p_fake > 0:
    if not c.generator or c.generator not in inputs:
      raise ValueError(f"{phase}.p_fake={c.p_fake} needs synthetic inputs: set "
                       f"{phase}.generator to an earlier gan phase of the pipeline, or p_fake=0.")
    generator = inputs[c.generator]
  teacher = inputs[c.teacher]
  if c.teacher_dropout and teacher.variables.get("batch_stats"):
    raise ValueError(f"{phase}.teacher_dropout labels with the teacher in training mode, but "
                     f"{c.teacher!r} has BatchNorm, which would then normalise by the batch; "
                     "use a teacher without BatchNorm (e.g. nin) or teacher_dropout=False.")
  dataset = image_data.load(config.data)
  shared.check_num_classes(c.student, dataset.num_classes, phase)
  student = models.build_classifier(c.student)
  if generator is not None:
    check_generator(generator, dataset.image_shape, phase)
  p = shared.start(config, phase, workdir)
  evaluate = heldout_and_test_metrics(c, phase, student, dataset)
  if c.checkpoint:  # a finished student of another run instead of training
    variables = shared.restore_classifier(p, student, dataset.image_shape)
    return shared.finish_classifier(p, student, c.student, variables, evaluate, 0)

  parallel.check_batch_size(c.batch_size)
  real = dataset.train_images
  if c.real_examples:  # a compression set smaller than the teacher's training set
    if c.real_examples > len(real):
      raise ValueError(f"{phase}.real_examples={c.real_examples} but the training set has "
                       f"{len(real)} images; lower it (0 = all).")
    real = real[:c.real_examples]
  batcher = batching.EpochBatcher({"image": real}, c.batch_size, seed=p.seed)
  num_steps = train_loop.num_steps_of(c, batcher.steps_per_epoch)
  state, schedule = shared.create_classifier_state(student, p.key, dataset.image_shape,
                                                   c.optimizer, num_steps,
                                                   c.student.get("init", "flax"))
  step = shared.jit_step(students.make_distill_step(
      teacher.model, student, dataset, schedule, loss=c.loss, temperature=c.temperature,
      p_fake=c.p_fake, sample=generator.sample if generator else None,
      teacher_dropout=c.teacher_dropout, quantize_synthetic=c.quantize_synthetic), frozen=2)
  result = shared.train(p, state, step, batcher.batch, num_steps, teacher.variables,
                        generator.variables if generator else {},
                        evaluate=lambda s, _: evaluate(s.variables))
  return shared.finish_classifier(p, student, c.student, result.state.variables, evaluate,
                                  num_steps, result)
