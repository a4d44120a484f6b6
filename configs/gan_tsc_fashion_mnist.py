r"""GAN-TSC on Fashion-MNIST: LeNet-5 teacher -> AC-GAN -> LeNet-5-half student. CPU-sized.

Reads /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist),
or --config.data.data_dir. The teacher, the GAN and the students all see the
same training images; the student's inputs are real batches or, with
probability p_fake = 0.8, fresh AC-GAN samples, every one labelled by the
teacher's logits (L2 loss), as in the paper.

  python launch/main.py --config=configs/gan_tsc_fashion_mnist.py --workdir=runs/gan_tsc_fm
  python launch/main.py --config=configs/gan_tsc_fashion_mnist.py:baselines --workdir=...

`:baselines` adds the same student on training data only (p_fake = 0) and
on GAN data only (p_fake = 1). `:smoke` runs every phase for 4 steps on 512
images. The benchmark `benchmarks/gan_tsc_images.py` runs three seeds of
each student and the TSC Score table.

Expected: ~15 minutes on a 2-core CPU (the full data set; see the benchmark
for the measured numbers).
"""

from gan_tsc import config_lib as cl


def get_config(variant: str = ""):
  variants = cl.parse_variant(variant)
  config = cl.base(pipeline=("teacher", "gan", "student"))
  config.data = cl.data("idx", "fashion_mnist", image_size=32)
  config.teacher = cl.supervised_phase(
      cl.model("lenet5", 10), cl.optimizer("adam", 2e-3, schedule="cosine"),
      batch_size=128, num_epochs=15, log_every_steps=200, eval_every_steps=2000)
  config.gan = cl.acgan_phase(batch_size=64, num_steps=3000, width=32, teacher="teacher",
                              conv="patch")
  student = lambda p_fake: cl.distill_phase(
      cl.model("lenet5_half", 10), cl.optimizer("adam", 1e-3, schedule="cosine"),
      teacher="teacher", generator="gan", p_fake=p_fake, loss="l2", batch_size=64,
      num_steps=6000, eval_every_steps=2000)
  config.student = student(0.8)
  if "baselines" in variants:
    config.pipeline = config.pipeline + ("student_real_only", "student_gan_only")
    config.student_real_only = student(0.0)
    config.student_gan_only = student(1.0)
  if "smoke" in variants:
    config.data.max_train_examples = 512
    for phase in config.pipeline:
      cl.smoke(config[phase])
  return config
