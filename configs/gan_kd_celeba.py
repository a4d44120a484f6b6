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

Expected (estimate, not measured here): several hours on one recent GPU for
the teacher, about an hour per student width. `:smoke` runs the teacher and the d=2 MSE
student for 4 steps with tiny widths, sharpness only.
"""

from gan_tsc import config_lib as cl

TEACHER_WIDTH = 128
STUDENT_WIDTHS = (2, 4, 8, 16, 32)


def get_config(variant: str = ""):
  variants = cl.parse_variant(variant, allowed=("smoke",))
  config = cl.base(pipeline=())
  config.data = cl.data("tfds", "celeb_a", image_size=64, center_crop=True)
  generator = cl.dcgan_generator(TEACHER_WIDTH, image_size=64, channels=3)
  students = cl.gan_kd_accelerator_phases(
      config, generator, STUDENT_WIDTHS, teacher_critic_width=TEACHER_WIDTH, critic_width=64,
      teacher_steps=100000, student_steps=50000, eval_every_steps=10000,
      checkpoint_every_steps=5000)
  config.pipeline = ("teacher",) + students
  config.generator_metrics = cl.generator_metrics(extractor="inception",
                                                  max_reference_images=10000)
  if "smoke" in variants:
    config.pipeline = ("teacher", "student_d2_mse")  # the 64 px paths; the rest as cifar10's
    config.generator_metrics.extractor = "none"
    cl.gan_kd_smoke(config)
  return config
