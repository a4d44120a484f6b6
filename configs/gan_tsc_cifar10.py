r"""GAN-TSC on CIFAR-10 (TFDS) in the authors' image recipe: NIN teacher -> AC-GAN
-> their LeNet student, every student input labelled by the teacher. For accelerators.

As the authors' `cifar10.py` has it: the student (5x5 conv 64 VALID, max-pool
2, 5x5 conv 128 VALID, max-pool 2, FC 1024 + ReLU, FC 10; no activation after
the convolutions; Xavier kernels, N(0, 0.5²) biases) trains 200 epochs with
Adam 1e-4 constant at batch 256 on the loss ½Σ(teacher − student)²/B of the
logits; every network sees 0..255 pixels minus the per-pixel training mean,
no augmentation; the NIN teacher labels with its dropout on (rate 0.5 after
both pooling stages), so its targets are noisy; each iteration's batch is
generated with probability p_fake = 0.8, else it is that iteration's real
batch (so a real batch whose iteration comes up generated is skipped, as in
theirs); generated images are rounded to uint8 levels.

Differences that remain:
  - the teacher is trained here (Adam 1e-3, cosine, batch 128, 100 epochs, no
    augmentation, on the same 0..255-minus-mean inputs: with the DAFL paper's
    SGD at 0.1 a 2-step full-size test already gave the student non-finite
    targets); theirs was a pre-trained Caffe NIN whose channel
    sizes (teacher.npy) are not readable here: Caffe's CIFAR-10 NIN sizes
    (192-160-96, 192-192-192, 192-192, FC 1024);
  - the AC-GAN is this codebase's (width 64, 100 epochs at batch 100); theirs
    a Keras or PyTorch AC-GAN;
  - generated batches are drawn fresh inside the step; theirs come from a pool
    of p_fake·N images generated each epoch (the same distribution, without
    reuse within an epoch).

  python launch/main.py --config=configs/gan_tsc_cifar10.py --workdir=runs/gan_tsc_c10 \
      --config.data.download=True     # first run, with internet
  python launch/main.py --config=configs/gan_tsc_cifar10.py:baselines --workdir=...

`:baselines` adds the student on training data only (p_fake 0) and on GAN
data only (p_fake 1). `:tsc` adds the TSC Score phase (`tsc_score`).
Reuse a finished teacher with --config.teacher.checkpoint=<workdir>/teacher.

Expected: for accelerators (the teacher alone takes hours on a GPU); not yet
run at full size. `:smoke` runs every phase for 4 steps (a CPU test under
mocked TFDS data).
"""

from gan_tsc.configs import common, gan_tsc


def get_config(variant: str = ""):
  words, _ = common.parse_variant(variant, words=("smoke", "baselines", "tsc"))
  return gan_tsc.authors_image_config(
      "cifar10", words,
      gan_tsc.acgan_phase(batch_size=100, num_epochs=100, width=64, teacher="teacher",
                          eval_every_steps=5000, checkpoint_every_steps=5000),
      teacher_optimizer=common.optimizer("adam", 1e-3, schedule="cosine"),
      teacher_recipe=dict(batch_size=128, num_epochs=100),
      num_epochs=200, eval_every_steps=3900)
