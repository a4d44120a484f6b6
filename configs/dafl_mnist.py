r"""DAFL on MNIST: LeNet-5 teacher -> LeNet-5-half student, data-free. Paper settings.

Teacher: Adam 1e-3, batch 256, 32x32. DAFL: batch 512, latent 100, Adam
lr_G 0.2, Adam lr_S 2e-3, one-hot/entropy/activation = 1/5/0.1,
200 epochs x 120 iterations. Paper: teacher 98.91%, DAFL student 98.20%.
Every network starts from PyTorch's default initialisation (init='torch'),
as in the official code.

  python launch/main.py --config=configs/dafl_mnist.py --workdir=runs/dafl_mnist \
      --config.data.download=True
  python launch/main.py --config=configs/dafl_mnist.py:baselines ...  # + scratch and KD rows

Expected: ~1 hour on one GPU; many hours on a CPU (see dafl_fashion_mnist.py).
`:smoke` runs every phase for 4 steps.
"""

from gan_tsc.configs import common, dafl


def get_config(variant: str = ""):
  words, _ = common.parse_variant(variant)
  return dafl.torch_init(dafl.dafl_config("mnist", words, dafl.dafl_phase(
      common.model("lenet5_half", 10), dafl.dafl_generator(100, 32, 1),
      generator_optimizer=common.optimizer("adam", 0.2),
      student_optimizer=common.optimizer("adam", 2e-3), batch_size=512, num_steps=200 * 120,
      one_hot=1.0, information_entropy=5.0, activation=0.1, checkpoint_every_steps=1200)))
