"""The TSC Score phase: rates an earlier phase's generator by the student it produces.

    config.tsc = dict(kind='tsc_score', generator='gan', teacher='teacher',
                      student=..., optimizer=..., batch_size=128, num_seeds=3, ...)

For each seed, a fresh student (the block's `student` model) is trained with
the frozen teacher's logits as its only targets, for one pass over as many
inputs as the real training set: once on the real training set (the
denominator) and once on as many samples of the generator. Its final test
accuracy gives the TSC Score and its standard error over seeds
(gan_tsc/metrics/tsc_score.py); beside it, the Inception Score of the same
samples with the teacher as the classifier (for the real set, of the test
split: on its own training images the teacher is surer than on any new ones).
`generator` names a GAN phase or a data-free phase (its generator). The
table goes to the console, `<phase>/table.md`, TensorBoard (text) and
results.json.

`TscScorer` is the protocol itself, for scoring any input set (the
GAN-TSC image benchmark scores every set of its table).
"""

from __future__ import annotations

import json
import os

import jax
import numpy as np

from gan_tsc import models, optim, parallel, reporting
from gan_tsc.data import batching
from gan_tsc.data import images as image_data
from gan_tsc.metrics import image_quality
from gan_tsc.metrics import tsc_score as tsc_metrics
from gan_tsc.metrics.classification import ClassifierEvaluator
from gan_tsc.ops import pixels
from gan_tsc.phases import shared
from gan_tsc.phases.shared import students
from gan_tsc.trained import TrainedClassifier, TrainedGenerator, TrainState, generator_of


class TscScorer:
  """Trains fresh students on candidate sets of uint8 images; scores them against real data.

  `train_student(images, seed) -> accuracy` is the protocol; `score` runs it
  for every seed, once for the real training set (cached: the denominator)
  and once for the candidate.
  """

  def __init__(self, teacher: TrainedClassifier, dataset: image_data.ImageDataset,
               student_model, optimizer_config, *, batch_size: int = 128, num_seeds: int = 3,
               loss: str = "l2", temperature: float = 1.0, eval_batch_size: int = 512,
               num_steps: int | None = None):
    parallel.check_batch_size(batch_size)
    if num_seeds < 1:
      raise ValueError(f"num_seeds={num_seeds}: score with at least one seed.")
    self.teacher, self.dataset = teacher, dataset
    self.student_config, self.optimizer_config = student_model, optimizer_config
    self.batch_size, self.num_seeds = batch_size, num_seeds
    # One pass over as many inputs as the real training set, unless told.
    self.num_steps = num_steps or max(1, len(dataset.train_images) // batch_size)  # None: a pass
    self.student = models.build_classifier(student_model)
    self.evaluator = ClassifierEvaluator(self.student, dataset, eval_batch_size)
    tx, schedule = optim.build(optimizer_config, self.num_steps)

    def init(key):  # as shared.create_classifier_state, with the key an argument
      variables = models.init_variables(self.student, key, dataset.image_shape)
      return TrainState.create(apply_fn=self.student.apply, params=variables["params"], tx=tx,
                               batch_stats=variables["batch_stats"])

    # Built once: every seed and every candidate set reuses the compiled programs.
    self._init = jax.jit(init, out_shardings=parallel.replicated())
    self._step = shared.jit_step(students.make_distill_step(
        teacher.model, self.student, dataset, schedule, loss=loss, temperature=temperature),
        frozen=2)
    self._real_accuracies = None
    self._teacher_probs = jax.jit(lambda v, x: jax.nn.softmax(teacher.model.apply(
        v, image_data.preprocess(x, dataset), train=False), -1))

  def train_student(self, images: np.ndarray, seed: int) -> float:
    """Test accuracy of a student trained on `images` with teacher logits only."""
    key = jax.random.PRNGKey(seed)
    state = self._init(key)
    batcher = batching.EpochBatcher({"image": images}, self.batch_size, seed=seed)
    for i in range(self.num_steps):
      state, _ = self._step(state, batcher.batch(i), key, self.teacher.variables, {})
    return float(self.evaluator(state.variables)["accuracy"])

  def accuracies(self, images: np.ndarray) -> np.ndarray:
    if len(images) < self.batch_size:
      raise ValueError(f"A candidate set needs at least batch_size={self.batch_size} "
                       f"images, got {len(images)}.")
    return np.array([self.train_student(images, seed) for seed in range(self.num_seeds)])

  def real_accuracies(self) -> np.ndarray:
    if self._real_accuracies is None:
      self._real_accuracies = self.accuracies(self.dataset.train_images)
    return self._real_accuracies

  def inception_score(self, images: np.ndarray, chunk: int = 1000) -> tuple[float, float]:
    probs = [np.asarray(self._teacher_probs(self.teacher.variables, part))[:count]
             for part, count in batching.padded_chunks(images, chunk)]
    return image_quality.inception_score(np.concatenate(probs), num_splits=10)

  def score(self, name: str, images: np.ndarray,
            inception_images: np.ndarray | None = None) -> tsc_metrics.SetScore:
    """The set's TSC Score, and the Inception Score of `inception_images` (default:
    the set itself; for real images, held-out ones the teacher did not learn)."""
    real = self.real_accuracies()
    candidate = real if images is self.dataset.train_images else self.accuracies(images)
    value, stderr = tsc_metrics.score(candidate, real)
    inception, inception_std = self.inception_score(
        images if inception_images is None else inception_images)
    return tsc_metrics.SetScore(name, value, stderr, [float(a) for a in candidate],
                                float(inception), float(inception_std))


def generated_images(generator: TrainedGenerator, key, n: int, labels=None) -> np.ndarray:
  """n uint8 images from a frozen image generator (labels fix the classes, if given)."""
  return pixels.tanh_to_uint8(generator.sample_on_host(key, n, labels)[0])


def run(config, phase: str, workdir: str, inputs: dict) -> dict:
  c = config[phase]
  for role in ("teacher", "generator"):
    if c[role] not in inputs:
      raise ValueError(f"{phase}.{role}={c[role]!r} names no earlier phase of the pipeline.")
  teacher, generator = inputs[c.teacher], generator_of(inputs[c.generator])
  if generator is None:
    raise ValueError(f"{phase}.generator={c.generator!r} is neither a GAN phase nor a "
                     "data-free phase that trained a generator.")
  dataset = image_data.load(config.data)
  shared.check_num_classes(c.student, dataset.num_classes, phase)
  # What the scores depend on: a rerun with the same block and generator finds them.
  settings = json.dumps({"block": c.to_dict(), "data": config.data.to_dict(),
                         "generator_steps": generator.metrics.get("steps")},
                        sort_keys=True, default=str)
  earlier = reporting.read_results(workdir).get(phase)
  if earlier and earlier.get("settings") == settings:
    reporting.say(f"[{phase}] scored earlier with these settings: TSC Score "
                  f"{earlier['tsc_score']:.3f} ± {earlier['tsc_stderr']:.3f}")
    return earlier
  p = shared.start(config, phase, workdir)
  scorer = TscScorer(teacher, dataset, c.student, c.optimizer, batch_size=c.batch_size,
                     num_seeds=c.num_seeds, loss=c.loss, temperature=c.temperature,
                     eval_batch_size=c.eval_batch_size, num_steps=c.num_steps)
  n = c.num_samples or len(dataset.train_images)
  samples = generated_images(generator, p.subkey("samples"), n)
  reporting.say(f"[{phase}] training {2 * c.num_seeds} students of {scorer.num_steps} steps "
                f"(real training set, then {n} samples of '{c.generator}')")
  scores = [scorer.score("real training set", dataset.train_images, dataset.test_images),
            scorer.score(f"samples of '{c.generator}'", samples)]
  table = (f"TSC Score (students trained {scorer.num_steps} steps of batch {c.batch_size}, "
           f"{c.num_seeds} seeds, ± standard error) and Inception Score (the teacher as "
           "the classifier; the real set's on the test split, which the teacher did not "
           "learn)\n\n" + tsc_metrics.table(scores))
  reporting.say(f"[{phase}]\n{table}")
  reporting.write_file(os.path.join(p.dir, "table.md"), table)
  p.writer.write_texts(0, {"eval/table": table})
  real, rated = scores
  metrics = {"tsc_score": rated.tsc_score, "tsc_stderr": rated.tsc_stderr,
             "inception_score": rated.inception_score, "inception_std": rated.inception_std,
             "test_accuracy": float(np.mean(rated.accuracies)),
             "real_set_test_accuracy": float(np.mean(real.accuracies)),
             "real_set_inception_score": real.inception_score,
             "accuracies": rated.accuracies, "real_set_accuracies": real.accuracies,
             "num_samples": n, "settings": settings}
  return shared.finish(p, metrics, scorer.num_steps)
