"""What a workdir holds: the settings each phase was made from, and who is writing it.

A rerun resumes: finished phases are restored, an interrupted one continues.
That is only right when the rerun asks for the same thing. So each phase
records, in `<workdir>/<phase>/inputs.json`, every setting that determines its
result: its own config block, the config's blocks that are not phases (data,
seed, metrics), and the inputs of every earlier phase it reads (a teacher, a
generator, a judge), so a change upstream is a change downstream too. Before
any work, a rerun compares what each phase holds with what the config asks
for, and stops with the differences unless told to retrain those phases
(`retrain=True`), which clears them and everything after them.

Settings that only change how a run is watched (log, eval and checkpoint
intervals, evaluation batch sizes, worker counts) are not inputs.

One run per workdir: `lock(workdir)` holds an OS file lock for the run. A
killed run's lock goes with its process, so it never stays stuck.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time

import jax

from gan_tsc import reporting
from gan_tsc.errors import WorkdirError

INPUTS_FILE = "inputs.json"
LOCK_FILE = "run.lock"
# Keys of a phase block that do not change what the phase produces.
NOT_INPUTS = frozenset({"log_every_steps", "eval_every_steps", "checkpoint_every_steps",
                        "eval_batch_size", "n_jobs", "teacher_agreement_samples"})


def _is_phase_block(name: str, value, pipeline: tuple[str, ...]) -> bool:
  """A phase's block: named in the pipeline, or a block with a kind other than the data's."""
  return name in pipeline or (isinstance(value, dict) and "kind" in value and name != "data")


def _named_phases(value, earlier: tuple[str, ...]) -> set[str]:
  """The earlier phases a block names in any string setting (its teacher, generator, judge)."""
  if isinstance(value, dict):
    return set().union(*(_named_phases(v, earlier) for k, v in value.items() if k != "kind"))
  return {value} if isinstance(value, str) and value in earlier else set()


def phase_inputs(config, phase: str) -> dict:
  """Every setting that determines `phase`'s result, flat: {'teacher.num_steps': 880, ...}."""
  everything = config.to_dict()
  pipeline = tuple(everything["pipeline"])
  shared_blocks = {k: v for k, v in everything.items()
                   if k != "pipeline" and not _is_phase_block(k, v, pipeline)}
  block = {k: v for k, v in everything[phase].items() if k not in NOT_INPUTS}
  inputs = reporting.flatten_config(shared_blocks)
  inputs.update(reporting.flatten_config(block, phase))
  if block.get("checkpoint"):  # restored from another run: what that phase was made from
    inputs[f"{phase}.checkpoint (its settings)"] = stored_fingerprint(block["checkpoint"])
  earlier = pipeline[:pipeline.index(phase)] if phase in pipeline else ()
  for source in sorted(_named_phases({**block, **shared_blocks}, earlier)):
    inputs.update(phase_inputs(config, source))
  return inputs


def fingerprint(inputs: dict) -> str:
  return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]


def stored_fingerprint(path: str) -> str:
  """The fingerprint recorded by the phase at `path` (its folder or its checkpoints folder)."""
  for folder in (path, os.path.dirname(os.path.normpath(path))):
    record = os.path.join(folder, INPUTS_FILE)
    if os.path.exists(record):
      with open(record) as f:
        return json.load(f)["fingerprint"]
  return "unrecorded"


def record_inputs(config, phase: str, workdir: str) -> None:
  """Writes what `phase` is made from, before it starts."""
  inputs = phase_inputs(config, phase)
  reporting.write_file(os.path.join(workdir, phase, INPUTS_FILE), json.dumps(
      {"fingerprint": fingerprint(inputs), "inputs": inputs}, indent=2, sort_keys=True,
      default=str))


def _holds_work(workdir: str, phase: str, results: dict) -> bool:
  """Whether a rerun would reuse something of `phase`: a saved step or recorded results.

  Logs and config files alone are not work: a phase that failed before saving
  anything may be rerun with corrected settings.
  """
  checkpoints = os.path.join(workdir, phase, "checkpoints")
  saved = os.path.isdir(checkpoints) and any(n.isdigit() for n in os.listdir(checkpoints))
  return saved or phase in results


def _differences(stored: dict, wanted: dict) -> list[str]:
  missing = object()
  lines = []
  for key in sorted(set(stored) | set(wanted)):
    old, new = stored.get(key, missing), wanted.get(key, missing)
    if old != new:
      show = lambda v: "(absent)" if v is missing else json.dumps(v, default=str)  # noqa: E731
      lines.append(f"    {key}: {show(old)} -> {show(new)}")
  return lines


def changed_phases(config, workdir: str) -> dict[str, list[str]]:
  """{phase: the differences} for each phase whose work in `workdir` came from other settings."""
  changed = {}
  results = reporting.read_results(workdir)
  for phase in config.pipeline:
    if not _holds_work(workdir, phase, results):
      continue
    record = os.path.join(workdir, phase, INPUTS_FILE)
    wanted = json.loads(json.dumps(phase_inputs(config, phase), default=str))
    if not os.path.exists(record):
      changed[phase] = ["    (its folder has no record of the settings it was made from)"]
      continue
    with open(record) as f:
      stored = json.load(f)["inputs"]
    # A setting added to the code since the phase ran, at its off value (False,
    # 0, '', none), asks for what that code did: not a change.
    wanted = {k: v for k, v in wanted.items() if k in stored or not _is_off(v)}
    if stored != wanted:
      changed[phase] = _differences(stored, wanted)
  return changed


def _is_off(value) -> bool:
  return value is None or value is False or value in (0, "") or value == [] or value == {}


def check_unchanged(config, workdir: str, retrain: bool = False) -> None:
  """Stops before any work if a phase in `workdir` was made from other settings.

  With `retrain`, clears those phases (their folder and results) instead, so
  they and every phase after them that reads them run again.
  """
  changed = changed_phases(config, workdir)
  if not changed:
    return
  if retrain:
    for phase in changed:
      reporting.say(f"[{phase}] settings changed: retraining it.")
      if jax.process_index() == 0:
        shutil.rmtree(os.path.join(workdir, phase), ignore_errors=True)
        reporting.forget_results(workdir, phase)
    return
  listing = "\n".join(f"  {phase}:\n" + "\n".join(lines[:20]) +
                      (f"\n    ... {len(lines) - 20} more" if len(lines) > 20 else "")
                      for phase, lines in changed.items())
  raise WorkdirError(
      f"{workdir} holds phases made from other settings than this config's:\n{listing}\n"
      "Nothing was run. Use a fresh --workdir, or pass --retrain to train these phases "
      "(and the phases after them that read them) again in this one.")


def check_usable(workdir: str) -> None:
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise WorkdirError(f"--workdir={workdir} is a file, not a folder; give a folder's path.")


@contextlib.contextmanager
def lock(workdir: str):
  """Holds `workdir` for this run; a second run on it is refused while this one lives."""
  if jax.process_index() != 0:  # hosts of one multi-host run share the workdir
    yield
    return
  check_usable(workdir)
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, LOCK_FILE)
  handle = open(path, "a+")
  try:
    try:
      fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      handle.seek(0)
      holder = handle.read().strip() or "another process"
      raise WorkdirError(
          f"Another run is using {workdir} ({holder}). Wait for it to end, or use "
          "another --workdir.") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
    handle.flush()
    yield
  finally:
    handle.close()
