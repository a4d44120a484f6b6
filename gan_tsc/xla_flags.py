"""XLA flags this project sets before JAX starts: the faster CPU path, found by measurement.

XLA's CPU backend (jaxlib 0.10) hands fusions and convolutions to YNNPACK by
default; on this project's small convolutions that is slower. With YNNPACK
used for single matrix products only (`individual_dot`; with none at all,
XLA's own float32 matmul ran markedly slower here), the project's CPU steps
run as fast as with YNNPACK off and faster than XLA's defaults
(`benchmarks/cpu_paths_speed.py`, the settings side by side; docs/RESULTS.md),
and the matmul that step_cost measures as the CPU's peak is XLA's fastest.
The flag only concerns the CPU backend: GPU and TPU runs are unchanged.

Imports nothing from JAX: the launcher and the benchmarks call `set_defaults()`
before their first `import jax`, and a flag the user already set in XLA_FLAGS
(with any value) is left as the user set it.
"""

import os

DEFAULT_FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=individual_dot",)


def _name(flag: str) -> str:
  return flag.split("=", 1)[0]


def with_defaults(xla_flags: str, defaults=DEFAULT_FLAGS) -> str:
  """`xla_flags` plus each default whose flag name it does not already set."""
  present = {_name(f) for f in xla_flags.split()}
  added = [f for f in defaults if _name(f) not in present]
  return " ".join(xla_flags.split() + added)


def set_defaults(environ=os.environ) -> None:
  """Adds the defaults to environ['XLA_FLAGS']; has no effect once JAX has started its backend."""
  environ["XLA_FLAGS"] = with_defaults(environ.get("XLA_FLAGS", ""))
