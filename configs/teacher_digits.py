r"""LeNet-5 teacher on scikit-learn's digits (8x8, resized to 32x32).

Data ships with scikit-learn: runs anywhere, offline.

  python launch/main.py --config=configs/teacher_digits.py --workdir=/tmp/teacher_digits

Expected: ~97-99% test accuracy in under a minute on a 2-core CPU.
`:smoke` runs 4 steps (seconds).
"""

from gan_tsc.configs import common


def get_config(variant: str = ""):
  return common.teacher_config("digits", variant)
