r"""LeNet-5 teacher on Fashion-MNIST from local IDX files (28x28 -> 32x32).

Reads /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist),
or --config.data.data_dir.

  python launch/main.py --config=configs/teacher_fashion_mnist.py --workdir=/tmp/teacher_fm

Expected: ~90-91% test accuracy in ~5 minutes on a 2-core CPU.
`:smoke` runs 4 steps on the first 512 training images.
"""

from gan_tsc import config_lib as cl


def get_config(variant: str = ""):
  config = cl.base(pipeline=("teacher",))
  config.data = cl.data("idx", "fashion_mnist", image_size=32)
  config.teacher = cl.supervised_phase(
      cl.model("lenet5", 10), cl.optimizer("adam", 2e-3, schedule="cosine"),
      batch_size=128, num_epochs=15, log_every_steps=200, eval_every_steps=2000)
  if variant == "smoke":
    cl.smoke(config.teacher)
    config.data.max_train_examples = 512
  elif variant:
    raise ValueError(f"Unknown variant {variant!r}; use '' or 'smoke'.")
  return config
