"""What a run tells its user: the console, TensorBoard, results.json.

`say` is the one place that prints: library code logs through it (absl
logging) and the console shows the same line. Step metrics stay on the
device until `log_every_steps`; then they are read in one transfer,
averaged, checked for NaN/inf, written to TensorBoard and summarised in a
progress line with the ETA.

TensorBoard tags are grouped by prefix, so each group is one section:
  train/    the training step's losses and accuracies (interval means) and
            learning rates (the value at the logged step, not a mean)
  eval/     test metrics at `eval_every_steps` and at the end
  generator/  sample grids beside real images, class shares of generated batches
  speed/    steps and examples per second
Each phase also writes its config block as text and its scalar settings as
hparams; the pipeline writes the results table as text at the end.
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

from gan_tsc.errors import UserError


class NonFiniteError(UserError, FloatingPointError):
  """A loss or metric became NaN or infinite."""


def say(message: str) -> None:
  """Logs `message` and shows it on the console: the one console reporter."""
  logging.info(message)
  if jax.process_index() == 0:
    print(message, flush=True)


def warn(message: str) -> None:
  logging.warning(message)
  if jax.process_index() == 0:
    print("WARNING " + message, flush=True)


def create_writer(logdir: str):
  return metric_writers.create_default_writer(
      logdir, just_logging=jax.process_index() > 0, asynchronous=False)


def flatten_config(block, prefix: str = "") -> dict:
  """A config block (ConfigDict or dict) as {'prefix.a.b': value}; tuples become lists."""
  out = {}
  for key, value in block.items():
    name = f"{prefix}.{key}" if prefix else str(key)
    if hasattr(value, "items"):
      out.update(flatten_config(value, name))
    else:
      out[name] = list(value) if isinstance(value, tuple) else value
  return out


def _flat_scalars(block, prefix: str = "") -> dict:
  """A config block's numbers, strings and booleans as {'a.b': value}."""
  return {k: v for k, v in flatten_config(block, prefix).items()
          if isinstance(v, (bool, int, float, str))}


def write_config(writer, phase_block, config) -> None:
  """The phase's config as text and, with the run's seed and data, as hparams."""
  text = phase_block.to_json_best_effort(indent=2)
  writer.write_texts(0, {"config/block": "    " + text.replace("\n", "\n    ")})
  hparams = {"seed": config.seed, **_flat_scalars(phase_block)}
  if "data" in config:
    hparams.update(_flat_scalars(config.data, "data"))
  writer.write_hparams(hparams)
  writer.flush()


SPEED_METRICS = ("steps_per_sec", "examples_per_sec", "flops_per_sec", "mfu")


def scalar_tag(name: str) -> str:
  """The TensorBoard group of a step metric (see the module docstring)."""
  if "/" in name:
    return name
  if name in SPEED_METRICS:
    return f"speed/{name}"
  return f"train/{name}"


def is_rate(name: str) -> bool:
  """A learning rate: logged as its value at the step, never an interval mean."""
  return name.startswith("lr_") or name == "learning_rate"


def share_table(counts: np.ndarray, class_names=None) -> str:
  """Markdown: each class's share of a count vector, largest first."""
  total = max(int(counts.sum()), 1)
  lines = ["| class | share |", "|---|---|"]
  for index in np.argsort(counts)[::-1]:
    name = class_names[index] if class_names is not None else str(index)
    lines.append(f"| {name} | {100 * counts[index] / total:.1f}% |")
  return "\n".join(lines)


def _fmt_duration(seconds: float) -> str:
  seconds = int(seconds)
  hours, rest = divmod(seconds, 3600)
  minutes, secs = divmod(rest, 60)
  return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class StepReporter:
  """Collects step metrics on device; every `every` steps logs them."""

  def __init__(self, phase: str, writer, num_steps: int, every: int,
               first_step: int, batch_size: int, step_flops: float = 0.0,
               peak_flops: float = 0.0):
    self.phase, self.writer = phase, writer
    self.step_flops, self.peak_flops = step_flops, peak_flops
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
    means = {k: float(host[-1][k]) if is_rate(k) else float(np.mean([m[k] for m in host]))
             for k in host[0] if k not in counts}
    bad = [k for k, v in means.items() if not math.isfinite(v)]
    if bad:
      raise NonFiniteError(
          f"{self.phase}: {', '.join(bad)} became non-finite between steps "
          f"{self._last_step} and {step}; no checkpoint holds the non-finite state. "
          f"Lower --config.{self.phase}.optimizer.learning_rate or check the input data, "
          "then rerun with --retrain (the phase starts again) or a fresh --workdir.")
    now = time.perf_counter()
    if self._last_time is not None:  # the first interval includes compilation
      self._timed_seconds += now - self._last_time
      self._timed_steps += step - self._last_step
    if self._timed_steps:
      steps_per_sec = self._timed_steps / self._timed_seconds
      means["steps_per_sec"] = steps_per_sec
      means["examples_per_sec"] = steps_per_sec * self.batch_size
      if self.step_flops:
        means["flops_per_sec"] = steps_per_sec * self.step_flops
        if self.peak_flops:
          means["mfu"] = means["flops_per_sec"] / self.peak_flops
    self.writer.write_scalars(step, {scalar_tag(k): v for k, v in means.items()})
    if counts:
      names = {k: "generator/" + k[len("counts/"):] for k in counts}
      self.writer.write_histograms(step, {
          names[k]: np.repeat(np.arange(len(v)), v.astype(np.int64)) for k, v in counts.items()})
      self.writer.write_texts(step, {names[k] + "_shares": share_table(v)
                                     for k, v in counts.items()})
    self._log_line(step, means)
    self._last_time, self._last_step = now, step
    return {**means, **counts}

  def _log_line(self, step: int, means: dict) -> None:
    shown = " ".join(f"{k}={v:.4g}" for k, v in means.items() if k not in SPEED_METRICS)
    line = f"[{self.phase}] step {step}/{self.num_steps} ({100 * step / self.num_steps:.0f}%) {shown}"
    if "steps_per_sec" in means:
      remaining = (self.num_steps - step) / means["steps_per_sec"]
      line += f" | {means['examples_per_sec']:.0f} ex/s"
      if "flops_per_sec" in means:
        line += f" {means['flops_per_sec'] / 1e9:.3g} GFLOP/s"
      if "mfu" in means:
        line += f" MFU {means['mfu']:.3f}"
      line += f" | ETA {_fmt_duration(remaining)}"
    say(line)

  @property
  def examples_per_sec(self) -> float:
    if not self._timed_steps:
      return float("nan")
    return self._timed_steps * self.batch_size / self._timed_seconds

  @property
  def mfu(self) -> float:
    """Model FLOP/s over the peak across the timed steps; 0 where unknown."""
    if not (self._timed_steps and self.step_flops and self.peak_flops):
      return 0.0
    return self._timed_steps * self.step_flops / self._timed_seconds / self.peak_flops


# ----------------------------------------------------------------------------
# Image summaries: every grid in TensorBoard is drawn by `image_grid` from
# pixels in [0, 1] (gan_tsc.ops.pixels converts each range there), so real
# and generated images, and the grids of different phases, share one scale.


def image_grid(unit_images, columns: int = 8) -> np.ndarray:
  """(N, H, W, C) in [0, 1] -> one (1, rows*H, columns*W, C) summary image."""
  images = np.clip(np.asarray(unit_images, np.float32), 0.0, 1.0)
  n, h, w, c = images.shape
  rows = -(-n // columns)
  grid = np.ones((rows * h, columns * w, c), np.float32)
  for i, image in enumerate(images):
    r, col = divmod(i, columns)
    grid[r * h:(r + 1) * h, col * w:(col + 1) * w] = image
  return grid[None]


def write_real_grid(writer, images_uint8: np.ndarray, tag: str = "generator/real",
                    count: int = 64) -> None:
  """A grid of real images at step 0, to compare generated grids with (same scale)."""
  writer.write_images(0, {tag: image_grid(np.asarray(images_uint8[:count]) / 255.0)})


def side_by_side(*grids: np.ndarray, gap: int = 4) -> np.ndarray:
  """(1, H, W, C) grids joined left to right with a white gap, as one summary image."""
  h, c = grids[0].shape[1], grids[0].shape[-1]
  spacer = np.ones((1, h, gap, c), np.float32)
  parts = [part for grid in grids for part in (grid, spacer)][:-1]
  return np.concatenate(parts, axis=2)


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
  all_results = read_results(workdir)
  all_results[phase] = results
  _write_results(workdir, all_results)


def forget_results(workdir: str, phase: str) -> None:
  """Drops `phase` from results.json (it is being trained again)."""
  all_results = read_results(workdir)
  if all_results.pop(phase, None) is not None:
    _write_results(workdir, all_results)


def _write_results(workdir: str, all_results: dict) -> None:
  if jax.process_index() != 0:
    return
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
