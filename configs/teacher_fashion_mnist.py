r"""LeNet-5 teacher on Fashion-MNIST from local IDX files (28x28 -> 32x32).

Reads /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist),
or --config.data.data_dir.

  python launch/main.py --config=configs/teacher_fashion_mnist.py --workdir=/tmp/teacher_fm

Expected: ~90-91% test accuracy in ~5 minutes on a 2-core CPU.
`:smoke` runs 4 steps on the first 512 training images.
"""

from gan_tsc.configs import common


def get_config(variant: str = ""):
  return common.teacher_config("fashion_mnist", variant)
