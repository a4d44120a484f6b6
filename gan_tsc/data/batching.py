"""Host-side batching for every phase: training batches, evaluation batches, fixed chunks.

Every jitted function sees one shape, so nothing recompiles: training drops
each epoch's remainder, evaluation and chunked work pad the last piece.
The rows of a training step are a pure function of (seed, step), so a
resumed run continues with the very batches a straight run would see.
"""

from __future__ import annotations

from typing import Iterator

import jax
import numpy as np

from gan_tsc import parallel


class EpochBatcher:
  """Training batches walking an epoch permutation drawn from (seed, epoch).

  `arrays` maps names to arrays with the examples on the first axis. Each
  step takes `stacks` consecutive batches (a GAN's critic updates read one
  each): `batch(step)` gives arrays of shape (B, ...) for stacks=1, else
  (stacks, B, ...), sharded over the devices on the batch axis. The last
  partial batch of each epoch is dropped.
  """

  def __init__(self, arrays: dict[str, np.ndarray], batch_size: int, seed: int,
               stacks: int = 1, hint: str = "lower --config.<phase>.batch_size"):
    self.arrays, self.batch_size, self.seed, self.stacks = arrays, batch_size, seed, stacks
    self.num_examples = len(next(iter(arrays.values())))
    if batch_size * stacks > self.num_examples:
      per_step = f"batch_size={batch_size}" + (f" x {stacks} batches per step" if stacks > 1 else "")
      raise ValueError(f"{per_step} exceeds the {self.num_examples} training examples; {hint}.")
    self.batches_per_epoch = self.num_examples // batch_size
    self.steps_per_epoch = max(1, self.batches_per_epoch // stacks)
    self._orders: dict[int, np.ndarray] = {}

  def _order(self, epoch: int) -> np.ndarray:
    if epoch not in self._orders:
      self._orders = {e: o for e, o in self._orders.items() if e >= epoch - 1}
      self._orders[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.num_examples)
    return self._orders[epoch]

  def rows(self, step: int) -> np.ndarray:
    """Indices (stacks, B) of the examples of `step`."""
    rows = []
    for index in range(step * self.stacks, (step + 1) * self.stacks):
      epoch, position = divmod(index, self.batches_per_epoch)
      rows.append(self._order(epoch)[position * self.batch_size:(position + 1) * self.batch_size])
    return np.stack(rows)

  def batch(self, step: int) -> dict[str, jax.Array]:
    # This host's rows, sorted: reads from the arrays stay in memory order.
    rows = np.sort(self.rows(step)[:, parallel.host_slice(self.batch_size)], axis=1)
    if self.stacks == 1:
      return parallel.shard_batch({k: v[rows[0]] for k, v in self.arrays.items()})
    sharding = parallel.stacked_batch_sharded()
    return {k: jax.make_array_from_process_local_data(sharding, v[rows])
            for k, v in self.arrays.items()}


def padded_chunks(array: np.ndarray, size: int) -> Iterator[tuple[np.ndarray, int]]:
  """Yields (chunk of `size` rows, number of real rows); the last is zero-padded."""
  for start in range(0, len(array), size):
    part = array[start:start + size]
    count = len(part)
    if count < size:
      part = np.concatenate([part, np.zeros((size - count,) + part.shape[1:], part.dtype)])
    yield part, count


def eval_batches(arrays: dict[str, np.ndarray], batch_size: int):
  """Yields sharded batches covering every example once, with a 'mask' of real rows."""
  names = list(arrays)
  chunks = zip(*(padded_chunks(arrays[k], batch_size) for k in names))
  local = parallel.host_slice(batch_size)
  for parts in chunks:
    count = parts[0][1]
    batch = {k: part[0][local] for k, part in zip(names, parts)}
    batch["mask"] = (np.arange(batch_size) < count).astype(np.float32)[local]
    yield parallel.shard_batch(batch)
