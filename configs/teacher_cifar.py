r"""ResNet-34 teacher on CIFAR-10 or CIFAR-100 (TFDS): the DAFL paper's recipe.

SGD lr 0.1, momentum 0.9, weight decay 5e-4, batch 128, x0.1 at epochs 80 and
120 of 200, random crop (pad 4) + horizontal flip.

  python launch/main.py --config=configs/teacher_cifar.py:data=cifar100 \
      --workdir=/tmp/teacher_c100 --config.data.download=True   # first run, with internet

Variants: `data=cifar10` (the default) or `data=cifar100`; `:smoke` runs 4
steps (a minute on a CPU, for tests), e.g. `:smoke,data=cifar100`.
teacher_cifar10.py and teacher_cifar100.py are this file with the data set fixed.

Expected: for accelerators (~2-3 hours on one modern GPU); far too slow for a CPU.
"""

from gan_tsc.configs import common

DATA = ("cifar10", "cifar100")


def get_config(variant: str = ""):
  words, args = common.parse_variant(variant, words=("smoke",),
                                     args=dict(data=common.one_of(*DATA)))
  return common.teacher_config(args.get("data", DATA[0]), ",".join(words))
