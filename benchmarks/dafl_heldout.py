r"""Scores DAFL students on held-out training images, for choosing settings without the test set.

  .venv/bin/python benchmarks/dafl_heldout.py runs/dafl_a runs/dafl_b
  .venv/bin/python benchmarks/dafl_heldout.py runs/dafl_a --holdout 5000 --test

A DAFL student never reads the training split, so its last --holdout images
(default 10,000) are unseen by the student and can rank DAFL settings in
place of the test split. (The teacher trained on them; what is measured is
how well the student reproduces the teacher's accuracy there.) Reads each
workdir's config.json and the latest checkpoint of its DAFL phase and
prints one line per workdir; --test adds the test accuracy, for reporting
after the choice is made.
"""

import argparse
import dataclasses
import json
import os



def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("workdirs", nargs="+")
  parser.add_argument("--holdout", type=int, default=10_000,
                      help="the last N training images")
  parser.add_argument("--phase", default="dafl")
  parser.add_argument("--test", action="store_true", help="also print test accuracy")
  args = parser.parse_args()
  import ml_collections

  from gan_tsc import checkpoints, models
  from gan_tsc.data import images as image_data
  from gan_tsc.metrics.classification import ClassifierEvaluator

  for workdir in args.workdirs:
    config_path = os.path.join(workdir, "config.json")
    if not os.path.exists(config_path):
      raise SystemExit(f"{workdir}: no config.json; is it a workdir of launch/main.py?")
    config = ml_collections.ConfigDict(json.load(open(config_path)))
    if args.phase not in config or config[args.phase].get("kind") != "dafl":
      raise SystemExit(f"{workdir}: no DAFL phase named {args.phase!r} in its config.")
    dataset = image_data.load(config.data)
    if args.holdout >= len(dataset.train_labels):
      raise SystemExit(f"--holdout {args.holdout} is not less than the "
                       f"{len(dataset.train_labels)} training images.")
    held_out = dataclasses.replace(dataset, train_images=dataset.train_images[-args.holdout:],
                                   train_labels=dataset.train_labels[-args.holdout:])
    student = models.build_classifier(config[args.phase].student)
    directory = checkpoints.find_checkpoint_dir(os.path.join(workdir, args.phase))
    raw = checkpoints.read_latest(directory)["student"]
    # The student's updates: iterations x (student_updates + replay.updates).
    updates = int(raw["step"])
    variables = {"params": raw["params"], "batch_stats": raw.get("batch_stats") or {}}
    batch = config[args.phase].get("eval_batch_size", 500)
    line = (f"{workdir} after {updates} student updates: held-out accuracy "
            f"{ClassifierEvaluator(student, held_out, batch, split='train')(variables)['accuracy']:.4f}")
    if args.test:
      line += f", test accuracy {ClassifierEvaluator(student, dataset, batch)(variables)['accuracy']:.4f}"
    print(line, flush=True)


if __name__ == "__main__":
  main()
