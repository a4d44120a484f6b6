r"""Speed of the DAFL step on this machine: images/s over >= 20 steps after compiling.

The paper's generator (latent 100, 32x32x1) with LeNet-5 -> LeNet-5-half, the
real jitted step of gan_tsc.phases.dafl (forward and backward of all three
networks, both optimizer updates). Weights are random: speed does not depend
on them.

  .venv/bin/python benchmarks/dafl_speed.py --batch 256 --steps 20 --conv xla matmul
  .venv/bin/python benchmarks/dafl_speed.py --config configs/datafree_cifar.py:method=dfad

With --config, the data-free phase of that config instead (its teacher,
generator, student, batch and updates per iteration, at full size), and the
time its num_steps iterations would take at that speed.

XLA_FLAGS gets the launcher's defaults (gan_tsc/xla_flags.py) unless set.
For scale, measured on another day (not a side-by-side comparison): the
official PyTorch code's step at batch 256 on this kind of 2-core CPU, 69
images/s stock, 131 with glibc malloc told to keep its buffers
(../shared/DESIGN.md).
"""

import argparse
import os
import time

import bench_util  # noqa: F401  (XLA flags before JAX starts, as the launcher)
import jax  # noqa: E402
import numpy as np  # noqa: E402

from gan_tsc import configs  # noqa: E402
from gan_tsc import models, parallel  # noqa: E402
from gan_tsc.phases import dafl, shared  # noqa: E402


def time_config_step(c, teacher_block, steps: int, shape=(32, 32, 1)) -> list[float]:
  """Seconds of each of `steps` calls of the jitted step of DAFL phase block `c`
  (random weights, `teacher_block`'s network), after compiling and warming up."""
  teacher_model = models.build_classifier(teacher_block)
  teacher_vars = parallel.replicate(
      models.init_variables(teacher_model, jax.random.PRNGKey(1), shape))
  generator, student = models.build_generator(c.generator), models.build_classifier(c.student)
  key = jax.random.PRNGKey(0)
  state, gs, ss = dafl.create_state(generator, student, key, c, shape, c.num_steps)
  step = shared.jit_step(dafl.make_step(generator, teacher_model, student, c, gs, ss),
                         batch=None, frozen=1)
  for _ in range(3):  # compile and warm up
    state, metrics = step(state, None, key, teacher_vars)
  jax.block_until_ready(state)
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    state, metrics = step(state, None, key, teacher_vars)
    jax.block_until_ready(state)
    times.append(time.perf_counter() - start)
  assert step._cache_size() == 1
  return times


def time_step(batch: int, steps: int, conv: str, width: int = 128) -> list[float]:
  c = configs.dafl.dafl_phase(
      configs.common.model("lenet5_half", 10),
      configs.dafl.dafl_generator(100, 32, 1, conv=conv, width=width),
      generator_optimizer=configs.common.optimizer("adam", 0.2),
      student_optimizer=configs.common.optimizer("adam", 2e-3),
      batch_size=batch, num_steps=1000, one_hot=1.0, information_entropy=5.0, activation=0.1)
  return time_config_step(c, configs.common.model("lenet5", 10), steps)


def time_config_file(spec: str, steps: int) -> None:
  """Prints the speed of the data-free step of config file `spec` ('path[:variant]')."""
  path, _, variant = spec.partition(":")
  config = configs.common.load(path, variant)
  c = config.dafl
  shape = (c.generator.image_size, c.generator.image_size, c.generator.channels)
  times = np.array(time_config_step(c, config.teacher.model, steps, shape))
  per_step = np.median(times)
  print(f"\n| config | teacher -> student | batch | student updates | median s/iteration | "
        f"iterations/s | {c.num_steps} iterations |")
  print("|---|---|---|---|---|---|---|")
  print(f"| {spec} | {config.teacher.model.name} -> {c.student.name} | {c.batch_size} | "
        f"{c.student_updates} | {per_step:.4f} | {1 / per_step:.2f} | "
        f"{per_step * c.num_steps / 60:.1f} min |", flush=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--steps", type=int, default=20)
  parser.add_argument("--conv", nargs="+", default=["xla", "matmul"])
  parser.add_argument("--width", type=int, default=128, help="generator width (paper: 128)")
  parser.add_argument("--config", default=None,
                      help="time this config's data-free phase instead ('path[:variant]')")
  args = parser.parse_args()
  print(f"devices: {jax.devices()}  MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_')}")
  if args.config:
    return time_config_file(args.config, args.steps)
  print("\n| conv | generator width | batch | median s/step | images/s (median) | images/s (best) |")
  print("|---|---|---|---|---|---|")
  for conv in args.conv:
    times = np.array(time_step(args.batch, args.steps, conv, args.width))
    print(f"| {conv} | {args.width} | {args.batch} | {np.median(times):.3f} | {args.batch / np.median(times):.0f} | "
          f"{args.batch / times.min():.0f} |", flush=True)


if __name__ == "__main__":
  main()
