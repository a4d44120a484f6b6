r"""DAFL on Fashion-MNIST (local IDX files): LeNet-5 -> LeNet-5-half, data-free. CPU-sized.

Departures from the paper's MNIST recipe, chosen so the four-row table
(benchmarks/dafl.py) fits a one-hour budget on a 2-core CPU:
  - generator width 64 instead of 128 (half the filters; same layers),
  - batch 64 instead of 512, 7,000 DAFL steps instead of 24,000,
  - generator learning rate 0.02 instead of 0.2: at batch 64, Adam at 0.2
    killed the generator (every image the same) within 1,000 steps here,
  - the im2col convolution in the generator (same maths, faster on XLA:CPU),
  - loss weights oh/ie/a = 0.1/5/0 instead of 1/5/0.1, and the student's
    learning rate (2e-3, the paper's) decayed by a cosine. With the
    activation loss on, the generator drifted to high-activation,
    low-contrast images and the student fell from 47% (step 1,000) to 30%
    (step 7,000). These settings were chosen in a search of short runs scored
    on the last 10,000 Fashion-MNIST training images (never the test set).
    See the README for the table; benchmarks/dafl_heldout.py prints that
    score. Two switches outside the paper, loss_weights.adversarial and
    generator.output='pixels', scored lower there and stay off.
The three generator losses are the paper's (the activation loss is computed and
logged, weighted 0), as are the optimizers and the generator's constant learning rate.
For the paper-exact recipe: dafl_mnist.py with --config.data.source=idx --config.data.name=fashion_mnist.

  python launch/main.py --config=configs/dafl_fashion_mnist.py --workdir=runs/dafl_fm
  python launch/main.py --config=configs/dafl_fashion_mnist.py:baselines --workdir=...

Expected: ~22 minutes on a quiet 2-core CPU with baselines (measured 21.5 min by
benchmarks/dafl.py; DAFL itself 17.6 min).
`:smoke` runs every phase for 4 steps on 512 training images.
"""

from gan_tsc import config_lib as cl


def get_config(variant: str = ""):
  variants = cl.parse_variant(variant)
  config = cl.base(pipeline=("teacher", "dafl"))
  config.data = cl.data("idx", "fashion_mnist", image_size=32)
  config.teacher = cl.supervised_phase(
      cl.model("lenet5", 10), cl.optimizer("adam", 2e-3, schedule="cosine"),
      batch_size=128, num_epochs=15, log_every_steps=500, eval_every_steps=2000)
  config.dafl = cl.dafl_phase(
      cl.model("lenet5_half", 10), cl.dafl_generator(100, 32, 1, conv="im2col", width=64),
      generator_optimizer=cl.optimizer("adam", 0.02),
      student_optimizer=cl.optimizer("adam", 2e-3, schedule="cosine"),
      batch_size=64, num_steps=7000, one_hot=0.1, information_entropy=5.0, activation=0.0,
      log_every_steps=250, eval_every_steps=1000, checkpoint_every_steps=1000)
  if "baselines" in variants:
    config.pipeline = ("teacher", "dafl", "student_scratch", "student_kd")
    config.student_scratch = cl.supervised_phase(
        cl.model("lenet5_half", 10), cl.optimizer("adam", 2e-3, schedule="cosine"),
        batch_size=128, num_epochs=5, log_every_steps=500)
    config.student_kd = cl.distill_phase(
        cl.model("lenet5_half", 10), cl.optimizer("adam", 2e-3, schedule="cosine"),
        teacher="teacher", batch_size=128, num_epochs=5, log_every_steps=500)
  if "smoke" in variants:
    for phase in config.pipeline:
      cl.smoke(config[phase])
    config.data.max_train_examples = 512
  return config
