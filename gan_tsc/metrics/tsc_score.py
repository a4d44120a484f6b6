"""The TSC Score of a candidate input set, beside its Inception Score: the arithmetic.

TSC Score (GAN-TSC, a.k.a. Compression Score): train a fresh student on the
candidate inputs, every one labelled by the frozen teacher only, for a fixed
budget -- one pass over as many samples as the real training set -- and
measure its top-1 accuracy on the real test set. Over n seeds,

    score  R = mean(c) / mean(r)     (c, r: accuracy per seed on candidates, real inputs)
    stderr   = sqrt(sum_i (c_i - R r_i)^2 / (n (n - 1))) / mean(r)

The standard error is the delta method's for a ratio of means of pairs: the
phase trains seed i's two students from the same initialisation and batch
order, so (c_i, r_i) are paired, and the variance of the denominator and its
covariance with the numerator count (the same as R^2 (s_c^2 / c^2 + s_r^2 / r^2
- 2 s_cr / (c r)) / n with the means c, r and sample (co)variances s). The real
training set scores 1 by construction (its own runs are the denominator), with
standard error 0, and 1 means "as good as real data for compression". The
students are trained by the `tsc_score` phase (gan_tsc/phases/tsc_score.py);
this module turns their accuracies into scores and a table.
"""

from __future__ import annotations

import dataclasses

import numpy as np


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


def score(candidate: np.ndarray, real: np.ndarray) -> tuple[float, float]:
  """(TSC Score, its standard error) from per-seed accuracies on a candidate set and
  on the real training set, paired by seed (the module's docstring has the formula);
  the standard error is NaN with one seed."""
  candidate, real = np.asarray(candidate, np.float64), np.asarray(real, np.float64)
  if candidate.shape != real.shape or candidate.ndim != 1:
    raise ValueError(f"Accuracies per seed must pair up: {candidate.shape} candidate "
                     f"against {real.shape} real.")
  ratio = candidate.mean() / real.mean()
  n = len(candidate)
  if n < 2:
    return float(ratio), float("nan")
  residuals = candidate - ratio * real
  stderr = np.sqrt(np.sum(residuals ** 2) / (n * (n - 1))) / real.mean()
  return float(ratio), float(stderr)


def table(scores: list[SetScore]) -> str:
  """Markdown: one row per candidate set, TSC Score ± s.e. next to the IS."""
  lines = ["| input set | TSC Score | student test accuracy (mean) | Inception Score |",
           "|---|---|---|---|"]
  for s in scores:
    lines.append(f"| {s.name} | {s.tsc_score:.3f} ± {s.tsc_stderr:.3f} | "
                 f"{100 * np.mean(s.accuracies):.2f}% | {s.inception_score:.2f} ± "
                 f"{s.inception_std:.2f} |")
  return "\n".join(lines) + "\n"
