"""DAFL: losses by hand, frozen teacher, gradient routing, compile once, 8 = 1."""

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

from gan_tsc import configs
from gan_tsc import losses, models, parallel
from gan_tsc.phases import dafl, shared
from gan_tsc.trained import TrainedClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------------
# Losses against hand computations.

LOGITS = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [1.0, 1.0, 0.0], [-2.0, 0.0, 2.5]])


def softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def test_one_hot_loss_by_hand():
  p = softmax(LOGITS)
  expected = -np.mean([np.log(p[i, np.argmax(LOGITS[i])]) for i in range(4)])
  assert float(losses.dafl_one_hot(jnp.asarray(LOGITS))) == pytest.approx(expected, rel=1e-5)


def test_information_entropy_uses_log10_of_the_batch_mean():
  mean = softmax(LOGITS).mean(0)
  expected = sum(m * np.log10(m) for m in mean)
  assert float(losses.dafl_information_entropy(jnp.asarray(LOGITS))) == pytest.approx(expected, rel=1e-5)
  # Balanced predictions reach the minimum −log10(K).
  balanced = jnp.asarray(np.eye(3) * 20.0)
  assert float(losses.dafl_information_entropy(balanced)) == pytest.approx(-np.log10(3), rel=1e-4)


def test_activation_loss():
  features = np.array([[1.0, -2.0], [0.5, 0.0]])
  assert float(losses.dafl_activation(jnp.asarray(features))) == pytest.approx(-3.5 / 4)


def test_kd_kl_by_hand():
  student = LOGITS[::-1].copy()
  p, q = softmax(LOGITS), softmax(student)
  expected = np.mean([np.sum(p[i] * np.log(p[i] / q[i])) for i in range(4)])
  assert float(losses.kd_kl(jnp.asarray(student), jnp.asarray(LOGITS))) == pytest.approx(expected, rel=1e-5)
  t = 4.0
  p, q = softmax(LOGITS / t), softmax(student / t)
  expected = t * t * np.mean([np.sum(p[i] * np.log(p[i] / q[i])) for i in range(4)])
  assert float(losses.kd_kl(jnp.asarray(student), jnp.asarray(LOGITS), t)) == pytest.approx(expected, rel=1e-5)
  assert float(losses.kd_kl(jnp.asarray(LOGITS), jnp.asarray(LOGITS))) == pytest.approx(0, abs=1e-6)


def test_logit_l2_by_hand():
  student = LOGITS + 1.0
  assert float(losses.logit_l2(jnp.asarray(student), jnp.asarray(LOGITS))) == pytest.approx(3.0)


# ---------------------------------------------------------------------------
# The step.


def phase_config(batch_size=16, generator_optimizer=None, **weights):
  w = dict(one_hot=1.0, information_entropy=5.0, activation=0.1)
  w.update(weights)
  return configs.dafl.dafl_phase(
      configs.common.model("lenet5_half", 10), configs.dafl.dafl_generator(8, 32, 1, width=16),
      generator_optimizer=generator_optimizer or configs.common.optimizer("adam", 0.2),
      student_optimizer=configs.common.optimizer("adam", 2e-3),
      batch_size=batch_size, num_steps=10, **w)



def make_teacher(with_bn=True):
  model = (models.classifiers.CifarResNet((1,), 10, width=4) if with_bn
           else models.build_classifier(ml_collections.ConfigDict(dict(name="lenet5", num_classes=10))))
  # CifarResNet expects features from its pooled output; 1-channel input works.
  variables = models.init_variables(model, jax.random.PRNGKey(1), (32, 32, 1))
  if with_bn:  # non-trivial running statistics, to see that they stay put
    variables["batch_stats"] = jax.tree.map(lambda x: x + 0.3, variables["batch_stats"])
  return TrainedClassifier(model, parallel.replicate(variables), None, {})


def setup(c, teacher, seed=0):
  generator, student = models.build_generator(c.generator), models.build_classifier(c.student)
  key = jax.random.PRNGKey(seed)
  state, gs, ss = dafl.create_state(generator, student, key, c, (32, 32, 1), c.num_steps)
  step = shared.jit_step(dafl.make_step(generator, teacher.model, student, c, gs, ss),
                         batch=None, frozen=1)
  return state, step, generator, student


def run_steps(state, step, teacher, n, key=jax.random.PRNGKey(7)):
  for _ in range(n):
    state, metrics = step(state, None, key, teacher.variables)
  return state, metrics


def test_teacher_is_unchanged_and_runs_in_eval_mode():
  teacher = make_teacher()
  before = jax.device_get(teacher.variables)
  c = phase_config()
  state, step, generator, _ = setup(c, teacher)
  g_vars = jax.device_get(state.generator.variables)  # the step donates the state
  state, metrics = run_steps(state, step, teacher, 3)
  after = jax.device_get(teacher.variables)  # would fail if a buffer had been donated
  for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after)):
    np.testing.assert_array_equal(a, b)
  # The teacher's class histogram comes from eval mode (running statistics).
  z = jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(7), 0), (16, 8))
  images, _ = generator.apply(g_vars, z, mutable=["batch_stats"])
  eval_classes = jnp.argmax(teacher.model.apply(teacher.variables, images, train=False), -1)
  state2, step2, _, _ = setup(c, teacher)
  _, first = step2(state2, None, jax.random.PRNGKey(7), teacher.variables)
  np.testing.assert_array_equal(first["counts/teacher_class"], jnp.bincount(eval_classes, length=10))


def test_generator_learns_only_from_teacher_losses():
  teacher = make_teacher(with_bn=False)
  # All teacher-loss weights zero: the KD loss alone must not move the generator.
  state, step, _, _ = setup(phase_config(one_hot=0.0, information_entropy=0.0, activation=0.0), teacher)
  before = jax.device_get(state.generator.params)
  state, _ = run_steps(state, step, teacher, 2)
  for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(jax.device_get(state.generator.params))):
    np.testing.assert_array_equal(a, b)
  # And the generator's update does not depend on which student it feeds.
  c = phase_config()
  updates = []
  for student_seed in (0, 1):
    state, step, _, _ = setup(c, teacher)
    other, _, _, _ = setup(c, teacher, seed=100 + student_seed)
    state = dafl.DaflState(state.generator, other.student)
    state, _ = run_steps(state, step, teacher, 1)
    updates.append(jax.device_get(state.generator.params))
  for a, b in zip(jax.tree.leaves(updates[0]), jax.tree.leaves(updates[1])):
    np.testing.assert_array_equal(a, b)


def test_adversarial_term_moves_the_generator_through_the_student_only():
  teacher = make_teacher(with_bn=False)
  teacher_weights_off = dict(one_hot=0.0, information_entropy=0.0, activation=0.0)
  # Alone, the optional adversarial term moves the generator, and the move
  # depends on which student it plays against.
  c = phase_config(adversarial=1.0, **teacher_weights_off)
  generators, students = [], []
  for student_seed in (0, 1):
    state, step, _, _ = setup(c, teacher)
    before = jax.device_get(state.generator.params)
    other, _, _, _ = setup(c, teacher, seed=100 + student_seed)
    state, metrics = run_steps(state.replace(student=other.student), step, teacher, 1)
    generators.append(jax.device_get(state.generator.params))
    students.append(jax.device_get(state.student.params))
    np.testing.assert_allclose(float(metrics["loss_adversarial"]), -float(metrics["kd_loss"]),
                               rtol=1e-5)
  assert any(np.abs(a - b).max() > 0 for a, b in zip(jax.tree.leaves(before),
                                                      jax.tree.leaves(generators[0])))
  assert any(np.abs(a - b).max() > 0 for a, b in zip(jax.tree.leaves(generators[0]),
                                                      jax.tree.leaves(generators[1])))
  # The student's own update is still KD alone: the same with the term off.
  state, step, _, _ = setup(phase_config(**teacher_weights_off), teacher)
  other, _, _, _ = setup(c, teacher, seed=101)
  state, _ = run_steps(state.replace(student=other.student), step, teacher, 1)
  for a, b in zip(jax.tree.leaves(students[1]), jax.tree.leaves(jax.device_get(state.student.params))):
    np.testing.assert_array_equal(a, b)
  with pytest.raises(dafl.DaflError, match="adversarial must be >= 0"):
    setup(phase_config(adversarial=-1.0), teacher)


def test_student_learns_only_from_kd():
  teacher = make_teacher(with_bn=False)
  students = []
  for weights in (dict(), dict(one_hot=10.0, information_entropy=0.0, activation=3.0)):
    state, step, _, _ = setup(phase_config(**weights), teacher)
    state, _ = run_steps(state, step, teacher, 1)  # step 1: same images either way
    students.append(jax.device_get(state.student.params))
  for a, b in zip(jax.tree.leaves(students[0]), jax.tree.leaves(students[1])):
    np.testing.assert_array_equal(a, b)


def test_losses_fall_and_step_compiles_once():
  teacher = make_teacher(with_bn=False)
  state, step, _, _ = setup(phase_config(batch_size=32), teacher)
  kd = []
  for i in range(25):
    state, metrics = step(state, None, jax.random.PRNGKey(3), teacher.variables)
    kd.append(float(metrics["kd_loss"]))
  assert step._cache_size() == 1
  assert np.mean(kd[-5:]) < 0.5 * kd[0], kd


def test_eight_devices_agree_with_one():
  teacher_vars = jax.device_get(make_teacher().variables)
  results = []
  for devices in (jax.devices()[:1], jax.devices()):
    with parallel.using_devices(devices):
      teacher = make_teacher()
      teacher = TrainedClassifier(teacher.model, parallel.replicate(teacher_vars), None, {})
      # The conv biases before BatchNorm have an exactly-zero true gradient;
      # Adam would turn its float noise into full-size steps. SGD compares
      # the sharded maths itself.
      state, step, _, _ = setup(
          phase_config(generator_optimizer=configs.common.optimizer("sgd", 0.05)), teacher)
      state, metrics = run_steps(state, step, teacher, 2)
      metrics.pop("counts/teacher_class")
      results.append(jax.device_get((state, metrics)))
  for a, b in zip(jax.tree.leaves(results[0]), jax.tree.leaves(results[1])):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def test_the_step_splits_its_work_over_the_devices():
  """The step draws its latents itself: unless their rows are split over the
  devices, XLA computes the whole batch on every device (8 devices, 8 times the work)."""
  flops = []
  for devices in (jax.devices()[:1], jax.devices()):
    with parallel.using_devices(devices):
      teacher = make_teacher()
      state, step, _, _ = setup(phase_config(), teacher)
      compiled = step.lower(state, None, jax.random.PRNGKey(7), teacher.variables).compile()
      flops.append(compiled.cost_analysis()["flops"])  # one device's program
  assert flops[1] < 0.2 * flops[0], flops


# ---------------------------------------------------------------------------
# Bad input.


class SoftmaxLeNet(models.classifiers.LeNet5):
  def __call__(self, x, train=False, return_features=False):
    out = super().__call__(x, train, return_features)
    return (jax.nn.softmax(out[0]), out[1]) if return_features else jax.nn.softmax(out)


def test_softmax_teacher_is_refused():
  model = SoftmaxLeNet(10)
  variables = parallel.replicate(models.init_variables(model, jax.random.PRNGKey(0), (32, 32, 1)))
  teacher = TrainedClassifier(model, variables, None, {})
  c = phase_config()
  state, _, generator, _ = setup(c, make_teacher(False))
  with pytest.raises(dafl.DaflError, match="probabilities"):
    dafl.check_teacher(teacher, generator, state.generator.variables, c, (32, 32, 1), jax.random.PRNGKey(0))
  dafl.check_teacher(make_teacher(False), generator, state.generator.variables, c, (32, 32, 1),
                     jax.random.PRNGKey(0))  # logits pass


def test_image_shape_mismatch_is_refused():
  c = phase_config()
  state, _, generator, _ = setup(c, make_teacher(False))
  with pytest.raises(dafl.DaflError, match=r"\(32, 32, 1\) images but the teacher takes \(32, 32, 3\)"):
    dafl.check_teacher(make_teacher(False), generator, state.generator.variables, c, (32, 32, 3),
                       jax.random.PRNGKey(0))


def test_collapse_warning(capsys):
  monitor = dafl.collapse_monitor("dafl", patience=3)
  collapsed = {"counts/teacher_class": np.array([95, 1, 1, 1, 2])}
  balanced = {"counts/teacher_class": np.array([20, 20, 20, 20, 20])}
  for i, logged in enumerate([collapsed, collapsed, balanced, collapsed, collapsed]):
    monitor(None, i, logged)
  assert "collapsed" not in capsys.readouterr().out
  monitor(None, 6, collapsed)
  out = capsys.readouterr().out
  assert "collapsed" in out and "class 0: 95.0%" in out
  monitor(None, 7, {"generated_batch_std": 0.5})
  assert "died" not in capsys.readouterr().out
  monitor(None, 8, {"generated_batch_std": 0.0})
  assert "no longer vary" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# Configs through the launcher.


@pytest.mark.parametrize("name, variant, mocked", [
    ("dafl_digits", "smoke,baselines", False), ("dafl_mnist", "smoke", True),
    pytest.param("dafl_fashion_mnist", "smoke", False, marks=pytest.mark.skipif(
        not os.path.isdir("/usr/share/datasets/fashion-mnist"),
        reason="needs /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)")),
    # dafl_cifar10/100 (this family with one argument, tests/test_launch.py):
    # tests/test_full_size.py.
])
def test_smoke_configs(launcher, tmp_path, name, variant, mocked):
  args = [f"--config={ROOT}/configs/{name}.py:{variant}", f"--workdir={tmp_path}"]
  if mocked:
    with tfds.testing.mock_data(num_examples=32):
      launcher(args)
  else:
    launcher(args)
  table = open(tmp_path / "results.md").read()
  phases = ("teacher", "dafl") + (("student_scratch", "student_kd") if "baselines" in variant else ())
  for phase in phases:
    assert f"| {phase} |" in table


def test_information_entropy_is_finite_when_a_class_underflows():
  logits = jnp.array([[200.0, 0.0, -200.0], [0.0, 200.0, -200.0]])  # class 2: p = 0 exactly
  value, grad = jax.value_and_grad(losses.dafl_information_entropy)(logits)
  assert float(value) == pytest.approx(np.log10(0.5), rel=1e-5)
  assert np.all(np.isfinite(grad))
