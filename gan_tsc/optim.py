"""Optimizers and learning-rate schedules from a config block.

    optimizer = dict(name='sgd', learning_rate=0.1, momentum=0.9, nesterov=False,
                     weight_decay=5e-4, schedule='step', decay_at=(0.4, 0.6),
                     decay_factor=0.1, b1=0.9, b2=0.999, warmup_fraction=0.0)

`decay_at` is in fractions of the phase's training steps, so a `:smoke`
variant keeps the recipe's shape. Weight decay is added to the gradient before
the optimizer (PyTorch's SGD and Adam `weight_decay`); 'adamw' decouples it.
"""

from __future__ import annotations

import optax

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "linear")


def build(optimizer_config, num_steps: int):
  """Returns (optax transformation, schedule: step -> learning rate)."""
  c = optimizer_config
  schedule = _schedule(c, num_steps)
  if c.name == "sgd":
    tx = optax.sgd(schedule, momentum=c.momentum or None,
                   nesterov=c.nesterov)
  elif c.name == "adam":
    tx = optax.adam(schedule, b1=c.b1, b2=c.b2)
  elif c.name == "adamw":
    return optax.adamw(schedule, b1=c.b1, b2=c.b2,
                       weight_decay=c.weight_decay), schedule
  else:
    raise ValueError(f"Unknown optimizer {c.name!r}; choose one of {OPTIMIZERS} "
                     "(--config.<phase>.optimizer.name).")
  if c.weight_decay:
    tx = optax.chain(optax.add_decayed_weights(c.weight_decay), tx)
  return tx, schedule


def _schedule(c, num_steps: int):
  name = c.schedule
  lr = c.learning_rate
  warmup = int(c.warmup_fraction * num_steps)
  if name == "constant":
    main = optax.constant_schedule(lr)
  elif name == "step":
    boundaries = {max(1, int(round(f * num_steps))) - warmup: c.decay_factor
                  for f in c.decay_at}
    main = optax.piecewise_constant_schedule(lr, boundaries)
  elif name == "cosine":
    main = optax.cosine_decay_schedule(lr, max(1, num_steps - warmup))
  elif name == "linear":  # to zero at the last step
    main = optax.linear_schedule(lr, 0.0, max(1, num_steps - warmup))
  else:
    raise ValueError(f"Unknown schedule {name!r}; choose one of {SCHEDULES} "
                     "(--config.<phase>.optimizer.schedule).")
  if warmup:
    return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), main], [warmup])
  return main
