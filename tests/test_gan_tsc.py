"""GAN-TSC on images: AC-GAN phase, distillation with p_fake, TSC Score, configs."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_tsc import configs
from gan_tsc import checkpoints, models, optim, parallel, validation
from gan_tsc.data import images as image_data
from gan_tsc.data import batching
from gan_tsc.metrics import tsc_score
from gan_tsc.ops import pixels
from gan_tsc.phases import acgan, distill, shared, supervised
from gan_tsc.phases import tsc_score as tsc_phase
from gan_tsc.phases.shared import students
from gan_tsc.trained import TrainedClassifier, TrainedGenerator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(scope="module")
def digits():
  return image_data.load(configs.common.data("sklearn", "digits", image_size=32))


@pytest.fixture(scope="module")
def teacher(digits):
  """A LeNet-5 trained on digits for 150 steps (~95% test accuracy)."""
  model = models.build_classifier(configs.common.model("lenet5", 10))
  state, schedule = shared.create_classifier_state(
      model, jax.random.PRNGKey(0), digits.image_shape, configs.common.optimizer("adam", 2e-3), 150)
  step = shared.jit_step(supervised.make_train_step(model, digits, schedule))
  batcher = batching.EpochBatcher({"image": digits.train_images, "label": digits.train_labels},
                                    64, seed=0)
  for i in range(150):
    state, _ = step(state, batcher.batch(i), jax.random.PRNGKey(1))
  return TrainedClassifier(model, state.variables, None, {})


def gan_config(conditional=True, batch_size=32, width=16, loss="acgan"):
  return configs.gan_tsc.acgan_phase(batch_size=batch_size, num_steps=100, width=width,
                                     latent_dim=32, conditional=conditional, loss=loss)


def gan_setup(c, num_classes=10):
  generator, discriminator = acgan.build_networks(c, num_classes, 1, 32)
  state = acgan.create_state(generator, discriminator, jax.random.PRNGKey(0), c, (32, 32, 1),
                             c.num_steps)
  labels = num_classes if c.conditional else 1
  step = jax.jit(acgan.make_step(generator, discriminator, c, labels), donate_argnums=0)
  return generator, state, step, acgan.make_sampler(generator, c.generator.latent_dim, labels)


def hinge_setup(**overrides):
  """A hinge GAN block with `overrides`, its networks, initial state and step (jitted
  without donation: the tests reuse states)."""
  c = gan_config(loss="hinge")
  c.update(overrides)
  generator, discriminator = acgan.build_networks(c, 10, 1, 32)
  state = acgan.create_state(generator, discriminator, jax.random.PRNGKey(0), c, (32, 32, 1),
                             c.num_steps)
  return c, generator, discriminator, state, jax.jit(
      acgan.make_step(generator, discriminator, c, 10))


# ---------------------------------------------------------------------------
# AC-GAN.


def train_on_digits(state, step, digits, batch_size: int, num_steps: int):
  """num_steps GAN steps on labelled digits (one fixed key); the state and every step's metrics."""
  batcher = batching.EpochBatcher({"image": digits.train_images, "label": digits.train_labels},
                                  batch_size, seed=0)
  history = []
  for i in range(num_steps):
    state, metrics = step(state, batcher.batch(i), jax.random.PRNGKey(2))
    history.append(jax.device_get(metrics))
  return state, history


def test_acgan_losses_fall_and_the_class_is_learned(digits):
  c = gan_config()
  c.generator_optimizer.learning_rate = c.discriminator_optimizer.learning_rate = 1e-3
  _, state, step, _ = gan_setup(c)
  state, history = train_on_digits(state, step, digits, c.batch_size, 120)
  first = {k: np.mean([h[k] for h in history[:10]]) for k in history[0]}
  last = {k: np.mean([h[k] for h in history[-10:]]) for k in history[0]}
  assert last["d_loss"] < first["d_loss"] - 1.0, (first, last)
  assert last["d_class_loss"] < first["d_class_loss"] - 1.0, (first, last)
  assert last["g_class_loss"] < first["g_class_loss"] - 1.0, (first, last)
  assert last["d_real_class_accuracy"] > 0.8, last
  # The generator makes images the discriminator files under the requested class.
  assert last["d_fake_class_accuracy"] > 0.5 > first["d_fake_class_accuracy"], (first, last)
  assert step._cache_size() == 1


def test_hinge_gan_averages_its_generator_at_constant_rates_or_decays_them_linearly():
  hinge = gan_config(loss="hinge")
  assert hinge.discriminator.name == "projection_discriminator"
  assert hinge.generator_ema_decay == 0.999
  for block in (hinge.generator_optimizer, hinge.discriminator_optimizer):
    _, constant = optim.build(block, 100)
    assert float(constant(0)) == float(constant(100)) == 2e-4
    block.schedule = "linear"  # the option: both rates decayed linearly to zero
    _, schedule = optim.build(block, 100)
    np.testing.assert_allclose([schedule(0), schedule(50), schedule(75), schedule(100)],
                               [2e-4, 1e-4, 5e-5, 0.0], atol=1e-12)


def test_hinge_projection_gan_learns_the_requested_class(teacher, digits):
  c = gan_config(loss="hinge")
  # A short run: at a higher constant rate, its last parameters rated.
  c.generator_optimizer.learning_rate = c.discriminator_optimizer.learning_rate = 1e-3
  generator, state, step, sample = gan_setup(c)
  agreement = acgan.teacher_agreement(teacher, digits, sample, 500)
  before = agreement(state.generator.variables, jax.random.PRNGKey(7))
  stats = jax.device_get(state.critic.batch_stats)
  state, history = train_on_digits(state, step, digits, c.batch_size, 200)
  after = agreement(state.generator.variables, jax.random.PRNGKey(7))
  # The teacher files the samples under the requested class far above chance.
  assert after > 0.5 > 0.2 > before, (before, after)
  # The hinge: real scores above fake ones once the discriminator has learnt.
  last = {k: np.mean([h[k] for h in history[-20:]]) for k in history[0]}
  assert last["d_real_score"] > last["d_fake_score"], last
  # The spectral norms' power-iteration vectors advance with the discriminator.
  moved = jax.tree.map(lambda a, b: not np.array_equal(a, b), stats,
                       jax.device_get(state.critic.batch_stats))
  assert all(jax.tree.leaves(moved))
  with pytest.raises(ValueError, match="the hinge loss trains a projection_discriminator"):
    c.discriminator.name = "acgan_discriminator"
    acgan.make_step(generator, None, c, 10)


def test_hinge_gan_takes_several_discriminator_updates_each_on_its_own_batch(digits):
  c, generator, discriminator, state, step = hinge_setup(discriminator_steps=3)
  batch = {"image": jnp.asarray(digits.train_images[:96]).reshape(3, 32, 32, 32, 1),
           "label": jnp.asarray(digits.train_labels[:96]).reshape(3, 32)}
  after, _ = step(state, batch, jax.random.PRNGKey(1))
  assert int(after.generator.step) == 1 and int(after.critic.step) == 3
  # The last update reads the third batch: another third batch, another discriminator.
  other = {"image": batch["image"].at[2].set(batch["image"][0]), "label": batch["label"]}
  changed, _ = step(state, other, jax.random.PRNGKey(1))
  assert not np.allclose(jax.tree.leaves(changed.critic.params)[0],
                         jax.tree.leaves(after.critic.params)[0])
  again, _ = step(state, batch, jax.random.PRNGKey(1))
  np.testing.assert_array_equal(jax.tree.leaves(again.critic.params)[0],
                                jax.tree.leaves(after.critic.params)[0])
  c.discriminator_steps = 0
  # Refused before any work by the config check, and by the step itself.
  assert "gan.discriminator_steps=0: must be a whole number >= 1" in validation.problems(c, "gan")
  with pytest.raises(ValueError, match="at least one update"):
    acgan.make_step(generator, discriminator, c, 10)
  ac = gan_config()
  ac.discriminator_steps = 2
  with pytest.raises(ValueError, match="hinge GAN only"):
    acgan.make_step(*acgan.build_networks(ac, 10, 1, 32), ac, 10)


def test_generator_weight_average_follows_each_step_by_hand(digits):
  _, generator, discriminator, state, step = hinge_setup(generator_ema_decay=0.75)
  batcher = batching.EpochBatcher({"image": digits.train_images, "label": digits.train_labels},
                                  32, seed=0)
  expected = jax.device_get(state.generator.params)  # the average starts at the initial ones
  for i in range(3):
    state, _ = step(state, batcher.batch(i), jax.random.PRNGKey(1))
    expected = jax.tree.map(lambda avg, new: 0.75 * avg + 0.25 * new, expected,
                            jax.device_get(state.generator.params))
  average = jax.device_get(state.generator_ema["params"])
  for want, got, last in zip(jax.tree.leaves(expected), jax.tree.leaves(average),
                             jax.tree.leaves(jax.device_get(state.generator.params))):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
  assert any(not np.allclose(got, last) for got, last in zip(
      jax.tree.leaves(average), jax.tree.leaves(jax.device_get(state.generator.params))))
  # Without a decay the state keeps no average and the phase hands on the last variables.
  state = hinge_setup(generator_ema_decay=0.0)[3]
  assert state.generator_ema is None
  handed = acgan.handed_variables(state, standing=None)
  for a, b in zip(jax.tree.leaves(handed), jax.tree.leaves(state.generator.variables)):
    np.testing.assert_array_equal(a, b)


def test_averaged_generator_gets_the_batchnorm_statistics_of_its_own_samples():
  _, generator, _, state, _ = hinge_setup(generator_ema_decay=0.5)
  # An average far from the last parameters: every parameter tripled, so the
  # last generator's statistics (zero mean, unit variance at initialisation)
  # no longer fit its layers' inputs.
  average = jax.tree.map(lambda p: 3.0 * p, state.generator.params)
  state = state.replace(generator_ema={"params": average})
  standing = acgan.standing_statistics(generator, 32, 10, jax.random.PRNGKey(3))
  handed = acgan.handed_variables(state, standing)
  for a, b in zip(jax.tree.leaves(handed["params"]), jax.tree.leaves(average)):
    np.testing.assert_array_equal(a, b)
  z = jax.random.normal(jax.random.PRNGKey(4), (2048, 32))
  labels = jnp.arange(2048) % 10
  on_batch, _ = generator.apply(handed, z, labels, train=True, mutable=["batch_stats"])
  with_standing = generator.apply(handed, z, labels, train=False)
  with_last = generator.apply({"params": average, "batch_stats": state.generator.batch_stats},
                              z, labels, train=False)
  standing_gap = float(jnp.mean(jnp.abs(with_standing - on_batch)))
  last_gap = float(jnp.mean(jnp.abs(with_last - on_batch)))
  assert standing_gap < 0.01 < 0.1 < last_gap, (standing_gap, last_gap)
  # The same latents every call: the same statistics.
  again = standing(average, state.generator.batch_stats)
  for a, b in zip(jax.tree.leaves(again), jax.tree.leaves(handed)):
    np.testing.assert_array_equal(a, b)


def test_each_network_updates_only_its_own_batch_statistics(digits):
  c = gan_config()
  _, state, step, _ = gan_setup(c)
  before = jax.device_get(state)
  batch = {"image": jnp.asarray(digits.train_images[:32]),
           "label": jnp.asarray(digits.train_labels[:32])}
  after = jax.device_get(step(state, batch, jax.random.PRNGKey(0))[0])
  assert before.critic.batch_stats == after.critic.batch_stats == {}
  changed = jax.tree.map(lambda a, b: not np.array_equal(a, b),
                         before.generator.batch_stats, after.generator.batch_stats)
  assert all(jax.tree.leaves(changed))


def test_unconditional_gan_has_one_label_and_no_class_loss(digits):
  c = gan_config(conditional=False)
  _, state, step, sample = gan_setup(c)
  batch = {"image": jnp.asarray(digits.train_images[:32]),
           "label": jnp.asarray(digits.train_labels[:32])}
  state, metrics = step(state, batch, jax.random.PRNGKey(0))
  # d_loss is the source loss alone: at initialisation near 2·log 2.
  assert abs(float(metrics["d_loss"]) - 2 * np.log(2)) < 0.3
  _, labels = sample(state.generator.variables, jax.random.PRNGKey(0), 8)
  assert np.all(np.asarray(labels) == 0)


def test_acgan_eight_devices_agree_with_one(digits):
  c = gan_config(batch_size=16)
  results = []
  batcher = batching.EpochBatcher({"image": digits.train_images, "label": digits.train_labels},
                                    16, seed=0)
  for devices in (jax.devices()[:1], jax.devices()):
    with parallel.using_devices(devices):
      generator, discriminator = acgan.build_networks(c, 10, 1, 32)
      state = acgan.create_state(generator, discriminator, jax.random.PRNGKey(0), c,
                                 (32, 32, 1), 10)
      repl = parallel.replicated()
      step = jax.jit(acgan.make_step(generator, discriminator, c, 10),
                     in_shardings=(repl, parallel.batch_sharded(), repl),
                     out_shardings=(repl, repl))
      for i in range(2):
        state, metrics = step(state, batcher.batch(i), jax.random.PRNGKey(1))
      results.append(jax.device_get((state.critic.params, state.generator.batch_stats,
                                     metrics)))
  for a, b in zip(jax.tree.leaves(results[0]), jax.tree.leaves(results[1])):
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------------------
# Distillation on real + synthetic inputs.


def distill_setup(teacher, digits, p_fake, batch_size=8):
  c = configs.gan_tsc.distill_phase(
      configs.common.model("lenet5_half", 10), configs.common.optimizer("adam", 1e-3),
      teacher="teacher", generator="gan", p_fake=p_fake, loss="l2", batch_size=batch_size,
      num_steps=100)
  generator, gan_state, _, sample = gan_setup(gan_config())
  student = models.build_classifier(c.student)
  state, schedule = shared.create_classifier_state(student, jax.random.PRNGKey(3),
                                                   digits.image_shape, c.optimizer, 100)
  step = jax.jit(students.make_distill_step(teacher.model, student, digits, schedule, loss=c.loss,
                                            temperature=c.temperature, p_fake=c.p_fake,
                                            sample=sample))
  batcher = batching.EpochBatcher({"image": digits.train_images}, batch_size, seed=0)
  return state, step, batcher, gan_state.generator.variables


def count_synthetic(teacher, digits, p_fake, n):
  state, step, batcher, g_vars = distill_setup(teacher, digits, p_fake)
  synthetic = 0
  for i in range(n):
    state, metrics = step(state, batcher.batch(i), jax.random.PRNGKey(4), teacher.variables,
                          g_vars)
    synthetic += int(metrics["synthetic_batch"])
  return synthetic


def test_share_of_synthetic_batches_matches_p_fake(teacher, digits):
  n = 150
  synthetic = count_synthetic(teacher, digits, 0.8, n)
  # Binomial(150, 0.8): within 4 standard deviations (±19 batches).
  assert abs(synthetic - 0.8 * n) <= 4 * np.sqrt(n * 0.8 * 0.2), synthetic
  assert count_synthetic(teacher, digits, 0.0, 20) == 0
  assert count_synthetic(teacher, digits, 1.0, 20) == 20


def test_distill_on_gan_inputs_learns_and_leaves_teacher_and_generator_frozen(teacher, digits):
  state, step, batcher, g_vars = distill_setup(teacher, digits, 0.8, batch_size=32)
  frozen = jax.device_get((teacher.variables, g_vars))
  real, synthetic = [], []
  for i in range(100):
    state, metrics = step(state, batcher.batch(i), jax.random.PRNGKey(5), teacher.variables,
                          g_vars)
    (synthetic if metrics["synthetic_batch"] else real).append(float(metrics["distill_loss"]))
  # The teacher is sure of real digits and not of an untrained generator's images, so
  # the two kinds of batch have losses some 400x apart: each must fall on its own.
  assert np.mean(real[-3:]) < 0.85 * np.mean(real[:3]), real
  assert np.mean(synthetic[len(synthetic) // 2:]) < 0.75 * np.mean(synthetic[:5]), synthetic
  for a, b in zip(jax.tree.leaves(frozen), jax.tree.leaves((teacher.variables, g_vars))):
    np.testing.assert_array_equal(a, np.asarray(b))


def test_generator_of_the_wrong_shape_is_refused():
  c = gan_config()
  generator, discriminator = acgan.build_networks(c, 10, 1, 28)
  variables = generator.init(jax.random.PRNGKey(0), jnp.zeros((1, 32)), jnp.zeros((1,), jnp.int32))
  trained = TrainedGenerator(generator, variables, None, {},
                             sample=acgan.make_sampler(generator, 32, 10))
  with pytest.raises(ValueError, match=r"\(28, 28, 1\) but the teacher takes \(32, 32, 1\)"):
    distill.check_generator(trained, (32, 32, 1), "student")


def test_p_fake_without_a_generator_is_refused(launcher, tmp_path):
  with pytest.raises(ValueError, match="student.generator='nope' is not a phase"):
    launcher([f"--config={ROOT}/configs/gan_tsc_digits.py:smoke", f"--workdir={tmp_path}",
              "--config.student.generator=nope"])
  with pytest.raises(ValueError, match=r"student.p_fake=1.5: must be a probability in \[0, 1\]"):
    launcher([f"--config={ROOT}/configs/gan_tsc_digits.py:smoke", f"--workdir={tmp_path}",
              "--config.student.p_fake=1.5"])


# ---------------------------------------------------------------------------
# The authors' image recipe: noisy teacher labels, ½Σ L2, uint8 generated images.


def authors_step(teacher_model, digits, *, loss="l2", teacher_dropout=False):
  student = models.build_classifier(configs.common.model("tsc_lenet", 10, widths=(8, 16, 32)))
  state, schedule = shared.create_classifier_state(student, jax.random.PRNGKey(3),
                                                   digits.image_shape,
                                                   configs.common.optimizer("adam", 1e-4), 10)
  step = jax.jit(students.make_distill_step(teacher_model, student, digits, schedule, loss=loss,
                                            temperature=1.0, teacher_dropout=teacher_dropout))
  batch = batching.EpochBatcher({"image": digits.train_images}, 16, seed=0).batch(0)
  return lambda key, variables: step(state, batch, jax.random.PRNGKey(key), variables, {})[1]


def test_teacher_dropout_makes_the_targets_noisy_and_l2_half_halves_the_loss(teacher, digits):
  nin = models.build_classifier(configs.common.model("nin", 10, widths=(8,) * 8 + (16,)))
  nin_variables = models.init_variables(nin, jax.random.PRNGKey(0), digits.image_shape)
  losses = lambda step: [float(step(k, nin_variables)["distill_loss"]) for k in (1, 2)]
  noisy = losses(authors_step(nin, digits, teacher_dropout=True))
  clean = losses(authors_step(nin, digits))
  assert noisy[0] != noisy[1]  # other dropout masks, other targets
  assert clean[0] == clean[1]  # eval mode: the key changes nothing on a real batch
  half = losses(authors_step(nin, digits, loss="l2_half"))
  assert half[0] == pytest.approx(0.5 * clean[0], rel=1e-6)


def test_quantized_generated_images_sit_on_uint8_levels():
  images = jax.random.uniform(jax.random.PRNGKey(0), (4, 8, 8, 1), minval=-1.0, maxval=1.0)
  mean, std = np.full((8, 8, 1), 0.3, np.float32), (1 / 255,)
  quantized = np.asarray(pixels.from_tanh_range(images, mean, std, quantize=True))
  levels = quantized + 255 * mean  # pixel_mean normalisation: back to 0..255
  np.testing.assert_allclose(levels, np.round(levels), atol=1e-3)
  exact = np.asarray(pixels.from_tanh_range(images, mean, std))
  assert 0 < np.abs(quantized - exact).max() <= 0.5 + 1e-3


def test_heldout_accuracy_reads_the_last_training_images(teacher, digits):
  import dataclasses
  c = configs.gan_tsc.distill_phase(configs.common.model("lenet5", 10),
                                    configs.common.optimizer("adam", 1e-3), teacher="teacher",
                                    batch_size=16, num_steps=1, real_examples=1000,
                                    heldout_examples=50, eval_batch_size=64)
  x = image_data.preprocess(digits.train_images[-50:], digits)
  predicted = np.asarray(jnp.argmax(teacher.model.apply(teacher.variables, x), -1))
  for labels, expected in ((predicted, 1.0), ((predicted + 1) % 10, 0.0)):
    data = dataclasses.replace(digits, train_labels=np.concatenate(
        [digits.train_labels[:-50], labels.astype(np.int32)]))
    metrics = distill.heldout_and_test_metrics(c, "student", teacher.model, data)(
        teacher.variables)
    assert metrics["heldout_accuracy"] == expected
    assert metrics["test_accuracy"] > 0.5  # the test split, untouched
  c.real_examples = len(digits.train_images) - 49  # overlaps the held-out images
  with pytest.raises(ValueError, match="must leave out the student's real images"):
    distill.heldout_and_test_metrics(c, "student", teacher.model, digits)


def test_teacher_dropout_with_a_batchnorm_teacher_is_refused(launcher, tmp_path):
  with pytest.raises(ValueError, match="'teacher' has BatchNorm"):
    launcher([f"--config={ROOT}/configs/gan_tsc_digits.py:smoke", f"--workdir={tmp_path}",
              "--config.teacher.model.name=lenet5_bn", "--config.student.teacher_dropout=True"])


# ---------------------------------------------------------------------------
# TSC Score.


def test_tsc_score_is_one_for_real_data_and_low_for_noise(teacher, digits):
  scorer = tsc_phase.TscScorer(teacher, digits, configs.common.model("lenet5_half", 10),
                               configs.common.optimizer("adam", 3e-3), batch_size=32, num_seeds=2)
  real = scorer.score("real", digits.train_images)
  assert real.tsc_score == 1.0
  assert real.accuracies == list(scorer.real_accuracies())
  assert min(real.accuracies) > 0.5, real
  noise = np.random.default_rng(0).integers(0, 256, digits.train_images.shape, np.uint8)
  noisy = scorer.score("noise", noise)
  assert noisy.tsc_score < 0.6, noisy
  assert real.tsc_stderr == 0.0  # its own runs are the denominator
  assert noisy.tsc_stderr == pytest.approx(
      tsc_score.score(noisy.accuracies, real.accuracies)[1])
  # Real digits: the teacher is confident and spread over classes; noise is not.
  assert real.inception_score > 5 > noisy.inception_score
  # The Inception Score of real images can read held-out ones instead (the test
  # split), where the teacher is less sure than on the images it learned.
  held_out = scorer.score("real", digits.train_images, digits.test_images)
  assert held_out.tsc_score == 1.0
  assert held_out.inception_score == pytest.approx(
      scorer.inception_score(digits.test_images)[0])
  assert held_out.inception_score != pytest.approx(real.inception_score)
  table = tsc_score.table([real, noisy])
  assert "| real | 1.000 ±" in table and "| noise |" in table


def test_tsc_stderr_counts_the_denominator_by_the_delta_method():
  # By hand: R = 0.8 / 0.95; residuals c - R r = 0, -0.0578947, +0.0578947;
  # sqrt(2 * 0.0578947^2 / (3 * 2)) / 0.95 = 0.0351848.
  candidate, real = [0.8, 0.7, 0.9], [0.95, 0.9, 1.0]
  value, stderr = tsc_score.score(candidate, real)
  assert value == pytest.approx(0.8 / 0.95)
  assert stderr == pytest.approx(0.0351848, abs=1e-7)
  # The delta method written with variances and covariance gives the same.
  c, r = np.array(candidate), np.array(real)
  cov = np.cov(c, r)  # sample (co)variances, ddof 1
  by_moments = value * np.sqrt((cov[0, 0] / c.mean() ** 2 + cov[1, 1] / r.mean() ** 2
                                - 2 * cov[0, 1] / (c.mean() * r.mean())) / 3)
  assert stderr == pytest.approx(by_moments)
  # A candidate that moves with the real runs has a smaller error than the
  # numerator's spread alone; a constant one still gets the denominator's.
  assert stderr < np.std(c, ddof=1) / np.sqrt(3) / r.mean()
  assert tsc_score.score([0.5, 0.5, 0.5], real)[1] > 0
  assert np.isnan(tsc_score.score([0.5], [0.9])[1])
  with pytest.raises(ValueError, match="pair up"):
    tsc_score.score([0.5, 0.6], real)


def test_tanh_to_uint8_inverts_to_tanh_range():
  out = pixels.tanh_to_uint8(np.array([-1.0, 0.0, 1.0, 2.0, -3.0]))
  np.testing.assert_array_equal(out, [0, 128, 255, 255, 0])
  images = np.array([0, 127, 255], np.uint8)
  back = np.asarray(pixels.to_tanh_range(images))
  np.testing.assert_array_equal(pixels.tanh_to_uint8(back), images)


# ---------------------------------------------------------------------------
# Configs through the launcher.


def check_table(tmp_path, phases):
  table = open(tmp_path / "results.md").read()
  for phase in phases:
    assert f"| {phase} |" in table


def test_digits_smoke_resume_tsc_score_and_restore(launcher, tmp_path):
  args = [f"--config={ROOT}/configs/gan_tsc_digits.py:smoke,baselines,tsc",
          f"--workdir={tmp_path}/a"]
  launcher(args)
  check_table(tmp_path / "a", ("teacher", "gan", "student", "student_real_only",
                               "student_gan_only", "tsc"))
  results = json.load(open(tmp_path / "a" / "results.json"))
  tsc = results["tsc"]
  # The TSC Score is the ratio of the two sets' mean student accuracies, by hand.
  assert tsc["tsc_score"] == pytest.approx(np.mean(tsc["accuracies"]) /
                                           np.mean(tsc["real_set_accuracies"]))
  assert len(tsc["accuracies"]) == 2 and tsc["num_samples"] == 64
  assert os.path.exists(tmp_path / "a" / "tsc" / "table.md")
  # A rerun finds every phase finished and trains nothing, the TSC Score included.
  written = {path: os.path.getmtime(tmp_path / "a" / path)
             for path in ("gan/checkpoints", "tsc/table.md")}
  launcher(args)
  assert {path: os.path.getmtime(tmp_path / "a" / path) for path in written} == written
  # Another run takes the finished GAN instead of training one: the same generator.
  launcher([f"--config={ROOT}/configs/gan_tsc_digits.py:smoke", f"--workdir={tmp_path}/b",
            "--config.pipeline=('teacher', 'gan')", f"--config.gan.checkpoint={tmp_path}/a/gan"])
  restored = json.load(open(tmp_path / "b" / "results.json"))["gan"]
  assert restored["restored_from"] == f"{tmp_path}/a/gan"
  assert restored["teacher_agreement"] == pytest.approx(results["gan"]["teacher_agreement"])
  assert not os.path.exists(tmp_path / "b" / "gan" / "checkpoints")


@pytest.mark.parametrize("gan", ["acgan", "hinge_averaged"])
def test_gan_phase_resumes_exactly(launcher, tmp_path, kill_phase, gan):
  """4 straight steps equal 3 steps, a kill (the checkpoint of step 2 kept), and a rerun;
  for the hinge GAN with a weight average, the average too, and another run that takes
  the finished phase hands on the same averaged generator."""
  variant = "smoke" if gan == "acgan" else "smoke,gan=hinge"
  base = [f"--config={ROOT}/configs/gan_tsc_digits.py:{variant}", "--config.pipeline=('gan',)",
          "--config.gan.teacher="]
  if gan == "hinge_averaged":
    base.append("--config.gan.generator_ema_decay=0.5")
  launcher(base + [f"--workdir={tmp_path}/straight"])
  kill_phase("gan", 3)
  with pytest.raises(KeyboardInterrupt):
    launcher(base + [f"--workdir={tmp_path}/resumed"])
  assert checkpoints.PhaseCheckpoints(str(tmp_path / "resumed" / "gan")).latest_step() == 2
  launcher(base + [f"--workdir={tmp_path}/resumed"])
  straight = checkpoints.PhaseCheckpoints(str(tmp_path / "straight" / "gan"), 2)
  resumed = checkpoints.PhaseCheckpoints(str(tmp_path / "resumed" / "gan"), 2)
  assert straight.latest_step() == resumed.latest_step() == 4
  a = json.load(open(tmp_path / "straight" / "results.json"))["gan"]
  b = json.load(open(tmp_path / "resumed" / "results.json"))["gan"]
  assert a["steps"] == b["steps"] == 4
  sa, sb = straight.manager.restore(4), resumed.manager.restore(4)
  assert (sa["generator_ema"] is not None) == (gan == "hinge_averaged")
  for x, y in zip(jax.tree.leaves(sa), jax.tree.leaves(sb)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-7)
  if gan == "hinge_averaged":
    config = configs.load("gan_tsc_digits", variant, lock=False)
    config.gan.generator_ema_decay, config.gan.teacher = 0.5, ""
    finished = acgan.run(config, "gan", str(tmp_path / "straight"), {})
    config.gan.checkpoint = str(tmp_path / "straight" / "gan")
    taken = acgan.run(config, "gan", str(tmp_path / "taken"), {})
    assert taken.metrics["restored_from"] == config.gan.checkpoint
    for x, y in zip(jax.tree.leaves(taken.variables), jax.tree.leaves(finished.variables)):
      np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    for x, p in zip(jax.tree.leaves(finished.variables["params"]),
                    jax.tree.leaves(sa["generator_ema"]["params"])):
      np.testing.assert_array_equal(np.asarray(x), np.asarray(p))


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST),
                    reason="needs /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)")
@pytest.mark.parametrize("variant", ["smoke,mlp_student", "smoke,small_data,baselines",
                                     "smoke,authors,baselines"])
def test_fashion_mnist_smoke(launcher, tmp_path, variant):
  launcher([f"--config={ROOT}/configs/gan_tsc_fashion_mnist.py:{variant}", f"--workdir={tmp_path}"])
  students = ("student", "student_real_only", "student_gan_only") if "baselines" in variant else (
      "student",)
  check_table(tmp_path, ("teacher", "gan") + students)
  config = json.load(open(tmp_path / "config.json"))
  expected_student = ("mlp" if "mlp_student" in variant else
                      "tsc_lenet" if "authors" in variant else "lenet5_half")
  assert {config[s]["student"]["name"] for s in students} == {expected_student}
  if "authors" in variant:
    assert config["teacher"]["model"]["name"] == "nin"
    assert config["data"]["normalization"] == "pixel_mean"
    assert {(config[s]["loss"], config[s]["teacher_dropout"], config[s]["real_examples"])
            for s in students} == {("l2_half", True, 64)}
  if "small_data" in variant:
    assert {config[s]["loss"] for s in students} == {"kl"}
    assert [config[s]["p_fake"] for s in students] == [0.8, 0.0, 1.0]


def test_mlp_student_width_is_one_variant_argument():
  config = configs.load("gan_tsc_fashion_mnist", "mlp_student,student_hidden=64")
  student = models.build_classifier(config.student.student)
  variables = models.init_variables(student, jax.random.PRNGKey(0), (32, 32, 1))
  # 32x32 inputs flattened -> 64 hidden -> 10 classes.
  assert models.count_params(variables["params"]) == 32 * 32 * 64 + 64 + 64 * 10 + 10
