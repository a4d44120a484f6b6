r"""LeNet-5 teacher on MNIST from TFDS: the DAFL paper's MNIST teacher.

Adam 1e-3, batch 256, 32x32 inputs (DAFL's teacher recipe).

  python launch/main.py --config=configs/teacher_mnist.py --workdir=/tmp/teacher_mnist \
      --config.data.download=True     # first run, with internet

Expected: ~99% test accuracy; a few minutes on a 2-core CPU, seconds on a GPU.
`:smoke` runs 4 steps.
"""

from gan_tsc.configs import common


def get_config(variant: str = ""):
  return common.teacher_config("mnist", variant)
