r"""DAFL on CIFAR-10: configs/dafl_cifar.py with data=cifar10 (settings and variants
there: `:baselines` adds the scratch and KD students, `:smoke` runs every phase for 4 steps).
"""

from gan_tsc.configs import common


def get_config(variant: str = ""):
  return common.alias(__file__, "dafl_cifar", variant, data="cifar10")
