r"""DAFL on CIFAR-10/100: ResNet-34 teacher -> ResNet-18 student, data-free. Paper settings.

Teacher: SGD 0.1, momentum 0.9, wd 5e-4, batch 128, x0.1 at epochs 80/120 of
200, crop+flip. DAFL: batch 1024, latent 1000, Adam lr_G 0.02, SGD lr_S 0.1
momentum 0.9 wd 5e-4 x0.1 at 40% and 80%, 2000 epochs x 120 iterations;
one-hot/entropy/activation = 0.05/5.0/0.01 on CIFAR-10, 0.5/20.0/0.1 on CIFAR-100.
Paper: CIFAR-10 teacher 95.58% -> DAFL 92.22% (KD with data 94.34%); CIFAR-100
teacher 77.84% -> DAFL 74.47% (KD with data 76.87%).
Every network starts from PyTorch's default initialisation (init='torch'), as
in the official code. The reported accuracy is the final step's (the official script reports the
best over epochs, chosen on the test set).

  python launch/main.py --config=configs/dafl_cifar.py:data=cifar100 \
      --workdir=runs/dafl_cifar100 --config.data.download=True
  python launch/main.py --config=configs/dafl_cifar.py:baselines ...   # + scratch and KD rows
  python launch/main.py --config=configs/dafl_cifar.py \
      --config.teacher.checkpoint=OTHER_WORKDIR/teacher ...            # reuse a teacher

Variants: `data=cifar10` (the default) or `data=cifar100`; `:baselines` adds
the student trained from scratch and the student distilled on real images;
`:smoke` runs every phase for 4 steps. dafl_cifar10.py and dafl_cifar100.py
are this file with the data set fixed.

Expected: for accelerators: teacher ~2-3 h and DAFL ~1-2 days on one GPU.
"""

from gan_tsc.configs import common, dafl

# Per data set: the classes, and the paper's generator loss weights.
DATA = {"cifar10": (10, dict(one_hot=0.05, information_entropy=5.0, activation=0.01)),
        "cifar100": (100, dict(one_hot=0.5, information_entropy=20.0, activation=0.1))}


def get_config(variant: str = ""):
  words, args = common.parse_variant(variant, args=dict(data=common.one_of(*DATA)))
  data = args.get("data", "cifar10")
  num_classes, loss_weights = DATA[data]
  config = dafl.torch_init(dafl.dafl_config(
      data, words,
      dafl.dafl_phase(
          common.model("resnet18", num_classes), dafl.dafl_generator(1000, 32, 3),
          generator_optimizer=common.optimizer("adam", 0.02),
          student_optimizer=common.paper_sgd(decay_at=(0.4, 0.8)), batch_size=1024,
          num_steps=2000 * 120, **loss_weights, eval_every_steps=6000,
          checkpoint_every_steps=6000),
      baselines=dict(checkpoint_every_steps=3910)))
  if "smoke" in words:
    config.dafl.generator.latent_dim = 16
  return config
