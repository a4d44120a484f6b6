r"""DAFL on CIFAR-100: ResNet-34 teacher -> ResNet-18 student, data-free. Paper settings.

Teacher: SGD 0.1, momentum 0.9, wd 5e-4, batch 128, x0.1 at epochs 80/120 of
200, crop+flip. DAFL: batch 1024, latent 1000, Adam lr_G 0.02, SGD lr_S 0.1
momentum 0.9 wd 5e-4 x0.1 at 40% and 80%, one-hot/entropy/activation =
0.5/20.0/0.1, 2000 epochs x 120 iterations. Paper: teacher 77.84% -> DAFL 74.47% (KD with data 76.87%).
The reported accuracy is the final step's (the official script reports the
best over epochs, chosen on the test set).

  python launch/main.py --config=configs/dafl_cifar100.py --workdir=runs/dafl_cifar100 \
      --config.data.download=True
  python launch/main.py --config=configs/dafl_cifar100.py:baselines ...   # + scratch and KD rows
  python launch/main.py --config=configs/dafl_cifar100.py \
      --config.teacher.checkpoint=OTHER_WORKDIR/teacher ...            # reuse a teacher

Expected: for accelerators: teacher ~2-3 h and DAFL ~1-2 days on one GPU.
`:smoke` runs every phase for 4 steps.
"""

from gan_tsc import config_lib as cl


def get_config(variant: str = ""):
  variants = cl.parse_variant(variant)
  config = cl.base(pipeline=("teacher", "dafl"))
  config.data = cl.data("tfds", "cifar100", image_size=32, augment="crop_flip")
  sgd = lambda decay_at: cl.optimizer("sgd", 0.1, momentum=0.9, weight_decay=5e-4,
                                      schedule="step", decay_at=decay_at, decay_factor=0.1)
  config.teacher = cl.supervised_phase(
      cl.model("resnet34", 100), sgd((80 / 200, 120 / 200)), batch_size=128, num_epochs=200,
      eval_every_steps=3910, checkpoint_every_steps=3910)
  config.dafl = cl.dafl_phase(
      cl.model("resnet18", 100), cl.dafl_generator(1000, 32, 3),
      generator_optimizer=cl.optimizer("adam", 0.02), student_optimizer=sgd((0.4, 0.8)),
      batch_size=1024, num_steps=2000 * 120, one_hot=0.5, information_entropy=20.0,
      activation=0.1, eval_every_steps=6000, checkpoint_every_steps=6000)
  if "baselines" in variants:
    config.pipeline = ("teacher", "dafl", "student_scratch", "student_kd")
    config.student_scratch = cl.supervised_phase(
        cl.model("resnet18", 100), sgd((80 / 200, 120 / 200)), batch_size=128, num_epochs=200,
        checkpoint_every_steps=3910)
    config.student_kd = cl.distill_phase(
        cl.model("resnet18", 100), sgd((80 / 200, 120 / 200)), teacher="teacher",
        batch_size=128, num_epochs=200, checkpoint_every_steps=3910)
  if "smoke" in variants:
    for phase in config.pipeline:
      cl.smoke(config[phase], batch_size=8)
      config[phase].eval_batch_size = 16
    config.dafl.generator.latent_dim = 16
  return config
