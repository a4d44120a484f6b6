"""Random-forest compression: a big forest teacher, small forest students.

GAN-TSC's tabular experiment. The teacher is a RandomForestClassifier (500
trees); a student is a RandomForestRegressor with a few trees fit to the
teacher's class probabilities: on a binary task the probability of class 1,
scored by ROC-AUC on the test split; on K > 2 classes the K-vector
(multi-output regression), predicting the argmax, scored by accuracy. The
rows a student learns from are real, synthetic, or both, and every row is
labelled by the teacher alone.

Rows of the table (`ROWS`; mean ± std over seeds at each student size):

  no teacher (regressor)    RandomForestRegressor on the true labels (one-hot)
  training data only        real rows, teacher probabilities
  GAN data only             synthetic rows from the GAN only
  training + GAN            real rows plus the GAN's rows
  training + MUNGE          real rows plus MUNGE rows (Bucila et al. 2006)
  MUNGE only                MUNGE rows alone (the authors' `munge_fake_only`)
  no teacher (classifier)   RandomForestClassifier on the true labels
  training + GMM            real rows plus rows from a per-class Gaussian mixture

A forest's prediction is the mean of its trees', and sklearn draws the seeds
of a forest's trees in order from its `random_state`, so the first k trees of
a 20-tree forest are exactly the k-tree forest of the same seed. Each
(row, seed) therefore fits one forest of max(tree_counts) trees and scores
its prefixes: the same numbers as separate fits, at a fraction of the cost.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors

from gan_tsc.errors import UserError

# key -> (label, real rows?, synthetic source or None, labels from)
ROWS = {
    "no_teacher_regressor": ("no teacher (regressor)", True, None, "truth"),
    "training": ("training data only", True, None, "teacher"),
    "gan": ("GAN data only", False, "gan", "teacher"),
    "training_gan": ("training + GAN", True, "gan", "teacher"),
    "munge": ("training + MUNGE", True, "munge", "teacher"),
    "munge_only": ("MUNGE only", False, "munge", "teacher"),
    "no_teacher_classifier": ("no teacher (classifier)", True, None, "classifier"),
    "training_gmm": ("training + Gaussian mixture", True, "gmm", "teacher"),
    "gmm": ("Gaussian mixture data only", False, "gmm", "teacher"),
}
DEFAULT_ROWS = ("no_teacher_regressor", "training", "gan", "training_gan", "munge",
                "munge_only", "no_teacher_classifier", "training_gmm")
CLASS_MIXES = ("training", "balanced")  # how synthetic GAN and mixture rows draw classes


class ForestError(UserError, ValueError):
  """A forest setup that cannot run; the message says what to change."""


# ----------------------------------------------------------------------------
# Teacher, students, scores.


def fit_teacher(features, labels, n_trees: int = 500, seed: int = 0,
                n_jobs: int = 2) -> RandomForestClassifier:
  return RandomForestClassifier(n_trees, random_state=seed, n_jobs=n_jobs).fit(features, labels)


def teacher_targets(teacher: RandomForestClassifier, features) -> np.ndarray:
  """The regression target a student learns: P(class 1) if binary, else the (N, K) vector."""
  probabilities = teacher.predict_proba(features)
  return probabilities[:, 1] if probabilities.shape[1] == 2 else probabilities


def label_targets(labels, num_classes: int) -> np.ndarray:
  """The 'no teacher' regression target: the label (binary) or its one-hot vector."""
  if num_classes == 2:
    return labels.astype(np.float64)
  return np.eye(num_classes)[labels]


def metric_name(num_classes: int) -> str:
  return "roc_auc" if num_classes == 2 else "accuracy"


def score(labels, predictions, num_classes: int) -> float:
  """ROC-AUC of P(class 1) when binary, else accuracy of the argmax."""
  predictions = np.asarray(predictions)
  if num_classes == 2:
    if predictions.ndim == 2:
      predictions = predictions[:, 1]
    return float(roc_auc_score(labels, predictions))
  return float(accuracy_score(labels, np.argmax(predictions, -1)))


def prefix_predictions(forest, features, tree_counts) -> list[np.ndarray]:
  """Predictions of the forest's first k trees, for each k in tree_counts.

  Regressors average their trees' outputs, classifiers their probabilities,
  as the forests themselves do.
  """
  if max(tree_counts) > len(forest.estimators_):
    raise ForestError(f"The forest has {len(forest.estimators_)} trees; cannot score "
                      f"{max(tree_counts)}.")
  features = np.asarray(features, np.float32)  # what the forests predict on
  classify = isinstance(forest, RandomForestClassifier)
  total, done, out = 0.0, 0, {}
  for k in sorted(set(tree_counts)):
    for tree in forest.estimators_[done:k]:
      total = total + (tree.predict_proba(features) if classify else tree.predict(features))
    done = k
    out[k] = total / k
  return [out[k] for k in tree_counts]


def student_scores(features, targets, test_features, test_labels, tree_counts, seed: int,
                   num_classes: int, n_jobs: int = 2, classifier: bool = False) -> list[float]:
  """Test scores of student forests of every size in tree_counts (one fit, seed `seed`)."""
  model = RandomForestClassifier if classifier else RandomForestRegressor
  forest = model(max(tree_counts), random_state=seed, n_jobs=n_jobs).fit(features, targets)
  return [score(test_labels, p, num_classes)
          for p in prefix_predictions(forest, test_features, tree_counts)]


# ----------------------------------------------------------------------------
# Synthetic rows that are not from the GAN.


def munge(features, multiplier: int = 9, swap_probability: float = 0.1, spread: float = 1.5,
          seed: int = 0, clip: bool = True) -> np.ndarray:
  """MUNGE (Bucila, Caruana, Niculescu-Mizil 2006) for continuous features.

  Each of `multiplier` passes copies the training rows and walks them in
  order: for a row e and its nearest neighbour e' (Euclidean, on features
  scaled to unit variance; found once per pass), each feature a is, with
  probability `swap_probability`, resampled in both rows:
  e_a ~ N(e'_a, |e_a - e'_a| / spread) and e'_a ~ N(e_a, |e_a - e'_a| / spread).
  Returns multiplier × N rows; row i of each pass started as training row i,
  so the passes keep the training set's class mix. With `clip`, values stay
  within each feature's training range.
  """
  features = np.asarray(features, np.float64)
  n, f = features.shape
  if n < 2:
    raise ForestError("MUNGE needs at least two training rows (each row swaps with a neighbour).")
  scale = features.std(0)
  scale = np.where(scale > 0, scale, 1.0)
  rng = np.random.default_rng(seed)
  lo, hi = features.min(0), features.max(0)
  passes = []
  for _ in range(multiplier):
    rows = features.copy()
    neighbours = NearestNeighbors(n_neighbors=2).fit(rows / scale).kneighbors(
        rows / scale, return_distance=False)
    # A duplicate row may list itself second; take whichever is not the row.
    neighbour = np.where(neighbours[:, 0] == np.arange(n), neighbours[:, 1], neighbours[:, 0])
    swaps = rng.random((n, f)) < swap_probability
    noise = rng.standard_normal((n, f, 2))
    for i in np.flatnonzero(swaps.any(1)):  # the walk is sequential: rows change as it goes
      j, cols = neighbour[i], swaps[i]
      a, b = rows[i, cols], rows[j, cols]
      sd = np.abs(a - b) / spread
      rows[i, cols] = b + sd * noise[i, cols, 0]
      rows[j, cols] = a + sd * noise[i, cols, 1]
    passes.append(np.clip(rows, lo, hi) if clip else rows)
  return np.concatenate(passes)


def balanced_labels(n: int, num_classes: int, rng: np.random.Generator,
                    counts_only: bool = False) -> np.ndarray:
  """n class ids, n // K of each and one more for the first n % K classes,
  shuffled (or only the counts): the authors' class mix for synthetic rows."""
  counts = np.full(num_classes, n // num_classes) + (np.arange(num_classes) < n % num_classes)
  if counts_only:
    return counts
  return rng.permutation(np.repeat(np.arange(num_classes), counts)).astype(np.int32)


class ClassGaussianMixture:
  """One scikit-learn GaussianMixture per class; samples with the class mix."""

  def __init__(self, features, labels, num_classes: int, components: int = 10,
               covariance: str = "full", seed: int = 0):
    self.frequencies = np.bincount(labels, minlength=num_classes) / len(labels)
    self.lo, self.hi = features.min(0), features.max(0)
    self.mixtures = []
    for k in range(num_classes):
      rows = features[labels == k]
      mixture = GaussianMixture(min(components, len(rows)), covariance_type=covariance,
                                reg_covar=1e-5, random_state=seed)
      self.mixtures.append(mixture.fit(rows))

  def sample(self, n: int, seed: int, clip: bool = True, class_mix: str = "training"):
    """n rows (and their classes): classes drawn with the training frequencies,
    or with class_mix='balanced' n/K of each (the remainder to the first classes)."""
    rng = np.random.default_rng(seed)
    if class_mix == "balanced":
      counts = balanced_labels(n, len(self.frequencies), rng, counts_only=True)
    else:
      counts = rng.multinomial(n, self.frequencies)
    rows, labels = [], []
    for k, (mixture, count) in enumerate(zip(self.mixtures, counts)):
      if not count:
        continue
      mixture.random_state = int(rng.integers(2**31))  # GaussianMixture.sample reads this
      rows.append(mixture.sample(count)[0])
      labels.append(np.full(count, k))
    rows, labels = np.concatenate(rows), np.concatenate(labels)
    order = rng.permutation(n)
    rows = np.clip(rows, self.lo, self.hi) if clip else rows
    return rows[order], labels[order]


# ----------------------------------------------------------------------------
# The table.


@dataclasses.dataclass
class CompressionTable:
  """Student scores, scores[row] of shape (num_seeds, len(tree_counts))."""
  metric: str
  tree_counts: tuple
  scores: dict
  teacher_score: float
  teacher_trees: int
  seconds: dict = dataclasses.field(default_factory=dict)

  def mean(self, row: str) -> np.ndarray:
    return self.scores[row].mean(0)

  def std(self, row: str) -> np.ndarray:
    """Sample standard deviation over seeds (0 with a single seed)."""
    s = self.scores[row]
    return s.std(0, ddof=1) if len(s) > 1 else np.zeros(s.shape[1])

  def markdown(self) -> str:
    name = "ROC-AUC" if self.metric == "roc_auc" else "accuracy"
    seeds = len(next(iter(self.scores.values())))
    lines = [f"Test {name} of student forests (mean ± std over {seeds} seeds); teacher "
             f"(RandomForestClassifier, {self.teacher_trees} trees): {self.teacher_score:.4f}",
             "",
             "| student trained on | " + " | ".join(f"{k} trees" if k > 1 else "1 tree"
                                                   for k in self.tree_counts) + " |",
             "|---" * (len(self.tree_counts) + 1) + "|"]
    for row in self.scores:
      cells = [f"{m:.4f} ± {s:.4f}" for m, s in zip(self.mean(row), self.std(row))]
      lines.append(f"| {ROWS[row][0]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

  def to_json(self) -> dict:
    return {
        "metric": self.metric, "tree_counts": list(self.tree_counts),
        "teacher_trees": self.teacher_trees, f"teacher_test_{self.metric}": self.teacher_score,
        "rows": {row: {"label": ROWS[row][0], "mean": self.mean(row).tolist(),
                       "std": self.std(row).tolist(), "per_seed": self.scores[row].tolist()}
                 for row in self.scores},
        "seconds": self.seconds}


def compression_table(dataset, teacher: RandomForestClassifier,
                      synthetic: dict[str, Callable[[int], np.ndarray]], *,
                      rows=DEFAULT_ROWS, tree_counts=(1, 5, 10, 15, 20), num_seeds: int = 3,
                      seed: int = 0, n_jobs: int = 2, log=print) -> CompressionTable:
  """Scores every student row at every size over `num_seeds` seeds.

  `dataset` is a `data.tabular.TabularDataset`; `synthetic[name](seed)`
  draws that source's rows (data units) for one seed. Per seed the students
  get `seed * 1000 + s` as random state and fresh synthetic rows; the
  teacher is fixed.
  """
  for row in rows:
    if row not in ROWS:
      raise ForestError(f"Unknown table row {row!r}; choose from {tuple(ROWS)}.")
    source = ROWS[row][2]
    if source and source not in synthetic:
      raise ForestError(f"Row {row!r} needs synthetic rows from {source!r}, which this run "
                        "does not have (set the forest phase's generator, or drop the row).")
  k = dataset.num_classes
  x, y = dataset.train_features, dataset.train_labels
  x_test, y_test = dataset.test_features, dataset.test_labels
  teacher_score = score(y_test, teacher.predict_proba(x_test), k)
  real_targets = teacher_targets(teacher, x)
  scores = {row: np.zeros((num_seeds, len(tree_counts))) for row in rows}
  seconds = {}
  for s in range(num_seeds):
    student_seed = seed * 1000 + s
    drawn = {}
    for name in sorted({ROWS[row][2] for row in rows} - {None}):
      start = time.perf_counter()
      fake = np.asarray(synthetic[name](student_seed), np.float64)
      if fake.ndim != 2 or fake.shape[1] != dataset.num_features:
        raise ForestError(f"The {name} source made rows of shape {fake.shape}; the teacher "
                          f"takes {dataset.num_features} features.")
      drawn[name] = (fake, teacher_targets(teacher, fake))
      seconds[f"sample_{name}"] = seconds.get(f"sample_{name}", 0.0) + time.perf_counter() - start
    for row in rows:
      _, with_real, source, labels_from = ROWS[row]
      start = time.perf_counter()
      if labels_from == "truth":
        features, targets = x, label_targets(y, k)
      elif labels_from == "classifier":
        features, targets = x, y
      else:
        parts = ([(x, real_targets)] if with_real else []) + ([drawn[source]] if source else [])
        features = np.concatenate([p[0] for p in parts])
        targets = np.concatenate([p[1] for p in parts])
      scores[row][s] = student_scores(features, targets, x_test, y_test, tree_counts,
                                      student_seed, k, n_jobs, labels_from == "classifier")
      seconds[row] = seconds.get(row, 0.0) + time.perf_counter() - start
      log(f"[forest] seed {s}: {ROWS[row][0]:<28} " +
          " ".join(f"{v:.4f}" for v in scores[row][s]))
  return CompressionTable(metric_name(k), tuple(tree_counts), scores, teacher_score,
                          len(teacher.estimators_), seconds)
