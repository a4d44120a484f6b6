"""The accelerator configs at full model size: every phase with the config's own
networks (ResNet-34 teachers, ResNet-18 students, full-width generators and
critics, 64x64 images where the config has them), 2 steps at the smoke batch,
on all 8 fake devices, through the launcher under mock TFDS data.

The smoke variants keep the pipelines' code paths but shrink the networks for
CPU tests; here every network setting of the smoke config that differs from
the full config is set back, so what runs is what an accelerator runs.

Cost: one worker runs these one after another (xdist group), and the CIFAR-10
pipelines with a ResNet-34 teacher share one full-size teacher (`--config.teacher.checkpoint`), the way
a user reuses a finished phase. DAFL's CIFAR-100 twin (the same code with 100
classes) and the GAN-KD configs (full-width DCGANs, whose convolutions XLA:CPU
runs slowly at the tests' optimisation level 0) take minutes more on 2 cores:
they run with GAN_TSC_FULL_SIZE=all.
"""

import json
import os

import pytest
import tensorflow_datasets as tfds

from gan_tsc import configs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETWORKS = ("model", "generator", "critic", "discriminator", "student")
ALL = os.environ.get("GAN_TSC_FULL_SIZE") == "all"
optional = pytest.mark.skipif(not ALL, reason="minutes on 2 cores; GAN_TSC_FULL_SIZE=all runs it")
pytestmark = [pytest.mark.all_devices, pytest.mark.xdist_group("full_size"),
              pytest.mark.usefixtures("optimised_training_steps")]


def full_size_overrides(name: str, variant: str) -> list[str]:
  """--config overrides that give the smoke config's phases the full config's networks."""
  full = configs.load(name, ",".join(w for w in variant.split(",") if w != "smoke"))
  smoke = configs.load(name, variant)
  args = [f"--config.{phase}.num_steps=2" for phase in smoke.pipeline]
  if smoke.data.get("image_size") != full.data.get("image_size"):
    args.append(f"--config.data.image_size={full.data.image_size}")
  for phase in smoke.pipeline:
    for role in NETWORKS:
      if not hasattr(smoke[phase].get(role), "to_dict"):
        continue
      small, real = smoke[phase][role].to_dict(), full[phase][role].to_dict()
      args += [f"--config.{phase}.{role}.{k}={v}" for k, v in real.items() if small[k] != v]
  return args


def run_full_size(launcher, workdir, name, variant="smoke", *extra):
  with tfds.testing.mock_data(num_examples=32):
    launcher([f"--config={ROOT}/configs/{name}.py:{variant}", f"--workdir={workdir}",
              *full_size_overrides(name, variant), *extra])
  results = json.load(open(os.path.join(workdir, "results.json")))
  for phase, metrics in results.items():
    if "restored_from" not in metrics:
      assert metrics["steps"] == 2 and metrics["step_flops"] > 0, (phase, metrics)
  return results


@pytest.fixture(scope="module")
def cifar10_teacher(tmp_path_factory):
  """teacher_cifar10 at full size: its results, and its phase folder to reuse."""
  from conftest import run_launcher
  workdir = tmp_path_factory.mktemp("teacher_cifar10")
  results = run_full_size(run_launcher, workdir, "teacher_cifar10")
  return results, str(workdir / "teacher")


def test_teacher_cifar10_full_size(cifar10_teacher):
  results, _ = cifar10_teacher
  assert results["teacher"]["params"] == 21_282_122  # ResNet-34, 10 classes


def test_dafl_cifar10_full_size(launcher, tmp_path, cifar10_teacher):
  results = run_full_size(launcher, tmp_path, "dafl_cifar10", "smoke",
                          f"--config.teacher.checkpoint={cifar10_teacher[1]}")
  assert results["dafl"]["params"] == 11_173_962  # ResNet-18 student


def test_datafree_cifar10_full_size(launcher, tmp_path, cifar10_teacher):
  results = run_full_size(launcher, tmp_path, "datafree_cifar",
                          "smoke,data=cifar10,method=bn_adversarial_replay",
                          f"--config.teacher.checkpoint={cifar10_teacher[1]}")
  assert results["dafl"]["params"] == 11_173_962


def test_gan_tsc_cifar10_full_size(launcher, tmp_path):
  results = run_full_size(launcher, tmp_path, "gan_tsc_cifar10", "smoke")
  assert set(results) == {"teacher", "gan", "student"}
  # The authors' pair (tests/test_models.py counts them by hand): NIN and their LeNet.
  assert results["teacher"]["params"] == 13_559_242
  assert results["student"]["params"] == 3_497_866


def test_teacher_cifar100_full_size(launcher, tmp_path):
  results = run_full_size(launcher, tmp_path, "teacher_cifar100")
  assert results["teacher"]["params"] == 21_282_122 + 90 * 513  # 100 classes: 90 more outputs
  config = json.load(open(tmp_path / "config.json"))
  assert config["data"]["name"] == "cifar100" and config["teacher"]["model"]["num_classes"] == 100


@optional
@pytest.mark.parametrize("name", ["dafl_cifar100", "gan_kd_mnist", "gan_kd_cifar10",
                                  "gan_kd_celeba"])
def test_optional_full_size(launcher, tmp_path, name):
  run_full_size(launcher, tmp_path, name)
