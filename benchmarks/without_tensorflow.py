r"""Runs a script of this repository on a machine where TensorFlow is not installed.

TensorFlow feeds TFDS data and writes clu's TensorBoard events; a machine that
can hold neither (an accelerator image with no package index, say) can still run
the launcher and the benchmarks on other data (IDX files, scikit-learn sets).
This gives clu a stand-in for its TensorFlow summary writer, so the run writes
its log lines and results files but no TensorBoard events (the launcher skips a
missing TensorFlow by itself). Everything the run computes is unchanged.

  python benchmarks/without_tensorflow.py launch/main.py \
      --config=configs/datafree_fashion_mnist.py --workdir=/tmp/fm
  python benchmarks/without_tensorflow.py benchmarks/dafl_speed.py \
      --config configs/datafree_cifar.py:method=bn_adversarial
"""

import os
import runpy
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def install_stand_ins() -> None:
  """Before clu is imported: a writer module that needs no TensorFlow."""
  try:
    import tensorflow  # noqa: F401
    raise SystemExit("TensorFlow is installed here: run the script directly.")
  except ImportError:
    pass
  summary_writer = types.ModuleType("clu.metric_writers.summary_writer")
  summary_writer.SummaryWriter = None  # clu's package imports the name; never built here
  sys.modules["clu.metric_writers.summary_writer"] = summary_writer

  from clu import metric_writers
  from gan_tsc import reporting
  reporting.create_writer = lambda logdir: metric_writers.MultiWriter(
      [metric_writers.LoggingWriter()])


def main():
  if len(sys.argv) < 2:
    raise SystemExit(__doc__)
  sys.path[:0] = [ROOT, os.path.dirname(os.path.abspath(sys.argv[1]))]
  install_stand_ins()
  sys.argv = sys.argv[1:]
  runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
  main()
