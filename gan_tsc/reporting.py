"""What a run tells its user: TensorBoard, a progress line, results.json.

Step metrics stay on the device until `log_every_steps`; then they are read
in one transfer, averaged, checked for NaN/inf, written to TensorBoard and
summarised in a progress line with the ETA.
"""

from __future__ import annotations

import json
import math
import os
import time

import jax
import numpy as np
from absl import logging
from clu import metric_writers


class NonFiniteError(FloatingPointError):
  """A loss or metric became NaN or infinite."""


def create_writer(logdir: str):
  return metric_writers.create_default_writer(
      logdir, just_logging=jax.process_index() > 0, asynchronous=False)


def _fmt_duration(seconds: float) -> str:
  seconds = int(seconds)
  hours, rest = divmod(seconds, 3600)
  minutes, secs = divmod(rest, 60)
  return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class StepReporter:
  """Collects step metrics on device; every `every` steps logs them."""

  def __init__(self, phase: str, writer, num_steps: int, every: int,
               first_step: int, batch_size: int):
    self.phase, self.writer = phase, writer
    self.num_steps, self.every, self.batch_size = num_steps, max(1, every), batch_size
    self._pending: list[dict] = []
    self._last_step = first_step
    self._start_step = first_step
    self._last_time = None
    self._timed_seconds = 0.0
    self._timed_steps = 0

  def add(self, step: int, metrics: dict) -> dict | None:
    """Adds the metrics of `step` (1-based count of steps done).

    Returns the interval's means when this step logged them, else None.
    """
    self._pending.append(metrics)
    if step % self.every == 0 or step == self.num_steps:
      return self.flush(step)
    return None

  def flush(self, step: int) -> dict:
    """Logs what is pending. Vector metrics named 'counts/...' are summed
    (e.g. predicted-class counts) and written as TensorBoard histograms."""
    if not self._pending:
      return {}
    host = jax.device_get(self._pending)  # the one sync per interval
    self._pending = []
    counts = {k: np.sum([m[k] for m in host], axis=0) for k in host[0] if k.startswith("counts/")}
    means = {k: float(np.mean([m[k] for m in host])) for k in host[0] if k not in counts}
    bad = [k for k, v in means.items() if not math.isfinite(v)]
    if bad:
      raise NonFiniteError(
          f"{self.phase}: {', '.join(bad)} became non-finite between steps "
          f"{self._last_step} and {step}. Checkpoints already written are intact; "
          f"lower --config.{self.phase}.optimizer.learning_rate or check the input "
          "data, then rerun with the same --workdir to resume from the last one.")
    now = time.perf_counter()
    if self._last_time is not None:  # the first interval includes compilation
      self._timed_seconds += now - self._last_time
      self._timed_steps += step - self._last_step
    if self._timed_steps:
      steps_per_sec = self._timed_steps / self._timed_seconds
      means["steps_per_sec"] = steps_per_sec
      means["examples_per_sec"] = steps_per_sec * self.batch_size
    self.writer.write_scalars(step, means)
    if counts:
      self.writer.write_histograms(step, {
          k: np.repeat(np.arange(len(v)), v.astype(np.int64)) for k, v in counts.items()})
    self._log_line(step, means)
    self._last_time, self._last_step = now, step
    return {**means, **counts}

  def _log_line(self, step: int, means: dict) -> None:
    shown = " ".join(f"{k}={v:.4g}" for k, v in means.items()
                     if k not in ("steps_per_sec", "examples_per_sec"))
    line = f"[{self.phase}] step {step}/{self.num_steps} ({100 * step / self.num_steps:.0f}%) {shown}"
    if "steps_per_sec" in means:
      remaining = (self.num_steps - step) / means["steps_per_sec"]
      line += (f" | {means['examples_per_sec']:.0f} ex/s | ETA {_fmt_duration(remaining)}")
    logging.info(line)
    print(line, flush=True)

  @property
  def examples_per_sec(self) -> float:
    if not self._timed_steps:
      return float("nan")
    return self._timed_steps * self.batch_size / self._timed_seconds


# ----------------------------------------------------------------------------
# results.json: one entry per phase, rewritten atomically.


def results_path(workdir: str) -> str:
  return os.path.join(workdir, "results.json")


def read_results(workdir: str) -> dict:
  path = results_path(workdir)
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f)


def record_results(workdir: str, phase: str, results: dict) -> None:
  if jax.process_index() != 0:
    return
  all_results = read_results(workdir)
  all_results[phase] = results
  path = results_path(workdir)
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(all_results, f, indent=2, sort_keys=True)
  os.replace(tmp, path)


def write_file(path: str, payload) -> None:
  if jax.process_index() != 0:
    return
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    f.write(payload if isinstance(payload, str) else json.dumps(payload, indent=2))
  os.replace(tmp, path)
