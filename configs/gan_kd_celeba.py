r"""GAN-KD on CelebA, the paper's setting: a d=128 teacher at 64x64, students down to d=2.

For accelerators. Center-cropped 64x64 faces; the paper's DCGAN generator
(3 channels; for 1 channel 672 d^2 + 12831 d + 1 parameters: 446:1 at d=2
against d=128). WGAN-GP teacher (penalty 10, 5 critic updates per generator
update, Adam 1e-4, betas 0.5/0.9); students by MSE or the joint loss;
scratch_d{d} baselines with the same generator steps.

CelebA has no class labels, so no classifier judge can be trained on it: IS
and FID need the InceptionV3 FID weights (the run stops at once, saying so,
without them), or extractor=none for sharpness only:

  python launch/main.py --config=configs/gan_kd_celeba.py --workdir=runs/gan_kd_celeba \
      --config.data.download=True \
      --config.generator_metrics.inception_graph=/path/to/classify_image_graph_def.pb

Expected (estimate, not measured here): several hours on one recent GPU for the
teacher, about an hour per student width. `:smoke` runs the teacher and the d=2
MSE student (the smallest width's) for 4 steps with tiny widths, sharpness only.
`:widths=3` or `:widths=2+4` replaces the student widths (2, 4, 8, 16, 32); phase
names, folders and the table follow (student_d3_mse, ...).
"""

from gan_tsc.configs import common, gan_kd

TEACHER_WIDTH = 128


def get_config(variant: str = ""):
  # No labels, so no judge: IS and FID through InceptionV3, FID against 10,000 test images.
  return gan_kd.accelerator_config(
      variant, common.data("tfds", "celeb_a", image_size=64, center_crop=True),
      teacher_width=TEACHER_WIDTH, channels=3,
      metrics=gan_kd.generator_metrics(extractor="inception", max_reference_images=10000))
