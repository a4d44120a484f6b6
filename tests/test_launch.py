"""Every config's :smoke variant through launch/main.py, and launcher errors."""

import glob
import json
import os
import time

import pytest
import tensorflow_datasets as tfds

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
TFDS_CONFIGS = {"teacher_mnist": (28, 1), "teacher_cifar10": (32, 3), "teacher_cifar100": (32, 3)}


def config_names():
  return sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "configs", "*.py")))


def test_every_config_is_covered():
  """Each config's name appears in some test, which runs its :smoke variant."""
  tests = "".join(open(p).read() for p in glob.glob(os.path.join(ROOT, "tests", "test_*.py")))
  uncovered = [name for name in config_names()
               if f'"{name}"' not in tests and f"/{name}.py" not in tests]
  assert not uncovered, f"add these configs to a smoke test: {uncovered}"


def smoke(launcher, name, workdir, *overrides):
  launcher([f"--config={ROOT}/configs/{name}.py:smoke", f"--workdir={workdir}", *overrides])
  return json.load(open(os.path.join(workdir, "results.json")))


@pytest.mark.all_devices
def test_digits_smoke(launcher, tmp_path):
  results = smoke(launcher, "teacher_digits", tmp_path)
  assert set(results) == {"teacher"}


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST),
                    reason=f"needs {FASHION_MNIST} (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_smoke(launcher, tmp_path):
  assert "teacher" in smoke(launcher, "teacher_fashion_mnist", tmp_path)


@pytest.mark.parametrize("name", sorted(TFDS_CONFIGS))
def test_tfds_smoke_under_mock_data(launcher, tmp_path, name):
  with tfds.testing.mock_data(num_examples=32):
    results = smoke(launcher, name, tmp_path,
                    "--config.teacher.model.name=" + ("lenet5" if name == "teacher_mnist" else "resnet18"))
  assert 0.0 <= results["teacher"]["test_accuracy"] <= 1.0


def test_unknown_config_key_is_refused(launcher, tmp_path):
  with pytest.raises(Exception, match="no_such_key"):
    smoke(launcher, "teacher_digits", tmp_path, "--config.teacher.no_such_key=3")
  assert not os.path.exists(tmp_path / "results.json")


def test_unknown_variant_is_refused(launcher, tmp_path):
  with pytest.raises(Exception, match="Unknown variant 'huge'"):
    launcher([f"--config={ROOT}/configs/teacher_digits.py:huge", f"--workdir={tmp_path}"])


def test_unprepared_tfds_dataset_fails_fast(launcher, tmp_path):
  start = time.perf_counter()
  with pytest.raises(ValueError, match="not prepared.*--config.data.data_dir"):
    launcher([f"--config={ROOT}/configs/teacher_mnist.py:smoke", f"--workdir={tmp_path}/w",
              f"--config.data.data_dir={tmp_path}/empty"])
  assert time.perf_counter() - start < 20
