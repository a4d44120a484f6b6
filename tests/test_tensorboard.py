"""What a run shows in TensorBoard, read back from its event files."""

import glob
import os

import numpy as np
import pytest

from conftest import ROOT


def read_events(logdir: str) -> dict:
  """{tag: [(step, plugin, value)]} from the event files directly in `logdir`."""
  import tensorflow as tf
  events = {}
  for path in sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*"))):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        plugin = value.metadata.plugin_data.plugin_name
        if value.HasField("tensor"):
          content = tf.make_ndarray(value.tensor)
        else:
          content = value.simple_value
        events.setdefault(value.tag, []).append((event.step, plugin, content))
  return events


def grouped(events: dict) -> bool:
  return all("/" in tag for tag in events)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  from conftest import run_launcher
  workdir = tmp_path_factory.mktemp("tb")
  run_launcher([f"--config={ROOT}/configs/teacher_digits.py:smoke",
                f"--workdir={workdir / 'teacher'}"])
  run_launcher([f"--config={ROOT}/configs/dafl_digits.py:smoke", f"--workdir={workdir / 'dafl'}",
                "--config.dafl.generator.conv=xla"])
  return workdir


def test_teacher_tags_are_grouped_with_config_text_and_hparams(runs):
  events = read_events(str(runs / "teacher" / "teacher"))
  assert grouped(events), sorted(events)
  assert {"train/loss", "train/accuracy", "train/learning_rate", "eval/test_accuracy",
          "speed/examples_per_sec", "speed/flops_per_sec", "speed/mfu",
          "cost/step_flops", "cost/step_peak_memory_bytes"} <= set(events), sorted(events)
  # The config block as text: the phase's own keys, readable as JSON.
  (_, plugin, text), = events["config/block"]
  assert plugin == "text" and b'"kind": "supervised"' in np.asarray(text).item()
  # Hparams: TensorBoard's hparams plugin got the phase's scalar settings.
  hparams = [tag for tag, values in events.items() if values[0][1] == "hparams"]
  assert hparams, sorted(events)


def test_learning_rate_is_the_value_at_the_step(runs):
  # teacher_digits: Adam with a cosine schedule over 4 smoke steps, logged every 2.
  import optax
  events = read_events(str(runs / "teacher" / "teacher"))
  logged = {step: value for step, _, value in events["train/learning_rate"]}
  schedule = optax.cosine_decay_schedule(1e-3, 4)
  for step, value in logged.items():
    assert float(value) == pytest.approx(float(schedule(step - 1)), rel=1e-6), (step, value)


def test_dafl_shows_generated_beside_real_images_and_labelled_class_shares(runs):
  events = read_events(str(runs / "dafl" / "dafl"))
  assert grouped(events), sorted(events)
  assert {"generator/samples", "generator/real", "generator/teacher_class",
          "generator/teacher_class_shares", "train/kd_loss", "train/lr_generator",
          "eval/test_accuracy"} <= set(events), sorted(events)
  real_step, plugin, _ = events["generator/real"][0]
  assert real_step == 0 and plugin == "images"
  # Constant learning rates stay constant (no interval means of float32 values).
  assert [float(v) for _, _, v in events["train/lr_generator"]] == [pytest.approx(0.2)] * 2
  shares = np.asarray(events["generator/teacher_class_shares"][-1][2]).item().decode()
  assert shares.startswith("| class | share |") and "%" in shares


def test_the_pipeline_writes_its_results_table_as_text(runs):
  events = read_events(str(runs / "dafl"))
  table = np.asarray(events["results/table"][-1][2]).item().decode()
  assert "| teacher |" in table and "| dafl |" in table
