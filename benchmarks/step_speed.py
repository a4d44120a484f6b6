r"""Speed of each phase's training step of a config, on the devices present: images/s, FLOPs, MFU.

  .venv/bin/python benchmarks/step_speed.py --config=configs/dafl_mnist.py \
      --config.dafl.batch_size=256 --out /tmp/step_speed.json

Builds each trained phase's real jitted step from the config (with its
overrides) at full size, feeds it zeros of the step's shapes (no data set is
read; speed does not depend on the values), and times `--steps` calls after
compiling. Per phase: images/s (training images, or generated ones for the
data-free phase, per second), the step's peak memory on one device (XLA's
memory analysis of the compiled step), model FLOPs per image (gan_tsc/step_cost.py:
matrix products and convolutions, counted with standard convolutions; beside
them the FLOPs the step executes, fewer where a layer takes a cheaper path), the
devices' peak FLOP/s (on a CPU a float32 matmul measured in this run) and MFU.
Phase kinds timed: supervised (teachers, students on labels) and dafl (every
data-free method); others are listed as not timed.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import bench_util  # noqa: E402,F401  (XLA flags before JAX starts, as the launcher)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from gan_tsc import models, parallel, step_cost, train_loop  # noqa: E402
from gan_tsc.data import images as image_data  # noqa: E402
from gan_tsc.phases import dafl, shared, supervised  # noqa: E402

config_flags.DEFINE_config_file("config", None, "Config file, optionally with :variant.",
                                lock_config=True)
flags.DEFINE_integer("steps", 20, "timed steps per phase, after compiling")
flags.DEFINE_string("out", None, "write the table as JSON here too")


def supervised_step(config, phase):
  c = config[phase]
  model = models.build_classifier(c.model)
  dataset = image_data.stand_in(config.data, c.model.num_classes)
  key = jax.random.PRNGKey(0)
  state, schedule = shared.create_classifier_state(model, key, dataset.image_shape, c.optimizer,
                                                   1000, c.model.get("init", "flax"))
  batch = {"image": jnp.zeros((c.batch_size,) + dataset.image_shape, jnp.uint8),
           "label": jnp.zeros((c.batch_size,), jnp.int32)}
  step = shared.jit_step(supervised.make_train_step(model, dataset, schedule))
  return step, (parallel.replicate(state), batch, key), c.batch_size


def dafl_step(config, phase):
  c = config[phase]
  teacher_block = config[c.teacher].model
  dataset = image_data.stand_in(config.data, c.student.num_classes)
  teacher = models.build_classifier(teacher_block)
  teacher_vars = parallel.replicate(
      models.init_variables(teacher, jax.random.PRNGKey(1), dataset.image_shape))
  generator = models.build_generator(c.generator, pixel_mean=dataset.mean, pixel_std=dataset.std)
  student = models.build_classifier(c.student)
  key = jax.random.PRNGKey(0)
  state, gs, ss = dafl.create_state(generator, student, key, c, dataset.image_shape, c.num_steps)
  step = shared.jit_step(dafl.make_step(generator, teacher, student, c, gs, ss),
                         batch=None, frozen=1)
  return step, (parallel.replicate(state), None, key, teacher_vars), c.batch_size


BUILDERS = {"supervised": supervised_step, "dafl": dafl_step}


def time_phase(step, args, steps: int) -> float:
  """Median seconds of a call of `step`, after compiling and two warm-up calls."""
  state, rest = args[0], args[1:]
  for _ in range(3):
    state, _ = step(state, *rest)
  jax.block_until_ready(state)
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    state, _ = step(state, *rest)
    jax.block_until_ready(state)
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def main(argv):
  del argv
  config = flags.FLAGS.config
  peak, source = step_cost.peak_flops()
  print(f"devices: {jax.devices()}; peak {peak / 1e9:.4g} GFLOP/s ({source})", flush=True)
  rows = {}
  for phase in config.pipeline:
    kind = config[phase].kind
    if kind not in BUILDERS or config[phase].get("checkpoint"):
      print(f"{phase}: kind {kind!r} not timed" if kind not in BUILDERS else
            f"{phase}: restored from a checkpoint, not trained")
      continue
    step, args, batch = BUILDERS[kind](config, phase)
    # The step as a run calls it: compiled once, its cost from the same program.
    compiled = train_loop.CompiledStep(step, *args[2:])
    cost = compiled.cost(*args[:2])
    if cost.note:
      print(f"{phase}: {cost.note}")
    flops = cost.flops
    seconds = time_phase(compiled, args[:2], flags.FLAGS.steps)
    rows[phase] = {"kind": kind, "batch_size": batch, "seconds_per_step": seconds,
                   "step_peak_memory_bytes": cost.peak_memory_bytes,
                   "images_per_sec": batch / seconds, "flops_per_image": flops / batch,
                   "executed_flops_per_image": cost.executed_flops / batch,
                   "matmul_peak_flops": peak, "peak_source": source,
                   "mfu": flops / seconds / peak if peak and flops else None,
                   # the share of the peak the step computes, counting its products as run
                   "executed_share_of_peak":
                       cost.executed_flops / seconds / peak if peak and flops else None}
    print(f"{phase}: {batch / seconds:.0f} img/s", flush=True)
  print("\n| phase | kind | batch | s/step | images/s | GFLOP/image | GFLOP/s | MFU | "
        "executed GFLOP/image | executed share of peak | peak MiB |")
  print("|---|---|---|---|---|---|---|---|---|---|---|")
  for phase, r in rows.items():
    mfu = f"{r['mfu']:.3f}" if r["mfu"] is not None else "-"
    share = r["executed_share_of_peak"]
    share = f"{share:.3f}" if share is not None else "-"
    mib = r["step_peak_memory_bytes"]
    print(f"| {phase} | {r['kind']} | {r['batch_size']} | {r['seconds_per_step']:.4f} | "
          f"{r['images_per_sec']:.0f} | {r['flops_per_image'] / 1e9:.4f} | "
          f"{r['flops_per_image'] * r['images_per_sec'] / 1e9:.1f} | {mfu} | "
          f"{r['executed_flops_per_image'] / 1e9:.4f} | {share} | "
          f"{'-' if mib is None else f'{mib / 2**20:.0f}'} |")
  if flags.FLAGS.out:
    with open(flags.FLAGS.out, "w") as f:
      json.dump(rows, f, indent=2)
    print(f"\nwritten: {flags.FLAGS.out}")


if __name__ == "__main__":
  flags.mark_flag_as_required("config")
  app.run(main)
