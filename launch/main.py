r"""Runs an experiment: the pipeline of phases its config names.

  python launch/main.py --config=configs/teacher_digits.py --workdir=/tmp/run
  python launch/main.py --config=configs/teacher_cifar10.py:smoke \
      --workdir=/tmp/smoke --config.teacher.batch_size=64

Rerunning with the same --workdir resumes: finished phases are restored,
an interrupted one continues from its latest checkpoint.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

config_flags.DEFINE_config_file("config", None, "Config file, optionally with :variant.",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Folder for checkpoints, TensorBoard events, results.")
flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() (multi-host).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  del argv
  import jax
  # Data pipelines use TensorFlow on the host only; keep it off accelerators.
  import tensorflow as tf
  tf.config.set_visible_devices([], "GPU")
  if flags.FLAGS.distributed:
    jax.distributed.initialize()
  from gan_tsc import pipeline, reporting
  logging.info("JAX devices: %s", jax.devices())
  workdir = os.path.abspath(flags.FLAGS.workdir)
  pipeline.run(flags.FLAGS.config, workdir)
  print(f"Results: {reporting.results_path(workdir)}")


if __name__ == "__main__":
  app.run(main)
