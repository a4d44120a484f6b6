"""What a training step costs: its model FLOPs, and the share of the devices' peak it reaches.

`model_flops(step, *args)` counts the step's matrix products and convolutions
(2 x multiply-adds, forward and backward, as the traced program has them; loops
times their length), the convention of model-FLOPs utilisation: elementwise work,
normalisation and optimizer updates are not counted. The step is traced with every
conv='matmul' layer built as the standard convolution it computes
(ops/layers.standard_convs), so a faster path shows as more FLOP/s, never as more
work. A `while` loop of unknown trip count is refused rather than guessed.

`peak_memory_bytes(compiled)` is a compiled step's memory on one device (XLA's
memory analysis), and `check_fits` refuses, before training, a step that needs
more than the device holds, with the batch size that would fit.

`peak_flops()` is the devices' peak: a table of accelerator chips (dense
bfloat16, vendors' datasheets) times their number, or on a CPU the best rate of
a 1024x1024 float32 matrix product measured here (the fake devices of a test
share the same cores, so they do not multiply it). MFU = achieved FLOP/s over it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import time

import jax
import jax.numpy as jnp

from gan_tsc import parallel
from gan_tsc.errors import ConfigError
from gan_tsc.ops import FAST_PATH_SCOPE, layers

# Dense bfloat16 FLOP/s of one chip, by the start of jax.Device.device_kind.
ACCELERATOR_PEAK_FLOPS = {
    "TPU v4": 275e12,
    "TPU v5 lite": 197e12,
    "TPU v5e": 197e12,
    "TPU v5p": 459e12,
    "TPU v6 lite": 918e12,
    "NVIDIA H100": 989e12,
    "NVIDIA H200": 989e12,
    "NVIDIA A100": 312e12,
}


class StepCostError(ValueError):
  """A step whose FLOPs cannot be counted before it runs (a while loop with products)."""


@dataclasses.dataclass(frozen=True)
class StepCost:
  flops: float  # model FLOPs of one step; 0 when not counted (see `note`)
  peak_memory_bytes: int | None  # on one device; None where XLA does not say
  argument_bytes: int | None = None  # the part taken by the step's inputs (state, batch)
  note: str = ""  # why the FLOPs were not counted
  # The products' FLOPs as the step runs them (faster paths as they are); below
  # `flops` where a layer does less work than its standard form.
  executed_flops: float = 0.0


def model_flops(step, *args) -> float:
  """Model FLOPs of one call of `step` (jitted or not) on `args` (arrays or shape
  structs), counted with standard convolutions. Traces again; compiles nothing."""
  # JAX caches traces by function (make_jaxpr too), blind to standard_convs: a
  # jitted step is unwrapped, and the trace is of a fresh closure, so that no
  # trace made outside the context answers here, nor this one outside it.
  function = step.__wrapped__ if hasattr(step, "lower") else step
  with layers.standard_convs():
    closed = jax.make_jaxpr(lambda *a: function(*a))(*args)
  return _jaxpr_flops(closed.jaxpr)


def traced_step_flops(step, traced, *args) -> tuple[float, float]:
  """(model FLOPs, FLOPs as run) of `step` on `args`, from its trace `traced`
  (`jitted.trace(*args)`): the trace is counted once, and the step traced again
  with standard layers only where a faster layer ran in it."""
  executed = _jaxpr_flops(traced.jaxpr)
  if not _has_fast_paths(traced.jaxpr):
    return executed, executed
  return model_flops(step, *args), executed


def _inner_jaxprs(eqn, branches: bool = False):
  """The programs an equation holds (pjit's, scan's, ...); with `branches`,
  also those in tuples (cond's branches)."""
  for param in eqn.params.values():
    values = param if branches and isinstance(param, (tuple, list)) else (param,)
    for value in values:
      inner = getattr(value, "jaxpr", value)
      if hasattr(inner, "eqns"):
        yield inner


def _has_fast_paths(jaxpr) -> bool:
  """Whether a layer computed another way than its standard form (gan_tsc/ops)
  left equations in `jaxpr`: they run inside the name scope FAST_PATH_SCOPE."""
  for eqn in jaxpr.eqns:
    if FAST_PATH_SCOPE in str(eqn.source_info.name_stack):
      return True
    if any(_has_fast_paths(inner) for inner in _inner_jaxprs(eqn, branches=True)):
      return True
  return False


def _dot_flops(eqn) -> float:
  (lhs_contract, _), _ = eqn.params["dimension_numbers"]
  lhs = eqn.invars[0].aval.shape
  return 2.0 * math.prod(eqn.outvars[0].aval.shape) * math.prod(lhs[d] for d in lhs_contract)


def _conv_flops(eqn) -> float:
  rhs = eqn.invars[1].aval.shape
  spec = eqn.params["dimension_numbers"].rhs_spec  # (out features, in features, *spatial)
  per_output = rhs[spec[1]] * math.prod(rhs[d] for d in spec[2:])
  return 2.0 * math.prod(eqn.outvars[0].aval.shape) * per_output


def _jaxpr_flops(jaxpr) -> float:
  total = 0.0
  for eqn in jaxpr.eqns:
    name = eqn.primitive.name
    if name == "dot_general":
      total += _dot_flops(eqn)
    elif name == "conv_general_dilated":
      total += _conv_flops(eqn)
    elif name == "scan":
      total += eqn.params["length"] * _jaxpr_flops(eqn.params["jaxpr"].jaxpr)
    elif name == "cond":
      total += max(_jaxpr_flops(b.jaxpr) for b in eqn.params["branches"])
    elif name == "while":
      if _jaxpr_flops(eqn.params["body_jaxpr"].jaxpr):
        raise StepCostError("the step has a while loop with matrix products, whose trip "
                            "count is unknown before it runs; its FLOPs are not counted.")
    else:  # pjit, custom_jvp_call, custom_vjp_call, remat, ...: their inner programs
      total += sum(_jaxpr_flops(inner) for inner in _inner_jaxprs(eqn))
  return total


def peak_memory_bytes(compiled) -> tuple[int, int] | None:
  """(peak bytes, bytes of the arguments) of a compiled step on one device, from
  XLA's memory analysis: arguments, outputs and temporaries, less what donation
  lets the outputs reuse. None where the backend gives no analysis."""
  try:
    stats = compiled.memory_analysis()
  except (NotImplementedError, RuntimeError):
    return None
  if stats is None:
    return None
  total = (stats.argument_size_in_bytes + stats.output_size_in_bytes
           + stats.temp_size_in_bytes - stats.alias_size_in_bytes)
  return int(total), int(stats.argument_size_in_bytes)


def device_memory_bytes(device=None) -> tuple[int, str] | None:
  """(bytes one device can hold, what it is): an accelerator's allocator limit,
  or on a CPU the machine's memory shared by its local devices. None if unknown."""
  device = device or jax.local_devices()[0]
  try:
    stats = device.memory_stats()
  except (NotImplementedError, RuntimeError):
    stats = None
  if stats and stats.get("bytes_limit"):
    return int(stats["bytes_limit"]), f"{device.device_kind} {device.id}"
  if device.platform == "cpu":
    try:
      total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
      return None
    n = jax.local_device_count()
    return total // n, (f"this machine's memory over its {n} CPU devices" if n > 1
                        else "this machine's memory")
  return None


def gib(n: float) -> str:
  return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.4g} MiB"


def check_fits(cost: StepCost, batch_size: int, phase: str, key: str = "batch_size") -> None:
  """Refuses a step that needs more memory than one device holds, with the number it
  needs and a batch size that would fit (memory taken as linear in the batch)."""
  limit = device_memory_bytes()
  if cost.peak_memory_bytes is None or limit is None or cost.peak_memory_bytes <= limit[0]:
    return
  need, (have, what) = cost.peak_memory_bytes, limit
  fixed = cost.argument_bytes or 0
  per_example = max(need - fixed, 1) / batch_size
  n = parallel.mesh().size  # the batch is split over these
  fits = int((have - fixed) // per_example) // n * n
  hint = (f"About {key}={fits} would fit (memory taken as linear in the batch); "
          f"set --config.{phase}.{key}." if fits > 0 else
          "Even the smallest batch would not: the model is too large for this device.")
  raise ConfigError(
      f"[{phase}] {key}={batch_size} does not fit: one step needs {gib(need)} per device "
      f"({gib(fixed)} of it its inputs: parameters, optimizer state, batch), and {what} "
      f"holds {gib(have)}. {hint} Nothing was trained.")


@functools.cache
def measured_matmul_flops(size: int = 1024, repeats: int = 60) -> float:
  """Best FLOP/s of a size x size float32 matrix product on the first device,
  over `repeats` products (a shared CPU's rate moves: the best is the peak).
  1024, not a larger size: on the project's 2-core CPU it reached the larger
  products' rate in a fraction of the time, which every CPU run pays."""
  a = jax.random.normal(jax.random.PRNGKey(0), (size, size), jnp.float32)
  product = jax.jit(lambda x: x @ x)
  product(a).block_until_ready()
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    product(a).block_until_ready()
    best = min(best, time.perf_counter() - start)
  return 2 * size ** 3 / best


def peak_flops(devices=None) -> tuple[float, str]:
  """(peak FLOP/s of `devices`, where the figure comes from); (0, reason) if unknown."""
  devices = devices or jax.devices()
  kind = devices[0].device_kind
  if devices[0].platform == "cpu":
    return measured_matmul_flops(), "measured float32 1024x1024 matmul"
  for prefix, flops in ACCELERATOR_PEAK_FLOPS.items():
    if kind.startswith(prefix):
      return flops * len(devices), f"{prefix} dense bfloat16 peak x {len(devices)}"
  return 0.0, f"no peak known for {kind!r}"
