"""The TSC Score of a candidate input set, and its Inception Score.

TSC Score (GAN-TSC, a.k.a. Compression Score): train a fresh student on the
candidate inputs, every one labelled by the frozen teacher only, for a fixed
budget -- one pass over as many samples as the real training set -- and
measure its top-1 accuracy on the real test set. Over n seeds,

    score  = mean(accuracy on candidates) / mean(accuracy on real training inputs)
    stderr = std(accuracy on candidates) / sqrt(n) / mean(accuracy on real ...)

so the real training set scores 1 by construction (its own runs are the
denominator) and 1 means "as good as real data for compression". The
Inception Score of the same set uses a classifier trained on the real data
(the teacher here; no network download), so the two can be read side by side.

Candidate sets are uint8 images like the real ones: generator outputs in
[-1, 1] are mapped to pixels (`pixels_from_tanh`), so the same student step
and preprocessing serve every set.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from gan_tsc import models, optim, parallel
from gan_tsc.config_lib import ConfigDict
from gan_tsc.data import images as image_data
from gan_tsc.metrics import image_quality
from gan_tsc.metrics.classification import ClassifierEvaluator
from gan_tsc.phases import common, distill


@dataclasses.dataclass
class SetScore:
  name: str
  tsc_score: float
  tsc_stderr: float
  accuracies: list  # the student's test accuracy per seed
  inception_score: float
  inception_std: float

  def as_dict(self) -> dict:
    return dataclasses.asdict(self)


def pixels_from_tanh(images) -> np.ndarray:
  """Generator images in [-1, 1] -> uint8 pixels (the real data's format)."""
  return np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def generate(generator: common.TrainedGenerator, key, n: int, labels=None,
             chunk: int = 1000) -> np.ndarray:
  """n uint8 images from a frozen generator, drawn in fixed-size chunks.

  `labels` (n,) fixes the class of each sample; by default they are uniform.
  """

  @jax.jit
  def draw(variables, k, chunk_labels):
    return generator.sample(variables, k, chunk, chunk_labels)[0]

  @jax.jit
  def draw_uniform(variables, k):
    return generator.sample(variables, k, chunk)[0]

  out = []
  for i, start in enumerate(range(0, n, chunk)):
    k = jax.random.fold_in(key, i)
    if labels is None:
      images = draw_uniform(generator.variables, k)
    else:
      part = np.asarray(labels[start:start + chunk])
      part = np.concatenate([part, np.zeros(chunk - len(part), part.dtype)])
      images = draw(generator.variables, k, jnp.asarray(part))
    out.append(pixels_from_tanh(images))
  return np.concatenate(out)[:n]


class TscScorer:
  """Trains fresh students on candidate sets; scores them against real data.

  `train_student(images, seed) -> accuracy` is the protocol; `score` runs it
  for every seed, once for the real training set (cached: the denominator)
  and once for the candidate.
  """

  def __init__(self, teacher: common.TrainedClassifier, dataset: image_data.ImageDataset,
               student_model, optimizer_config, *, batch_size: int = 128, num_seeds: int = 3,
               loss: str = "l2", temperature: float = 1.0, eval_batch_size: int = 512):
    parallel.check_batch_size(batch_size)
    self.teacher, self.dataset = teacher, dataset
    self.student_config, self.optimizer_config = student_model, optimizer_config
    self.batch_size, self.num_seeds = batch_size, num_seeds
    self.num_steps = max(1, len(dataset.train_images) // batch_size)  # one pass of real size
    self.student = models.build_classifier(student_model)
    self.evaluator = ClassifierEvaluator(self.student, dataset, eval_batch_size)
    step_config = ConfigDict(dict(loss=loss, temperature=temperature, p_fake=0.0))
    _, schedule = optim.build(optimizer_config, self.num_steps)
    repl = parallel.replicated()
    # Built once: every seed and every candidate set reuses the compiled step.
    self._step = jax.jit(
        distill.make_step(teacher.model, self.student, dataset, step_config, schedule),
        donate_argnums=0, in_shardings=(repl, parallel.batch_sharded(), repl, repl, repl),
        out_shardings=(repl, repl))
    self._real_accuracies = None
    self._teacher_probs = jax.jit(lambda v, x: jax.nn.softmax(teacher.model.apply(
        v, image_data.preprocess(x, dataset), train=False), -1))

  def train_student(self, images: np.ndarray, seed: int) -> float:
    """Test accuracy of a student trained on `images` with teacher logits only."""
    key = jax.random.PRNGKey(seed)
    state, _ = common.create_classifier_state(
        self.student, key, self.dataset.image_shape, self.optimizer_config, self.num_steps)
    batcher = image_data.EpochBatcher({"image": images}, self.batch_size, seed=seed)
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
    probs = []
    for start in range(0, len(images), chunk):
      part = images[start:start + chunk]
      pad = chunk - len(part)
      if pad:
        part = np.concatenate([part, np.zeros((pad,) + part.shape[1:], part.dtype)])
      probs.append(np.asarray(self._teacher_probs(self.teacher.variables, part))[:chunk - pad])
    return image_quality.inception_score(np.concatenate(probs), num_splits=10)

  def score(self, name: str, images: np.ndarray) -> SetScore:
    real = self.real_accuracies()
    candidate = real if images is self.dataset.train_images else self.accuracies(images)
    stderr = (np.std(candidate, ddof=1) / np.sqrt(len(candidate))
              if len(candidate) > 1 else float("nan"))
    inception, inception_std = self.inception_score(images)
    return SetScore(name, float(candidate.mean() / real.mean()), float(stderr / real.mean()),
                    [float(a) for a in candidate], float(inception), float(inception_std))


def table(scores: list[SetScore]) -> str:
  """Markdown: one row per candidate set, TSC Score ± s.e. next to the IS."""
  lines = ["| input set | TSC Score | student test accuracy (mean) | Inception Score |",
           "|---|---|---|---|"]
  for s in scores:
    lines.append(f"| {s.name} | {s.tsc_score:.3f} ± {s.tsc_stderr:.3f} | "
                 f"{100 * np.mean(s.accuracies):.2f}% | {s.inception_score:.2f} ± "
                 f"{s.inception_std:.2f} |")
  return "\n".join(lines) + "\n"
