r"""GAN-TSC on scikit-learn's digits: LeNet-5 teacher -> AC-GAN -> LeNet-5-half student.

The data ships with scikit-learn (1,437 training images, 8x8 upscaled to
32x32), so this runs anywhere in a few minutes on a CPU.

  python launch/main.py --config=configs/gan_tsc_digits.py --workdir=runs/gan_tsc_digits
  python launch/main.py --config=configs/gan_tsc_digits.py:baselines --workdir=...

`:baselines` adds the student on training data only (p_fake 0) and on GAN
data only (p_fake 1). `:tsc` adds the TSC Score phase (`tsc_score`). `:smoke`
runs every phase for 4 steps. `:gan=hinge` trains the hinge GAN with a
projection discriminator instead of the AC-GAN (`gan=acgan`, the default).

Expected: ~5 minutes on a 2-core CPU.
"""

from gan_tsc.configs import common, gan_tsc


def get_config(variant: str = ""):
  words, args = common.parse_variant(variant, words=("smoke", "baselines", "tsc"),
                                     args=dict(gan=common.one_of("acgan", "hinge")))
  return gan_tsc.image_config(
      "digits", words,
      gan_tsc.acgan_phase(batch_size=64, num_steps=1500, width=32, teacher="teacher",
                          conv="matmul", eval_every_steps=500, checkpoint_every_steps=500,
                          loss=args.get("gan", "acgan")),
      common.model("lenet5_half", 10), common.optimizer("adam", 1e-3, schedule="cosine"),
      loss="l2", batch_size=64, num_steps=1000, eval_every_steps=500)
