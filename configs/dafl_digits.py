r"""DAFL on scikit-learn's digits: LeNet-5 teacher -> LeNet-5-half, data-free. CPU-sized.

The README's demo: the data ships with scikit-learn, so it runs anywhere.
Departures from the paper's MNIST recipe, chosen for a 2-core CPU budget:
generator width 64 instead of 128 (half the filters, same layers), batch 64
instead of 512, 1,500 DAFL steps instead of 24,000, and the im2col
convolution in the generator (same maths, faster weight gradients on
XLA:CPU). Losses, weights (1/5/0.1), optimizers and learning rates are the paper's.

  python launch/main.py --config=configs/dafl_digits.py --workdir=runs/dafl_digits
  python launch/main.py --config=configs/dafl_digits.py:baselines --workdir=...  # 4-row table

Expected: ~4-5 minutes on a 2-core CPU; the DAFL student reaches ~92%. `:smoke` runs every phase for 4 steps.
"""

from gan_tsc import config_lib as cl


def get_config(variant: str = ""):
  variants = cl.parse_variant(variant)
  config = cl.base(pipeline=("teacher", "dafl"))
  config.data = cl.data("sklearn", "digits", image_size=32)
  config.teacher = cl.supervised_phase(
      cl.model("lenet5", 10), cl.optimizer("adam", 1e-3, schedule="cosine"),
      batch_size=64, num_epochs=40, eval_every_steps=300)
  config.dafl = cl.dafl_phase(
      cl.model("lenet5_half", 10), cl.dafl_generator(100, 32, 1, conv="im2col", width=64),
      generator_optimizer=cl.optimizer("adam", 0.2), student_optimizer=cl.optimizer("adam", 2e-3),
      batch_size=64, num_steps=1500, one_hot=1.0, information_entropy=5.0, activation=0.1,
      log_every_steps=100, eval_every_steps=250, checkpoint_every_steps=250)
  if "baselines" in variants:
    config.pipeline = ("teacher", "dafl", "student_scratch", "student_kd")
    config.student_scratch = cl.supervised_phase(
        cl.model("lenet5_half", 10), cl.optimizer("adam", 1e-3, schedule="cosine"),
        batch_size=64, num_epochs=40)
    config.student_kd = cl.distill_phase(
        cl.model("lenet5_half", 10), cl.optimizer("adam", 1e-3, schedule="cosine"),
        teacher="teacher", batch_size=64, num_epochs=40)
  if "smoke" in variants:
    for phase in config.pipeline:
      cl.smoke(config[phase])
  return config
