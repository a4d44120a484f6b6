r"""ResNet-34 teacher on CIFAR-10: configs/teacher_cifar.py with data=cifar10 (recipe and
variants there; `:smoke` runs 4 steps).
"""

from gan_tsc.configs import common


def get_config(variant: str = ""):
  return common.alias(__file__, "teacher_cifar", variant, data="cifar10")
