r"""Teacher quality and speed on real data: LeNet-5 on Fashion-MNIST and digits.

  .venv/bin/python benchmarks/teacher.py [--only digits] [--workdir runs/bench_teacher]

Trains each config from scratch in a fresh workdir through the same pipeline
as launch/main.py and prints one table: final test accuracy (the last step,
no checkpoint selection), wall time of the whole run (loading, compiling and
evaluating included) and training images/s.
"""

import argparse
import os
import shutil
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RUNS = {
    "fashion_mnist": "teacher_fashion_mnist",
    "digits": "teacher_digits",
}




def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--only", choices=sorted(RUNS), action="append")
  parser.add_argument("--workdir", default=os.path.join(ROOT, "runs", "bench_teacher"))
  args = parser.parse_args()
  from gan_tsc import configs, pipeline
  rows = []
  for data_name in args.only or RUNS:
    config = configs.load(RUNS[data_name])
    workdir = os.path.join(args.workdir, data_name)
    shutil.rmtree(workdir, ignore_errors=True)
    start = time.perf_counter()
    result = pipeline.run(config, workdir)["teacher"].metrics
    rows.append((data_name, config.teacher.model.name, result["test_accuracy"],
                 time.perf_counter() - start, result["train_examples_per_sec"], result["steps"]))
  print("\n| data | model | final test acc | wall | train img/s | steps |")
  print("|---|---|---|---|---|---|")
  for data_name, model, acc, wall, speed, steps in rows:
    print(f"| {data_name} | {model} | {100 * acc:.2f}% | {wall / 60:.1f} min | {speed:.0f} | {steps} |")


if __name__ == "__main__":
  main()
