r"""The data-free table on real data, over seeds: teacher, KD with data, and each data-free method.

  .venv/bin/python benchmarks/datafree.py --data fashion_mnist            # hours on 2 CPU cores
  .venv/bin/python benchmarks/datafree.py --data digits --seeds 3         # ~1 hour on 2 cores
  .venv/bin/python benchmarks/datafree.py --data fashion_mnist --seeds 1 --methods dafl,dfad
  .venv/bin/python benchmarks/datafree.py --data fashion_mnist --num-steps 2000   # ~75 min

For each seed s, `configs/datafree_<data>.py:baselines,method=dafl` with
seed s trains the teacher (LeNet-5 with BatchNorm), the student from scratch,
the student distilled on real images and the DAFL student (always, even when
--methods leaves DAFL out of the table); every other method
then reuses that seed's teacher (--config.teacher.checkpoint) in a workdir of
its own. Rerunning continues: finished runs are read back, not trained again
(--fresh starts over). --num-steps N runs every data-free method for N
iterations instead of its config's (8,000; DAFL 7,000 on Fashion-MNIST): the
same budget for each method, in a workdir of its own. Prints, per row, the final-step test accuracy as
mean ± std over the seeds, each seed's figure, the mean wall time of the phase
and its training images/s (a data-free row's images are its generated batches
per second). Wall times are those measured when the phase ran (kept in each
workdir's bench_walls.json); runs are sequential, one at a time, unless
seeds ran side by side (--only-seed), which the walls then include.

  for s in 0 1 2; do python benchmarks/datafree.py --only-seed $s & done; wait
  python benchmarks/datafree.py --seeds 3          # reads them back: the table
"""

import argparse
import json
import os
import shutil

import numpy as np
from bench_util import ROOT, mean_std, timed_pipeline_run

METHOD_ROWS = {"dafl": "DAFL (paper losses)", "dfad": "DFAD (adversarial L1)",
               "bn_adversarial": "BN + adversarial (DFQ terms)",
               "bn_adversarial_replay": "BN + adversarial + replay"}
BASE_ROWS = (("teacher", "teacher (LeNet-5 + BN)"), ("student_scratch", "student, labels"),
             ("student_kd", "student, KD with real data"))


def run_once(config, workdir: str) -> dict:
  """Runs (or continues) one pipeline; returns {phase: results, with 'wall'}.

  The wall time and images/s of a phase are those of the process that
  trained it (a continued run restores finished phases in no time), kept in
  the workdir's bench_walls.json."""
  walls_path = os.path.join(workdir, "bench_walls.json")
  measured = json.load(open(walls_path)) if os.path.exists(walls_path) else {}
  _, walls, _ = timed_pipeline_run(config, workdir)
  results = json.load(open(os.path.join(workdir, "results.json")))
  for phase, seconds in walls.items():
    speed = results[phase].get("train_examples_per_sec")
    if speed and not results[phase].get("restored_from"):  # trained in this process
      measured[phase] = {"wall": seconds, "train_examples_per_sec": speed}
  with open(walls_path, "w") as f:
    json.dump(measured, f)
  return {phase: {**r, **measured.get(phase, {})} for phase, r in results.items()}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--data", choices=("fashion_mnist", "digits"), default="fashion_mnist")
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--methods", default=",".join(METHOD_ROWS),
                      help=f"comma-separated, from {','.join(METHOD_ROWS)}")
  parser.add_argument("--workdir", default=None)
  parser.add_argument("--only-seed", type=int, default=None,
                      help="run (or read back) this seed alone: seeds side by side in separate "
                           "processes; a later call with --seeds N prints their table")
  parser.add_argument("--fresh", action="store_true", help="delete earlier runs first")
  parser.add_argument("--num-steps", type=int, default=None,
                      help="iterations of every data-free run (default: each config's own)")
  args = parser.parse_args()
  methods = [m for m in args.methods.split(",") if m]
  unknown = sorted(set(methods) - set(METHOD_ROWS))
  if unknown:
    raise SystemExit(f"Unknown method(s) {unknown}; choose from {tuple(METHOD_ROWS)}.")
  from gan_tsc import configs
  if args.num_steps is not None and args.num_steps < 1:
    raise SystemExit(f"--num-steps must be positive, got {args.num_steps}.")
  suffix = f"_{args.num_steps}its" if args.num_steps else ""
  root = args.workdir or os.path.join(ROOT, "runs", f"bench_datafree_{args.data}{suffix}")
  if args.fresh:  # with --only-seed, that seed's runs alone (others may be running)
    shutil.rmtree(root if args.only_seed is None else os.path.join(root, f"seed{args.only_seed}"),
                  ignore_errors=True)
  rows = {}  # row label -> its results, one per seed
  seeds = range(args.seeds) if args.only_seed is None else [args.only_seed]
  for seed in seeds:
    base = os.path.join(root, f"seed{seed}", "dafl")
    for method in ["dafl"] + [m for m in methods if m != "dafl"]:
      variant = f"baselines,method={method}" if method == "dafl" else f"method={method}"
      config = configs.load(f"datafree_{args.data}", variant, lock=False)
      config.seed = seed
      if args.num_steps:
        config.dafl.num_steps = args.num_steps
        config.dafl.eval_every_steps = min(config.dafl.eval_every_steps, args.num_steps)
      workdir = base
      if method != "dafl":
        config.teacher.checkpoint = os.path.join(base, "teacher")
        workdir = os.path.join(root, f"seed{seed}", method)
      config.lock()
      print(f"\n=== seed {seed}, {method}: {workdir}", flush=True)
      results = run_once(config, workdir)
      if method == "dafl":
        for phase, label in BASE_ROWS:
          rows.setdefault(label, []).append(results[phase])
      if method in methods:
        rows.setdefault(METHOD_ROWS[method], []).append(results["dafl"])
  budget = (f"{args.num_steps} iterations per data-free run" if args.num_steps
            else "each data-free config's own iterations")
  print(f"\nData-free table, {args.data} (LeNet-5 + BN teacher -> LeNet-5-half; {budget}; "
        f"final-step test accuracy, mean ± std over {len(seeds)} seed(s))\n")
  print("| row | test accuracy | per seed | steps | wall (mean) | train img/s |")
  print("|---|---|---|---|---|---|")
  for label, found in rows.items():
    accs = [r["test_accuracy"] for r in found]
    walls = [r["wall"] for r in found if r.get("wall")]
    speed = [r["train_examples_per_sec"] for r in found if r.get("train_examples_per_sec")]
    print(f"| {label} | {mean_std(accs)} | {' / '.join(f'{100 * a:.2f}' for a in accs)} | "
          f"{found[0]['steps']} | {np.mean(walls) / 60:.1f} min | "
          f"{np.mean(speed) if speed else float('nan'):.0f} |")


if __name__ == "__main__":
  main()
