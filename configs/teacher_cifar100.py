r"""ResNet-34 teacher on CIFAR-100: configs/teacher_cifar.py with data=cifar100 (recipe and
variants there; `:smoke` runs 4 steps).
"""

from gan_tsc.configs import common


def get_config(variant: str = ""):
  return common.alias(__file__, "teacher_cifar", variant, data="cifar100")
