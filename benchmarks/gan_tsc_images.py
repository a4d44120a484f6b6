r"""GAN-TSC on Fashion-MNIST: the student with and without GAN inputs, and the TSC Score table.

  .venv/bin/python benchmarks/gan_tsc_images.py            # ~26 min on 2 CPU cores
  .venv/bin/python benchmarks/gan_tsc_images.py --smoke    # a minute; checks the wiring
  .venv/bin/python benchmarks/gan_tsc_images.py --variant small_data --no-tsc   # 2,000 images
  .venv/bin/python benchmarks/gan_tsc_images.py --variant authors --no-tsc --workdir W
      # the authors' recipe (NIN teacher, their LeNet, 200 epochs over 512 real images)

Runs configs/gan_tsc_fashion_mnist.py through the same pipeline as
launch/main.py, with these phases added:
  gan_unconditional   the same GAN without labels (for the TSC table)
  student_mix_<s>     the student on real + AC-GAN inputs (p_fake 0.8), seeds s
  student_real_<s>    the same student on training data only (p_fake 0)
Every student has the same architecture, optimizer and number of steps, and
reports its final-step test accuracy. Then the TSC Score (3 seeds, ± standard
error) and the Inception Score (the teacher as the classifier) of six input
sets: the real training set, AC-GAN samples, unconditional GAN samples, AC-GAN
samples of one class only, a low-diversity set (10 real images per class,
repeated) and Gaussian noise. Prints both tables and writes them, with every
number, to <workdir>/gan_tsc_images.{md,json}, and the students' per-seed
final-step test accuracies to <workdir>/summary.json under `training_only` and
`training_plus_gan`. --variant picks a variant of
the config (e.g. small_data); --no-tsc skips the unconditional GAN and the
TSC table and compares the students only.
"""

import argparse
import json
import os
import shutil
import time

import numpy as np

from bench_util import ROOT, mean_std, timed_pipeline_run


def candidate_sets(dataset, outputs, key_seed: int):
  """name -> uint8 images, each as many as the real training set."""
  import jax
  from gan_tsc.ops import pixels
  from gan_tsc.phases.tsc_score import generated_images
  n = len(dataset.train_images)
  rng = np.random.default_rng(key_seed)
  key = jax.random.PRNGKey(key_seed)
  per_class = np.concatenate([np.flatnonzero(dataset.train_labels == c)[:10]
                              for c in range(dataset.num_classes)])
  noise = rng.normal(0.0, 0.5, (n,) + dataset.image_shape)
  return {
      "real training set": dataset.train_images,
      "AC-GAN samples": generated_images(outputs["gan"], jax.random.fold_in(key, 1), n),
      "unconditional GAN samples": generated_images(outputs["gan_unconditional"],
                                                    jax.random.fold_in(key, 2), n),
      "AC-GAN samples, one class (0)": generated_images(
          outputs["gan"], jax.random.fold_in(key, 3), n, labels=np.zeros(n, np.int32)),
      "10 real images per class, repeated": dataset.train_images[np.resize(per_class, n)],
      "Gaussian noise": pixels.tanh_to_uint8(np.clip(noise, -1, 1)),
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--workdir", default=os.path.join(ROOT, "runs", "bench_gan_tsc_images"))
  parser.add_argument("--train-examples", type=int, default=0,
                      help="use the first N training images in every phase (0: all)")
  parser.add_argument("--student-steps", type=int, default=0, help="override students' steps")
  parser.add_argument("--smoke", action="store_true", help="a few steps of everything")
  parser.add_argument("--variant", default="", help="config variant, e.g. small_data")
  parser.add_argument("--no-tsc", action="store_true",
                      help="students only: no unconditional GAN, no TSC Score table")
  args = parser.parse_args()
  from gan_tsc import configs
  from gan_tsc.data import images as image_data
  from gan_tsc.metrics import tsc_score
  from gan_tsc.phases.tsc_score import TscScorer

  variant = ",".join(v for v in (args.variant, "smoke" if args.smoke else "") if v)
  config = configs.load("gan_tsc_fashion_mnist", variant, lock=False)
  if args.train_examples:
    config.data.max_train_examples = args.train_examples
  if args.student_steps:
    config.student.num_steps = args.student_steps
  phases = ["teacher", "gan"]
  if not args.no_tsc:
    config.gan_unconditional = configs.gan_tsc.acgan_phase(
        batch_size=config.gan.batch_size, num_steps=config.gan.num_steps,
        width=config.gan.generator.width, conditional=False)
    if args.smoke:
      configs.common.smoke(config.gan_unconditional)
    phases.append("gan_unconditional")
  for seed in range(args.seeds):
    for name, p_fake in (("mix", 0.8), ("real", 0.0)):
      phase = f"student_{name}_{seed}"
      config[phase] = config.student.copy_and_resolve_references()
      config[phase].p_fake = p_fake
      phases.append(phase)
  config.pipeline = tuple(phases)
  del config["student"]
  config.lock()
  shutil.rmtree(args.workdir, ignore_errors=True)
  start = time.perf_counter()
  outputs, walls, total = timed_pipeline_run(config, args.workdir)
  results = json.load(open(os.path.join(args.workdir, "results.json")))

  mix = [results[f"student_mix_{s}"]["test_accuracy"] for s in range(args.seeds)]
  real = [results[f"student_real_{s}"]["test_accuracy"] for s in range(args.seeds)]
  c = config.student_mix_0
  with open(os.path.join(args.workdir, "summary.json"), "w") as f:
    json.dump({"training_only": real, "training_plus_gan": mix, "variant": variant,
               "teacher_test_accuracy": results["teacher"]["test_accuracy"],
               "gan_teacher_agreement": results["gan"]["teacher_agreement"]}, f, indent=2)
  real_count = c.real_examples or len(image_data.load(config.data).train_images)
  length = f"{c.num_steps} steps" if c.num_steps else f"{c.num_epochs:g} epochs of {real_count}"
  margin = np.mean(mix) - np.mean(real) - 2 * max(np.std(mix), np.std(real))
  students = "\n".join([
      f"Students ({c.student.name}, {length} at batch {c.batch_size} "
      f"({results['student_mix_0']['steps']} steps), loss {c.loss}; final-step test accuracy, "
      f"mean ± std over {args.seeds} seeds)\n",
      "| compression set | test accuracy | per seed |", "|---|---|---|",
      f"| teacher ({config.teacher.model.name}) | {100 * results['teacher']['test_accuracy']:.2f}% | - |",
      f"| training data only (p_fake 0) | {mean_std(real)} | "
      + ", ".join(f"{100 * a:.2f}" for a in real) + " |",
      f"| training + GAN (p_fake 0.8) | {mean_std(mix)} | "
      + ", ".join(f"{100 * a:.2f}" for a in mix) + " |",
      f"\nGAN-assisted minus training-only: {100 * (np.mean(mix) - np.mean(real)):+.2f} points; "
      f"seed-to-seed std {100 * np.std(real):.2f} / {100 * np.std(mix):.2f}; AC-GAN samples "
      f"the teacher puts in the requested class: {100 * results['gan']['teacher_agreement']:.1f}%",
      f"GAN-assisted mean above the training-only mean by more than twice the larger std: "
      f"{'yes' if margin > 0 else 'no'} (margin {100 * margin:+.2f} points)\n"])
  print("\n" + students, flush=True)
  if args.no_tsc:
    timing = wall_line(walls, start)
    print(timing, flush=True)
    write_results(args.workdir, f"{students}\n{timing}\n",
                  {"students": {"mix": mix, "real": real}, "teacher": results["teacher"],
                   "gan": results["gan"], "phase_wall_seconds": walls})
    return

  dataset = image_data.load(config.data)
  scorer = TscScorer(outputs["teacher"], dataset, c.student, c.optimizer,
                               batch_size=128 if not args.smoke else 64, num_seeds=args.seeds,
                               loss=c.loss)
  scores = []
  for name, images in candidate_sets(dataset, outputs, config.seed).items():
    scores.append(scorer.score(name, images))
    print(f"  scored {name}: TSC {scores[-1].tsc_score:.3f}, IS {scores[-1].inception_score:.2f}",
          flush=True)
  tsc = (f"TSC Score (one pass of {len(dataset.train_images)} inputs, batch "
         f"{scorer.batch_size}, {args.seeds} seeds, ± standard error) and Inception Score "
         "(teacher as the classifier, 10 splits)\n\n" + tsc_score.table(scores))
  walls["TSC table"] = time.perf_counter() - start - total
  timing = wall_line(walls, start)
  print("\n" + tsc + "\n" + timing, flush=True)
  write_results(args.workdir, f"{students}\n{tsc}\n{timing}\n",
                {"students": {"mix": mix, "real": real}, "teacher": results["teacher"],
                 "gan": results["gan"], "tsc": [s.as_dict() for s in scores],
                 "phase_wall_seconds": walls})


def wall_line(walls: dict, start: float) -> str:
  return ("Wall time: " + ", ".join(f"{p} {w / 60:.1f} min" for p, w in walls.items())
          + f"; total {(time.perf_counter() - start) / 60:.1f} min")


def write_results(workdir: str, markdown: str, numbers: dict) -> None:
  with open(os.path.join(workdir, "gan_tsc_images.json"), "w") as f:
    json.dump(numbers, f, indent=2)
  with open(os.path.join(workdir, "gan_tsc_images.md"), "w") as f:
    f.write(markdown)


if __name__ == "__main__":
  main()
