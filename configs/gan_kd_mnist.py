r"""GAN-KD on MNIST, the paper's setting: a d=256 teacher at 64x64, students down to d=2.

For accelerators. The paper's DCGAN generator (latent 100 -> 8d -> 4d -> 2d -> d
-> 1 channel, 64x64; 672 d^2 + 12831 d + 1 parameters): the teacher has
47,324,929, the d=2 student 28,351 (1669:1). The teacher is a WGAN-GP
(penalty 10, 5 critic updates per generator update, Adam 1e-4, betas
0.5/0.9); students imitate it on fresh latents with MSE or the joint loss;
scratch_d{d} is each student size trained as a WGAN-GP for the same number
of generator steps. IS and FID use a ResNet-18 'judge' trained on MNIST
(pooled 512-d features); point generator_metrics at the InceptionV3 FID
weights for the standard numbers:

  python launch/main.py --config=configs/gan_kd_mnist.py --workdir=runs/gan_kd_mnist \
      --config.data.download=True
  ... --config.generator_metrics.extractor=inception \
      --config.generator_metrics.inception_graph=/path/to/classify_image_graph_def.pb

Expected (estimate, not measured here): a few hours on one recent GPU for the
teacher, under an hour per student width; far too slow for a CPU (use
gan_kd_fashion_mnist.py there). `:smoke` runs the teacher and the d=2 MSE student
(the smallest width's) for 4 steps with tiny widths, sharpness only (the ResNet
judge is CPU-heavy; gan_kd_cifar10.py:smoke runs every phase kind). `:widths=3` or
`:widths=2+4` replaces the student widths (2, 4, 8, 16, 32); phase names, folders
and the table follow (student_d3_mse, ...).
"""

from gan_tsc.configs import common, gan_kd

TEACHER_WIDTH = 256


def get_config(variant: str = ""):
  return gan_kd.accelerator_config(
      variant, common.data("tfds", "mnist", image_size=64), teacher_width=TEACHER_WIDTH,
      channels=1, teacher_critic_width=64, teacher_steps=20000, student_steps=10000,
      eval_every_steps=5000, checkpoint_every_steps=2000,
      judge=common.supervised_phase(
          common.model("resnet18", 10), common.optimizer("adam", 1e-3, schedule="cosine"),
          batch_size=256, num_epochs=3, log_every_steps=200))
