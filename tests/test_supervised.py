"""The teacher phase: learning, data parallelism, resume, and bad input."""

import json
import logging
import os

import jax
import ml_collections
import numpy as np
import pytest

from gan_tsc import checkpoints, configs, parallel, pipeline, reporting
from gan_tsc.data import images as image_data
from gan_tsc.errors import WorkdirError
from gan_tsc.data import batching
from gan_tsc.phases import shared, supervised
from gan_tsc import models
from gan_tsc.models import classifiers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_config(name, variant="smoke"):
  return configs.load(name, variant)


@pytest.fixture(scope="module")
def digits():
  return image_data.load(load_config("teacher_digits").data)


def make_step(config, dataset, num_steps=50, model=None):
  c = config.teacher
  model = model or models.build_classifier(c.model)
  key = shared.phase_key(config.seed, "teacher")
  state, schedule = shared.create_classifier_state(model, key, dataset.image_shape,
                                                   c.optimizer, num_steps)
  step = shared.jit_step(supervised.make_train_step(model, dataset, schedule))
  return state, step, key


def fixed_batch(dataset, n=64):
  return parallel.shard_batch({"image": dataset.train_images[:n], "label": dataset.train_labels[:n]})


def test_loss_falls_on_a_fixed_batch(digits):
  config = load_config("teacher_digits")
  state, step, key = make_step(config, digits)
  batch = fixed_batch(digits)
  losses = []
  for _ in range(30):
    state, metrics = step(state, batch, key)
    losses.append(float(metrics["loss"]))
  assert losses[-1] < 0.3 * losses[0], losses


def test_step_compiles_once(digits):
  config = load_config("teacher_digits")
  state, step, key = make_step(config, digits)
  for i in range(3):
    state, _ = step(state, fixed_batch(digits), key)
  assert step._cache_size() == 1


def fake_cifar(n=16):
  images = np.random.default_rng(0).integers(0, 255, (n, 32, 32, 3), dtype=np.uint8)
  return image_data.ImageDataset("fake", images, np.arange(n, dtype=np.int32) % 10, None, None,
                                 10, (0.5,) * 3, (0.25,) * 3, "crop_flip")


@pytest.mark.parametrize("case", ["lenet5_adam", "resnet_bn_sgd_augment"])
def test_eight_devices_agree_with_one(digits, case):
  if case == "lenet5_adam":
    config, dataset, model = load_config("teacher_digits"), digits, None
  else:  # BatchNorm, weight decay, momentum and random crop+flip on device
    config, dataset = load_config("teacher_cifar10"), fake_cifar()
    model = classifiers.CifarResNet((1, 1), 10, width=8)
  results = []
  for devices in (jax.devices()[:1], jax.devices()):
    with parallel.using_devices(devices):
      state, step, key = make_step(config, dataset, model=model)
      for _ in range(2):
        state, metrics = step(state, fixed_batch(dataset, 16), key)
      assert len(state.params["Dense_0"]["kernel"].sharding.device_set) == len(devices)
      results.append(jax.device_get((state.params, state.batch_stats, metrics)))
  assert jax.tree.structure(results[0]) == jax.tree.structure(results[1])
  for one, eight in zip(jax.tree.leaves(results[0]), jax.tree.leaves(results[1])):
    np.testing.assert_allclose(one, eight, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name, conv", [("lenet5_bn", "matmul"), ("resnet18", "xla")])
def test_bfloat16_step_stays_close_to_float32(digits, name, conv):
  """compute_dtype='bfloat16': parameters, optimizer state and BatchNorm statistics
  stay float32, and a step's loss and update stay close to float32's."""
  config, dataset = load_config("teacher_digits"), digits
  if name == "resnet18":
    config, dataset = load_config("teacher_cifar10"), fake_cifar()
  outcomes = {}
  for dtype in ("float32", "bfloat16"):
    block = ml_collections.ConfigDict(dict(name=name, num_classes=10, conv=conv,
                                           compute_dtype=dtype))
    model = models.build_classifier(block)
    if name == "resnet18":  # the same code at a test's cost: one block per stage, width 8
      model = model.clone(stage_sizes=(1, 1), width=8)
    state, step, key = make_step(config, dataset, model=model)
    before = jax.device_get(state.params)
    state, metrics = step(state, fixed_batch(dataset, 16), key)
    for leaf in jax.tree.leaves((state.params, state.opt_state, state.batch_stats)):
      assert leaf.dtype in (np.float32, np.int32), leaf.dtype
    update = jax.tree.map(lambda a, b: np.ravel(a - b), jax.device_get(state.params), before)
    outcomes[dtype] = float(metrics["loss"]), np.concatenate(jax.tree.leaves(update))
  (loss32, update32), (loss16, update16) = outcomes["float32"], outcomes["bfloat16"]
  assert loss16 == pytest.approx(loss32, rel=0.02)
  cosine = update16 @ update32 / np.linalg.norm(update16) / np.linalg.norm(update32)
  assert cosine > 0.9, cosine
  assert not np.array_equal(update16, update32)  # bfloat16 did compute something


def run_pipeline(config, workdir):
  return pipeline.run(config, str(workdir))


def digits_config(**teacher):
  config = load_config("teacher_digits")
  config.unlock()
  config.teacher.update(teacher)
  config.lock()
  return config


def run_killed_at(config, workdir, step: int, monkeypatch) -> None:
  """Runs `config` until the batch of `step` is asked for, as a kill there would stop it."""
  original = batching.EpochBatcher.batch
  def crash(self, at):
    if at == step:
      raise KeyboardInterrupt("simulated kill")
    return original(self, at)
  monkeypatch.setattr(batching.EpochBatcher, "batch", crash)
  with pytest.raises(KeyboardInterrupt):
    run_pipeline(config, workdir)
  monkeypatch.setattr(batching.EpochBatcher, "batch", original)


def test_resume_after_a_crash_equals_a_straight_run(tmp_path, monkeypatch):
  config = digits_config(num_steps=8, checkpoint_every_steps=3)
  straight = run_pipeline(config, tmp_path / "straight")["teacher"]
  run_killed_at(config, tmp_path / "resumed", 5, monkeypatch)
  assert checkpoints.PhaseCheckpoints(str(tmp_path / "resumed" / "teacher")).latest_step() == 3
  resumed = run_pipeline(config, tmp_path / "resumed")["teacher"]
  for a, b in zip(jax.tree.leaves(straight.variables), jax.tree.leaves(resumed.variables)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert straight.metrics["test_accuracy"] == resumed.metrics["test_accuracy"]


def test_finished_phase_is_skipped(tmp_path, monkeypatch):
  config = digits_config(num_steps=4)
  first = run_pipeline(config, tmp_path)["teacher"]
  monkeypatch.setattr(batching.EpochBatcher, "batch",
                      lambda *a: pytest.fail("a finished phase must not train"))
  again = run_pipeline(config, tmp_path)["teacher"]
  assert again.metrics["test_accuracy"] == first.metrics["test_accuracy"]
  assert "train_examples_per_sec" not in again.metrics


def test_results_json_and_tensorboard_events(tmp_path):
  run_pipeline(digits_config(num_steps=4), tmp_path)
  results = json.load(open(tmp_path / "results.json"))
  assert 0.0 <= results["teacher"]["test_accuracy"] <= 1.0
  assert results["teacher"]["params"] == 61_706
  assert json.load(open(tmp_path / "config.json"))["pipeline"] == ["teacher"]
  events = [f for f in os.listdir(tmp_path / "teacher") if f.startswith("events.out.tfevents")]
  assert events
  from tensorboard.backend.event_processing import event_accumulator
  acc = event_accumulator.EventAccumulator(str(tmp_path / "teacher"))
  acc.Reload()
  tags = set(acc.Tags()["tensors"]) | set(acc.Tags()["scalars"])
  assert {"train/loss", "train/accuracy", "train/learning_rate", "eval/test_accuracy"} <= tags, tags


def test_teacher_from_another_workdir(tmp_path):
  trained = run_pipeline(digits_config(num_steps=4), tmp_path / "a")["teacher"]
  restored = run_pipeline(digits_config(checkpoint=str(tmp_path / "a" / "teacher")),
                          tmp_path / "b")["teacher"]
  assert restored.metrics["test_accuracy"] == pytest.approx(trained.metrics["test_accuracy"])
  assert not os.path.exists(tmp_path / "b" / "teacher" / "checkpoints" / "4")


def test_a_run_that_did_not_finish_is_refused_with_its_step(tmp_path, monkeypatch):
  run_killed_at(digits_config(num_steps=6, checkpoint_every_steps=2), tmp_path / "a", 3,
                monkeypatch)
  with pytest.raises(checkpoints.CheckpointError, match="did not finish: its latest checkpoint "
                     "is step 2 of 6"):
    run_pipeline(digits_config(checkpoint=str(tmp_path / "a" / "teacher")), tmp_path / "b")
  assert not os.path.exists(tmp_path / "b" / "results.json")
  # Finished, the same run is accepted.
  run_pipeline(digits_config(num_steps=6, checkpoint_every_steps=2), tmp_path / "a")
  restored = run_pipeline(digits_config(checkpoint=str(tmp_path / "a" / "teacher")),
                          tmp_path / "b")["teacher"]
  assert restored.metrics["restored_from"] == str(tmp_path / "a" / "teacher")


def test_read_only_restore_takes_relative_paths_quietly(tmp_path, monkeypatch):
  run_pipeline(digits_config(num_steps=2), tmp_path / "a")
  monkeypatch.chdir(tmp_path)
  records = []
  handler = logging.Handler()
  handler.emit = records.append
  logging.getLogger("absl").addHandler(handler)
  try:
    stored = checkpoints.read_latest(os.path.join("a", "teacher", "checkpoints"))
  finally:
    logging.getLogger("absl").removeHandler(handler)
  assert int(stored["step"]) == 2
  assert not [r for r in records if r.levelno >= logging.WARNING], [r.getMessage() for r in records]
  assert sorted(os.listdir(tmp_path / "a" / "teacher" / "checkpoints")) == ["2"]


def test_checkpoint_of_the_wrong_shape(tmp_path):
  run_pipeline(digits_config(num_steps=2), tmp_path / "a")
  config = digits_config(checkpoint=str(tmp_path / "a" / "teacher"))
  config.unlock()
  config.teacher.model.name = "lenet5_half"
  with pytest.raises(checkpoints.CheckpointError, match="does not fit the model"):
    run_pipeline(config, tmp_path / "b")
  # Resuming a phase whose model changed is refused before the checkpoint is read.
  config = digits_config(num_steps=2)
  config.unlock()
  config.teacher.model.name = "lenet5_half"
  with pytest.raises(WorkdirError, match='teacher.model.name: "lenet5" -> "lenet5_half"'):
    run_pipeline(config, tmp_path / "a")
  assert checkpoints.PhaseCheckpoints(str(tmp_path / "a" / "teacher")).latest_step() == 2
  # Below the pipeline, the phase itself still checks the checkpoint's shapes.
  with pytest.raises(checkpoints.CheckpointError, match="Conv_0/kernel"):
    supervised.run(config, "teacher", str(tmp_path / "a"), {})


def test_nan_loss_stops_with_a_clear_message_and_keeps_checkpoints(tmp_path):
  config = digits_config(num_steps=40, checkpoint_every_steps=2, log_every_steps=1)
  config.unlock()
  config.teacher.optimizer.name = "sgd"
  config.teacher.optimizer.learning_rate = 1e8
  with pytest.raises(reporting.NonFiniteError, match="non-finite.*learning_rate"):
    run_pipeline(config, tmp_path)
  ckpts = checkpoints.PhaseCheckpoints(str(tmp_path / "teacher"))
  latest = ckpts.latest_step()
  assert latest is None or latest < 40
  if latest:
    raw = ckpts.manager.restore(latest)
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(raw["params"]))


@pytest.mark.parametrize("section, key, value, message", [
    ("data", "name", "imagenet", "Unknown TFDS data set 'imagenet'"),
    ("data", "source", "web", "Unknown data source 'web'"),
    ("teacher.model", "name", "vgg", "Unknown model 'vgg'"),
    ("teacher.optimizer", "name", "lamb", "Unknown optimizer 'lamb'"),
    ("teacher.optimizer", "schedule", "exponential", "Unknown schedule 'exponential'"),
    ("teacher.model", "num_classes", 7, "num_classes=10"),
    ("teacher", "batch_size", 12, "does not divide over 8 devices"),
])
def test_bad_config_values(tmp_path, section, key, value, message):
  config = digits_config()
  config.unlock()
  if section == "data" and key == "name":
    config.data.source = "tfds"
  block = config
  for part in section.split("."):
    block = block[part]
  block[key] = value
  with pytest.raises(ValueError, match=message):
    run_pipeline(config, tmp_path)


def test_missing_idx_folder(tmp_path):
  config = load_config("teacher_fashion_mnist")
  config.unlock()
  config.data.data_dir = str(tmp_path / "nowhere")
  with pytest.raises(image_data.DataError, match="dataset-fashion-mnist.*data_dir"):
    run_pipeline(config, tmp_path / "w")
