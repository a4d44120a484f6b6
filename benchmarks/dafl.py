r"""DAFL's table on real data: teacher, student from scratch, KD with data, DAFL.

  .venv/bin/python benchmarks/dafl.py --data fashion_mnist   # ~1 hour on 2 CPU cores
  .venv/bin/python benchmarks/dafl.py --data digits          # minutes

Runs configs/dafl_<data>.py:baselines in a fresh workdir through the same
pipeline as launch/main.py and prints the final-step test accuracy of each
row (no checkpoint chosen on the test set), each phase's wall time, and the
training images/s of each phase (the DAFL step's for the DAFL row).
"""

import argparse
import json
import os
import shutil

from bench_util import ROOT, timed_pipeline_run

ROWS = (("teacher", "teacher (LeNet-5)"), ("student_scratch", "student from scratch, labels"),
        ("student_kd", "student, KD with data"), ("dafl", "student, DAFL (data-free)"))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--data", choices=("fashion_mnist", "digits"), default="fashion_mnist")
  parser.add_argument("--workdir", default=None)
  args = parser.parse_args()
  from gan_tsc import configs
  config = configs.load(f"dafl_{args.data}", "baselines")
  workdir = args.workdir or os.path.join(ROOT, "runs", f"bench_dafl_{args.data}")
  shutil.rmtree(workdir, ignore_errors=True)
  _, walls, total = timed_pipeline_run(config, workdir)
  results = json.load(open(os.path.join(workdir, "results.json")))
  print(f"\nDAFL table, {args.data} (final-step test accuracy; total wall {total / 60:.1f} min)\n")
  print("| row | model | params | final test acc | steps | wall | train img/s |")
  print("|---|---|---|---|---|---|---|")
  for phase, label in ROWS:
    r = results[phase]
    model = (config[phase].get("model", None) or config[phase].student).name
    print(f"| {label} | {model} | {r['params']} | {100 * r['test_accuracy']:.2f}% | {r['steps']} | "
          f"{walls[phase] / 60:.1f} min | {r.get('train_examples_per_sec', float('nan')):.0f} |")


if __name__ == "__main__":
  main()
