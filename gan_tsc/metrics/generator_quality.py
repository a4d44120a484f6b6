"""Rating generators: IS, FID and sharpness on a fixed set of latents; GAN-KD's table.

`GeneratorEvaluator` draws `num_samples` images from a generator on latents
fixed by the run's seed alone, so every generator of a run is rated on
the same codes, and compares them with the data's reference split through a
feature extractor (feature_extractors.py). `sweep_table` turns a run's
results.json into the GAN-KD table: per student width d, the distilled
students beside the same-size GAN trained from scratch.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from gan_tsc import parallel, reporting
from gan_tsc.metrics import feature_extractors as fx
from gan_tsc.metrics import image_quality as iq
from gan_tsc.ops import pixels


# A stream of random numbers of its own for the rating latents, apart from
# every phase's training stream.
METRICS_LATENT_STREAM = 0x6E7A


class GeneratorEvaluator:
  """IS, FID and variance-of-Laplacian sharpness of one generator's samples.

  `sample(variables, key, n)` returns (n images in [-1, 1], labels or None); it is jitted
  once, with the batch sharded on the mesh. `extractor` None rates
  sharpness only. The reference (real) statistics are computed on first use.
  """

  def __init__(self, sample, extractor, reference_images: np.ndarray, *, num_samples: int,
               batch_size: int, key, is_splits: int = 10):
    parallel.check_batch_size(batch_size, "generator_metrics.batch_size")
    if num_samples < max(2, is_splits):
      raise ValueError(f"generator_metrics.num_samples={num_samples} is too few for "
                       f"{is_splits} Inception Score splits and a covariance.")
    self.extractor, self.reference_images = extractor, reference_images
    self.num_samples, self.batch_size, self.key, self.is_splits = (
        num_samples, batch_size, key, is_splits)
    self._sample = jax.jit(lambda v, k: sample(v, k, batch_size)[0],
                           in_shardings=(parallel.replicated(), parallel.replicated()),
                           out_shardings=parallel.batch_sharded())
    self._reference = None

  def samples(self, variables) -> np.ndarray:
    """`num_samples` images in [-1, 1] on the evaluator's fixed latents."""
    batches = [fx.to_host(self._sample(variables, jax.random.fold_in(self.key, index)))
               for index in range(-(-self.num_samples // self.batch_size))]
    return np.concatenate(batches)[:self.num_samples]

  def reference(self) -> dict:
    """Statistics of the real reference images (computed once)."""
    if self._reference is None:
      real = np.asarray(pixels.to_tanh_range(self.reference_images))
      self._reference = {"data_sharpness": sharpness(real)}
      if self.extractor is not None:
        probs, features = self.extractor(real)
        self._reference.update(
            data_inception_score=iq.inception_score(probs, self.is_splits)[0],
            statistics=iq.feature_statistics(features))
    return self._reference

  def __call__(self, variables) -> dict:
    images = self.samples(variables)
    reference = self.reference()
    metrics = {"sharpness": sharpness(images), "data_sharpness": reference["data_sharpness"]}
    if self.extractor is not None:
      probs, features = self.extractor(images)
      score, spread = iq.inception_score(probs, self.is_splits)
      metrics.update(inception_score=score, inception_score_std=spread,
                     fid=iq.frechet_distance(*iq.feature_statistics(features),
                                             *reference["statistics"]),
                     data_inception_score=reference["data_inception_score"])
    return metrics


def sharpness(images: np.ndarray) -> float:
  """Mean variance of the Laplacian of images in [-1, 1], measured in [0, 1] pixels."""
  return iq.mean_sharpness(np.asarray(pixels.tanh_to_unit(images)))


def evaluator_for(config, inputs: dict, dataset, sample) -> tuple[GeneratorEvaluator, str]:
  """The evaluator of `config.generator_metrics` and a description of its extractor."""
  m = config.generator_metrics
  extractor = fx.build(m, inputs, dataset)
  reference = dataset.test_images
  if m.max_reference_images:
    reference = reference[:m.max_reference_images]
  # From the run's seed alone (not the phase's): the same latents in every phase.
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), METRICS_LATENT_STREAM)
  evaluator = GeneratorEvaluator(sample, extractor, reference, num_samples=m.num_samples,
                                 batch_size=m.batch_size, key=key, is_splits=m.is_splits)
  description = extractor.description if extractor is not None else "none (sharpness only)"
  return evaluator, description


# ----------------------------------------------------------------------------
# GAN-KD's table.


def _width(phase_config) -> int:
  block = phase_config.student if phase_config.kind == "compress" else phase_config.generator
  return int(block.width)


def sweep_rows(config, results: dict) -> list[dict]:
  """One row per generator width: the teacher first, then students, widest first.

  The teacher is the phase the compress phases name; every other wgan_gp
  phase is the scratch baseline of its width. Phases without results yet
  are left out.
  """
  compress = [p for p in config.pipeline if config[p].kind == "compress"]
  teachers = {config[p].teacher for p in compress}
  rows, teacher_params = [], None
  for teacher in sorted(teachers):
    if teacher in results:
      teacher_params = results[teacher]["params"]
      rows.append({"role": "teacher", "phase": teacher, "d": _width(config[teacher]),
                   "params": teacher_params, **_scores("teacher", results[teacher])})
  by_width: dict[int, dict] = {}
  for phase in config.pipeline:
    c = config[phase]
    if phase not in results or phase in teachers or c.kind not in ("compress", "wgan_gp"):
      continue
    column = c.loss if c.kind == "compress" else "scratch"
    row = by_width.setdefault(_width(c), {"role": "student", "d": _width(c)})
    row["params"] = results[phase]["params"]
    row.update(_scores(column, results[phase]))
    row[f"{column}_phase"] = phase
  for width in sorted(by_width, reverse=True):
    row = by_width[width]
    if teacher_params:
      row["compression"] = teacher_params / row["params"]
    rows.append(row)
  return rows


def _scores(column: str, result: dict) -> dict:
  keys = ("inception_score", "fid", "sharpness")
  return {f"{column}_{k}": result[k] for k in keys if k in result}


def sweep_table(config, results: dict) -> str:
  """The markdown table of GAN-KD: params, ratio, IS, FID, sharpness per width."""
  rows = sweep_rows(config, results)
  columns = [c for c in ("mse", "joint", "scratch")
             if any(f"{c}_sharpness" in row for row in rows)]
  names = " / ".join({"mse": "MSE", "joint": "joint", "scratch": "scratch"}[c] for c in columns)
  lines = [f"| generator | d | params | compression | IS ({names}) | FID ({names}) | "
           f"sharpness ({names}) |", "|---|---|---|---|---|---|---|"]

  def cell(row, metric, fmt):
    keys = ["teacher"] if row["role"] == "teacher" else columns
    return " / ".join(fmt.format(row[f"{k}_{metric}"]) if f"{k}_{metric}" in row else "-"
                      for k in keys)

  for row in rows:
    ratio = "1:1" if row["role"] == "teacher" else (
        f"{row['compression']:.0f}:1" if "compression" in row else "-")
    lines.append(f"| {row['role']} | {row['d']} | {row['params']:,} | {ratio} | "
                 f"{cell(row, 'inception_score', '{:.2f}')} | {cell(row, 'fid', '{:.2f}')} | "
                 f"{cell(row, 'sharpness', '{:.4f}')} |")
  any_result = next((results[p] for p in config.pipeline if "sharpness" in results.get(p, {})), {})
  notes = []
  if "data_inception_score" in any_result:
    notes.append(f"Real test images: IS {any_result['data_inception_score']:.2f}, "
                 f"sharpness {any_result['data_sharpness']:.4f}.")
  elif "data_sharpness" in any_result:
    notes.append(f"Real test images: sharpness {any_result['data_sharpness']:.4f}.")
  if "feature_extractor" in any_result:
    notes.append(f"Features: {any_result['feature_extractor']}.")
  notes.append("Sharpness: mean variance of the Laplacian, pixels in [0, 1]. Compression: "
               "teacher parameters / student parameters.")
  return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


def write_sweep_table(config, workdir: str) -> str:
  """Writes the table of what has finished so far to gan_kd_table.md and results.json."""
  results = reporting.read_results(workdir)
  table = sweep_table(config, results)
  reporting.write_file(os.path.join(workdir, "gan_kd_table.md"), table)
  reporting.record_results(workdir, "gan_kd_table", {"rows": sweep_rows(config, results)})
  return table
