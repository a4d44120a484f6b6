r"""DAFL on scikit-learn's digits: LeNet-5 teacher -> LeNet-5-half, data-free. CPU-sized.

The README's demo: the data ships with scikit-learn, so it runs anywhere.
Departures from the paper's MNIST recipe, chosen for a 2-core CPU budget:
generator width 64 instead of 128 (half the filters, same layers), batch 64
instead of 512, 1,500 DAFL steps instead of 24,000, and the matmul
convolution in the generator (conv='matmul': same maths, faster weight
gradients on XLA:CPU). Losses, weights (1/5/0.1), optimizers and learning
rates are the paper's.

  python launch/main.py --config=configs/dafl_digits.py --workdir=runs/dafl_digits
  python launch/main.py --config=configs/dafl_digits.py:baselines --workdir=...  # 4-row table

Expected: ~5-8 minutes on a 2-core CPU; the DAFL student reaches 94.26 ± 1.58%
over seeds 0-1-2 (teacher 97.65 ± 0.65%; docs/RESULTS.md, "The demo over three
seeds"); one seed's figure moves by a few points. `:baselines` adds the student trained on labels from scratch and
the student distilled on real images. `:smoke` runs every phase for 4 steps.
"""

from gan_tsc.configs import common, dafl


def get_config(variant: str = ""):
  words, _ = common.parse_variant(variant)
  return dafl.dafl_config("digits", words, dafl.dafl_phase(
      common.model("lenet5_half", 10), dafl.dafl_generator(100, 32, 1, conv="matmul", width=64),
      generator_optimizer=common.optimizer("adam", 0.2),
      student_optimizer=common.optimizer("adam", 2e-3), batch_size=64, num_steps=1500,
      one_hot=1.0, information_entropy=5.0, activation=0.1, log_every_steps=100,
      eval_every_steps=250, checkpoint_every_steps=250))
