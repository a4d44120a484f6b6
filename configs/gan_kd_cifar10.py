r"""GAN-KD on CIFAR-10, the paper's setting: a d=64 teacher at 64x64, students down to d=2.

For accelerators. The paper's DCGAN generator with 3 output channels at 64x64
(CIFAR-10 upsampled from 32x32); for 1 channel the counts are the paper's
672 d^2 + 12831 d + 1, giving 126:1 at d=2 and 58:1 at d=4 against d=64.
WGAN-GP teacher (penalty 10, 5 critic updates per generator update, Adam
1e-4, betas 0.5/0.9); students by MSE or the joint loss; scratch_d{d}
baselines with the same generator steps. IS and FID use a ResNet-18 'judge'
trained on CIFAR-10 (its own scale); for published-comparable numbers:

  python launch/main.py --config=configs/gan_kd_cifar10.py --workdir=runs/gan_kd_cifar10 \
      --config.data.download=True
  ... --config.generator_metrics.extractor=inception \
      --config.generator_metrics.inception_graph=/path/to/classify_image_graph_def.pb

Expected (estimate, not measured here): a few hours on one recent GPU for the
teacher (100k generator steps), about an hour per student width. `:smoke` runs the
judge, the teacher and the d=2 students and scratch GAN (the smallest width's) for
4 steps with a tiny teacher and critics, at 32x32 with a LeNet-5 judge.
`:widths=3` or `:widths=2+4` replaces the student widths (2, 4, 8, 16, 32); phase
names, folders and the table follow (student_d3_mse, ...).
"""

from gan_tsc.configs import common, gan_kd

TEACHER_WIDTH = 64


def get_config(variant: str = ""):
  return gan_kd.accelerator_config(
      variant, common.data("tfds", "cifar10", image_size=64), teacher_width=TEACHER_WIDTH,
      channels=3, judge=common.supervised_phase(
          common.model("resnet18", 10),
          common.optimizer("sgd", 0.1, weight_decay=5e-4, schedule="cosine"),
          batch_size=128, num_epochs=30, log_every_steps=200),
      # :smoke runs at 32x32 with a LeNet-5 judge: the same code paths at a CPU test's cost.
      smoke_judge=common.model("lenet5", 10))
