"""The data-free terms after DAFL: BN statistics, adversarial L1, image priors, many
student updates per iteration, the replay memory, and their configs."""

import json
import os
import types

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gan_tsc import checkpoints, configs, losses, models, parallel
from gan_tsc.models.classifiers import BN_INPUT_STATS
from gan_tsc.phases import dafl, shared
from gan_tsc.trained import TrainedClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------------
# Losses against hand computations.


def test_bn_statistics_by_hand():
  stats = {"BatchNorm_0": {"input": ((jnp.array([1.0, 2.0]), jnp.array([4.0, 1.0])),)},
           "Block": {"bn": {"input": ((jnp.array([0.0]), jnp.array([2.0])),)}}}
  running = {"BatchNorm_0": {"mean": jnp.array([1.0, 0.0]), "var": jnp.array([1.0, 1.0])},
             "Block": {"bn": {"mean": jnp.array([3.0]), "var": jnp.array([1.0])}}}
  # ‖(0, 2)‖ + ‖(3, 0)‖ + ‖(−3)‖ + ‖(1)‖
  assert float(losses.bn_statistics(stats, running)) == pytest.approx(2 + 3 + 3 + 1)


def test_image_priors_and_l1_by_hand():
  image = np.zeros((1, 3, 3, 1))
  image[0, 1, 1, 0] = 1.0  # one bright pixel: 2 of 6 vertical and 2 of 6 horizontal pairs differ
  assert float(losses.total_variation(jnp.asarray(image))) == pytest.approx(2 / 6 + 2 / 6)
  assert float(losses.l2_prior(jnp.asarray(image))) == pytest.approx(1 / 9)
  s, t = jnp.array([[1.0, -1.0], [0.0, 2.0]]), jnp.array([[0.0, 1.0], [0.0, 0.0]])
  assert float(losses.logit_l1(s, t)) == pytest.approx((1 + 2 + 0 + 2) / 4)


def lenet5_bn():
  return models.build_classifier(ml_collections.ConfigDict(dict(name="lenet5_bn", num_classes=10)))


def test_lenet5_bn_records_its_batch_norm_inputs_in_eval_mode():
  model = lenet5_bn()
  variables = models.init_variables(model, jax.random.PRNGKey(0), (32, 32, 1))
  x = jax.random.normal(jax.random.PRNGKey(1), (5, 32, 32, 1))
  logits, recorded = model.apply(variables, x, train=False, mutable=[BN_INPUT_STATS])
  np.testing.assert_array_equal(logits, model.apply(variables, x, train=False))
  conv0 = jax.lax.conv_general_dilated(
      x, variables["params"]["Conv_0"]["kernel"], (1, 1), "VALID",
      dimension_numbers=("NHWC", "HWIO", "NHWC"))
  (mean, var), = recorded[BN_INPUT_STATS]["BatchNorm_0"]["input"]
  np.testing.assert_allclose(mean, conv0.mean((0, 1, 2)), rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(var, conv0.var((0, 1, 2)), rtol=1e-4, atol=1e-6)
  assert sorted(recorded[BN_INPUT_STATS]) == ["BatchNorm_0", "BatchNorm_1", "BatchNorm_2"]
  # Fresh running statistics (mean 0, var 1): the loss is the distance to them.
  expected = sum(np.linalg.norm(m) + np.linalg.norm(v - 1.0)
                 for (m, v), in (r["input"] for r in recorded[BN_INPUT_STATS].values()))
  assert float(losses.bn_statistics(recorded[BN_INPUT_STATS], variables["batch_stats"])) == \
      pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------------------
# The step with the new terms.


def phase_config(method="bn_adversarial", batch_size=16, **settings):
  block = configs.dafl.dafl_phase(
      configs.common.model("lenet5_half", 10), configs.dafl.dafl_generator(8, 32, 1, width=16),
      generator_optimizer=configs.common.optimizer("adam", 1e-2),
      student_optimizer=configs.common.optimizer("adam", 2e-3, schedule="cosine"),
      batch_size=batch_size, num_steps=10, one_hot=1.0, information_entropy=5.0, activation=0.1)
  return configs.dafl.datafree_method(
      block, method, dafl_weights=dict(one_hot=1.0, information_entropy=5.0, activation=0.1),
      **settings)


def bn_teacher():
  model = lenet5_bn()
  variables = models.init_variables(model, jax.random.PRNGKey(1), (32, 32, 1))
  # Running statistics far from what a fresh generator makes.
  variables["batch_stats"] = jax.tree.map(lambda x: x + 0.5, variables["batch_stats"])
  return TrainedClassifier(model, parallel.replicate(variables), None, {})


def setup(c, teacher, seed=0):
  generator, student = models.build_generator(c.generator), models.build_classifier(c.student)
  state, gs, ss = dafl.create_state(generator, student, jax.random.PRNGKey(seed), c,
                                    (32, 32, 1), c.num_steps)
  step = shared.jit_step(dafl.make_step(generator, teacher.model, student, c, gs, ss),
                         batch=None, frozen=1)
  return state, step, generator


def test_bn_statistics_term_alone_brings_generated_statistics_to_the_teachers():
  teacher = bn_teacher()
  c = phase_config()
  c.loss_weights.update({k: 0.0 for k in c.loss_weights})
  c.loss_weights.bn_statistics = 1.0
  state, step, _ = setup(c, teacher)
  bn = []
  for _ in range(30):
    state, metrics = step(state, None, jax.random.PRNGKey(3), teacher.variables)
    bn.append(float(metrics["loss_bn_statistics"]))
  assert np.mean(bn[-5:]) < 0.85 * np.mean(bn[:3]), bn
  assert "loss_adversarial" not in metrics  # weighted 0: not computed


def test_bn_statistics_needs_a_teacher_with_batch_norm():
  model = models.build_classifier(ml_collections.ConfigDict(dict(name="lenet5", num_classes=10)))
  teacher = TrainedClassifier(model, parallel.replicate(
      models.init_variables(model, jax.random.PRNGKey(0), (32, 32, 1))), None, {})
  c = phase_config()
  state, _, generator = setup(c, bn_teacher())
  with pytest.raises(dafl.DaflError, match="needs a teacher with BatchNorm"):
    dafl.check_teacher(teacher, generator, state.generator.variables, c, (32, 32, 1),
                       jax.random.PRNGKey(0))
  dafl.check_teacher(bn_teacher(), generator, state.generator.variables, c, (32, 32, 1),
                     jax.random.PRNGKey(0))


def test_dfad_updates_the_student_five_times_per_iteration_on_l1():
  teacher = bn_teacher()
  c = phase_config("dfad")
  assert (c.student_updates, c.student_loss, c.adversarial_loss) == (5, "l1", "l1")
  state, step, _ = setup(c, teacher)
  state, metrics = step(state, None, jax.random.PRNGKey(0), teacher.variables)
  assert int(state.generator.step) == 1 and int(state.student.step) == 5
  # The generator maximises the L1 discrepancy the student minimises.
  assert float(metrics["loss_adversarial"]) < 0
  assert float(metrics["generator_loss"]) == pytest.approx(float(metrics["loss_adversarial"]))
  # The student's schedule counts its updates: the cosine ends at num_steps x 5.
  state, metrics = step(state, None, jax.random.PRNGKey(0), teacher.variables)
  assert float(metrics["lr_student"]) == pytest.approx(
      float(2e-3 * 0.5 * (1 + np.cos(np.pi * 5 / 50))), rel=1e-5)


def test_l1_student_falls_over_steps():
  teacher = bn_teacher()
  c = phase_config("dfad", batch_size=32)
  state, step, _ = setup(c, teacher)
  l1 = []
  for _ in range(12):
    state, metrics = step(state, None, jax.random.PRNGKey(5), teacher.variables)
    l1.append(float(metrics["kd_loss"]))
  assert np.mean(l1[-3:]) < 0.7 * l1[0], l1


def test_replay_memory_holds_the_generated_batches_as_a_ring():
  teacher = bn_teacher()
  c = phase_config("bn_adversarial_replay", student_updates=2, replay_size=48, replay_mix=0.5)
  state, step, generator = setup(c, teacher)
  assert state.memory["images"].shape == (48, 32, 32, 1)
  key = jax.random.PRNGKey(0)
  g_before = jax.device_get(state.generator.variables)
  state, metrics = step(state, None, key, teacher.variables)
  assert int(state.memory["count"]) == 32 and int(metrics["replay_filled"]) == 32
  memory = jax.device_get(state.memory)
  # Its first 16 images are the generator's first batch, their logits the teacher's.
  z = jax.random.normal(jax.random.fold_in(key, 0), (16, 8))
  images = generator.apply(g_before, z, mutable=["batch_stats"])[0]
  np.testing.assert_allclose(memory["images"][:16], images, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(memory["logits"][:16],
                             teacher.model.apply(teacher.variables, images, train=False),
                             rtol=1e-4, atol=1e-4)
  assert np.abs(memory["images"][32:]).max() == 0  # not written yet
  state, metrics = step(state, None, key, teacher.variables)
  assert int(state.memory["count"]) == 64 and int(metrics["replay_filled"]) == 48
  wrapped = jax.device_get(state.memory["images"])
  np.testing.assert_array_equal(wrapped[16:32], memory["images"][16:32])  # kept
  assert np.abs(wrapped[:16] - memory["images"][:16]).max() > 0  # overwritten by batch 4
  assert np.abs(wrapped[32:]).max() > 0


def test_replayed_images_reach_the_student():
  teacher = bn_teacher()
  students = []
  for method in ("bn_adversarial", "bn_adversarial_replay"):
    c = phase_config(method, replay_size=32, replay_mix=0.5)
    state, step, _ = setup(c, teacher)
    for _ in range(3):
      state, _ = step(state, None, jax.random.PRNGKey(0), teacher.variables)
    students.append(jax.device_get(state.student.params))
  assert any(np.abs(a - b).max() > 0 for a, b in zip(jax.tree.leaves(students[0]),
                                                      jax.tree.leaves(students[1])))


def kl_update_by_hand(student_model, s, images, logits, temperature):
  """One student update towards `logits` on `images`, written out."""
  def kl(params):
    out, _ = student_model.apply({"params": params, "batch_stats": s.batch_stats}, images,
                                 train=True, mutable=["batch_stats"])
    return losses.kd_kl(out, logits, temperature)
  return s.apply_gradients(grads=jax.grad(kl)(s.params), batch_stats=s.batch_stats)


def assert_params_close(expected, params):
  for a, b in zip(jax.tree.leaves(expected), jax.tree.leaves(jax.device_get(params))):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=3e-5)  # Adam amplifies round-off near 0


def test_memory_only_updates_learn_from_the_memory_alone():
  """replay.updates: further student updates on batches drawn from the memory,
  after the fresh one; no generator or teacher pass, nothing written to the memory."""
  teacher = bn_teacher()
  c = phase_config("bn_adversarial_replay", student_updates=1, replay_size=32, replay_mix=0.5)
  c.student_optimizer.schedule = "constant"
  key = jax.random.PRNGKey(4)
  state, step, _ = setup(c, teacher)
  fresh_only, _ = step(state, None, key, teacher.variables)
  c.replay.updates = 3
  state, step, _ = setup(c, teacher)
  state, metrics = step(state, None, key, teacher.variables)
  assert int(state.generator.step) == 1 and int(state.student.step) == 4
  assert int(state.memory["count"]) == 16 and "kd_loss_replay" in metrics
  for a, b in zip(jax.tree.leaves(jax.device_get(fresh_only.memory)),
                  jax.tree.leaves(jax.device_get(state.memory))):
    np.testing.assert_array_equal(a, b)
  # By hand: three KL updates on 24 images drawn from the 16 remembered ones.
  student_model = models.build_classifier(c.student)
  memory, s = jax.device_get(fresh_only.memory), jax.device_get(fresh_only.student)
  iteration_key = jax.random.fold_in(key, 0)
  for j in range(3):
    pick = jax.random.randint(jax.random.fold_in(iteration_key, 2 + j), (24,), 0, 16)
    s = kl_update_by_hand(student_model, s, memory["images"][pick], memory["logits"][pick],
                          c.temperature)
  assert_params_close(s.params, state.student.params)
  assert any(np.abs(a - b).max() > 0 for a, b in zip(
      jax.tree.leaves(s.params), jax.tree.leaves(jax.device_get(fresh_only.student.params))))


def test_student_augment_shifts_and_flips_what_the_student_sees_not_the_memory():
  """student_augment: the memory keeps the images as generated; a memory-only
  update learns from their shifted, flipped views against the stored logits."""
  teacher = bn_teacher()
  c = phase_config("bn_adversarial_replay", student_updates=1, replay_size=32, replay_mix=0.5)
  c.student_optimizer.schedule = "constant"
  c.student_augment = ml_collections.ConfigDict(dict(kind="crop_flip", pad=2))
  key = jax.random.PRNGKey(5)
  state, step, _ = setup(c, teacher)
  fresh_only, _ = step(state, None, key, teacher.variables)  # the fresh update, augmented
  c.replay.updates = 1
  state, step, _ = setup(c, teacher)
  state, _ = step(state, None, key, teacher.variables)
  c.student_augment.kind = "none"
  plain_state, plain_step, _ = setup(c, teacher)
  plain, _ = plain_step(plain_state, None, key, teacher.variables)
  for a, b in zip(jax.tree.leaves(jax.device_get(plain.memory)),
                  jax.tree.leaves(jax.device_get(state.memory))):
    np.testing.assert_array_equal(a, b)
  assert any(np.abs(a - b).max() > 0 for a, b in zip(
      jax.tree.leaves(jax.device_get(plain.student.params)),
      jax.tree.leaves(jax.device_get(state.student.params))))
  # By hand: the memory-only update on the augmented views of its 24 draws.
  student_model = models.build_classifier(c.student)
  memory, s = jax.device_get(fresh_only.memory), jax.device_get(fresh_only.student)
  k = jax.random.fold_in(jax.random.fold_in(key, 0), 2)
  pick = jax.random.randint(k, (24,), 0, 16)
  images, logits = memory["images"][pick], memory["logits"][pick]
  shift_key, flip_key = jax.random.split(jax.random.fold_in(k, dafl._AUGMENT_STREAM))
  offsets = np.asarray(jax.random.randint(shift_key, (24, 2), 0, 5))
  flips = np.asarray(jax.random.bernoulli(flip_key, 0.5, (24, 1, 1, 1)))
  padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))
  views = np.stack([p[dy:dy + 32, dx:dx + 32] for p, (dy, dx) in zip(padded, offsets)])
  views = np.where(flips, views[:, :, ::-1], views)
  assert 0 < flips.sum() < 24 and np.abs(views - images).max() > 0
  s = kl_update_by_hand(student_model, s, views, logits, c.temperature)
  assert_params_close(s.params, state.student.params)


def test_memory_only_updates_count_in_the_students_schedule():
  teacher = bn_teacher()
  c = phase_config("bn_adversarial_replay", student_updates=2, replay_size=32, replay_mix=0.5)
  c.replay.updates = 2
  state, step, _ = setup(c, teacher)
  for _ in range(2):
    state, metrics = step(state, None, jax.random.PRNGKey(0), teacher.variables)
  assert int(state.student.step) == 8 and int(state.memory["count"]) == 64
  # The cosine ends at num_steps x 4 student updates; the second step starts at update 4.
  assert float(metrics["lr_student"]) == pytest.approx(
      float(2e-3 * 0.5 * (1 + np.cos(np.pi * 4 / 40))), rel=1e-5)


def test_replay_memory_resumes_from_a_checkpoint_exactly(tmp_path):
  teacher = bn_teacher()
  c = phase_config("bn_adversarial_replay", replay_size=32, replay_mix=1.0)
  key = jax.random.PRNGKey(2)
  state, step, _ = setup(c, teacher)
  for _ in range(4):
    state, _ = step(state, None, key, teacher.variables)
  straight = jax.device_get(state)
  state, step, _ = setup(c, teacher)
  for _ in range(2):
    state, _ = step(state, None, key, teacher.variables)
  saver = checkpoints.PhaseCheckpoints(str(tmp_path / "dafl"), 2)
  saver.save(2, state)
  saver.close()
  template, _, _ = setup(c, teacher)
  reader = checkpoints.PhaseCheckpoints(str(tmp_path / "dafl"), 2)
  state = reader.restore(template, 2)
  reader.close()
  for _ in range(2):
    state, _ = step(state, None, key, teacher.variables)
  for a, b in zip(jax.tree.leaves(straight), jax.tree.leaves(jax.device_get(state))):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("settings, message", [
    (dict(student_updates=0), "student_updates must be >= 1"),
    (dict(replay_size=40), "multiple of batch_size"),
    (dict(replay_size=32, replay_mix=0.0), "replay.mix"),
    (dict(replay_size=0, replay_updates=2), "needs a replay memory"),
])
def test_bad_settings_are_refused(settings, message):
  method = "bn_adversarial_replay" if "replay_size" in settings else "bn_adversarial"
  c = phase_config(method, **settings)
  with pytest.raises(dafl.DaflError, match=message):
    setup(c, bn_teacher())


def test_unknown_loss_or_method_is_refused():
  c = phase_config()
  c.student_loss = "mse"
  with pytest.raises(dafl.DaflError, match="student_loss must be one of"):
    setup(c, bn_teacher())
  for kind, pad in (("mixup", 2), ("crop_flip", -1)):
    c = phase_config()
    c.student_augment = ml_collections.ConfigDict(dict(kind=kind, pad=pad))
    with pytest.raises(dafl.DaflError, match="student_augment.kind must be one of"):
      setup(c, bn_teacher())
  with pytest.raises(ValueError, match="Unknown data-free method"):
    phase_config("deepinversion")


def test_dafl_method_is_the_papers_step():
  """method=dafl sets exactly DAFL's terms: the step equals a dafl_phase block's."""
  teacher = bn_teacher()
  results = []
  for c in (phase_config("dafl"), configs.dafl.dafl_phase(
      configs.common.model("lenet5_half", 10), configs.dafl.dafl_generator(8, 32, 1, width=16),
      generator_optimizer=configs.common.optimizer("adam", 1e-2),
      student_optimizer=configs.common.optimizer("adam", 2e-3, schedule="cosine"),
      batch_size=16, num_steps=10, one_hot=1.0, information_entropy=5.0, activation=0.1)):
    state, step, _ = setup(c, teacher)
    state, metrics = step(state, None, jax.random.PRNGKey(0), teacher.variables)
    assert sorted(k for k in metrics if k.startswith("loss_")) == [
        "loss_activation", "loss_information_entropy", "loss_one_hot"]
    results.append(jax.device_get(state))
  for a, b in zip(jax.tree.leaves(results[0]), jax.tree.leaves(results[1])):
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# Configs through the launcher.


@pytest.mark.parametrize("name, variant", [
    ("datafree_digits", "smoke"), ("datafree_digits", "smoke,method=dfad"),
    # The baselines' wiring: test_dafl.py's dafl_digits smoke.
    pytest.param("datafree_fashion_mnist", "smoke", marks=pytest.mark.skipif(
        not os.path.isdir("/usr/share/datasets/fashion-mnist"),
        reason="needs /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)")),
    # datafree_cifar: at full size in tests/test_full_size.py.
])
def test_datafree_configs(launcher, tmp_path, name, variant):
  launcher([f"--config={ROOT}/configs/{name}.py:{variant}", f"--workdir={tmp_path}"])
  table = open(tmp_path / "results.md").read()
  for phase in ("teacher", "dafl") + (("student_scratch", "student_kd")
                                      if "baselines" in variant else ()):
    assert f"| {phase} |" in table


def test_the_generator_handed_on_samples_what_the_student_saw_in_tanh_range():
  c = phase_config(batch_size=8)
  state, _, generator = setup(c, bn_teacher())
  dataset = types.SimpleNamespace(mean=np.array([0.3]), std=np.array([0.2]))
  trained = dafl.trained_generator(generator, c, dataset, state.generator.variables, {})
  key = jax.random.PRNGKey(3)
  images, labels = trained.sample_on_host(key, 8)
  assert labels is None and images.shape == (8, 32, 32, 1)
  # The same draw through the generator (batch statistics of its own batch), mapped
  # by hand: pixels = x * std + mean, clipped to [0, 1], then to [-1, 1].
  z = jax.random.normal(jax.random.fold_in(key, 0), (8, c.generator.latent_dim))
  raw, _ = generator.apply(state.generator.variables, z, mutable=["batch_stats"])
  np.testing.assert_allclose(images, np.clip(np.asarray(raw) * 0.2 + 0.3, 0, 1) * 2 - 1,
                             atol=1e-6)
  assert images.std() > 0.01
  with pytest.raises(dafl.DaflError, match="unconditional"):
    trained.sample_on_host(key, 8, labels=np.zeros(8, np.int32))


def test_tsc_score_rates_the_data_free_generator(launcher, tmp_path):
  launcher([f"--config={ROOT}/configs/datafree_digits.py:smoke,tsc", f"--workdir={tmp_path}"])
  tsc = json.load(open(tmp_path / "results.json"))["tsc"]
  assert len(tsc["accuracies"]) == 2 and tsc["num_samples"] == 64
  assert tsc["tsc_score"] == pytest.approx(np.mean(tsc["accuracies"]) /
                                           np.mean(tsc["real_set_accuracies"]))
  assert "| tsc |" in open(tmp_path / "results.md").read()


def test_torch_init_reaches_the_generator_and_student():
  c = phase_config()
  flax_state, _, _ = setup(c, bn_teacher())
  c.generator.init = "torch"
  c.student.init = "torch"
  torch_state, _, _ = setup(c, bn_teacher())
  # The generator's dense layer: fan_in = latent 8, so |w| <= 1/sqrt(8) and a bias drawn too.
  dense = jax.device_get(torch_state.generator.params["dense"])
  assert np.abs(dense["kernel"]).max() <= 1 / np.sqrt(8) and np.abs(dense["bias"]).max() > 0
  assert np.abs(jax.device_get(flax_state.generator.params["dense"]["bias"])).max() == 0
  conv = jax.device_get(torch_state.student.params["Conv_0"])
  assert np.abs(conv["bias"]).max() > 0 and np.abs(conv["kernel"]).max() <= 1 / 5
