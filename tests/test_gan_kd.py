"""GAN-KD: paper parameter counts, layers equal to Flax's, metric plumbing, the WGAN-GP
and compress steps (MSE falls, teacher frozen, resume, 8 = 1), and configs."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from gan_tsc import checkpoints, configs, losses, models, parallel
from gan_tsc.metrics import feature_extractors as fx
from gan_tsc.metrics import generator_quality as gq
from gan_tsc.metrics import image_quality as iq
from gan_tsc.models import classifiers, generators
from gan_tsc.data import batching
from gan_tsc.ops import pixels as pixel_ops
from gan_tsc.phases import compress_generator as cg, shared, wgan_gp
from gan_tsc.phases.shared import gan
from gan_tsc.trained import TrainedGenerator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
# RBG keys: XLA:CPU compiles threefry initialisers slowly; the modules do not care.
KEY = jax.random.key(0, impl="rbg")


def _count(module, *inputs) -> int:
  variables = jax.eval_shape(lambda: module.init(KEY, *inputs))  # abstract: no compute
  return models.count_params(variables["params"])


def paper_count(d: int) -> int:
  return 672 * d * d + 12831 * d + 1


# ---------------------------------------------------------------------------
# Parameter counts and compression ratios of the paper.


@pytest.mark.parametrize("conv", ["xla", "matmul"])
def test_generator_counts_follow_the_papers_formula(conv):
  z = jnp.zeros((2, 100))
  for d in (2, 4, 64, 128, 256):
    generator = models.build_generator(configs.gan_kd.dcgan_generator(d, image_size=64, conv=conv))
    assert _count(generator, z) == paper_count(d)
  assert (paper_count(2), paper_count(128)) == (28_351, 12_652_417)


def test_papers_compression_ratios():
  count = lambda d: _count(generators.DCGANGenerator(d), jnp.zeros((2, 100)))
  assert round(count(64) / count(2)) == 126  # CIFAR-10
  assert round(count(64) / count(4)) == 58
  assert round(count(128) / count(2)) == 446  # CelebA
  assert round(count(256) / count(2)) == 1669  # MNIST


def test_32px_variant_counts():
  for d in (1, 2, 8, 48):
    count = _count(generators.DCGANGenerator(d, 1, 32), jnp.zeros((2, 100)))
    assert count == 160 * d * d + 6423 * d + 1
  # The CPU sweep's smallest student is >= 30x smaller than its teacher.
  assert (160 * 48**2 + 6423 * 48 + 1) / (160 * 4 + 6423 * 2 + 1) > 30


# ---------------------------------------------------------------------------
# The matrix-product layers compute what Flax's do, derivatives included.


def test_patch_dcgan_equals_flax_dcgan_with_penalty_gradients():
  z = np.random.RandomState(0).randn(4, 100).astype(np.float32)
  x = np.random.RandomState(1).uniform(-1, 1, (4, 32, 32, 1)).astype(np.float32)
  pairs = {conv: (models.build_generator(configs.gan_kd.dcgan_generator(2, conv=conv)),
                  models.build_adversary(configs.gan_kd.dcgan_critic(2, conv=conv), image_size=32))
           for conv in ("xla", "matmul")}
  g_vars = jax.jit(pairs["xla"][0].init)(KEY, z)
  c_vars = jax.jit(pairs["xla"][1].init)(KEY, x)
  assert (jax.tree.structure(jax.eval_shape(pairs["matmul"][0].init, KEY, z))
          == jax.tree.structure(g_vars))  # same parameter paths: same checkpoints

  @jax.jit
  def outputs(g_vars, c_vars):
    out = {}
    for conv, (generator, critic) in pairs.items():
      def generator_loss(params):
        images, _ = generator.apply({**g_vars, "params": params}, z, mutable=["batch_stats"])
        return jnp.mean(critic.apply(c_vars, images) ** 2), images

      def penalty(params):
        score = lambda v: critic.apply({"params": params}, v)
        return losses.gradient_penalty(score, x, x[::-1] * 0.5, jax.random.PRNGKey(3))

      g_grads, images = jax.grad(generator_loss, has_aux=True)(g_vars["params"])
      out[conv] = (images, g_grads, jax.grad(penalty)(c_vars["params"]))
    return out

  out = outputs(g_vars, c_vars)
  for a, b in zip(jax.tree.leaves(out["xla"]), jax.tree.leaves(out["matmul"])):
    np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-5)


@pytest.mark.parametrize("strides,padding,size", [
    ((2, 2), ((2, 2), (2, 2)), 3), ((1, 1), "VALID", 1), ((2, 2), ((1, 3), (2, 0)), 4)])
def test_patch_conv_transpose_equals_flax(strides, padding, size):
  import flax.linen as nn
  from gan_tsc.ops import patch_conv
  x = np.random.RandomState(0).randn(2, size, size, 3).astype(np.float32)
  variables = nn.ConvTranspose(5, (4, 4), strides, padding=padding).init(KEY, x)
  variables = {"params": {**variables["params"], "bias": jnp.arange(5.0)}}
  expected = nn.ConvTranspose(5, (4, 4), strides, padding=padding).apply(variables, x)
  actual = patch_conv.ConvTranspose(5, (4, 4), strides, padding=padding).apply(variables, x)
  np.testing.assert_allclose(actual, expected, atol=1e-5)


# ---------------------------------------------------------------------------
# Pixels, feature extractors, the evaluator, the table.


def test_generated_pixels_reach_the_judge_as_its_training_inputs():
  pixels = np.random.RandomState(0).randint(0, 256, (5, 8, 8, 1)).astype(np.uint8)
  mean, std = (0.2860,), (0.3530,)
  via_generator_range = pixel_ops.from_tanh_range(pixel_ops.to_tanh_range(pixels), mean, std)
  np.testing.assert_allclose(via_generator_range, pixel_ops.normalize(pixels, mean, std),
                             atol=1e-5)
  x = np.random.RandomState(1).uniform(-1, 1, (3, 4, 4, 1)).astype(np.float32)
  np.testing.assert_allclose(pixel_ops.from_tanh_range(x, (0.5,), (0.5,)), x, atol=1e-6)


def _lenet():
  model = classifiers.LeNet5(10)
  variables = models.init_variables(model, KEY, (32, 32, 1))
  return model, parallel.replicate(variables)


def test_classifier_extractor_is_softmax_and_features_of_converted_images():
  model, variables = _lenet()
  mean, std = (0.3,), (0.4,)
  extractor = fx.ClassifierExtractor(model, variables, mean, std, batch_size=32, description="t")
  images = np.random.RandomState(0).uniform(-1, 1, (70, 32, 32, 1)).astype(np.float32)
  probs, features = extractor(images)  # 70 = 2 full batches + a padded one
  logits, expected_features = model.apply(
      variables, pixel_ops.from_tanh_range(images, mean, std), return_features=True)
  np.testing.assert_allclose(probs, jax.nn.softmax(logits), rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(features, expected_features, rtol=1e-4, atol=1e-5)
  assert probs.shape == (70, 10) and features.shape == (70, 120)


@pytest.mark.parametrize("path", ["", "/nonexistent/classify_image_graph_def.pb"])
def test_missing_inception_weights_name_the_file(path):
  config = configs.gan_kd.generator_metrics(extractor="inception", inception_graph=path)
  with pytest.raises(fx.ExtractorError, match="classify_image_graph_def.pb.*not found") as error:
    fx.build(config, {}, None)
  assert "--config.generator_metrics.inception_graph" in str(error.value)


def test_classifier_extractor_needs_an_earlier_classifier_phase():
  with pytest.raises(fx.ExtractorError, match="'judge' names no classifier phase"):
    fx.build(configs.gan_kd.generator_metrics(), {}, None)


def test_inception_extractor_reads_pool3_and_softmax_weights(tmp_path):
  """A stand-in graph with the real one's tensor names: mean pixel as 'pool_3'."""
  import tensorflow as tf
  weights = np.random.RandomState(0).randn(3, 4).astype(np.float32) * 0.02
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, (1, None, None, 3), name="ExpandDims")
    pool = tf.identity(tf.reduce_mean(x, axis=(1, 2), keepdims=True), name="pool_3")
    flat = tf.reshape(pool, (1, 3), name="pool_3/_reshape")  # batch 1, as in the real graph
    logits = tf.matmul(flat, tf.constant(weights, name="softmax/weights"),
                       name="softmax/logits/MatMul")
    tf.nn.softmax(logits + tf.constant(np.ones(4, np.float32), name="softmax/biases"),
                  name="softmax")
  path = tmp_path / fx.INCEPTION_GRAPH_NAME
  path.write_bytes(graph.as_graph_def().SerializeToString())
  extractor = fx.build(configs.gan_kd.generator_metrics(
      extractor="inception", inception_graph=str(path), inception_batch_size=3), {}, None)
  images = np.random.RandomState(1).uniform(-1, 1, (5, 6, 6, 1)).astype(np.float32)
  probs, features = extractor(images)
  expected = np.repeat(((images + 1) * 127.5).mean(axis=(1, 2)), 3, axis=-1)  # gray -> RGB
  np.testing.assert_allclose(features, expected, rtol=1e-5)
  e = np.exp(expected @ weights)  # no bias, as the published protocol
  np.testing.assert_allclose(probs, e / e.sum(-1, keepdims=True), rtol=1e-5)


def test_evaluator_rates_the_real_set_as_itself():
  model, variables = _lenet()
  real = np.random.RandomState(0).randint(0, 256, (256, 32, 32, 1)).astype(np.uint8)
  extractor = fx.ClassifierExtractor(model, variables, (0.5,), (0.25,), 64, "t")
  # A 'generator' whose variables are the real images in [-1, 1].
  evaluator = gq.GeneratorEvaluator(lambda v, key, n: (v, None), extractor, real, num_samples=256,
                                    batch_size=256, key=jax.random.PRNGKey(0), is_splits=4)
  symmetric = np.asarray(pixel_ops.to_tanh_range(real))
  metrics = evaluator(parallel.replicate(symmetric))
  probs, features = extractor(symmetric)
  assert metrics["fid"] < 1e-6 * np.trace(np.cov(features, rowvar=False))
  assert metrics["inception_score"] == pytest.approx(iq.inception_score(probs, 4)[0], rel=1e-6)
  assert metrics["inception_score"] == pytest.approx(metrics["data_inception_score"], rel=1e-6)
  assert metrics["sharpness"] == pytest.approx(iq.mean_sharpness(real / 255.0), rel=1e-4)


def test_sweep_table_pairs_students_with_scratch_by_width():
  config = configs.common.base(pipeline=())
  generator = configs.gan_kd.dcgan_generator(48)
  config.teacher = configs.gan_kd.wgan_gp_phase(generator, configs.gan_kd.dcgan_critic(8),
                                                batch_size=8, num_steps=1)
  config.pipeline = ("teacher",) + configs.gan_kd.gan_kd_students(
      config, (2, 8), teacher="teacher", generator=generator, critic_width=4, batch_size=8,
      num_steps=1, alpha=0.1)
  scores = lambda i: {"inception_score": 5.0 + i, "fid": 10.0 - i, "sharpness": 0.01 * i,
                      "data_inception_score": 9.0, "data_sharpness": 0.05}
  results = {"teacher": {"params": 676_609, **scores(3)}}
  for i, phase in enumerate(config.pipeline[1:]):
    width = config[phase].get("student", None) or config[phase].generator
    results[phase] = {"params": 160 * width.width**2 + 6423 * width.width + 1, **scores(i)}
  table = gq.sweep_table(config, results)
  lines = table.splitlines()
  assert lines[2].startswith("| teacher | 48 | 676,609 | 1:1 | 8.00 | 7.00 |")
  # widest student first; MSE / joint / scratch in pipeline order
  assert lines[3].startswith("| student | 8 | 61,625 | 11:1 | 8.00 / 9.00 / 10.00 |")
  assert lines[4].startswith("| student | 2 | 13,487 | 50:1 | 5.00 / 6.00 / 7.00 |")
  assert "Real test images: IS 9.00" in table


# ---------------------------------------------------------------------------
# WGAN-GP.


def test_stacked_batches_depend_only_on_the_step_and_cover_each_epoch():
  images = np.arange(50, dtype=np.uint8).reshape(50, 1, 1, 1)
  batcher = batching.EpochBatcher({"image": images}, batch_size=8, seed=1, stacks=3)
  epoch = np.concatenate([batcher.rows(s).ravel() for s in range(2)])  # 6 batches per epoch
  assert len(set(epoch.tolist())) == 48
  fresh = batching.EpochBatcher({"image": images}, batch_size=8, seed=1, stacks=3)
  np.testing.assert_array_equal(fresh.rows(5), batcher.rows(5))
  batch = batcher.batch(2)["image"]  # batches 6-8: the second epoch
  assert batch.shape == (3, 8, 1, 1, 1)
  assert batch.sharding.spec == jax.sharding.PartitionSpec(None, parallel.DATA_AXIS)


def wgan_config(n_critic=2, batch_size=16):
  return configs.gan_kd.wgan_gp_phase(
      configs.gan_kd.dcgan_generator(2, conv="matmul"),
      configs.gan_kd.dcgan_critic(2, conv="matmul"), batch_size=batch_size, num_steps=10,
      n_critic=n_critic, learning_rate=1e-3)


def test_critic_updates_lower_the_critic_loss_on_fixed_batches():
  c = wgan_config()
  critic = models.build_adversary(c.critic, image_size=32)
  state, _ = shared.create_classifier_state(critic, KEY, (32, 32, 1), c.critic_optimizer, 10)
  rng = np.random.RandomState(0)
  real = jnp.asarray(np.tanh(rng.randn(1, 16, 32, 32, 1) + 1.0), jnp.float32)
  fake = jnp.asarray(np.tanh(rng.randn(16, 32, 32, 1) - 1.0), jnp.float32)
  score = lambda params, x, _: critic.apply({"params": params}, x)
  run = jax.jit(lambda s: gan.critic_updates(score, s, jnp.repeat(real, 5, 0), None,
                                             lambda k, _: fake, jax.random.PRNGKey(0), 10.0))
  state, first = run(state)
  for _ in range(3):
    state, later = run(state)
  assert later["critic_loss"] < first["critic_loss"]
  assert later["wasserstein_estimate"] > first["wasserstein_estimate"] > -1.0


def make_wgan(c):
  generator, critic = gan.build_networks(c, c.generator, 32)
  state = wgan_gp.create_state(generator, critic, KEY, c, (32, 32, 1))
  return state, shared.jit_step(wgan_gp.make_step(generator, critic, c), batch="stacked")


def test_wgan_step_on_eight_devices_equals_one_and_compiles_once():
  c = wgan_config()
  # Hidden biases before BatchNorm have an exactly-zero true gradient; Adam
  # would turn its float noise into full-size steps. SGD compares the maths.
  c.generator_optimizer = configs.common.optimizer("sgd", 0.05)
  images = np.random.RandomState(0).randint(0, 256, (64, 32, 32, 1)).astype(np.uint8)
  results, flops = [], []
  for devices in (jax.devices()[:1], jax.devices()):
    with parallel.using_devices(devices):
      state, step = make_wgan(c)
      batcher = batching.EpochBatcher({"image": images}, c.batch_size, seed=0,
                                      stacks=c.n_critic)
      for i in range(3):
        state, metrics = step(state, batcher.batch(i), jax.random.PRNGKey(1))
      assert step._cache_size() == 1
      results.append(jax.device_get((state.generator.params, state.critic.params, metrics)))
      # One device's share of the work (the fakes' latents are drawn inside the step).
      flops.append(step.lower(state, batcher.batch(0), jax.random.PRNGKey(1)).compile()
                   .cost_analysis()["flops"])
  for a, b in zip(jax.tree.leaves(results[0]), jax.tree.leaves(results[1])):
    np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-5)
  assert flops[1] < 0.2 * flops[0], flops


# ---------------------------------------------------------------------------
# Compress. One device: the 8 = 1 test above covers the sharding, and
# single-device programs compile several times faster on this CPU.


@pytest.fixture(scope="module")
def one_device():
  with parallel.using_devices(jax.devices()[:1]):
    yield


def make_teacher(width=4):
  generator = models.build_generator(configs.gan_kd.dcgan_generator(width, conv="matmul"))
  variables = jax.jit(generator.init)(KEY, jnp.zeros((2, 100)))
  # Running statistics far from a fresh batch's, so eval and train mode differ.
  variables["batch_stats"] = jax.tree.map(lambda v: v + 0.5, variables["batch_stats"])
  variables = parallel.replicate(variables)
  return TrainedGenerator(generator, variables,
                          configs.gan_kd.dcgan_generator(width, conv="matmul"),
                          {"params": models.count_params(variables["params"])},
                          gan.unconditional_sampler(generator))


def compress_config(loss="mse", alpha=0.0, batch_size=16, latent_dim=100):
  student = configs.gan_kd.dcgan_generator(2, conv="matmul", latent_dim=latent_dim)
  return configs.gan_kd.compress_phase(
      student, configs.gan_kd.dcgan_critic(2, conv="matmul"), teacher="teacher", loss=loss,
      alpha=alpha, batch_size=batch_size, num_steps=40, learning_rate=3e-3, n_critic=2)


class Compress:
  """A compress phase's step, compiled once, and fresh initial states."""

  def __init__(self, c, teacher):
    self.c, self.teacher = c, teacher
    self.student, critic = gan.build_networks(c, c.student, 32)
    critic = critic if c.loss == "joint" else None
    self._initial = jax.device_get(cg.create_state(self.student, critic, KEY, c, (32, 32, 1)))
    self.step = shared.jit_step(cg.make_step(self.student, teacher.model, critic, c),
                                batch="stacked" if c.loss == "joint" else None, frozen=1)

  def state(self):
    return parallel.replicate(self._initial)  # a fresh copy: the step donates its input

  def run(self, state, n, key=jax.random.PRNGKey(5), batch=None):
    metrics = []
    for _ in range(n):
      state, m = self.step(state, batch, key, self.teacher.variables)
      metrics.append(m)
    return state, metrics


@pytest.fixture(scope="module")
def teacher(one_device):
  return make_teacher()


@pytest.fixture(scope="module")
def mse(teacher):
  return Compress(compress_config(), teacher)


def test_compress_lowers_the_mse_to_a_frozen_eval_mode_teacher(mse, teacher):
  before = jax.device_get(teacher.variables)
  initial = mse.state()
  s_vars = jax.device_get(initial.student.variables)
  key = jax.random.PRNGKey(5)
  _, metrics = mse.run(initial, 40, key)
  curve = np.asarray([float(m["mse_to_teacher"]) for m in metrics])
  assert np.mean(curve[-5:]) < 0.5 * curve[0], curve
  assert mse.step._cache_size() == 1
  after = jax.device_get(teacher.variables)  # fails if a teacher buffer had been donated
  for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after)):
    np.testing.assert_array_equal(a, b)
  # Step 0's loss is against the teacher's running averages, on fresh latents.
  z = jax.random.normal(jax.random.fold_in(jax.random.fold_in(key, 0), 1), (16, 100))
  student_images, _ = mse.student.apply(s_vars, z, mutable=["batch_stats"])
  eval_target = teacher.model.apply(before, z, train=False)
  train_target, _ = teacher.model.apply(before, z, mutable=["batch_stats"])
  expected = float(jnp.mean((student_images - eval_target) ** 2))
  assert curve[0] == pytest.approx(expected, rel=1e-4)
  assert abs(float(jnp.mean((student_images - train_target) ** 2)) - expected) > 1e-3


def test_joint_loss_weights_adversarial_and_mse_by_alpha(mse, teacher):
  images = np.random.RandomState(0).randint(0, 256, (64, 32, 32, 1)).astype(np.uint8)
  batch = batching.EpochBatcher({"image": images}, 16, seed=0, stacks=2).batch(0)
  students = {"mse": jax.device_get(mse.run(mse.state(), 1)[0].student.params)}
  for alpha in (0.0, 1.0):
    joint = Compress(compress_config("joint", alpha), teacher)
    state, metrics = joint.run(joint.state(), 1, batch=batch)
    students[alpha] = jax.device_get(state.student.params)
    assert np.isfinite(float(metrics[0]["adversarial_loss"]))
  same = lambda a, b: all(np.allclose(x, y, atol=1e-7) for x, y in
                          zip(jax.tree.leaves(students[a]), jax.tree.leaves(students[b])))
  assert same("mse", 0.0)  # alpha 0: exactly the MSE update, critic or not
  assert not same("mse", 1.0)


def test_resume_equals_a_straight_run(mse, tmp_path):
  straight, _ = mse.run(mse.state(), 4)
  straight = jax.device_get(straight)
  state, _ = mse.run(mse.state(), 2)
  ckpts = checkpoints.PhaseCheckpoints(str(tmp_path))
  ckpts.save(2, state)  # the MSE state has no critic: None must round-trip
  template = jax.tree.map(lambda x: x * 0 + 7, mse.state())  # any values, same shapes
  state = ckpts.restore(template)
  ckpts.close()
  state, _ = mse.run(state, 2)
  assert state.critic is None
  for a, b in zip(jax.tree.leaves(straight), jax.tree.leaves(jax.device_get(state))):
    np.testing.assert_array_equal(a, b)


def test_student_must_share_the_teachers_latents(teacher):
  with pytest.raises(ValueError, match="latent_dim=64 but the teacher's is 100"):
    cg.check_pair(teacher, compress_config(latent_dim=64), "student")


# ---------------------------------------------------------------------------
# Configs through the launcher. One device, for the reason above, except the
# MNIST config: a whole GAN-KD pipeline on all 8 devices.


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST),
                    reason=f"needs {FASHION_MNIST} (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_smoke(launcher, tmp_path):
  name = "gan_kd_fashion_mnist"
  launcher([f"--config={ROOT}/configs/{name}.py:smoke", f"--workdir={tmp_path}"])
  table = open(tmp_path / "gan_kd_table.md").read()
  assert "| teacher | 4 | 28,253 | 1:1 |" in table
  assert "| student | 2 | 13,487 | 2:1 |" in table and " - " not in table  # every column


# gan_kd_mnist and gan_kd_celeba (64 px) at full size: tests/test_full_size.py.
@pytest.mark.parametrize("name", ["gan_kd_cifar10"])
def test_accelerator_configs_smoke_under_mock_data(launcher, tmp_path, name,
                                                   optimised_training_steps):
  with tfds.testing.mock_data(num_examples=32):
    launcher([f"--config={ROOT}/configs/{name}.py:smoke", f"--workdir={tmp_path}"])
  assert "| student | 2 |" in open(tmp_path / "gan_kd_table.md").read()


def test_celeba_without_inception_weights_stops_before_training(launcher, tmp_path):
  with tfds.testing.mock_data(num_examples=32):
    with pytest.raises(fx.ExtractorError, match="classify_image_graph_def.pb"):
      launcher([f"--config={ROOT}/configs/gan_kd_celeba.py", f"--workdir={tmp_path}"])
  assert not os.path.exists(tmp_path / "teacher" / "checkpoints")
