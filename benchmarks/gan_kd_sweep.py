r"""GAN-KD's table on Fashion-MNIST: one teacher, students of several widths, scratch GANs.

  .venv/bin/python benchmarks/gan_kd_sweep.py                     # the README's table
  .venv/bin/python benchmarks/gan_kd_sweep.py --widths 2,4 --student-steps 500

Runs configs/gan_kd_fashion_mnist.py (judge, teacher, student_d{d}_{mse,joint},
scratch_d{d}) in a fresh workdir through the same pipeline as
`launch/main.py --config=configs/gan_kd_fashion_mnist.py` and prints the
paper's table: d, parameters, compression ratio, IS, FID and sharpness of
the MSE student / joint-loss student / same-size GAN from scratch, each
phase's wall time, and whether the claims the README makes hold. The table
is also in WORKDIR/gan_kd_table.md and WORKDIR/results.json. All numbers are
the final step's; IS and FID come from the LeNet-5 judge trained on
Fashion-MNIST (its own scale, not comparable with published Inception
numbers).
"""

import argparse
import importlib.util
import json
import os
import shutil

import bench_util

ROOT = bench_util.ROOT


def load_config_module():
  path = os.path.join(ROOT, "configs", "gan_kd_fashion_mnist.py")
  spec = importlib.util.spec_from_file_location("gan_kd_fashion_mnist", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def claims(config, results: dict, wall_minutes: float, budget_minutes: float) -> list[str]:
  """The README's claims, each as 'PASS ...' or 'FAIL ...'."""
  from gan_tsc.metrics import generator_quality as gq
  rows = gq.sweep_rows(config, results)
  teacher = next(r for r in rows if r["role"] == "teacher")
  students = [r for r in rows if r["role"] == "student" and r["d"] < teacher["d"]]
  lines = []

  def check(ok, text):
    lines.append(("PASS " if ok else "FAIL ") + text)

  for row in students:
    for loss in ("mse", "joint"):
      if f"{loss}_fid" in row and "scratch_fid" in row:
        check(row[f"{loss}_inception_score"] > row["scratch_inception_score"]
              and row[f"{loss}_fid"] < row["scratch_fid"],
              f"d={row['d']}: {loss} student beats scratch on IS "
              f"({row[f'{loss}_inception_score']:.2f} vs {row['scratch_inception_score']:.2f}) "
              f"and FID ({row[f'{loss}_fid']:.2f} vs {row['scratch_fid']:.2f})")
  if students:
    smallest = min(students, key=lambda r: r["params"])
    check(smallest["compression"] >= 30,
          f"smallest student d={smallest['d']} is {smallest['compression']:.1f}x smaller "
          "than the teacher (>= 30x)")
    for loss in ("mse", "joint"):
      if f"{loss}_inception_score" in smallest:
        kept = smallest[f"{loss}_inception_score"] / teacher["teacher_inception_score"]
        check(kept >= 0.8, f"smallest {loss} student keeps {100 * kept:.0f}% of the teacher's "
                           "IS (>= 80%)")
  for row in students:
    if "joint_sharpness" in row and "mse_sharpness" in row:
      check(row["joint_sharpness"] > row["mse_sharpness"],
            f"d={row['d']}: joint loss sharper than MSE "
            f"({row['joint_sharpness']:.4f} vs {row['mse_sharpness']:.4f})")
  check(wall_minutes <= budget_minutes,
        f"the sweep took {wall_minutes:.1f} min (<= {budget_minutes:.0f} min)")
  return lines


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  module = load_config_module()
  parser.add_argument("--workdir", default=os.path.join(ROOT, "runs", "bench_gan_kd"))
  parser.add_argument("--widths", default=",".join(map(str, module.STUDENT_WIDTHS)),
                      help="student widths d, comma-separated")
  parser.add_argument("--teacher-width", type=int, default=module.TEACHER_WIDTH)
  parser.add_argument("--teacher-steps", type=int, default=module.TEACHER_STEPS)
  parser.add_argument("--student-steps", type=int, default=module.STUDENT_STEPS,
                      help="generator steps of every student and scratch GAN")
  parser.add_argument("--data-dir", default="", help="Fashion-MNIST IDX folder")
  parser.add_argument("--resume", action="store_true",
                      help="keep the workdir: finished phases are restored, not retrained")
  parser.add_argument("--budget-minutes", type=float, default=90.0)
  args = parser.parse_args()

  from gan_tsc.metrics import generator_quality as gq
  widths = tuple(int(w) for w in args.widths.split(",") if w)
  config = module.get_config("", student_widths=widths, teacher_width=args.teacher_width,
                             teacher_steps=args.teacher_steps, student_steps=args.student_steps)
  if args.data_dir:
    config.data.data_dir = args.data_dir
  config.lock()
  if not args.resume:
    shutil.rmtree(args.workdir, ignore_errors=True)

  _, walls, total_seconds = bench_util.timed_pipeline_run(config, args.workdir)
  total = total_seconds / 60
  results = json.load(open(os.path.join(args.workdir, "results.json")))

  table = gq.sweep_table(config, results)
  timing = ["| phase | wall | train img/s | steps |", "|---|---|---|---|"]
  for phase in config.pipeline:
    r = results.get(phase, {})
    timing.append(f"| {phase} | {walls.get(phase, 0) / 60:.1f} min | "
                  f"{r.get('train_examples_per_sec', float('nan')):.0f} | {r.get('steps', '-')} |")
  checks = claims(config, results, total, args.budget_minutes)
  report = (f"GAN-KD sweep, Fashion-MNIST 32x32, teacher d={args.teacher_width} "
            f"({args.teacher_steps} steps), students d={','.join(map(str, widths))} "
            f"({args.student_steps} steps each); total wall {total:.1f} min\n\n"
            f"{table}\n" + "\n".join(timing) + "\n\n" + "\n".join(checks) + "\n")
  with open(os.path.join(args.workdir, "gan_kd_sweep.md"), "w") as f:
    f.write(report)
  print("\n" + report, flush=True)


if __name__ == "__main__":
  main()
