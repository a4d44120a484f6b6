r"""Runs an experiment: the pipeline of phases its config names.

  python launch/main.py --config=configs/teacher_digits.py --workdir=/tmp/run
  python launch/main.py --config=configs/teacher_cifar10.py:smoke \
      --workdir=/tmp/smoke --config.teacher.batch_size=64

Rerunning with the same --workdir resumes: finished phases are restored,
an interrupted one continues from its latest checkpoint. A rerun whose
settings differ from those a phase in the workdir was made from stops
before any work and lists the differences; --retrain trains those phases
(and the ones after them that read them) again. One run at a time may use
a workdir. A user error (config, path, file) prints one line; --debug
shows its traceback.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from gan_tsc import xla_flags  # noqa: E402

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402


def define_flags(flag_values: flags.FlagValues = flags.FLAGS, argv=None) -> None:
  """Defines the flags; `argv` (default sys.argv) tells which overrides exist."""
  config_flags.DEFINE_config_file(
      "config", None, "Config file, optionally with :variant.", flag_values=flag_values,
      lock_config=True, sys_argv=argv)
  flags.DEFINE_string("workdir", None, "Folder for checkpoints, TensorBoard events, results.",
                      flag_values=flag_values)
  flags.DEFINE_bool("distributed", False,
                    "Multi-process: call jax.distributed.initialize(). On a Cloud TPU slice "
                    "(or under SLURM) it finds the coordinator itself; elsewhere also pass "
                    "--coordinator_address, --num_processes and --process_id.",
                    flag_values=flag_values)
  flags.DEFINE_string("coordinator_address", None,
                      "host:port of process 0's coordinator (with --distributed).",
                      flag_values=flag_values)
  flags.DEFINE_integer("num_processes", None, "Processes in the run (with --distributed).",
                       flag_values=flag_values)
  flags.DEFINE_integer("process_id", None, "This process's index, 0 .. num_processes-1 "
                       "(with --distributed).", flag_values=flag_values)
  flags.DEFINE_bool("retrain", False,
                    "Train again the phases in --workdir whose settings differ from the "
                    "config's, and the phases after them that read them.",
                    flag_values=flag_values)
  flags.DEFINE_bool("debug", False, "Show the traceback of a user error (a bad config, path "
                    "or file) instead of its one-line message.", flag_values=flag_values)


def run(flag_values: flags.FlagValues) -> dict:
  """Runs the pipeline of the parsed flags; returns the phases' outputs."""
  if not flag_values.workdir:
    raise app.UsageError("--workdir is required.")
  import jax
  try:  # TensorFlow only feeds TFDS data on the host; keep it off accelerators.
    import tensorflow as tf
  except ImportError:  # not installed (benchmarks/without_tensorflow.py): nothing to hide
    pass
  else:
    tf.config.set_visible_devices([], "GPU")
  explicit = (flag_values.coordinator_address, flag_values.num_processes,
              flag_values.process_id)
  if any(v is not None for v in explicit) and not flag_values.distributed:
    raise app.UsageError("--coordinator_address, --num_processes and --process_id "
                         "need --distributed.")
  if flag_values.distributed:
    jax.distributed.initialize(*explicit)
  from gan_tsc import pipeline, reporting
  logging.info("JAX devices: %s", jax.devices())
  workdir = os.path.abspath(flag_values.workdir)
  outputs = pipeline.run(flag_values.config, workdir, retrain=flag_values.retrain)
  print(f"Results: {reporting.results_path(workdir)}")
  return outputs


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # progress lines are printed anyway
  from gan_tsc.errors import UserError
  try:
    run(flags.FLAGS)
  except UserError as error:  # its message says what to do; the traceback would bury it
    if flags.FLAGS.debug:
      raise
    sys.stderr.write(f"Error: {error}\n(--debug shows where it was raised.)\n")
    sys.exit(1)


if __name__ == "__main__":
  # Before JAX starts: the faster CPU path (gan_tsc/xla_flags.py). Only as a
  # script: the tests import this module and keep XLA's own defaults.
  xla_flags.set_defaults()
  define_flags()
  flags.mark_flags_as_required(["config", "workdir"])
  app.run(main)
