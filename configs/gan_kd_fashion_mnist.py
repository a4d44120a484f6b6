r"""GAN-KD on Fashion-MNIST, sized for a 2-core CPU: teacher, students, scratch GANs.

Reads /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist),
or --config.data.data_dir. Phases:
  judge             LeNet-5 classifier of the data set: the feature extractor of
                    IS (its softmax) and FID (its 120-d penultimate features);
                    numbers on its own scale, not comparable with Inception's.
  teacher           DCGAN generator d=TEACHER_WIDTH trained as a WGAN-GP.
  student_d{d}_mse  width-d student imitating the frozen teacher on fresh latents (MSE),
  student_d{d}_joint  the same with alpha * adversarial + (1 - alpha) * MSE,
  scratch_d{d}      the same width trained as an ordinary WGAN-GP, same generator steps.
Departures from the paper, for a 2-core CPU: the 32x32 variant of its DCGAN
(one layer fewer; 160 d^2 + 6423 d + 1 parameters), a d=40 teacher (512,921
parameters; d=2 is 38x smaller) instead of MNIST's d=256, 1,500 teacher and
2,000 student steps, critics of width 16 (teacher) and 8 (joint students and
scratch GANs, at least each student's width), and the matmul convolutions
(conv='matmul': same maths, faster on XLA:CPU). WGAN-GP: penalty 10, 5 critic
updates per generator step, Adam 2e-4 with betas 0.5/0.9; students: Adam 1e-3,
joint alpha 0.05 (the adversarial term's gradient is ~70x the pixel MSE's at
equal weight, so a small alpha balances them).

  python launch/main.py --config=configs/gan_kd_fashion_mnist.py --workdir=runs/gan_kd_fm
  .venv/bin/python benchmarks/gan_kd_sweep.py        # the same, and prints the table

Expected: ~22 minutes on a 2-core CPU (measured 22.1 min); at d=2 the student
keeps 96% of the teacher's IS with the joint loss and 82% with MSE alone, and
every distilled student beats the scratch GAN of its size on IS and FID
(table in docs/RESULTS.md). `:smoke` runs every phase kind for 4 steps (one
student width, tiny networks) on 512 images.

`:widths=3` or `:widths=2+4` replaces the student widths (2, 4, 8; with
`:smoke`, 2): phase names, folders and the table follow (student_d3_mse, ...).
`:teacher_width=N`, `:teacher_steps=N` and `:student_steps=N` set the
teacher's width and the generator steps of the teacher and of every student.
"""

from gan_tsc.configs import common, gan_kd

TEACHER_WIDTH = 40
STUDENT_WIDTHS = (2, 4, 8)
TEACHER_STEPS = 1500
STUDENT_STEPS = 2000
VARIANT_ARGS = dict(gan_kd.VARIANT_ARGS, teacher_width=int, teacher_steps=int, student_steps=int)


def get_config(variant: str = "", student_widths=STUDENT_WIDTHS, teacher_width=TEACHER_WIDTH,
               teacher_steps=TEACHER_STEPS, student_steps=STUDENT_STEPS):
  words, args = common.parse_variant(variant, words=("smoke",), args=VARIANT_ARGS)
  if "smoke" in words:  # one tiny student width: every phase kind, little compiling
    student_widths, teacher_width = (2,), 4
  student_widths = args.get("widths", student_widths)
  teacher_width = args.get("teacher_width", teacher_width)
  config = common.base(pipeline=("judge", "teacher"))
  config.data = common.data("idx", "fashion_mnist", image_size=32)
  config.judge = common.task_teacher("fashion_mnist", num_epochs=2, eval_every_steps=0)
  generator = gan_kd.dcgan_generator(teacher_width, image_size=32, channels=1, conv="matmul")
  config.teacher = gan_kd.wgan_gp_phase(
      generator, gan_kd.dcgan_critic(16, conv="matmul"), batch_size=64,
      num_steps=args.get("teacher_steps", teacher_steps), n_critic=5, learning_rate=2e-4,
      log_every_steps=100, checkpoint_every_steps=500)
  config.pipeline += gan_kd.gan_kd_students(
      config, student_widths, teacher="teacher", generator=generator, critic_width=8,
      batch_size=64, num_steps=args.get("student_steps", student_steps), alpha=0.05, n_critic=5,
      learning_rate=1e-3, gan_learning_rate=2e-4, log_every_steps=100, checkpoint_every_steps=500)
  config.generator_metrics = gan_kd.generator_metrics(extractor="classifier", classifier="judge")
  if "smoke" in words:
    config.data.max_train_examples = 512
    gan_kd.gan_kd_smoke(config)
  return config
