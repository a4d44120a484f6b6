r"""The CPU paths side by side: XLA flags and the LeNets' `conv`, in the data-free and teacher steps.

  .venv/bin/python benchmarks/cpu_paths_speed.py --rounds 2 --steps 40
  .venv/bin/python benchmarks/cpu_paths_speed.py --phase teacher --rounds 2 --steps 1000

Each setting is (XLA flags, conv): the flags either as this process has them
or with gan_tsc/xla_flags.py's defaults added; `conv` ('xla' or 'matmul') for
the student in the data-free step (`--phase dafl`) or for the teacher it
trains (`--phase teacher`); the rest of the config is as it is. XLA flags act
only when JAX starts, so each setting runs in a child process, the settings
alternating for --rounds rounds, one child at a time.

`--phase dafl`: the real jitted step of the config's data-free phase (random
weights: speed does not depend on them; benchmarks/dafl_speed.py's timing),
--steps steps timed after compiling;
the child's median generated images/s. `--phase teacher`: the config's teacher
trained for --steps steps on the real data, no evaluation; the phase's own
training images/s (compiling excluded). Last line: each setting's best child
against the first setting's best.
"""

import argparse
import json
import os
import subprocess
import sys

from gan_tsc import xla_flags


def _config(config_name: str, phase: str, conv: str):
  from gan_tsc import configs
  config = configs.load(config_name, "", lock=False)
  (config.dafl.student if phase == "dafl" else config.teacher.model).conv = conv
  return config


def teacher_speed(config, steps: int) -> float:
  """Training images/s of the config's teacher over `steps` steps, in this process."""
  import tempfile
  from gan_tsc import pipeline
  config.pipeline = ("teacher",)
  config.teacher.update(num_steps=steps, num_epochs=0, eval_every_steps=0)
  with tempfile.TemporaryDirectory() as workdir:
    pipeline.run(config, workdir)
    return json.load(open(os.path.join(workdir, "results.json")))["teacher"][
        "train_examples_per_sec"]


def dafl_speed(config, steps: int) -> float:
  """Median generated images/s of the config's `dafl` step, in this process."""
  import numpy as np
  from dafl_speed import time_config_step  # imports JAX: only in a child
  return config.dafl.batch_size / float(np.median(
      time_config_step(config.dafl, config.teacher.model, steps)))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--config", default="datafree_fashion_mnist")
  parser.add_argument("--phase", choices=("dafl", "teacher"), default="dafl")
  parser.add_argument("--conv", nargs="+", default=["xla", "matmul"])
  parser.add_argument("--steps", type=int, default=40)
  parser.add_argument("--rounds", type=int, default=2)
  parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    speed = {"dafl": dafl_speed, "teacher": teacher_speed}[args.phase]
    print(json.dumps(speed(_config(args.config, args.phase, args.conv[0]), args.steps)))
    return
  plain = os.environ.get("XLA_FLAGS", "")
  settings = [(flags, conv) for flags in (plain, xla_flags.with_defaults(plain))
              for conv in args.conv]
  unit = {"dafl": "generated img/s (median)", "teacher": "training img/s"}[args.phase]
  who = {"dafl": "student", "teacher": "teacher"}[args.phase]
  print(f"config {args.config}, phase {args.phase}, {os.cpu_count()} CPUs, "
        f"{args.steps} timed steps per child")
  print(f"\n| XLA_FLAGS | {who} conv | round | {unit} |")
  print("|---|---|---|---|")
  speeds = {s: [] for s in settings}
  for r in range(args.rounds):
    for flags, conv in settings:
      # The child runs with exactly these flags: it never calls xla_flags.set_defaults().
      out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child",
                            "--phase", args.phase, "--config", args.config, "--conv", conv,
                            "--steps", str(args.steps)],
                           env=dict(os.environ, XLA_FLAGS=flags), check=True,
                           capture_output=True, text=True).stdout
      speed = json.loads(out.strip().splitlines()[-1])
      speeds[(flags, conv)].append(speed)
      print(f"| `{flags}` | {conv} | {r} | {speed:.0f} |", flush=True)
  first = max(speeds[settings[0]])
  print("\nbest child against the first setting's best: " + ", ".join(
      f"`{flags}` {conv}: {max(v) / first:.2f}x" for (flags, conv), v in speeds.items()))


if __name__ == "__main__":
  main()
