"""GAN-TSC's random-forest phase: teacher, students, and the comparison table.

Trains the RandomForestClassifier teacher on the tabular data's training
split, draws synthetic rows `synthetic_multiplier` times the training set from
each source the table needs (the earlier `gan` phase named by `generator`,
MUNGE, a per-class Gaussian mixture), fresh for every seed, labels them with
the teacher, and scores RandomForestRegressor students of every size (see
`gan_tsc.forests`). The table is printed, written to `<phase>/table.md` and
TensorBoard (text), and its numbers go to results.json. A rerun in the same
workdir finds the table and does not recompute it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import jax
import numpy as np
from sklearn.ensemble import RandomForestClassifier

from gan_tsc import forests, reporting
from gan_tsc.data import tabular as tabular_data
from gan_tsc.phases import shared
from gan_tsc.trained import TrainedGenerator


@dataclasses.dataclass
class ForestOutput:
  teacher: RandomForestClassifier | None  # None when the table was already computed
  table_markdown: str
  results: dict


def run(config, phase: str, workdir: str, inputs: dict) -> ForestOutput:
  c = config[phase]
  dataset = tabular_data.load(config.data)
  generated = _generator(c, dataset, inputs, phase)
  rows = tuple(c.rows or forests.DEFAULT_ROWS)
  if generated is None:
    rows = tuple(r for r in rows if forests.ROWS[r][2] != "gan")
  _check_settings(c, phase)
  table_path = os.path.join(workdir, phase, "table.md")
  # What the table depends on: a rerun with other settings, data or generator
  # (say `:smoke` then the full config in one workdir) recomputes it.
  settings = json.dumps({"phase": c.to_dict(), "data": config.data.to_dict(), "seed": config.seed,
                         "generator": _generator_fingerprint(generated)},
                        sort_keys=True, default=str)
  finished = reporting.read_results(workdir).get(phase)
  if finished and os.path.exists(table_path):
    if finished.get("settings") == settings:
      with open(table_path) as f:
        markdown = f.read()
      reporting.say(f"[{phase}] finished earlier; its table ({table_path}):\n{markdown}")
      return ForestOutput(None, markdown, finished)
    reporting.say(f"[{phase}] the table in {table_path} was made with other settings, data "
                  "or generator; computing it again.")

  p = shared.start(config, phase, workdir)
  seconds = {}
  start = time.perf_counter()
  teacher = forests.fit_teacher(dataset.train_features, dataset.train_labels,
                                c.model.teacher_trees, config.seed, c.n_jobs)
  seconds["teacher_fit"] = time.perf_counter() - start
  synthetic = _synthetic_sources(c, dataset, generated, rows, p.key,
                                 config.seed, seconds)
  table = forests.compression_table(
      dataset, teacher, synthetic, rows=rows, tree_counts=tuple(c.model.tree_counts),
      num_seeds=c.num_seeds, seed=config.seed, n_jobs=c.n_jobs)
  table.seconds.update(seconds)
  markdown = table.markdown()
  reporting.say(f"[{phase}] {dataset.name}: {len(dataset.train_features)} training rows, "
                f"{c.synthetic_multiplier}x synthetic rows per source\n{markdown}")
  reporting.write_file(table_path, markdown)
  p.writer.write_texts(0, {"eval/table": markdown})
  p.writer.flush()
  results = table.to_json()
  results["test_accuracy"] = float(np.mean(
      teacher.predict(dataset.test_features) == dataset.test_labels))  # the teacher's
  results["synthetic_rows_per_source"] = c.synthetic_multiplier * len(dataset.train_features)
  results["settings"] = settings
  reporting.record_results(workdir, phase, results)
  return ForestOutput(teacher, markdown, results)


def _generator_fingerprint(generated) -> dict | None:
  """The generator's steps and sample statistics: the same for a restored one, unlike timings."""
  if generated is None:
    return None
  return {k: v for k, v in generated.metrics.items()
          if k in ("steps", "restored_from") or k.startswith("sample_")}


def _check_settings(c, phase: str) -> None:
  counts = tuple(c.model.tree_counts)
  problems = []
  if not counts or min(counts) < 1:
    problems.append(f"model.tree_counts={counts} must list student sizes of at least 1 tree")
  if c.num_seeds < 1:
    problems.append(f"num_seeds={c.num_seeds} must be at least 1")
  if c.class_mix not in forests.CLASS_MIXES:
    problems.append(f"class_mix={c.class_mix!r} must be one of {forests.CLASS_MIXES}")
  if c.synthetic_multiplier < 1:
    problems.append(f"synthetic_multiplier={c.synthetic_multiplier} must be at least 1 "
                    "(synthetic rows per training row)")
  if problems:
    raise forests.ForestError(f"Phase {phase!r}: " + "; ".join(problems) + ".")


def _generator(c, dataset, inputs: dict, phase: str):
  """The earlier phase's generator, checked against the data, or None."""
  if not c.generator:
    return None
  if c.generator not in inputs:
    raise forests.ForestError(f"{phase}.generator={c.generator!r} names no earlier phase of "
                              "the pipeline; set it to the tabular `gan` phase, or '' for no GAN rows.")
  generated = inputs[c.generator]
  width = getattr(generated.model, "num_features", None)
  if not isinstance(generated, TrainedGenerator) or width is None:
    raise forests.ForestError(f"{phase}.generator={c.generator!r} is not a tabular GAN phase.")
  if width != dataset.num_features:
    raise forests.ForestError(
        f"The generator of phase {c.generator!r} makes rows of {width} features but the "
        f"teacher is trained on {dataset.name} with {dataset.num_features}; train or restore "
        "a generator on the same data.")
  return generated


def _synthetic_sources(c, dataset, generated, rows, key, seed: int, seconds: dict) -> dict:
  """name -> draw(seed) for each source the table's rows need."""
  needed = {forests.ROWS[r][2] for r in rows} - {None}
  n = c.synthetic_multiplier * len(dataset.train_features)
  clip, mix = c.clip_to_training_range, c.class_mix
  lo, hi = dataset.train_features.min(0), dataset.train_features.max(0)
  sources = {}
  if "gan" in needed:
    def draw_gan(s):
      labels = (forests.balanced_labels(n, dataset.num_classes, np.random.default_rng(s))
                if mix == "balanced" else None)
      fake = generated.sample_on_host(jax.random.fold_in(key, s), n, labels)[0]
      fake = fake.astype(np.float64)
      return np.clip(fake, lo, hi) if clip else fake
    sources["gan"] = draw_gan
  if "munge" in needed:
    m = c.munge
    sources["munge"] = lambda s: forests.munge(
        dataset.train_features, c.synthetic_multiplier, m.swap_probability, m.spread, s, clip)
  if "gmm" in needed:
    start = time.perf_counter()
    g = c.gaussian_mixture
    mixture = forests.ClassGaussianMixture(dataset.train_features, dataset.train_labels,
                                           dataset.num_classes, g.components, g.covariance, seed)
    seconds["gmm_fit"] = time.perf_counter() - start
    sources["gmm"] = lambda s: mixture.sample(n, s, clip, mix)[0]
  return sources
