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
judge, the teacher and the d=2 students and scratch GAN for 4 steps with tiny
widths, at 32x32 with a LeNet-5 judge.
"""

from gan_tsc import config_lib as cl

TEACHER_WIDTH = 64
STUDENT_WIDTHS = (2, 4, 8, 16, 32)


def get_config(variant: str = ""):
  variants = cl.parse_variant(variant, allowed=("smoke",))
  config = cl.base(pipeline=())
  config.data = cl.data("tfds", "cifar10", image_size=64)
  config.judge = cl.supervised_phase(
      cl.model("resnet18", 10), cl.optimizer("sgd", 0.1, weight_decay=5e-4, schedule="cosine"),
      batch_size=128, num_epochs=30, log_every_steps=200)
  generator = cl.dcgan_generator(TEACHER_WIDTH, image_size=64, channels=3)
  students = cl.gan_kd_accelerator_phases(
      config, generator, STUDENT_WIDTHS, teacher_critic_width=TEACHER_WIDTH,
      critic_width=TEACHER_WIDTH, teacher_steps=100000, student_steps=50000, eval_every_steps=10000,
      checkpoint_every_steps=5000)
  config.pipeline = ("judge", "teacher") + students
  config.generator_metrics = cl.generator_metrics(extractor="classifier", classifier="judge")
  if "smoke" in variants:
    # 32x32 and a LeNet-5 judge: the same code paths at a CPU test's cost.
    config.data.image_size = 32
    config.judge.model = cl.model("lenet5", 10)
    for phase in students + ("teacher",):
      block = config[phase].get("generator", None) or config[phase].student
      block.image_size = 32
    config.pipeline = ("judge", "teacher") + tuple(p for p in students if p.endswith("d2")
                                                   or "_d2_" in p)
    cl.gan_kd_smoke(config)
  return config
