"""Two processes with jax.distributed (a local coordinator, one CPU device
each, each feeding its own rows of the global batch) train the teacher to the
same parameters as one process with both devices."""

import os
import socket
import subprocess
import sys

import jax
import numpy as np

from gan_tsc import checkpoints

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 6


def launch(workdir, env, *extra):
  return subprocess.Popen(
      [sys.executable, os.path.join(ROOT, "launch", "main.py"),
       f"--config={ROOT}/configs/teacher_digits.py:smoke", f"--workdir={workdir}",
       f"--config.teacher.num_steps={STEPS}", "--config.teacher.batch_size=32",
       # SGD: Adam turns float noise in a near-zero gradient into a full step,
       # which would hide the comparison's point (the rows each process feeds).
       "--config.teacher.optimizer.name=sgd", "--config.teacher.optimizer.learning_rate=0.05",
       *extra],
      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def final_params(workdir):
  stored = checkpoints.read_latest(os.path.join(workdir, "teacher", "checkpoints"))
  return stored["params"]


def finish(process):
  out, _ = process.communicate(timeout=300)
  assert process.returncode == 0, out[-3000:]
  return out


def test_multiprocess_teacher_equals_one_process_on_two_devices(tmp_path, child_env):
  address = f"localhost:{free_port()}"
  one_device = dict(child_env, XLA_FLAGS=(child_env["XLA_FLAGS"] +
                                          " --xla_force_host_platform_device_count=1").strip())
  hosts = [launch(tmp_path / "two_processes", one_device, "--distributed",
                  f"--coordinator_address={address}", "--num_processes=2",
                  f"--process_id={i}") for i in range(2)]
  two_devices = dict(child_env, XLA_FLAGS=(child_env["XLA_FLAGS"] +
                                           " --xla_force_host_platform_device_count=2").strip())
  single = launch(tmp_path / "one_process", two_devices)
  for p in hosts:
    finish(p)
  finish(single)
  a, b = final_params(tmp_path / "two_processes"), final_params(tmp_path / "one_process")
  flat_a, flat_b = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(flat_a) == len(flat_b) > 0
  for x, y in zip(flat_a, flat_b):
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
