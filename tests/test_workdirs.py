"""Runs that cannot lie: a changed setting never reuses old work, impossible settings and a
second run on a workdir are refused before any work, user errors are one line."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from gan_tsc import errors, train_loop, workdirs
from gan_tsc.data import images as image_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEACHER = f"--config={ROOT}/configs/teacher_digits.py:smoke"
DAFL = f"--config={ROOT}/configs/dafl_digits.py:smoke"


def results(workdir):
  return json.load(open(os.path.join(workdir, "results.json")))


def saved_steps(workdir, phase):
  folder = os.path.join(workdir, phase, "checkpoints")
  if not os.path.isdir(folder):
    return []
  return sorted(int(n) for n in os.listdir(folder) if n.isdigit())


def test_changed_setting_stops_before_any_work(launcher, tmp_path):
  launcher([TEACHER, f"--workdir={tmp_path}"])
  before = results(tmp_path)
  with pytest.raises(errors.WorkdirError, match=r"teacher:\n    teacher.num_steps: 4 -> 6\n"):
    launcher([TEACHER, f"--workdir={tmp_path}", "--config.teacher.num_steps=6"])
  assert results(tmp_path) == before and saved_steps(tmp_path, "teacher") == [2, 4]
  # A setting that only changes how the run is watched is not a change.
  launcher([TEACHER, f"--workdir={tmp_path}", "--config.teacher.log_every_steps=1"])
  assert results(tmp_path)["teacher"]["test_accuracy"] == before["teacher"]["test_accuracy"]


def test_a_setting_added_since_at_its_off_value_is_no_change(launcher, tmp_path):
  launcher([TEACHER, f"--workdir={tmp_path}"])
  before = results(tmp_path)
  record = tmp_path / "teacher" / workdirs.INPUTS_FILE
  stored = json.load(open(record))
  # As if the phase ran before `checkpoint` (off: '') and `batch_size` existed.
  assert stored["inputs"].pop("teacher.checkpoint") == ""
  json.dump(stored, open(record, "w"))
  launcher([TEACHER, f"--workdir={tmp_path}"])  # restored, not refused
  assert results(tmp_path)["teacher"]["test_accuracy"] == before["teacher"]["test_accuracy"]
  assert saved_steps(tmp_path, "teacher") == [2, 4]
  stored["inputs"].pop("teacher.batch_size")  # a setting with a value: a change
  json.dump(stored, open(record, "w"))
  with pytest.raises(errors.WorkdirError, match=r"teacher.batch_size: \(absent\) -> 16"):
    launcher([TEACHER, f"--workdir={tmp_path}"])


def test_retrain_clears_the_changed_phase_and_what_reads_it(launcher, tmp_path):
  launcher([DAFL, f"--workdir={tmp_path}"])
  first = results(tmp_path)
  # The teacher is retrained underneath the finished DAFL phase, by another config.
  launcher([TEACHER, f"--workdir={tmp_path}", "--config.teacher.num_steps=6", "--retrain"])
  assert results(tmp_path)["teacher"]["steps"] == 6
  assert results(tmp_path)["dafl"] == first["dafl"]  # not this config's phase
  # The DAFL config, with another student length: both phases differ from what they hold.
  with pytest.raises(errors.WorkdirError) as refused:
    launcher([DAFL, f"--workdir={tmp_path}", "--config.dafl.num_steps=2"])
  message = str(refused.value)
  assert "teacher.num_steps: 6 -> 4" in message and "dafl.num_steps: 4 -> 2" in message
  assert results(tmp_path)["dafl"] == first["dafl"]
  # --retrain trains the teacher again and, since its input changed, DAFL after it.
  launcher([DAFL, f"--workdir={tmp_path}", "--config.dafl.num_steps=2", "--retrain"])
  again = results(tmp_path)
  assert again["teacher"]["steps"] == 4 and again["dafl"]["steps"] == 2
  assert again["teacher"]["test_accuracy"] == first["teacher"]["test_accuracy"]
  assert saved_steps(tmp_path, "dafl") == [2]
  launcher([DAFL, f"--workdir={tmp_path}", "--config.dafl.num_steps=2"])  # now consistent


def test_work_without_a_record_is_not_trusted(launcher, tmp_path):
  launcher([TEACHER, f"--workdir={tmp_path}"])
  os.remove(tmp_path / "teacher" / workdirs.INPUTS_FILE)
  with pytest.raises(errors.WorkdirError, match="no record of the settings"):
    launcher([TEACHER, f"--workdir={tmp_path}"])


def test_a_phase_that_saved_nothing_may_be_rerun_with_other_settings(launcher, tmp_path,
                                                                     kill_phase):
  # Killed after one step: its folder holds logs and its config, but no checkpoint.
  kill_phase("teacher", 1)
  with pytest.raises(KeyboardInterrupt):
    launcher([TEACHER, f"--workdir={tmp_path}"])
  assert os.listdir(tmp_path / "teacher") and not saved_steps(tmp_path, "teacher")
  launcher([TEACHER, f"--workdir={tmp_path}", "--config.teacher.num_steps=6"])
  assert results(tmp_path)["teacher"]["steps"] == 6


def test_restore_records_what_the_other_run_was_made_from(launcher, tmp_path):
  other = tmp_path / "other"
  launcher([TEACHER, f"--workdir={other}"])
  args = [DAFL, f"--workdir={tmp_path / 'run'}", f"--config.teacher.checkpoint={other}/teacher",
          "--config.dafl.num_steps=2"]
  launcher(args)
  launcher([TEACHER, f"--workdir={other}", "--config.teacher.num_steps=6", "--retrain"])
  with pytest.raises(errors.WorkdirError, match=r"teacher.checkpoint \(its settings\)"):
    launcher(args)


@pytest.mark.parametrize("override, key", [
    ("--config.teacher.num_steps=-3", "teacher.num_steps=-3: must be a whole number of steps"),
    ("--config.teacher.num_steps=0", "teacher.num_steps=0: must be .* or unset"),
    ("--config.teacher.optimizer.learning_rate=-1",
     r"teacher.optimizer.learning_rate=-1.0: must be a number > 0"),
    ("--config.teacher.batch_size=0", "teacher.batch_size=0: must be a whole number >= 1"),
    ("--config.teacher.batch_size=-4", "teacher.batch_size=-4: must be a whole number >= 1"),
    ("--config.teacher.eval_every_steps=-1", "teacher.eval_every_steps=-1"),
])
def test_impossible_settings_are_refused_before_any_work(launcher, tmp_path, override, key):
  with pytest.raises(errors.ConfigError, match=key):
    launcher([TEACHER, f"--workdir={tmp_path / 'w'}", override])
  assert not os.path.exists(tmp_path / "w")


def test_loss_weights_and_probabilities_are_checked(launcher, tmp_path):
  with pytest.raises(errors.ConfigError) as refused:
    launcher([DAFL, f"--workdir={tmp_path / 'w'}", "--config.dafl.loss_weights.one_hot=-1",
              "--config.dafl.temperature=0"])
  assert "dafl.loss_weights.one_hot=-1.0" in str(refused.value)
  assert "dafl.temperature=0.0: must be a number > 0" in str(refused.value)


def test_unset_num_steps_means_epochs_and_both_unset_is_refused(launcher, tmp_path):
  from gan_tsc import configs
  config = configs.load("teacher_digits", "")
  assert config.teacher.num_steps is None and config.teacher.get_type("num_steps") is int
  assert train_loop.num_steps_of(config.teacher, 22) == 40 * 22
  with pytest.raises(errors.ConfigError, match="set num_steps or num_epochs"):
    launcher([f"--config={ROOT}/configs/teacher_digits.py", f"--workdir={tmp_path}",
              "--config.teacher.num_epochs=0"])


def test_every_configs_steps_can_be_set_on_the_command_line():
  """An unset num_steps stays an integer setting in every config and variant."""
  from gan_tsc import configs
  for name in ("teacher_digits", "dafl_fashion_mnist", "gan_tsc_fashion_mnist",
               "gan_kd_fashion_mnist", "gan_tsc_magic"):
    for variant in ("", "smoke"):
      config = configs.load(name, variant)
      for phase in config.pipeline:
        if "num_steps" in config[phase]:
          assert config[phase].get_type("num_steps") is int, (name, variant, phase)


def test_second_run_on_a_workdir_is_refused(launcher, tmp_path):
  with workdirs.lock(str(tmp_path)):
    with pytest.raises(errors.WorkdirError, match=f"Another run is using {tmp_path} \\(pid "):
      launcher([TEACHER, f"--workdir={tmp_path}"])
  assert not os.path.exists(tmp_path / "results.json")
  launcher([TEACHER, f"--workdir={tmp_path}"])  # free again once the first run ends


def test_a_killed_runs_lock_is_not_left_behind(tmp_path, child_env):
  holder = subprocess.Popen(
      [sys.executable, "-c", "import sys, time; from gan_tsc import workdirs\n"
       "with workdirs.lock(sys.argv[1]):\n  print('held', flush=True); time.sleep(600)",
       str(tmp_path)], stdout=subprocess.PIPE, text=True, env=child_env)
  assert holder.stdout.readline().strip() == "held"
  with pytest.raises(errors.WorkdirError, match="Another run"):
    with workdirs.lock(str(tmp_path)):
      pass
  holder.kill()
  holder.wait()
  with workdirs.lock(str(tmp_path)):
    pass


def test_workdir_that_is_a_file(launcher, tmp_path):
  path = tmp_path / "file"
  path.write_text("")
  with pytest.raises(errors.WorkdirError, match="is a file, not a folder"):
    launcher([TEACHER, f"--workdir={path}"])


def test_truncated_idx_file_is_named(tmp_path):
  header = np.array([0, 0, 8, 3], np.uint8).tobytes() + np.array([10, 28, 28], ">u4").tobytes()
  path = tmp_path / "train-images-idx3-ubyte"
  path.write_bytes(header + bytes(4992))
  with pytest.raises(image_data.DataError, match=f"{path} is 5008 bytes long, but its header "
                     r"\(10x28x28 bytes of data\) says 7856: the file is truncated"):
    image_data._read_idx(str(path))
  path.write_bytes(b"\x00")
  with pytest.raises(image_data.DataError, match=f"{path} is 1 bytes long"):
    image_data._read_idx(str(path))


def test_user_error_is_one_line_without_traceback(tmp_path, child_env):
  env = child_env
  command = [sys.executable, os.path.join(ROOT, "launch", "main.py"), TEACHER,
             f"--workdir={tmp_path}", "--config.teacher.num_steps=-3"]
  done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
  assert done.returncode == 1
  assert "--config.teacher.num_steps=-3: must be" in done.stderr
  assert "Traceback" not in done.stderr
  debug = subprocess.run(command + ["--debug"], env=env, capture_output=True, text=True,
                         timeout=300)
  assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_dafl_pipeline_killed_in_its_second_phase_resumes_bit_exactly(launcher, tmp_path,
                                                                      kill_phase):
  args = ["--config.dafl.num_steps=8", "--config.dafl.checkpoint_every_steps=2"]
  straight = launcher([DAFL, f"--workdir={tmp_path / 'straight'}", *args])
  kill_phase("dafl", 5)
  with pytest.raises(KeyboardInterrupt):
    launcher([DAFL, f"--workdir={tmp_path / 'resumed'}", *args])
  assert saved_steps(tmp_path / "resumed", "dafl") == [2, 4]
  assert "dafl" not in results(tmp_path / "resumed")

  resumed = launcher([DAFL, f"--workdir={tmp_path / 'resumed'}", *args])
  for a, b in zip(jax.tree.leaves(straight["dafl"].variables),
                  jax.tree.leaves(resumed["dafl"].variables)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  a, b = results(tmp_path / "straight")["dafl"], results(tmp_path / "resumed")["dafl"]
  timed = ("train_examples_per_sec", "mfu")  # the clock's, not the run's
  assert {k: v for k, v in a.items() if k not in timed} == \
      {k: v for k, v in b.items() if k not in timed}
  assert a["step_flops"] > 0 and a["mfu"] > 0 and a["step_peak_memory_bytes"] > 0
