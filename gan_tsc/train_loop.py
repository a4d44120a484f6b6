"""The loop every trained phase shares: resume, step, log, evaluate, save.

A phase builds its jitted step and hands it here with a function that gives
the batch of a step. The loop resumes from the phase's latest checkpoint,
skips training when the final step is already saved, flushes metrics (and
their NaN check) before every save so that no checkpoint holds a state that
went non-finite, and saves at the final step.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

from absl import logging

from gan_tsc import checkpoints, reporting, step_cost
from gan_tsc.errors import ConfigError


@dataclasses.dataclass
class LoopSettings:
  phase: str
  phase_dir: str
  num_steps: int
  batch_size: int
  log_every_steps: int = 100
  eval_every_steps: int = 0
  checkpoint_every_steps: int = 0

  @classmethod
  def from_config(cls, phase: str, workdir: str, phase_config, num_steps: int):
    return cls(
        phase=phase, phase_dir=os.path.join(workdir, phase), num_steps=num_steps,
        batch_size=phase_config.batch_size,
        log_every_steps=phase_config.log_every_steps,
        eval_every_steps=phase_config.eval_every_steps,
        checkpoint_every_steps=phase_config.checkpoint_every_steps)


@dataclasses.dataclass
class LoopResult:
  state: Any
  trained_steps: int  # steps run in this process (0 when the phase was finished)
  examples_per_sec: float
  step_flops: float = 0.0  # model FLOPs of one step (0: not counted)
  mfu: float = 0.0  # model FLOP/s over the devices' peak, this process's steps (0: unknown)


def run(settings: LoopSettings, state, step_fn: Callable, batch_fn: Callable[[int], Any],
        writer, evaluate: Callable[[Any, int], dict] | None = None,
        on_log: Callable[[Any, int, dict], None] | None = None,
        step_flops: Callable[[Any, Any], float] | None = None) -> LoopResult:
  """Trains `state` to `settings.num_steps` with `step_fn(state, batch)`.

  `evaluate(state, step)` returns metrics to write every `eval_every_steps`;
  `on_log(state, step, metrics)` sees each interval's metrics (e.g. to warn
  or to write sample images); `step_flops(state, batch)` counts a step's model
  FLOPs (gan_tsc/step_cost.py) for the log's FLOP/s and MFU.
  """
  ckpts = checkpoints.PhaseCheckpoints(settings.phase_dir, settings.checkpoint_every_steps)
  start = ckpts.latest_step() or 0
  if start:
    state = ckpts.restore(state)
    if start >= settings.num_steps:
      logging.info("[%s] finished at step %d; not training again.", settings.phase, start)
    else:
      logging.info("[%s] resuming from step %d.", settings.phase, start)
  flops, peak = 0.0, 0.0
  if step_flops is not None and start < settings.num_steps:
    flops, peak = _step_cost(settings.phase, step_flops, state, batch_fn(start), writer)
  reporter = reporting.StepReporter(settings.phase, writer, settings.num_steps,
                                    settings.log_every_steps, start, settings.batch_size,
                                    step_flops=flops, peak_flops=peak)
  for step in range(start, settings.num_steps):
    state, metrics = step_fn(state, batch_fn(step))
    done = step + 1
    logged = reporter.add(done, metrics)
    if on_log and logged is not None:
      on_log(state, done, logged)
    if evaluate and settings.eval_every_steps and done % settings.eval_every_steps == 0 \
        and done != settings.num_steps:
      evaluated = evaluate(state, done)
      writer.write_scalars(done, {f"eval/{k}": v for k, v in evaluated.items()})
      reporting.say(f"[{settings.phase}] step {done} eval: " +
                    " ".join(f"{k}={v:.4g}" for k, v in evaluated.items()))
    if ckpts.should_save(done, settings.num_steps):
      reporter.flush(done)  # the NaN check guards what is saved
      ckpts.save(done, state)
  writer.flush()
  ckpts.close()
  return LoopResult(state, settings.num_steps - start, reporter.examples_per_sec, flops,
                    reporter.mfu)


def _step_cost(phase: str, step_flops, state, batch, writer) -> tuple[float, float]:
  """(model FLOPs of a step, the devices' peak FLOP/s), said once; zeros where unknown."""
  try:
    flops = step_flops(state, batch)
  except step_cost.StepCostError as error:
    reporting.warn(f"[{phase}] step FLOPs not counted: {error}")
    return 0.0, 0.0
  peak, source = step_cost.peak_flops()
  writer.write_scalars(0, {"cost/step_flops": flops})
  peak_text = f"devices' peak {peak / 1e9:.4g} GFLOP/s ({source})" if peak else source
  reporting.say(f"[{phase}] step: {flops / 1e9:.4g} GFLOP (model FLOPs: matrix products "
                f"and convolutions); {peak_text}")
  return flops, peak


def num_steps_of(phase_config, steps_per_epoch: int) -> int:
  """Duration in steps: `num_steps` if set, else `num_epochs` epochs."""
  if phase_config.num_steps is not None:
    return int(phase_config.num_steps)
  epochs = phase_config.num_epochs
  if not epochs:
    raise ConfigError("Set num_steps or num_epochs for the phase.")
  return max(1, int(round(epochs * steps_per_epoch)))
