"""The loop every trained phase shares: resume, step, log, evaluate, save.

A phase builds its jitted step and hands it here (as a `CompiledStep`) with a
function that gives the batch of a step. Before the first step the loop compiles
it, says what it costs (model FLOPs, memory on a device) and refuses a batch
that will not fit the device. The loop resumes from the phase's latest checkpoint,
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
  step_peak_memory_bytes: int | None = None  # one device's, XLA's memory analysis


class CompiledStep:
  """`jitted(state, batch, *rest)` as `step(state, batch)`, compiled ahead of its
  first call (the same program jit would build), so that its cost is known
  before training and the compilation is not paid twice. The one trace serves
  both: it is lowered, and its FLOPs counted (again with standard layers only
  where a layer took a faster path: gan_tsc/step_cost.py)."""

  compiler_options: dict | None = None  # XLA's, e.g. for tests that compile at level 0

  def __init__(self, jitted, *rest):
    self.jitted, self.rest = jitted, rest
    self._executable = self._traced = None

  def compile(self, state, batch):
    if self._executable is None:
      self._traced = self.jitted.trace(state, batch, *self.rest)
      self._executable = self._traced.lower().compile(compiler_options=self.compiler_options)
    return self._executable

  def __call__(self, state, batch):
    return self.compile(state, batch)(state, batch, *self.rest)

  def cost(self, state, batch) -> step_cost.StepCost:
    memory = step_cost.peak_memory_bytes(self.compile(state, batch))
    peak, arguments = memory if memory else (None, None)
    try:
      flops, executed = step_cost.traced_step_flops(self.jitted, self._traced, state, batch,
                                                    *self.rest)
      note = ""
    except step_cost.StepCostError as error:
      flops, executed, note = 0.0, 0.0, str(error)
    return step_cost.StepCost(flops, peak, arguments, note, executed)


def run(settings: LoopSettings, state, step_fn: Callable, batch_fn: Callable[[int], Any],
        writer, evaluate: Callable[[Any, int], dict] | None = None,
        on_log: Callable[[Any, int, dict], None] | None = None,
        cost: Callable[[Any, Any], step_cost.StepCost] | None = None) -> LoopResult:
  """Trains `state` to `settings.num_steps` with `step_fn(state, batch)`.

  `evaluate(state, step)` returns metrics to write every `eval_every_steps`;
  `on_log(state, step, metrics)` sees each interval's metrics (e.g. to warn
  or to write sample images); `cost(state, batch)` (a `CompiledStep`'s) tells
  a step's model FLOPs and memory (gan_tsc/step_cost.py): said once, checked
  against the device, and the log's FLOP/s and MFU.
  """
  ckpts = checkpoints.PhaseCheckpoints(settings.phase_dir, settings.checkpoint_every_steps)
  start = ckpts.latest_step() or 0
  if start:
    state = ckpts.restore(state)
    if start >= settings.num_steps:
      logging.info("[%s] finished at step %d; not training again.", settings.phase, start)
    else:
      logging.info("[%s] resuming from step %d.", settings.phase, start)
  flops, peak, memory = 0.0, 0.0, None
  if cost is not None and start < settings.num_steps:
    counted, peak = _step_cost(settings, cost(state, batch_fn(start)), writer)
    flops, memory = counted.flops, counted.peak_memory_bytes
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
                    reporter.mfu, memory)


def _step_cost(settings: LoopSettings, cost: step_cost.StepCost,
               writer) -> tuple[step_cost.StepCost, float]:
  """Says a step's cost once and refuses one that will not fit the device;
  returns it with the devices' peak FLOP/s (0 where unknown)."""
  phase = settings.phase
  step_cost.check_fits(cost, settings.batch_size, phase)
  scalars, parts = {}, []
  if cost.peak_memory_bytes is not None:
    scalars["cost/step_peak_memory_bytes"] = cost.peak_memory_bytes
    parts.append(f"{step_cost.gib(cost.peak_memory_bytes)} per device")
  peak = 0.0
  if cost.note:
    reporting.warn(f"[{phase}] step FLOPs not counted: {cost.note}")
  else:
    peak, source = step_cost.peak_flops()
    scalars["cost/step_flops"] = cost.flops
    parts.insert(0, f"{cost.flops / 1e9:.4g} GFLOP (model FLOPs: matrix products and "
                    "convolutions)")
    parts.append(f"devices' peak {peak / 1e9:.4g} GFLOP/s ({source})" if peak else source)
  writer.write_scalars(0, scalars)
  if parts:
    reporting.say(f"[{phase}] step: " + "; ".join(parts))
  return cost, peak


def num_steps_of(phase_config, steps_per_epoch: int) -> int:
  """Duration in steps: `num_steps` if set, else `num_epochs` epochs."""
  if phase_config.num_steps is not None:
    return int(phase_config.num_steps)
  epochs = phase_config.num_epochs
  if not epochs:
    raise ConfigError("Set num_steps or num_epochs for the phase.")
  return max(1, int(round(epochs * steps_per_epoch)))
