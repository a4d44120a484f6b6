r"""LeNet-5 teacher on scikit-learn's digits (8x8, resized to 32x32).

Data ships with scikit-learn: runs anywhere, offline.

  python launch/main.py --config=configs/teacher_digits.py --workdir=/tmp/teacher_digits

Expected: ~97-99% test accuracy in under a minute on a 2-core CPU.
`:smoke` runs 4 steps (seconds).
"""

from gan_tsc import config_lib as cl


def get_config(variant: str = ""):
  config = cl.base(pipeline=("teacher",))
  config.data = cl.data("sklearn", "digits", image_size=32)
  config.teacher = cl.supervised_phase(
      cl.model("lenet5", 10), cl.optimizer("adam", 1e-3, schedule="cosine"),
      batch_size=64, num_epochs=40, log_every_steps=100, eval_every_steps=300)
  if variant == "smoke":
    cl.smoke(config.teacher)
  elif variant:
    raise ValueError(f"Unknown variant {variant!r}; use '' or 'smoke'.")
  return config
