"""Generic config blocks: data, optimizer, model, supervised phase, smoke, variants, load.

Configs (configs/*.py) are plain `ml_collections.ConfigDict`s, locked by the
launcher so a mistyped `--config.x.y` override fails instead of being
ignored. Every default lives in the block builders here and in the family
modules next to this one (dafl, gan_tsc, gan_kd, tabular): a block holds
every key its phase reads, so `--config.<phase>.<key>=...` works for each of
them and a phase can read `c.key` rather than `c.get(key, default)`.

Keys every trained phase block has: num_steps (unset: train for
num_epochs; num_steps wins when both are set), num_epochs, batch_size, log_every_steps,
eval_every_steps (0 = only at the end), checkpoint_every_steps
(CHECKPOINT_EVERY_STEPS unless a config sets its own) and checkpoint (the
folder of a finished phase of another run, restored instead of training;
'' = train).

`conv` in generator and critic blocks: 'xla' (the framework's convolutions;
best on GPU/TPU) or 'matmul' (the same convolution computed as matrix
products; faster on XLA:CPU).
"""

from __future__ import annotations

import copy as copy_module
import importlib.util
import os
from typing import Callable

import ml_collections

ConfigDict = ml_collections.ConfigDict

CONFIG_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "configs")

CONV_CHOICES = ("xla", "matmul")
CHECKPOINT_EVERY_STEPS = 1000
MLP_HIDDEN = (256, 256)  # an 'mlp' model's hidden layers unless a config sets them


def steps_or_unset(num_steps: int | None):
  """`num_steps`, or an unset integer a command line can still set (`--config.x.num_steps=6`)."""
  return ml_collections.config_dict.placeholder(int) if num_steps is None else num_steps


def trained_phase(kind: str, *, batch_size: int, num_steps: int | None = None,
                  num_epochs: float = 0,
                  log_every_steps: int = 100, eval_every_steps: int = 0,
                  checkpoint_every_steps: int = CHECKPOINT_EVERY_STEPS, **blocks) -> ConfigDict:
  """The keys every trained phase has, with its own (`blocks`) after them."""
  return ConfigDict(dict(
      kind=kind, **blocks, batch_size=batch_size, num_steps=steps_or_unset(num_steps),
      num_epochs=num_epochs,
      log_every_steps=log_every_steps, eval_every_steps=eval_every_steps,
      checkpoint_every_steps=checkpoint_every_steps, checkpoint=""))


def check_conv(conv: str) -> str:
  """`conv` if it is one of CONV_CHOICES, else a ValueError."""
  if conv not in CONV_CHOICES:
    raise ValueError(f"Unknown conv {conv!r}; choose one of {CONV_CHOICES}.")
  return conv


def updated(block: ConfigDict, overrides: dict) -> ConfigDict:
  """`block` with `overrides`; a key the block lacks is an error, as on the command line."""
  unknown = sorted(set(overrides) - set(block))
  if unknown:
    raise KeyError(f"No key {', '.join(unknown)} in a {block.get('kind', 'config')} block; "
                   f"it has {sorted(block)}.")
  block.update(overrides)
  return block


# ----------------------------------------------------------------------------
# Data, optimizers, models.


def data(source: str, name: str, image_size: int = 32, **overrides) -> ConfigDict:
  """An image data block. `source`: 'tfds', 'idx' (local IDX files) or 'sklearn'.

  augment 'none' or 'crop_flip'; normalization 'dataset' (per-channel mean
  and std), 'symmetric' ([-1, 1]) or 'pixel_mean' (0..255 pixels minus the
  per-pixel training mean, GAN-TSC's); max_train_examples 0 = all (else the
  first that many training images).
  """
  block = ConfigDict(dict(
      kind="image", source=source, name=name, data_dir="", image_size=image_size,
      augment="none", center_crop=False, normalization="dataset", download=False,
      max_train_examples=0, seed=0))
  return updated(block, overrides)


def optimizer(name: str, learning_rate: float, **overrides) -> ConfigDict:
  """name 'sgd' or 'adam'; schedule 'constant', 'cosine', 'linear' (to zero) or
  'step' (x decay_factor at each fraction of training in decay_at), after a
  linear warmup_fraction."""
  block = ConfigDict(dict(
      name=name, learning_rate=learning_rate, momentum=0.9, nesterov=False,
      weight_decay=0.0, b1=0.9, b2=0.999, schedule="constant", decay_at=(),
      decay_factor=0.1, warmup_fraction=0.0))
  return updated(block, overrides)


def paper_sgd(decay_at=(80 / 200, 120 / 200)) -> ConfigDict:
  """The DAFL paper's ResNet SGD: lr 0.1, momentum 0.9, wd 5e-4, x0.1 at each of `decay_at`."""
  return optimizer("sgd", 0.1, momentum=0.9, weight_decay=5e-4, schedule="step",
                   decay_at=tuple(decay_at), decay_factor=0.1)


def model(name: str, num_classes: int, **overrides) -> ConfigDict:
  """A classifier block; an 'mlp' always has `hidden` (its hidden layer sizes).

  `init='torch'` (PyTorch's default initialisation; read by the supervised,
  distill and dafl phases) is a key only where a config sets it. `compute_dtype`
  'float32' or 'bfloat16' (activations and products; parameters, optimizer
  state and BatchNorm statistics stay float32: gan_tsc/models/__init__.py)."""
  block = ConfigDict(dict(name=name, num_classes=num_classes, compute_dtype="float32"))
  if name == "mlp":
    block.hidden = MLP_HIDDEN
  block.update(overrides)
  if "hidden" in block:
    block.hidden = tuple(block.hidden)
  return block


def supervised_phase(model_block: ConfigDict, optimizer_block: ConfigDict, *,
                     batch_size: int, num_epochs: float = 0, num_steps: int | None = None,
                     eval_batch_size: int = 500, **overrides) -> ConfigDict:
  """Supervised training on labelled data (the teacher, or a scratch student)."""
  return updated(trained_phase(
      "supervised", model=model_block, optimizer=optimizer_block, batch_size=batch_size,
      num_epochs=num_epochs, num_steps=num_steps, eval_batch_size=eval_batch_size), overrides)


def base(pipeline: tuple[str, ...], seed: int = 0) -> ConfigDict:
  return ConfigDict(dict(seed=seed, pipeline=tuple(pipeline)))


def copy(block: ConfigDict) -> ConfigDict:
  """An independent copy: an override of one phase's block leaves the others alone.

  A deep copy keeps unset values typed, so the command line can still set them."""
  return copy_module.deepcopy(block)


# ----------------------------------------------------------------------------
# Image tasks: the data set and the teacher every family trains on it.


def _task(data_args: dict, teacher_model: tuple, teacher_optimizer: Callable[[], ConfigDict],
          smoke_settings: dict, **recipe) -> dict:
  return dict(data=data_args, model=teacher_model, optimizer=teacher_optimizer,
              recipe=recipe, smoke=smoke_settings)


def _cifar(name: str, num_classes: int) -> dict:
  """The DAFL paper's CIFAR teacher: ResNet-34, 200 epochs, crop+flip."""
  return _task(dict(source="tfds", name=name, augment="crop_flip"), ("resnet34", num_classes),
               paper_sgd, dict(batch_size=8, eval_batch_size=16), batch_size=128,
               num_epochs=200, eval_every_steps=3910, checkpoint_every_steps=3910)


_TASKS = {
    "digits": _task(dict(source="sklearn", name="digits"), ("lenet5", 10),
                    lambda: optimizer("adam", 1e-3, schedule="cosine"), {},
                    batch_size=64, num_epochs=40, eval_every_steps=300),
    "mnist": _task(dict(source="tfds", name="mnist"), ("lenet5", 10),
                   lambda: optimizer("adam", 1e-3), {},
                   batch_size=256, num_epochs=10, eval_every_steps=1000),
    "fashion_mnist": _task(dict(source="idx", name="fashion_mnist"), ("lenet5", 10),
                           lambda: optimizer("adam", 2e-3, schedule="cosine"),
                           dict(max_train_examples=512), batch_size=128, num_epochs=15,
                           log_every_steps=200, eval_every_steps=2000),
    "cifar10": _cifar("cifar10", 10),
    "cifar100": _cifar("cifar100", 100),
}
TASKS = tuple(_TASKS)


def task(name: str) -> dict:
  """An image task's settings: data (block arguments), model, optimizer, recipe, smoke."""
  if name not in _TASKS:
    raise ValueError(f"Unknown image task {name!r}; choose one of {TASKS}.")
  return _TASKS[name]


def task_teacher(name: str, **overrides) -> ConfigDict:
  """The teacher recipe of an image task (its LeNet-5 or the DAFL paper's ResNet-34)."""
  t = task(name)
  return supervised_phase(model(*t["model"]), t["optimizer"](), **{**t["recipe"], **overrides})


def task_config(name: str, pipeline: tuple[str, ...], **teacher_overrides) -> ConfigDict:
  """A config with the task's 32x32 data block and its `teacher` phase."""
  config = base(pipeline=pipeline)
  config.data = data(image_size=32, **task(name)["data"])
  config.teacher = task_teacher(name, **teacher_overrides)
  return config


def smoke_task(config: ConfigDict, name: str) -> None:
  """smoke_pipeline with the task's sizes (e.g. CIFAR: batch 8; Fashion-MNIST: 512 images)."""
  smoke_pipeline(config, **task(name)["smoke"])


def teacher_config(name: str, variant: str) -> ConfigDict:
  """configs/teacher_*.py: the task's teacher alone. Variant: smoke."""
  words, _ = parse_variant(variant, words=("smoke",))
  config = task_config(name, ("teacher",))
  if "smoke" in words:
    smoke_task(config, name)
  return config


# ----------------------------------------------------------------------------
# Smoke runs.


def smoke(phase_block: ConfigDict, steps: int = 4, batch_size: int = 16,
          eval_batch_size: int = 64) -> None:
  """Shrinks a trained phase to a few steps, logging and saving along the way."""
  phase_block.num_steps = steps
  phase_block.batch_size = batch_size
  phase_block.log_every_steps = 2
  phase_block.eval_every_steps = 2
  phase_block.checkpoint_every_steps = 2
  if "eval_batch_size" in phase_block:
    phase_block.eval_batch_size = eval_batch_size
  # The AC-GAN's monitor: 1,000 samples through a full-size teacher are slow on a CPU.
  if "teacher_agreement_samples" in phase_block:
    phase_block.teacher_agreement_samples = 64


def smoke_pipeline(config: ConfigDict, *, steps: int = 4, batch_size: int = 16,
                   eval_batch_size: int = 64, max_train_examples: int = 0) -> None:
  """`smoke` on every trained phase of the pipeline (a block with num_steps);
  max_train_examples > 0 also shortens the data set."""
  for phase in config.pipeline:
    if "num_steps" in config[phase]:
      smoke(config[phase], steps, batch_size, eval_batch_size)
  if max_train_examples:
    config.data.max_train_examples = max_train_examples


# ----------------------------------------------------------------------------
# Variants: 'smoke,baselines', 'smoke,data=cifar100', 'widths=2+4'.


def ints(text: str) -> tuple[int, ...]:
  """Variant value '3' -> (3,), '2+4' -> (2, 4)."""
  values = tuple(int(part) for part in text.split("+"))
  if not values or min(values) < 1:
    raise ValueError(f"{text!r} is not '+'-separated positive integers")
  return values


def one_of(*choices: str) -> Callable[[str], str]:
  """A variant value that must be one of `choices`."""

  def convert(text: str) -> str:
    if text not in choices:
      raise ValueError(f"{text!r} is not one of {'|'.join(choices)}")
    return text

  return convert


def parse_variant(variant: str, words=("smoke", "baselines"),
                  args: dict[str, Callable[[str], object]] | None = None
                  ) -> tuple[set[str], dict[str, object]]:
  """'smoke,data=cifar100' -> ({'smoke'}, {'data': 'cifar100'}) (big_vision style).

  `words`: the bare words allowed; `args`: name -> converter of the value
  text (e.g. int, `ints`, `one_of(...)`). Only the arguments given are in
  the dict. An unknown word or name, a name given twice, or a value its
  converter refuses is an error.
  """
  args = args or {}
  found_words, found_args, unknown = set(), {}, []
  for item in (part.strip() for part in variant.split(",")):
    if not item:
      continue
    name, is_arg, value = item.partition("=")
    if not is_arg:
      if item in words:
        found_words.add(item)
      else:
        unknown.append(item)
    elif name not in args:
      unknown.append(item)
    elif name in found_args:
      raise ValueError(f"Variant argument {name!r} is given twice in {variant!r}.")
    else:
      try:
        found_args[name] = args[name](value)
      except ValueError as e:
        raise ValueError(f"Bad variant argument {item!r}: {e}.") from None
  if unknown:
    keys = f" and key=value arguments with keys {tuple(args)}" if args else ""
    raise ValueError(f"Unknown variant {','.join(unknown)!r}; use comma-separated words "
                     f"from {tuple(words)}{keys}.")
  return found_words, found_args


def with_args(variant: str, **args) -> str:
  """`variant` with key=value arguments appended: ('smoke', data='x') -> 'smoke,data=x'."""
  return ",".join([*(p for p in variant.split(",") if p), *(f"{k}={v}" for k, v in args.items())])


# ----------------------------------------------------------------------------
# Loading configs.


def load(name: str, variant: str = "", lock: bool = True) -> ConfigDict:
  """configs/<name>.py's get_config(variant) (or a path's), as the launcher builds it."""
  path = name if name.endswith(".py") else os.path.join(CONFIG_DIR, f"{name}.py")
  spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config(variant)
  if lock:
    config.lock()
  return config


def alias(alias_file: str, family: str, variant: str, **args) -> ConfigDict:
  """get_config of an alias file: `family`.py next to it, with `args` added to the variant."""
  for key, value in args.items():
    if any(item.strip().startswith(f"{key}=") for item in variant.split(",")):
      raise ValueError(f"{os.path.basename(alias_file)} fixes {key}={value}; for another "
                       f"{key}, use {family}.py:{key}=...")
  path = os.path.join(os.path.dirname(os.path.abspath(alias_file)), f"{family}.py")
  return load(path, with_args(variant, **args), lock=False)
