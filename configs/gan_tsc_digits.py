r"""GAN-TSC on scikit-learn's digits: LeNet-5 teacher -> AC-GAN -> LeNet-5-half student.

The data ships with scikit-learn (1,437 training images, 8x8 upscaled to
32x32), so this runs anywhere in a few minutes on a CPU.

  python launch/main.py --config=configs/gan_tsc_digits.py --workdir=runs/gan_tsc_digits
  python launch/main.py --config=configs/gan_tsc_digits.py:baselines --workdir=...

`:baselines` adds the student on training data only (p_fake 0) and on GAN
data only (p_fake 1). `:smoke` runs every phase for 4 steps.

Expected: ~5 minutes on a 2-core CPU.
"""

from gan_tsc import config_lib as cl


def get_config(variant: str = ""):
  variants = cl.parse_variant(variant)
  config = cl.base(pipeline=("teacher", "gan", "student"))
  config.data = cl.data("sklearn", "digits", image_size=32)
  config.teacher = cl.supervised_phase(
      cl.model("lenet5", 10), cl.optimizer("adam", 1e-3, schedule="cosine"),
      batch_size=64, num_epochs=40, eval_every_steps=300)
  config.gan = cl.acgan_phase(batch_size=64, num_steps=1500, width=32, teacher="teacher",
                              conv="patch", eval_every_steps=500, checkpoint_every_steps=500)
  student = lambda p_fake: cl.distill_phase(
      cl.model("lenet5_half", 10), cl.optimizer("adam", 1e-3, schedule="cosine"),
      teacher="teacher", generator="gan", p_fake=p_fake, loss="l2", batch_size=64,
      num_steps=1000, eval_every_steps=500)
  config.student = student(0.8)
  if "baselines" in variants:
    config.pipeline = config.pipeline + ("student_real_only", "student_gan_only")
    config.student_real_only = student(0.0)
    config.student_gan_only = student(1.0)
  if "smoke" in variants:
    for phase in config.pipeline:
      cl.smoke(config[phase])
  return config
