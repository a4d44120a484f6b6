r"""GAN-TSC on Fashion-MNIST: the student with and without GAN inputs, and the TSC Score table.

  .venv/bin/python benchmarks/gan_tsc_images.py            # ~26 min on 2 CPU cores
  .venv/bin/python benchmarks/gan_tsc_images.py --smoke    # a minute; checks the wiring
  .venv/bin/python benchmarks/gan_tsc_images.py --variant small_data --no-tsc   # 2,000 images
  .venv/bin/python benchmarks/gan_tsc_images.py --variant authors --no-tsc --workdir W
      # the authors' recipe (NIN teacher, their LeNet, 200 epochs over 512 real images)
  .venv/bin/python benchmarks/gan_tsc_images.py --datafree-steps 2000 --workdir W
      # the TSC table with the data-free generators too (LeNet-5 + BN teacher)
  ... --resume      # reuse the phases a workdir finished with the same settings
  ... --no-students # the GAN and TSC Score tables alone
  ... --tsc-steps N # the TSC Score's students train N steps (default: one pass)
  ... --resume --retrain   # and train again the phases whose settings changed

Runs configs/gan_tsc_fashion_mnist.py through the same pipeline as
launch/main.py, with these phases added:
  gan_unconditional   the same GAN without labels (for the TSC table)
  student_mix_<s>     the student on real + GAN inputs (p_fake 0.8), seeds s
  student_real_<s>    the same student on training data only (p_fake 0)
  gan_hinge           the hinge GAN with a projection discriminator, rated beside the
                      config's GAN (--hinge-gan-steps; 0 leaves it out; --hinge-generator,
                      --hinge-schedule, --hinge-discriminator-steps, --hinge-betas,
                      --hinge-ema-decay for the other regimes in docs/RESULTS.md); with
                      --variant ...,gan=hinge the config's GAN is the hinge GAN, and these
                      flags set its regime (the students learn from it)
Every student has the same architecture, optimizer and number of steps, and
reports its final-step test accuracy. Each conditional GAN's teacher
agreement and FID (the teacher's features) are printed, beside the same for
real training images. Then the TSC Score
(3 seeds, ± standard error) and the Inception Score (the teacher as the
classifier) of these input sets: the real training set, AC-GAN samples, hinge
GAN samples, unconditional GAN samples, with --datafree-steps N the
generators of DAFL (paper losses) and of the best data-free recipe (phases
datafree_dafl, datafree_best of configs/datafree_fashion_mnist.py, N
iterations each; the teacher is then LeNet-5 + BatchNorm, for every row),
AC-GAN samples of one class only, a low-diversity set (10 real images per
class, repeated) and Gaussian noise; for the two sets of real images the
Inception Score reads the same construction from the test split. Prints the
tables and writes them, with every number, to <workdir>/gan_tsc_images.{md,json},
and the students' per-seed final-step test accuracies to <workdir>/summary.json
under `training_only` and `training_plus_gan`. --variant picks a variant of
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
  """name -> (uint8 images, each as many as the real training set; the images the
  Inception Score reads: for a set of real images the same construction from the
  test split, which the teacher never learned from; else None, the set itself)."""
  import jax
  from gan_tsc.ops import pixels
  from gan_tsc.phases.tsc_score import generated_images
  from gan_tsc.trained import generator_of
  n = len(dataset.train_images)
  rng = np.random.default_rng(key_seed)
  key = jax.random.PRNGKey(key_seed)

  def ten_per_class(images, labels, count):
    chosen = np.concatenate([np.flatnonzero(labels == c)[:10]
                             for c in range(dataset.num_classes)])
    return images[np.resize(chosen, count)]

  def samples(phase, i, **kwargs):
    return generated_images(generator_of(outputs[phase]), jax.random.fold_in(key, i), n,
                            **kwargs), None

  noise = rng.normal(0.0, 0.5, (n,) + dataset.image_shape)
  sets = {"real training set": (dataset.train_images, dataset.test_images),
          "AC-GAN samples": samples("gan", 1)}
  if "gan_hinge" in outputs:
    sets["hinge GAN samples"] = samples("gan_hinge", 4)
  sets["unconditional GAN samples"] = samples("gan_unconditional", 2)
  for phase, label in DATAFREE_ROWS.items():
    if phase in outputs:
      sets[label] = samples(phase, 5 + len(sets))
  sets["AC-GAN samples, one class (0)"] = samples("gan", 3, labels=np.zeros(n, np.int32))
  sets["10 real images per class, repeated"] = (
      ten_per_class(dataset.train_images, dataset.train_labels, n),
      ten_per_class(dataset.test_images, dataset.test_labels, len(dataset.test_images)))
  sets["Gaussian noise"] = (pixels.tanh_to_uint8(np.clip(noise, -1, 1)), None)
  return sets


# The data-free generators the TSC table can rate (--datafree-steps), by phase.
DATAFREE_ROWS = {"datafree_dafl": "DAFL generator (paper losses)",
                 "datafree_best": "data-free generator (BN + adversarial + replay)"}


def datafree_phases(config, num_steps: int, smoke: bool) -> dict:
  """configs/datafree_fashion_mnist.py's DAFL and default blocks, `num_steps` each,
  against this run's teacher."""
  from gan_tsc import configs
  blocks = {}
  for phase, method in (("datafree_dafl", "dafl"), ("datafree_best", "bn_adversarial_replay")):
    variant = ",".join([f"method={method}"] + (["smoke"] if smoke else []))
    block = configs.load("datafree_fashion_mnist", variant, lock=False).dafl
    if not smoke:
      block.num_steps = num_steps
    blocks[phase] = block
  return blocks


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
  parser.add_argument("--no-students", action="store_true",
                      help="the GAN and TSC Score tables only: no students")
  parser.add_argument("--hinge-gan-steps", type=int, default=None,
                      help="also train the hinge GAN (projection discriminator) this many steps "
                           "(default 6000) and rate it beside the config's GAN (0: do not); "
                           "when the config's GAN is the hinge GAN (variant gan=hinge), the "
                           "--hinge-* flags set its regime instead, and its steps if given")
  parser.add_argument("--hinge-generator", default="acgan", choices=("acgan", "acgan_cbn"),
                      help="the hinge GAN's generator (acgan_cbn: class-conditional BatchNorm)")
  parser.add_argument("--hinge-schedule", default="constant", choices=("constant", "linear"),
                      help="the hinge GAN's learning rates: constant, or decayed linearly to zero")
  parser.add_argument("--hinge-discriminator-steps", type=int, default=1,
                      help="the hinge GAN's discriminator updates per generator step "
                           "(the projection authors': 5)")
  parser.add_argument("--hinge-ema-decay", type=float, default=0.999,
                      help="hand on a moving average of the hinge GAN's generator parameters "
                           "with this decay per step (0: the last parameters)")
  parser.add_argument("--hinge-betas", default="0.5,0.999",
                      help="the hinge GAN's Adam b1,b2 for both networks (the projection "
                           "authors': 0,0.9)")
  parser.add_argument("--datafree-steps", type=int, default=0,
                      help="with the TSC table: also train DAFL's generator and the best "
                           "data-free recipe (configs/datafree_fashion_mnist.py) this many "
                           "iterations and rate them; the teacher becomes LeNet-5 + BatchNorm "
                           "(the BN-statistics term needs one), for every row")
  parser.add_argument("--resume", action="store_true",
                      help="keep the workdir: phases finished there with the same settings "
                           "are reused, an interrupted one continues (default: start afresh)")
  parser.add_argument("--tsc-steps", type=int, default=0,
                      help="each TSC Score student's steps (0: one pass over the set)")
  parser.add_argument("--retrain", action="store_true",
                      help="with --resume: train again the phases whose settings changed (and "
                           "those after them) instead of stopping")
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
    if args.datafree_steps:
      config.teacher.model.name = "lenet5_bn"
      for phase, block in datafree_phases(config, args.datafree_steps, args.smoke).items():
        config[phase] = block
        phases.append(phase)
  elif args.datafree_steps:
    parser.error("--datafree-steps rates generators in the TSC table; drop --no-tsc.")
  if args.no_tsc and args.no_students:
    parser.error("--no-tsc with --no-students leaves nothing to compare.")
  rated_gans = ["gan"]
  hinge_steps = args.hinge_gan_steps
  if hinge_steps is None:
    hinge_steps = config.gan.num_steps if config.gan.loss == "hinge" else 6000
  if hinge_steps:
    try:
      betas = tuple(float(b) for b in args.hinge_betas.split(","))
    except ValueError:
      betas = ()
    if len(betas) != 2:
      parser.error(f"--hinge-betas {args.hinge_betas!r}: two numbers, b1,b2 (e.g. 0,0.9).")
    if config.gan.loss == "hinge":  # the students' GAN is the hinge GAN: the flags set it
      config.gan = hinge_gan_phase(config.gan, args, betas, hinge_steps)
    else:
      config.gan_hinge = hinge_gan_phase(config.gan, args, betas, hinge_steps)
      phases.append("gan_hinge")
      rated_gans.append("gan_hinge")
  student = config.student.copy_and_resolve_references()  # also the TSC Score's student
  for seed in range(0 if args.no_students else args.seeds):
    for name, p_fake in (("mix", 0.8), ("real", 0.0)):
      phase = f"student_{name}_{seed}"
      config[phase] = student.copy_and_resolve_references()
      config[phase].p_fake = p_fake
      phases.append(phase)
  config.pipeline = tuple(phases)
  del config["student"]
  config.lock()
  if not args.resume:
    shutil.rmtree(args.workdir, ignore_errors=True)
  start = time.perf_counter()
  outputs, walls, total = timed_pipeline_run(config, args.workdir, args.retrain)
  results = json.load(open(os.path.join(args.workdir, "results.json")))

  if args.no_students:
    students, numbers = "", {}
  else:
    students, numbers = students_report(config, results, args.workdir, args.seeds, variant,
                                        rated_gans)
    print("\n" + students, flush=True)
  dataset = image_data.load(config.data)
  gans_table, gan_numbers = rate_gans(config, outputs, results, dataset, rated_gans,
                                      num_samples=500 if args.smoke else 10000)
  print(gans_table, flush=True)
  students += "\n" + gans_table
  if args.no_tsc:
    timing = wall_line(walls, start, args.resume)
    print(timing, flush=True)
    write_results(args.workdir, f"{students}\n{timing}\n",
                  {**numbers, "teacher": results["teacher"], "gans": gan_numbers,
                   "phase_wall_seconds": walls})
    return

  scorer = TscScorer(outputs["teacher"], dataset, student.student, student.optimizer,
                     batch_size=128 if not args.smoke else 64, num_seeds=args.seeds,
                     loss=student.loss, num_steps=args.tsc_steps or None)
  scores = []
  for name, (images, inception_images) in candidate_sets(dataset, outputs, config.seed).items():
    scores.append(scorer.score(name, images, inception_images))
    print(f"  scored {name}: TSC {scores[-1].tsc_score:.3f}, IS {scores[-1].inception_score:.2f}",
          flush=True)
  passes = scorer.num_steps * scorer.batch_size / len(dataset.train_images)
  tsc = (f"TSC Score (students of {scorer.num_steps} steps at batch {scorer.batch_size}, "
         f"{passes:.1f} passes over {len(dataset.train_images)} inputs, {args.seeds} seeds, "
         "± standard error) and Inception Score "
         "(teacher as the classifier, 10 splits; for the sets of real images, measured on the "
         "same construction from the test split)\n\n" + tsc_score.table(scores))
  walls["TSC table"] = time.perf_counter() - start - total
  timing = wall_line(walls, start, args.resume)
  print("\n" + tsc + "\n" + timing, flush=True)
  write_results(args.workdir, f"{students}\n{tsc}\n{timing}\n",
                {**numbers, "teacher": results["teacher"], "gans": gan_numbers,
                 "tsc": [s.as_dict() for s in scores], "phase_wall_seconds": walls})


def students_report(config, results, workdir: str, seeds: int, variant: str, rated_gans):
  """The students' table (markdown) and numbers; writes <workdir>/summary.json."""
  from gan_tsc.data import images as image_data
  mix = [results[f"student_mix_{s}"]["test_accuracy"] for s in range(seeds)]
  real = [results[f"student_real_{s}"]["test_accuracy"] for s in range(seeds)]
  c = config.student_mix_0
  heldout_per_seed = {arm: [results[f"student_{arm}_{s}"].get("heldout_accuracy")
                           for s in range(seeds)] for arm in ("real", "mix")}
  with open(os.path.join(workdir, "summary.json"), "w") as f:
    json.dump({"training_only": real, "training_plus_gan": mix, "variant": variant,
               "heldout_training_only": heldout_per_seed["real"],
               "heldout_training_plus_gan": heldout_per_seed["mix"],
               "teacher_test_accuracy": results["teacher"]["test_accuracy"],
               "gan_teacher_agreement": results["gan"]["teacher_agreement"],
               "teacher_agreement_per_gan": {gan_label(config[n]): results[n]["teacher_agreement"]
                                             for n in rated_gans}}, f, indent=2)
  real_count = c.real_examples or len(image_data.load(config.data).train_images)
  length = f"{c.num_steps} steps" if c.num_steps else f"{c.num_epochs:g} epochs of {real_count}"
  margin = np.mean(mix) - np.mean(real) - 2 * max(np.std(mix), np.std(real))

  def heldout(arm: str) -> str:
    """The arm's final-step accuracy on held-out training images, if the students report it."""
    values = heldout_per_seed[arm]
    return "-" if None in values else mean_std(values)

  students = "\n".join([
      f"Students ({c.student.name}, {length} at batch {c.batch_size} "
      f"({results['student_mix_0']['steps']} steps), loss {c.loss}; final-step test accuracy, "
      f"mean ± std over {seeds} seeds)\n",
      "| compression set | test accuracy | per seed | held-out training images |",
      "|---|---|---|---|",
      f"| teacher ({config.teacher.model.name}) | {100 * results['teacher']['test_accuracy']:.2f}% "
      "| - | - |",
      f"| training data only (p_fake 0) | {mean_std(real)} | "
      + ", ".join(f"{100 * a:.2f}" for a in real) + f" | {heldout('real')} |",
      f"| training + GAN (p_fake 0.8) | {mean_std(mix)} | "
      + ", ".join(f"{100 * a:.2f}" for a in mix) + f" | {heldout('mix')} |",
      f"\nGAN-assisted minus training-only: {100 * (np.mean(mix) - np.mean(real)):+.2f} points; "
      f"seed-to-seed std {100 * np.std(real):.2f} / {100 * np.std(mix):.2f}; the students' GAN: "
      f"{gan_label(config.gan)}",
      f"GAN-assisted mean above the training-only mean by more than twice the larger std: "
      f"{'yes' if margin > 0 else 'no'} (margin {100 * margin:+.2f} points)\n"])
  return students, {"students": {"mix": mix, "real": real}}


def hinge_gan_phase(gan_block, args, betas: tuple[float, float], num_steps: int):
  """The config's conditional GAN block as the hinge GAN (projection discriminator),
  in the regime the --hinge-* flags name, trained `num_steps` (unless a smoke run)."""
  from gan_tsc.configs import gan_tsc
  block = gan_tsc.as_hinge_gan(gan_block)
  if not args.smoke:
    block.num_steps = num_steps
  block.generator.name = args.hinge_generator
  block.discriminator_steps = args.hinge_discriminator_steps
  block.generator_ema_decay = args.hinge_ema_decay
  for optimizer in (block.generator_optimizer, block.discriminator_optimizer):
    optimizer.schedule, (optimizer.b1, optimizer.b2) = args.hinge_schedule, betas
  return block


def gan_label(block) -> str:
  kind = "hinge GAN, projection discriminator" if block.loss == "hinge" else "AC-GAN"
  if block.generator.name == "acgan_cbn":
    kind += ", class-conditional BN"
  if block.loss == "hinge":
    if block.discriminator_steps > 1:
      kind += f", {block.discriminator_steps} discriminator steps per generator step"
    betas = (block.generator_optimizer.b1, block.generator_optimizer.b2)
    if betas != (0.5, 0.999):
      kind += f", Adam betas {betas[0]:g}, {betas[1]:g}"
    if block.generator_optimizer.schedule == "linear":
      kind += ", learning rates decayed linearly"
  if block.get("generator_ema_decay", 0.0):
    kind += f", generator weights averaged (decay {block.generator_ema_decay:g})"
  return f"{kind}, {block.num_steps} steps"


def rate_gans(config, outputs, results, dataset, names, num_samples: int):
  """Markdown table and numbers: each conditional GAN's teacher agreement (its
  phase's monitor, and again on `num_samples` uint8 samples, as many of each
  class) and its FID against the test split, on the teacher's features (its
  own scale); real training and test images under their own labels as the
  references."""
  import jax
  from gan_tsc.configs import gan_kd
  from gan_tsc.metrics import feature_extractors, image_quality
  from gan_tsc.ops import pixels
  from gan_tsc.phases.tsc_score import generated_images
  extractor = feature_extractors.build(gan_kd.generator_metrics(classifier="teacher"),
                                       outputs, dataset)
  real = dataset.test_images[:num_samples]
  _, real_features = extractor(pixels.to_tanh_range(real))
  labels = np.arange(num_samples) % dataset.num_classes
  lines = [f"Conditional GANs: teacher agreement (share of samples the teacher puts in the "
           f"requested class: the phase's monitor, {config.gan.teacher_agreement_samples} "
           f"samples; and {num_samples} samples at uint8 levels, as many per class) and FID "
           f"against {len(real)} test images on the teacher's penultimate features (its own "
           f"scale), {num_samples} samples\n",
           f"| GAN | teacher agreement (monitor) | teacher agreement ({num_samples}) | "
           "FID (teacher features) |", "|---|---|---|---|"]
  # The reference: real training images under their own labels (the teacher's
  # accuracy on them) and their FID against the test images.
  probs, features = extractor(pixels.to_tanh_range(dataset.train_images[:num_samples]))
  agreement = float(np.mean(np.argmax(probs, -1) == dataset.train_labels[:num_samples]))
  fid = image_quality.fid(features, real_features)
  numbers = {"real_training_images": {"teacher_agreement": agreement,
                                      "fid_teacher_features": fid}}
  lines.append(f"| real training images (their labels; reference) | - | {100 * agreement:.1f}% "
               f"| {fid:.2f} |")
  # Images the teacher never learned from: what it makes of unseen real data
  # (the FID's own reference set, so no FID).
  probs, _ = extractor(pixels.to_tanh_range(real))
  agreement = float(np.mean(np.argmax(probs, -1) == dataset.test_labels[:num_samples]))
  numbers["real_test_images"] = {"teacher_agreement": agreement}
  lines.append(f"| real test images (their labels; unseen by the teacher) | - | "
               f"{100 * agreement:.1f}% | - |")
  for index, name in enumerate(names):
    images = generated_images(outputs[name], jax.random.PRNGKey(index), num_samples,
                              labels=labels)
    probs, features = extractor(pixels.to_tanh_range(images))
    fid = image_quality.fid(features, real_features)
    agreement = float(np.mean(np.argmax(probs, -1) == labels))
    monitor = results[name]["teacher_agreement"]
    numbers[name] = {"teacher_agreement_monitor": monitor, "teacher_agreement": agreement,
                     "fid_teacher_features": fid, "label": gan_label(config[name])}
    last = results[name].get("teacher_agreement_last_params")
    if last is not None:  # the phase hands on a weight average; its last parameters beside it
      numbers[name]["teacher_agreement_monitor_last_params"] = last
    shown = f"{100 * monitor:.1f}%" + ("" if last is None else f" (last parameters {100 * last:.1f}%)")
    lines.append(f"| {gan_label(config[name])} | {shown} | {100 * agreement:.1f}% | {fid:.2f} |")
  return "\n".join(lines) + "\n", numbers


def wall_line(walls: dict, start: float, resumed: bool) -> str:
  title = ("Wall time of this invocation (a phase finished earlier in the workdir counts only "
           "its restoring)" if resumed else "Wall time")
  return (f"{title}: " + ", ".join(f"{p} {w / 60:.1f} min" for p, w in walls.items())
          + f"; total {(time.perf_counter() - start) / 60:.1f} min")


def write_results(workdir: str, markdown: str, numbers: dict) -> None:
  with open(os.path.join(workdir, "gan_tsc_images.json"), "w") as f:
    json.dump(numbers, f, indent=2)
  with open(os.path.join(workdir, "gan_tsc_images.md"), "w") as f:
    f.write(markdown)


if __name__ == "__main__":
  main()
