r"""LeNet-5 teacher on MNIST from TFDS: the DAFL paper's MNIST teacher.

Adam 1e-3, batch 256, 32x32 inputs (DAFL's teacher recipe).

  python launch/main.py --config=configs/teacher_mnist.py --workdir=/tmp/teacher_mnist \
      --config.data.download=True     # first run, with internet

Expected: ~99% test accuracy; a few minutes on a 2-core CPU, seconds on a GPU.
`:smoke` runs 4 steps.
"""

from gan_tsc import config_lib as cl


def get_config(variant: str = ""):
  config = cl.base(pipeline=("teacher",))
  config.data = cl.data("tfds", "mnist", image_size=32)
  config.teacher = cl.supervised_phase(
      cl.model("lenet5", 10), cl.optimizer("adam", 1e-3),
      batch_size=256, num_epochs=10, eval_every_steps=1000)
  if variant == "smoke":
    cl.smoke(config.teacher)
  elif variant:
    raise ValueError(f"Unknown variant {variant!r}; use '' or 'smoke'.")
  return config
