"""A run killed (SIGKILL) while it saves every step never leaves a checkpoint
that looks finished, and a rerun ends exactly where a straight run does."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 12


def launch(workdir, env):
  return subprocess.Popen(
      [sys.executable, os.path.join(ROOT, "launch", "main.py"),
       f"--config={ROOT}/configs/teacher_digits.py:smoke", f"--workdir={workdir}",
       f"--config.teacher.num_steps={STEPS}", "--config.teacher.checkpoint_every_steps=1",
       "--config.teacher.log_every_steps=1"],
      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def saved_steps(workdir):
  folder = os.path.join(workdir, "teacher", "checkpoints")
  return sorted(int(n) for n in os.listdir(folder) if n.isdigit()) if os.path.isdir(folder) else []


def test_sigkill_during_saves_then_resume(tmp_path, child_env):
  killed = str(tmp_path / "killed")
  process = launch(killed, child_env)
  deadline = time.time() + 240
  while not saved_steps(killed) or saved_steps(killed)[-1] < 4:
    assert process.poll() is None and time.time() < deadline, "run ended before it was killed"
    time.sleep(0.05)
  process.send_signal(signal.SIGKILL)
  process.wait()
  steps = saved_steps(killed)
  assert steps and steps[-1] < STEPS, steps
  assert not os.path.exists(os.path.join(killed, "results.json"))

  straight = str(tmp_path / "straight")
  resumed, fresh = launch(killed, child_env), launch(straight, child_env)  # side by side
  assert resumed.wait() == 0 and fresh.wait() == 0
  a = json.load(open(os.path.join(killed, "results.json")))["teacher"]
  b = json.load(open(os.path.join(straight, "results.json")))["teacher"]
  assert a["test_accuracy"] == b["test_accuracy"]
  assert np.isclose(a["test_loss"], b["test_loss"], rtol=0, atol=1e-6)
