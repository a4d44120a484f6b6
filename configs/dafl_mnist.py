r"""DAFL on MNIST: LeNet-5 teacher -> LeNet-5-half student, data-free. Paper settings.

Teacher: Adam 1e-3, batch 256, 32x32. DAFL: batch 512, latent 100, Adam
lr_G 0.2, Adam lr_S 2e-3, one-hot/entropy/activation = 1/5/0.1,
200 epochs x 120 iterations. Paper: teacher 98.91%, DAFL student 98.20%.

  python launch/main.py --config=configs/dafl_mnist.py --workdir=runs/dafl_mnist \
      --config.data.download=True
  python launch/main.py --config=configs/dafl_mnist.py:baselines ...  # + scratch and KD rows

Expected: ~1 hour on one GPU; many hours on a CPU (see dafl_fashion_mnist.py).
`:smoke` runs every phase for 4 steps.
"""

from gan_tsc import config_lib as cl


def get_config(variant: str = ""):
  variants = cl.parse_variant(variant)
  config = cl.base(pipeline=("teacher", "dafl"))
  config.data = cl.data("tfds", "mnist", image_size=32)
  config.teacher = cl.supervised_phase(
      cl.model("lenet5", 10), cl.optimizer("adam", 1e-3), batch_size=256, num_epochs=10,
      eval_every_steps=1000)
  config.dafl = cl.dafl_phase(
      cl.model("lenet5_half", 10), cl.dafl_generator(100, 32, 1),
      generator_optimizer=cl.optimizer("adam", 0.2), student_optimizer=cl.optimizer("adam", 2e-3),
      batch_size=512, num_steps=200 * 120, one_hot=1.0, information_entropy=5.0, activation=0.1)
  if "baselines" in variants:
    config.pipeline = ("teacher", "dafl", "student_scratch", "student_kd")
    config.student_scratch = cl.supervised_phase(
        cl.model("lenet5_half", 10), cl.optimizer("adam", 1e-3), batch_size=256, num_epochs=10)
    config.student_kd = cl.distill_phase(
        cl.model("lenet5_half", 10), cl.optimizer("adam", 1e-3), teacher="teacher",
        batch_size=256, num_epochs=10)
  if "smoke" in variants:
    for phase in config.pipeline:
      cl.smoke(config[phase])
  return config
