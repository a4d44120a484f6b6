"""Config values that cannot work, refused before anything runs.

Each rule names a key wherever it appears in a block (a phase's
`optimizer.learning_rate`, the data's `max_train_examples`) and the range it
must lie in. Every offending key is listed in one error, with its path as it
is written on the command line (`--config.teacher.num_steps`).
"""

from __future__ import annotations

import math

from gan_tsc.errors import ConfigError


def _number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def positive_int(value) -> bool:
  return _integer(value) and value >= 1


def non_negative_int(value) -> bool:
  return _integer(value) and value >= 0


def positive(value) -> bool:
  return _number(value) and value > 0


def non_negative(value) -> bool:
  return _number(value) and value >= 0


def fraction(value) -> bool:
  return _number(value) and 0 <= value <= 1


def steps(value) -> bool:
  return value is None or positive_int(value)


# key -> (check, what it must be)
RULES = {
    "num_steps": (steps, "a whole number of steps >= 1, or unset to train for num_epochs"),
    "num_epochs": (non_negative, "a number of epochs >= 0 (0: num_steps gives the length)"),
    "batch_size": (positive_int, "a whole number >= 1"),
    "eval_batch_size": (positive_int, "a whole number >= 1"),
    "num_samples": (positive_int, "a whole number >= 1"),
    "teacher_agreement_samples": (positive_int, "a whole number >= 1"),
    "num_seeds": (positive_int, "a whole number >= 1"),
    "n_critic": (positive_int, "a whole number >= 1"),
    "discriminator_steps": (positive_int, "a whole number >= 1"),
    "ensemble_size": (positive_int, "a whole number >= 1"),
    "log_every_steps": (positive_int, "a whole number of steps >= 1"),
    "eval_every_steps": (non_negative_int, "a whole number of steps >= 0 (0: only at the end)"),
    "checkpoint_every_steps": (non_negative_int,
                               "a whole number of steps >= 0 (0: only at the end)"),
    "learning_rate": (positive, "a number > 0"),
    "temperature": (positive, "a number > 0"),
    "p_fake": (fraction, "a probability in [0, 1]"),
    "momentum": (fraction, "a number in [0, 1]"),
    "b1": (fraction, "a number in [0, 1]"),
    "b2": (fraction, "a number in [0, 1]"),
    "decay_factor": (positive, "a number > 0"),
    "warmup_fraction": (fraction, "a fraction of training in [0, 1]"),
    "generator_ema_decay": (fraction, "a number in [0, 1]"),
    "weight_decay": (non_negative, "a number >= 0"),
    "gradient_penalty": (non_negative, "a weight >= 0"),
    "class_loss_weight": (non_negative, "a weight >= 0"),
    "alpha": (non_negative, "a weight >= 0"),
    "max_train_examples": (non_negative_int, "a whole number >= 0 (0: all)"),
    "real_examples": (non_negative_int, "a whole number >= 0 (0: all)"),
    "heldout_examples": (non_negative_int, "a whole number >= 0 (0: none)"),
    "dropout_rate": (fraction, "a rate in [0, 1]"),
    "image_size": (positive_int, "a whole number >= 1"),
}
# Every key inside a block of this name must satisfy the check.
BLOCK_RULES = {"loss_weights": (non_negative, "a weight >= 0")}


def problems(block, path: str) -> list[str]:
  """Every value under `block` that breaks a rule, as 'path=value: must be ...'."""
  found = []
  for key, value in block.items():
    where = f"{path}.{key}"
    if hasattr(value, "items"):
      if key in BLOCK_RULES:
        check, must = BLOCK_RULES[key]
        found += [f"{where}.{k}={v!r}: must be {must}" for k, v in value.items() if not check(v)]
      else:
        found += problems(value, where)
    elif key in RULES and not RULES[key][0](value):
      found.append(f"{where}={value!r}: must be {RULES[key][1]}")
  if "num_steps" in block and "num_epochs" in block and block["num_steps"] is None \
      and block["num_epochs"] == 0:
    found.append(f"{path}: set num_steps or num_epochs (both are unset)")
  return found


def check(config) -> None:
  """Raises ConfigError listing every value of `config` that cannot work."""
  found = problems(config, "config")
  if found:
    raise ConfigError("Config values that cannot work (nothing was run):\n" +
                      "\n".join(f"  --{line}" for line in found))
