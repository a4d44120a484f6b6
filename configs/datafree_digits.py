r"""Data-free distillation on scikit-learn's digits: LeNet-5 with BatchNorm -> LeNet-5-half.

The data ships with scikit-learn, so it runs anywhere. The default recipe is
datafree_fashion_mnist.py's (chosen there on held-out training images; not
tuned on digits): BN statistics + one-hot + information entropy 20 +
adversarial KL 0.3, 2 student updates per iteration with a replay memory
(2,560 images, 128 of them in each student batch) and 2 more on the memory
alone, DAFL's generator at width 32, batch 64, 600 iterations. Methods (`method=`):
bn_adversarial_replay (the default), bn_adversarial, dfad, dafl (the paper's
losses with dafl_digits.py's recipe).

  python launch/main.py --config=configs/datafree_digits.py --workdir=runs/df_digits
  python launch/main.py --config=configs/datafree_digits.py:method=dfad --workdir=...

Expected (default): 97.22% after 2.3 minutes on a 2-core CPU (teacher 98.89%;
docs/RESULTS.md); DAFL: 90.56%.
`:baselines` adds the student trained on labels and distilled on real images;
`:tsc` the TSC Score of the data-free generator (phase `tsc`);
`:smoke` runs every phase for 4 steps.
"""

from gan_tsc.configs import dafl


def get_config(variant: str = ""):
  return dafl.lenet_datafree_config(
      "digits", variant, num_steps=600, replay_size=64 * 40, eval_every_steps=200,
      dafl_recipe=dict(width=64, generator_lr=0.2, student_schedule="constant", num_steps=1500),
      dafl_weights=dict(one_hot=1.0, information_entropy=5.0, activation=0.1))
