r"""GAN-TSC on CIFAR-10 (TFDS), the paper's setting: a large CNN teacher (ResNet-34),
an AC-GAN on the training images, and a small LeNet-like student (LeNet-5 on
3-channel 32x32 inputs) trained on real + GAN inputs, all labelled by the
teacher's logits (L2), p_fake = 0.8.

  python launch/main.py --config=configs/gan_tsc_cifar10.py --workdir=runs/gan_tsc_c10 \
      --config.data.download=True     # first run, with internet
  python launch/main.py --config=configs/gan_tsc_cifar10.py:baselines --workdir=...

`:baselines` adds the student on training data only (p_fake 0) and on GAN
data only (p_fake 1). `:tsc` adds the TSC Score phase (`tsc_score`).
Reuse a finished teacher with --config.teacher.checkpoint=<workdir>/teacher.

Expected: for accelerators (the teacher alone takes hours on a GPU). `:smoke`
runs every phase for 4 steps (a CPU test under mocked TFDS data).
"""

from gan_tsc.configs import common, gan_tsc


def get_config(variant: str = ""):
  words, _ = common.parse_variant(variant, words=("smoke", "baselines", "tsc"))
  return gan_tsc.image_config(
      "cifar10", words,
      gan_tsc.acgan_phase(batch_size=100, num_epochs=100, width=64, teacher="teacher",
                          eval_every_steps=5000, checkpoint_every_steps=5000),
      common.model("lenet5", 10), common.optimizer("adam", 1e-3, schedule="cosine"),
      loss="l2", batch_size=128, num_epochs=200, eval_every_steps=3910,
      checkpoint_every_steps=3910)
