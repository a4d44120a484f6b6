r"""GAN-TSC on CIFAR-10 (TFDS), the paper's setting: a large CNN teacher (ResNet-34),
an AC-GAN on the training images, and a small LeNet-like student (LeNet-5 on
3-channel 32x32 inputs) trained on real + GAN inputs, all labelled by the
teacher's logits (L2), p_fake = 0.8.

  python launch/main.py --config=configs/gan_tsc_cifar10.py --workdir=runs/gan_tsc_c10 \
      --config.data.download=True     # first run, with internet
  python launch/main.py --config=configs/gan_tsc_cifar10.py:baselines --workdir=...

`:baselines` adds the student on training data only (p_fake 0) and on GAN
data only (p_fake 1). Reuse a finished teacher with
--config.teacher.checkpoint=<workdir>/teacher/checkpoints.

Expected: for accelerators (the teacher alone takes hours on a GPU). `:smoke`
runs every phase for 4 steps (a CPU test under mocked TFDS data).
"""

from gan_tsc import config_lib as cl


def get_config(variant: str = ""):
  variants = cl.parse_variant(variant)
  config = cl.base(pipeline=("teacher", "gan", "student"))
  config.data = cl.data("tfds", "cifar10", image_size=32, augment="crop_flip")
  config.teacher = cl.supervised_phase(
      cl.model("resnet34", 10),
      cl.optimizer("sgd", 0.1, momentum=0.9, weight_decay=5e-4, schedule="step",
                   decay_at=(80 / 200, 120 / 200), decay_factor=0.1),
      batch_size=128, num_epochs=200, eval_every_steps=3910, checkpoint_every_steps=3910)
  config.gan = cl.acgan_phase(batch_size=100, num_epochs=100, width=64, teacher="teacher",
                              eval_every_steps=5000, checkpoint_every_steps=5000)
  student = lambda p_fake: cl.distill_phase(
      cl.model("lenet5", 10), cl.optimizer("adam", 1e-3, schedule="cosine"),
      teacher="teacher", generator="gan", p_fake=p_fake, loss="l2", batch_size=128,
      num_epochs=200, eval_every_steps=3910, checkpoint_every_steps=3910)
  config.student = student(0.8)
  if "baselines" in variants:
    config.pipeline = config.pipeline + ("student_real_only", "student_gan_only")
    config.student_real_only = student(0.0)
    config.student_gan_only = student(1.0)
  if "smoke" in variants:
    for phase in config.pipeline:
      cl.smoke(config[phase], batch_size=8)
      if "eval_batch_size" in config[phase]:
        config[phase].eval_batch_size = 16
  return config
