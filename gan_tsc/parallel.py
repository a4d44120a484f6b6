"""Data parallelism: one 'data' mesh axis over every device, state replicated.

Steps are jitted with these shardings, so XLA computes each step on the global
batch exactly as one device would (BatchNorm statistics included); only the
work is split.
"""

from __future__ import annotations

import contextlib

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"


_mesh: Mesh | None = None


def mesh() -> Mesh:
  global _mesh
  if _mesh is None:
    _mesh = Mesh(np.asarray(jax.devices()), (DATA_AXIS,))
  return _mesh


@contextlib.contextmanager
def using_devices(devices):
  """Runs the enclosed code on a mesh of `devices` (tests compare 1 with 8)."""
  global _mesh
  saved, _mesh = _mesh, Mesh(np.asarray(devices), (DATA_AXIS,))
  try:
    yield _mesh
  finally:
    _mesh = saved


def replicated() -> NamedSharding:
  return NamedSharding(mesh(), P())


def batch_sharded() -> NamedSharding:
  return NamedSharding(mesh(), P(DATA_AXIS))


def stacked_batch_sharded() -> NamedSharding:
  """(n_critic, batch, ...) arrays: each critic update's batch split over 'data'."""
  return NamedSharding(mesh(), P(None, DATA_AXIS))


def shard_rows(x):
  """`x`'s rows split over the 'data' axis (where they divide evenly; else as
  XLA places them). For arrays a step makes itself, such as latents drawn from
  the replicated key: without it XLA computes them, and all that follows from
  them, whole on every device."""
  if x.shape[0] % mesh().size:
    return x
  return jax.lax.with_sharding_constraint(x, batch_sharded())


def normal_rows(key, rows: int, width: int):
  """(rows, width) standard normal draws, split over the devices by rows."""
  return shard_rows(jax.random.normal(key, (rows, width)))


def check_batch_size(global_batch: int, what: str = "batch_size") -> None:
  n = jax.device_count()
  if global_batch % n:
    raise ValueError(
        f"{what}={global_batch} does not divide over {n} devices; choose a "
        f"multiple of {n} (e.g. --config.<phase>.{what}="
        f"{max(n, global_batch // n * n)}).")


def host_slice(global_batch: int) -> slice:
  """The rows of a global batch that this host feeds (multi-host input)."""
  per_host = global_batch // jax.process_count()
  start = jax.process_index() * per_host
  return slice(start, start + per_host)


def shard_batch(local_batch):
  """Host-local numpy rows -> one global jax.Array sharded on the 'data' axis."""
  sharding = batch_sharded()
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, x),
      local_batch)


def replicate(tree):
  return jax.device_put(tree, replicated())
