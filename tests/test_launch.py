"""Every config's :smoke variant through launch/main.py, and launcher errors."""

import glob
import json
import os
import sys
import time

import pytest
import tensorflow_datasets as tfds

from gan_tsc import reporting

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
# name -> variant arguments beside smoke: the family file with its key=value argument.
# (teacher_cifar10/100 are this family with one argument: the alias test below.)
TFDS_CONFIGS = {"teacher_mnist": ""}  # teacher_cifar10/100: tests/test_full_size.py


def config_names():
  return sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "configs", "*.py")))


def test_every_config_is_covered():
  """Each config's name appears in some test, which runs its :smoke variant."""
  tests = "".join(open(p).read() for p in glob.glob(os.path.join(ROOT, "tests", "test_*.py")))
  uncovered = [name for name in config_names()
               if f'"{name}"' not in tests and f"/{name}.py" not in tests]
  assert not uncovered, f"add these configs to a smoke test: {uncovered}"


def smoke(launcher, name, workdir, *overrides, variant=""):
  variant = ",".join(v for v in ("smoke", variant) if v)
  launcher([f"--config={ROOT}/configs/{name}.py:{variant}", f"--workdir={workdir}", *overrides])
  return json.load(open(os.path.join(workdir, "results.json")))


@pytest.mark.all_devices
def test_digits_smoke_without_tensorflow(launcher, tmp_path, monkeypatch):
  """Off TFDS, and with TensorBoard off as benchmarks/without_tensorflow.py has
  it (clu's writer needs TensorFlow), the launcher needs no TensorFlow."""
  from clu import metric_writers
  monkeypatch.setattr(reporting, "create_writer",
                      lambda logdir: metric_writers.MultiWriter([metric_writers.LoggingWriter()]))
  monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` now fails
  results = smoke(launcher, "teacher_digits", tmp_path)
  assert set(results) == {"teacher"}
  assert results["teacher"]["step_flops"] > 0  # gan_tsc/step_cost.py
  assert results["teacher"]["step_peak_memory_bytes"] > 0


def test_a_batch_that_does_not_fit_the_device_is_refused_before_training(
    launcher, tmp_path, monkeypatch):
  """The step's memory (XLA's analysis of the compiled step) is checked against the
  device's before the first step; the refusal says what it needs and what would fit."""
  from gan_tsc import step_cost
  from gan_tsc.errors import ConfigError
  monkeypatch.setattr(step_cost, "device_memory_bytes",
                      lambda device=None: (6 * 2**20, "a 6 MiB device"))
  with pytest.raises(ConfigError, match=r"batch_size=64 does not fit: one step needs [\d.]+ MiB "
                     r"per device .* a 6 MiB device holds 6 MiB\. About batch_size=\d+ would fit"):
    smoke(launcher, "teacher_digits", tmp_path, "--config.teacher.batch_size=64")
  folder = tmp_path / "teacher" / "checkpoints"
  assert not (os.path.isdir(folder) and os.listdir(folder))  # no step saved
  assert not os.path.exists(tmp_path / "results.json")


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST),
                    reason=f"needs {FASHION_MNIST} (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_smoke(launcher, tmp_path):
  assert "teacher" in smoke(launcher, "teacher_fashion_mnist", tmp_path)


@pytest.mark.parametrize("name", sorted(TFDS_CONFIGS))
def test_tfds_smoke_under_mock_data(launcher, tmp_path, name):
  with tfds.testing.mock_data(num_examples=32):
    results = smoke(launcher, name, tmp_path,
                    "--config.teacher.model.name=lenet5",  # ResNets: tests/test_full_size.py
                    variant=TFDS_CONFIGS[name])
  assert 0.0 <= results["teacher"]["test_accuracy"] <= 1.0
  if name == "teacher_cifar":
    config = json.load(open(tmp_path / "config.json"))
    assert config["data"]["name"] == "cifar100" and config["teacher"]["model"]["num_classes"] == 100


@pytest.mark.parametrize("alias, family, variant", [
    ("teacher_cifar10", "teacher_cifar", "smoke,data=cifar10"),
    ("teacher_cifar100", "teacher_cifar", "smoke,data=cifar100"),
    ("dafl_cifar10", "dafl_cifar", "smoke,baselines,data=cifar10"),
    ("dafl_cifar100", "dafl_cifar", "smoke,baselines,data=cifar100")])
def test_alias_configs_are_their_family_with_one_argument(alias, family, variant):
  from gan_tsc import configs
  words = ",".join(w for w in variant.split(",") if not w.startswith("data="))
  assert configs.load(alias, words).to_dict() == configs.load(family, variant).to_dict()
  with pytest.raises(ValueError, match="data"):
    configs.load(alias, "data=mnist")


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


def test_xla_defaults_are_added_once_and_the_users_own_setting_wins():
  from gan_tsc import xla_flags
  flag = "--xla_cpu_experimental_ynn_fusion_type=individual_dot"
  assert xla_flags.with_defaults("") == flag
  assert xla_flags.with_defaults("--xla_dump_to=/d") == f"--xla_dump_to=/d {flag}"
  assert xla_flags.with_defaults(xla_flags.with_defaults("")) == flag  # idempotent
  mine = "--xla_cpu_experimental_ynn_fusion_type=all --xla_dump_to=/d"
  assert xla_flags.with_defaults(mine) == mine


def test_launcher_sets_the_xla_defaults_before_jax_starts(child_env):
  """Run as a script (stopped at the missing --config), the launcher has added the
  defaults to XLA_FLAGS and not yet imported JAX."""
  import subprocess
  import sys
  main = os.path.join(ROOT, "launch", "main.py")
  code = ("import os, runpy, sys\n"
          f"sys.argv = [{main!r}]\n"
          "try:\n"
          f"  runpy.run_path({main!r}, run_name='__main__')\n"
          "except SystemExit:\n"
          "  pass\n"
          "print('jax' in sys.modules, os.environ['XLA_FLAGS'])\n")
  env = dict(child_env, XLA_FLAGS="--xla_dump_to=/nowhere")
  out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       check=True).stdout.split()
  assert out == ["False", "--xla_dump_to=/nowhere",
                 "--xla_cpu_experimental_ynn_fusion_type=individual_dot"]
