r"""ResNet-34 teacher on CIFAR-10 (TFDS): the DAFL paper's recipe.

SGD lr 0.1, momentum 0.9, weight decay 5e-4, batch 128, x0.1 at epochs 80 and
120 of 200, random crop (pad 4) + horizontal flip.

  python launch/main.py --config=configs/teacher_cifar10.py --workdir=/tmp/teacher_c10 \
      --config.data.download=True     # first run, with internet

Expected: for accelerators (~2-3 hours on one modern GPU); far too slow for a CPU.
`:smoke` runs 4 steps (a minute on a CPU, for tests).
"""

from gan_tsc import config_lib as cl


def get_config(variant: str = ""):
  config = cl.base(pipeline=("teacher",))
  config.data = cl.data("tfds", "cifar10", image_size=32, augment="crop_flip")
  config.teacher = cl.supervised_phase(
      cl.model("resnet34", 10),
      cl.optimizer("sgd", 0.1, momentum=0.9, weight_decay=5e-4, schedule="step",
                   decay_at=(80 / 200, 120 / 200), decay_factor=0.1),
      batch_size=128, num_epochs=200, log_every_steps=100, eval_every_steps=3910,
      checkpoint_every_steps=3910)
  if variant == "smoke":
    cl.smoke(config.teacher, batch_size=8)
    config.teacher.eval_batch_size = 16
  elif variant:
    raise ValueError(f"Unknown variant {variant!r}; use '' or 'smoke'.")
  return config
