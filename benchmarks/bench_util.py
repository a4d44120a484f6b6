"""Shared by the benchmark scripts: run a pipeline and time each phase."""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from gan_tsc import xla_flags  # noqa: E402

xla_flags.set_defaults()  # before JAX starts, as launch/main.py does

# The repository root, where benchmark runs go by default (runs/, ignored by git).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mean_std(values) -> str:
  """Accuracies (fractions) as 'mean ± std%' over seeds."""
  import numpy as np
  return f"{100 * np.mean(values):.2f} ± {100 * np.std(values):.2f}%"


def timed_pipeline_run(config, workdir: str, retrain: bool = False):
  """pipeline.run(config, workdir, retrain) -> (outputs, {phase: wall seconds}, total seconds)."""
  from gan_tsc import pipeline
  walls = {}
  original = pipeline.phase_runner

  def timed_runner(*kind):
    run = original(*kind)

    def wrapped(config, phase, workdir, inputs):
      start = time.perf_counter()
      out = run(config, phase, workdir, inputs)
      walls[phase] = time.perf_counter() - start
      return out

    return wrapped

  pipeline.phase_runner = timed_runner
  try:
    start = time.perf_counter()
    outputs = pipeline.run(config, workdir, retrain)
    return outputs, walls, time.perf_counter() - start
  finally:
    pipeline.phase_runner = original
