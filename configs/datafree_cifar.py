r"""Data-free distillation on CIFAR-10/100: ResNet-34 -> ResNet-18, published settings. For accelerators.

Methods (`method=`), each with its paper's settings:
  dafl                   DAFL: as configs/dafl_cifar.py (batch 1024, latent 1000,
                         Adam lr_G 0.02, SGD lr_S 0.1 x0.1 at 40%/80%, 240,000 iterations).
  dfad                   DFAD (Fang et al. 2019): batch 256, latent 256, Adam lr_G 1e-3,
                         SGD lr_S 0.1 momentum 0.9 wd 5e-4 x0.1 at epochs 100 and 200
                         of 500 x 50 iterations, 5 student updates per iteration, L1.
  bn_adversarial         DFQ's terms as run by zju-vipa/CMI's dfq scripts (the default):
                         batch 256, latent 256, Adam lr_G 1e-3, SGD lr_S 0.1 momentum 0.9
                         wd 1e-4 cosine, 200 epochs x 40 iterations of 1 generator and
                         10 student updates, bn 1, one-hot 1, adversarial 1 (KL), balance
                         20 (natural log; here information_entropy 20 ln 10 = 46.05 on
                         DAFL's log10 entropy), student KL at T = 20.
  bn_adversarial_replay  the same, the student also drawing half of each batch from a
                         memory of the last 40,960 generated images (CMI's memory idea).
Departures: every method uses DAFL's generator (the DFAD and DFQ generators
differ in their last layers); the replay memory mixes fresh and remembered
images instead of training on memory alone; the reported accuracy is the
final step's.

  python launch/main.py --config=configs/datafree_cifar.py:data=cifar10 \
      --workdir=runs/df_cifar10 --config.data.download=True
  python launch/main.py --config=configs/datafree_cifar.py:data=cifar100,method=dfad ...
  python launch/main.py --config=configs/datafree_cifar.py \
      --config.teacher.checkpoint=OTHER_WORKDIR/teacher ...            # reuse a teacher

Variants: `data=cifar10` (the default) or `data=cifar100`; `method=`; `:baselines`
adds the student trained from scratch and distilled on real images; `:smoke`
runs every phase for 4 steps at batch 8, models at full size.

Expected: teacher ~2-3 h. The bn_adversarial data-free step takes 0.115 s per
iteration on one H200 in float32 (benchmarks/dafl_speed.py --config
configs/datafree_cifar.py:method=bn_adversarial), so its 8,000 iterations
about 15 minutes; dafl's 240,000 iterations at batch 1024, many hours.
"""

import math

from gan_tsc.configs import common, dafl

NUM_CLASSES = {"cifar10": 10, "cifar100": 100}
DAFL_WEIGHTS = {"cifar10": dict(one_hot=0.05, information_entropy=5.0, activation=0.01),
                "cifar100": dict(one_hot=0.5, information_entropy=20.0, activation=0.1)}


def get_config(variant: str = ""):
  words, args = common.parse_variant(variant, args=dict(
      data=common.one_of(*NUM_CLASSES), method=common.one_of(*dafl.METHODS)))
  data, method = args.get("data", "cifar10"), args.get("method", "bn_adversarial")
  student = common.model("resnet18", NUM_CLASSES[data])
  if method == "dafl":
    block = dafl.dafl_phase(
        student, dafl.dafl_generator(1000, 32, 3),
        generator_optimizer=common.optimizer("adam", 0.02),
        student_optimizer=common.paper_sgd(decay_at=(0.4, 0.8)), batch_size=1024,
        num_steps=2000 * 120, one_hot=0.0, information_entropy=0.0, activation=0.0,
        eval_every_steps=6000, checkpoint_every_steps=6000)
  elif method == "dfad":
    block = dafl.dafl_phase(
        student, dafl.dafl_generator(256, 32, 3),
        generator_optimizer=common.optimizer("adam", 1e-3),
        student_optimizer=common.optimizer("sgd", 0.1, momentum=0.9, weight_decay=5e-4,
                                           schedule="step", decay_at=(100 / 500, 200 / 500)),
        batch_size=256, num_steps=500 * 50, one_hot=0.0, information_entropy=0.0,
        activation=0.0, eval_every_steps=2500, checkpoint_every_steps=2500)
  else:
    block = dafl.dafl_phase(
        student, dafl.dafl_generator(256, 32, 3),
        generator_optimizer=common.optimizer("adam", 1e-3),
        student_optimizer=common.optimizer("sgd", 0.1, momentum=0.9, weight_decay=1e-4,
                                           schedule="cosine"),
        batch_size=256, num_steps=200 * 40, one_hot=0.0, information_entropy=0.0,
        activation=0.0, temperature=20.0, eval_every_steps=400, checkpoint_every_steps=400)
  config = dafl.datafree_config(
      data, words, method, block, dafl_weights=DAFL_WEIGHTS[data], bn_statistics=1.0,
      one_hot=1.0, information_entropy=20 * math.log(10), adversarial=1.0,
      student_updates=10, replay_size=256 * 160, replay_mix=0.5)
  if "smoke" in words:
    config.dafl.replay.size = min(config.dafl.replay.size, 8 * 4)
    config.dafl.student_updates = min(config.dafl.student_updates, 2)
  return config
