"""The TSC Score of a candidate input set, beside its Inception Score: the arithmetic.

TSC Score (GAN-TSC, a.k.a. Compression Score): train a fresh student on the
candidate inputs, every one labelled by the frozen teacher only, for a fixed
budget -- one pass over as many samples as the real training set -- and
measure its top-1 accuracy on the real test set. Over n seeds,

    score  = mean(accuracy on candidates) / mean(accuracy on real training inputs)
    stderr = std(accuracy on candidates) / sqrt(n) / mean(accuracy on real ...)

so the real training set scores 1 by construction (its own runs are the
denominator) and 1 means "as good as real data for compression". The
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
  on the real training set."""
  candidate, real = np.asarray(candidate, np.float64), np.asarray(real, np.float64)
  stderr = (np.std(candidate, ddof=1) / np.sqrt(len(candidate))
            if len(candidate) > 1 else float("nan"))
  return float(candidate.mean() / real.mean()), float(stderr / real.mean())


def table(scores: list[SetScore]) -> str:
  """Markdown: one row per candidate set, TSC Score ± s.e. next to the IS."""
  lines = ["| input set | TSC Score | student test accuracy (mean) | Inception Score |",
           "|---|---|---|---|"]
  for s in scores:
    lines.append(f"| {s.name} | {s.tsc_score:.3f} ± {s.tsc_stderr:.3f} | "
                 f"{100 * np.mean(s.accuracies):.2f}% | {s.inception_score:.2f} ± "
                 f"{s.inception_std:.2f} |")
  return "\n".join(lines) + "\n"
