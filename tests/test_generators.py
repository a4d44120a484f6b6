"""Tests for gan_tsc.models.generators: shapes, ranges, parameter counts, gradients."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_tsc.models import generators as g

# RBG keys: XLA on CPU compiles threefry-based initialisers several times slower,
# which dominates this file's run time; the modules are indifferent to the impl.
KEY = jax.random.key(0, impl="rbg")


def _param_count(module, *args, **kwargs) -> int:
  """Parameter count without running the network (abstract init only)."""
  variables = jax.eval_shape(lambda: module.init(KEY, *args, **kwargs))
  return sum(leaf.size for leaf in jax.tree.leaves(variables["params"]))


def _init(module, *args, **kwargs):
  """Variables from one compiled init (eager init compiles every initialiser)."""
  return jax.jit(lambda key: module.init(key, *args, **kwargs))(KEY)


def _latents(batch, dim, seed=1):
  return np.random.RandomState(seed).randn(batch, dim).astype(np.float32)


def _flat_grads(grads):
  return {"/".join(k.key for k in path): np.asarray(leaf)
          for path, leaf in jax.tree_util.tree_flatten_with_path(grads)[0]}


def _assert_all_grads_nonzero(grads, inert=()):
  """Every leaf gets a non-zero gradient, except `inert` ones, which get ~0."""
  flat = _flat_grads(grads)
  assert set(inert) <= set(flat), f"unknown inert leaves {set(inert) - set(flat)}"
  for name, grad in flat.items():
    assert np.all(np.isfinite(grad)), name
    if name in inert:
      assert np.max(np.abs(grad)) < 1e-4, f"{name} should be cancelled by BatchNorm"
    else:
      assert np.max(np.abs(grad)) > 0, f"no gradient reaches {name}"


# ----------------------------------------------------------------------------- DAFL


def test_dafl_param_count_by_hand():
  latent, side, channels = 100, 32 // 4, 1
  dense = latent * 128 * side * side + 128 * side * side  # 819,200 + 8,192
  bn0 = 2 * 128  # scale + bias
  conv1 = 3 * 3 * 128 * 128 + 128
  bn1 = 2 * 128
  conv2 = 3 * 3 * 128 * 64 + 64
  bn2 = 2 * 64
  conv3 = 3 * 3 * 64 * channels + channels
  bn_out = 0  # no affine parameters
  expected = dense + bn0 + conv1 + bn1 + conv2 + bn2 + conv3 + bn_out
  assert expected == 1_049_985
  model = g.DAFLGenerator(latent_dim=latent, image_size=32, channels=channels)
  assert _param_count(model, jnp.zeros((2, latent))) == expected


@pytest.fixture(scope="module")
def dafl():
  model = g.DAFLGenerator(latent_dim=16, image_size=8, channels=3)
  z = _latents(32, 16)
  return model, z, _init(model, z)


def test_dafl_output_is_batch_normalised_and_stats_update(dafl):
  model, z, variables = dafl

  @jax.jit
  def run(v):
    return model.apply(v, z, mutable=["batch_stats", "intermediates"],
                       capture_intermediates=True)

  images, updates = run(variables)
  assert images.shape == (32, 8, 8, 3)
  np.testing.assert_allclose(images.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
  np.testing.assert_allclose(images.std(axis=(0, 1, 2)), 1.0, atol=1e-2)
  assert set(updates["batch_stats"]) == {"bn0", "bn1", "bn2", "bn_out"}

  seen = {name: out["__call__"][0] for name, out in updates["intermediates"].items()
          if name != "__call__"}
  # Running mean moves by PyTorch's momentum 0.1 from 0 towards the batch mean.
  tanh_out = np.tanh(seen["conv3"])
  np.testing.assert_allclose(updates["batch_stats"]["bn_out"]["mean"],
                             0.1 * tanh_out.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-7)
  # The hidden BatchNorms use eps 0.8: at init (scale 1, bias 0) a channel of
  # variance v leaves with variance v / (v + 0.8).
  conv1_var = seen["conv1"].var(axis=(0, 1, 2))
  np.testing.assert_allclose(seen["bn1"].var(axis=(0, 1, 2)), conv1_var / (conv1_var + 0.8),
                             rtol=1e-3)


def test_dafl_pixel_output_stays_in_the_data_range(dafl):
  _, z, variables = dafl
  mean, std = (0.2, 0.4, 0.6), (0.3, 0.3, 0.25)
  model = g.DAFLGenerator(16, 8, 3, output="pixels", pixel_mean=mean, pixel_std=std)
  # Same parameters as the paper's output; only the final BatchNorm is gone.
  own = _init(model, z)
  assert jax.tree.map(jnp.shape, own["params"]) == jax.tree.map(jnp.shape, variables["params"])
  assert set(own["batch_stats"]) == {"bn0", "bn1", "bn2"}
  images, _ = model.apply(variables, z * 30.0, mutable=["batch_stats"])
  low = (0.0 - np.asarray(mean)) / np.asarray(std)
  high = (1.0 - np.asarray(mean)) / np.asarray(std)
  assert np.all(images >= low - 1e-6) and np.all(images <= high + 1e-6)
  # tanh's 0 is mid-grey: pixel 0.5.
  zero_tanh = model.apply(jax.tree.map(jnp.zeros_like, variables), z,
                          mutable=["batch_stats"])[0]
  np.testing.assert_allclose(zero_tanh[0, 0, 0], (0.5 - np.asarray(mean)) / np.asarray(std),
                             rtol=1e-6)
  with pytest.raises(ValueError, match="'batch_norm' or 'pixels'"):
    g.DAFLGenerator(16, 8, 3, output="clip").apply(variables, z, mutable=["batch_stats"])


def test_dafl_rejects_bad_sizes():
  with pytest.raises(ValueError, match="divisible by 4"):
    _param_count(g.DAFLGenerator(8, 30, 1), jnp.zeros((2, 8)))
  with pytest.raises(ValueError, match="latents of size 8"):
    _param_count(g.DAFLGenerator(8, 32, 1), jnp.zeros((2, 9)))


class _ExplicitConv(nn.Module):
  """A stand-in convolution with nn.Conv's constructor and parameter names."""
  features: int
  kernel_size: tuple
  padding: str = "SAME"
  use_bias: bool = True

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", nn.initializers.lecun_normal(),
                        tuple(self.kernel_size) + (x.shape[-1], self.features))
    y = jax.lax.conv_general_dilated(x, kernel, (1, 1), self.padding,
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (self.features,))
    return y


def test_dafl_conv_is_swappable_with_same_params(dafl):
  reference, z, variables = dafl
  swapped = g.DAFLGenerator(16, 8, 3, conv=_ExplicitConv)
  assert (jax.tree.map(jnp.shape, jax.eval_shape(lambda: swapped.init(KEY, z)))
          == jax.tree.map(jnp.shape, variables))

  @jax.jit
  def both(v):
    return [m.apply(v, z, mutable=["batch_stats"])[0] for m in (reference, swapped)]

  expected, actual = both(variables)
  np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_dafl_gradients_flow(dafl):
  model, z, variables = dafl

  def loss(params):
    images, _ = model.apply({**variables, "params": params}, z, mutable=["batch_stats"])
    return jnp.sum(images[..., 0] * jnp.linspace(-1, 2, 8)[:, None])

  grads = jax.jit(jax.grad(loss))(variables["params"])
  # Per-channel conv biases before a batch-statistics BatchNorm cancel (as in the
  # original, which keeps them); the last conv's bias precedes tanh, so it learns.
  _assert_all_grads_nonzero(grads, inert=("conv1/bias", "conv2/bias"))


# ----------------------------------------------------------------------------- DCGAN


PAPER_COUNTS = {2: 28_351, 4: 62_077, 8: 145_657, 16: 377_329, 32: 1_098_721,
                64: 3_573_697, 128: 12_652_417}


@pytest.mark.parametrize("width", sorted(PAPER_COUNTS))
def test_dcgan_generator_param_count(width):
  count = _param_count(g.DCGANGenerator(width), jnp.zeros((2, 100)))
  assert count == 672 * width**2 + 12831 * width + 1 == PAPER_COUNTS[width]


def test_dcgan_32px_drops_the_widest_layer():
  latent, d = 100, 4
  expected = ((latent * 4 * d * 16 + 4 * d) + (4 * d * 2 * d * 16 + 2 * d)
              + (2 * d * d * 16 + d) + (d * 1 * 16 + 1))
  assert _param_count(g.DCGANGenerator(d, 1, 32), jnp.zeros((2, latent))) == expected


@pytest.mark.parametrize("image_size,channels", [(64, 1), (32, 3)])
def test_dcgan_generator_shapes_range_and_gradients(image_size, channels):
  model = g.DCGANGenerator(width=2, channels=channels, image_size=image_size)
  z = _latents(4, 100)
  variables = _init(model, z)
  target = jnp.linspace(-1, 1, image_size)[:, None, None]

  def loss(params, train):
    if train:
      images, updates = model.apply({**variables, "params": params}, z,
                                    mutable=["batch_stats"])
    else:  # running averages: nothing to mutate
      images, updates = model.apply({**variables, "params": params}, z, train=False), {}
    return jnp.mean(images * target), (images, updates)

  @jax.jit
  def run(params):
    return (jax.grad(loss, has_aux=True)(params, True),
            jax.grad(loss, has_aux=True)(params, False))

  (train_grads, (images, updates)), (eval_grads, (eval_images, _)) = run(variables["params"])
  assert images.shape == eval_images.shape == (4, image_size, image_size, channels)
  assert np.all(np.abs(images) <= 1.0) and np.all(np.abs(eval_images) <= 1.0)
  assert (jax.tree.structure(updates["batch_stats"])
          == jax.tree.structure(variables["batch_stats"]))
  _assert_all_grads_nonzero(eval_grads)
  # Under batch statistics every hidden bias cancels in its BatchNorm.
  hidden = [f"ConvTranspose_{i}/bias" for i in range(4 if image_size == 64 else 3)]
  _assert_all_grads_nonzero(train_grads, inert=hidden)


def test_dcgan_rejects_unsupported_size():
  with pytest.raises(ValueError, match="32 or 64"):
    _param_count(g.DCGANGenerator(2, image_size=48), jnp.zeros((2, 100)))
  with pytest.raises(ValueError, match="32 or 64"):
    _param_count(g.DCGANCritic(2, image_size=28), jnp.zeros((2, 28, 28, 1)))


def test_stride_two_transposed_conv_matches_pytorch_k4_s2_p1():
  """Flax's layer equals PyTorch's ConvTranspose2d(k=4, s=2, p=1), kernel flipped."""
  x = np.random.RandomState(0).randn(2, 3, 3, 2).astype(np.float32)
  layer = nn.ConvTranspose(4, (4, 4), (2, 2), padding=((2, 2), (2, 2)), use_bias=False)
  variables = _init(layer, x)
  kernel = np.asarray(variables["params"]["kernel"])[::-1, ::-1]
  full = np.zeros((2, 8, 8, 4), np.float32)  # (in - 1) * stride + kernel
  for i in range(3):
    for j in range(3):
      for a in range(4):
        for b in range(4):
          full[:, 2 * i + a, 2 * j + b] += x[:, i, j] @ kernel[a, b]
  np.testing.assert_allclose(layer.apply(variables, x), full[:, 1:-1, 1:-1], atol=1e-5)


@pytest.mark.parametrize("image_size,channels", [(64, 1), (32, 3)])
def test_dcgan_critic_shape_and_gradients(image_size, channels):
  critic = g.DCGANCritic(width=2, image_size=image_size)
  x = np.random.RandomState(2).randn(3, image_size, image_size, channels).astype(np.float32)
  variables = _init(critic, x)
  assert "batch_stats" not in variables

  @jax.jit
  def run(params):
    scores = critic.apply({"params": params}, x)
    return scores, jax.grad(lambda p: critic.apply({"params": p}, x).sum())(params)

  scores, grads = run(variables["params"])
  assert scores.shape == (3,)
  _assert_all_grads_nonzero(grads)
# ----------------------------------------------------------------------------- AC-GAN


@pytest.mark.parametrize("image_size,channels", [(28, 1), (32, 3)])
def test_acgan_shapes_range_and_gradients(image_size, channels):
  generator = g.ACGANGenerator(num_classes=10, channels=channels, image_size=image_size,
                               latent_dim=16, width=4)
  discriminator = g.ACGANDiscriminator(num_classes=10, width=4)
  z, labels = _latents(6, 16), np.arange(6) % 10

  @jax.jit
  def run(key):
    gen_key, disc_key = jax.random.split(key)
    gen_vars = generator.init(gen_key, z, labels)
    images, _ = generator.apply(gen_vars, z, labels, mutable=["batch_stats"])
    eval_images = generator.apply(gen_vars, z, labels, train=False)
    disc_params = discriminator.init(disc_key, images)["params"]

    def loss(gen_params, disc_params):
      fake, _ = generator.apply({**gen_vars, "params": gen_params}, z, labels,
                                mutable=["batch_stats"])
      source, logits = discriminator.apply({"params": disc_params}, fake)
      nll = -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1)
      return jnp.mean(jax.nn.softplus(-source)) + jnp.mean(nll), (source, logits)

    grads, (source, logits) = jax.grad(loss, argnums=(0, 1), has_aux=True)(
        gen_vars["params"], disc_params)
    return images, eval_images, source, logits, grads

  images, eval_images, source, class_logits, (gen_grads, disc_grads) = run(KEY)
  assert images.shape == eval_images.shape == (6, image_size, image_size, channels)
  assert np.all(np.abs(images) <= 1.0) and np.all(np.abs(eval_images) <= 1.0)
  assert source.shape == (6,) and class_logits.shape == (6, 10)
  _assert_all_grads_nonzero(gen_grads)
  _assert_all_grads_nonzero(disc_grads)


def test_conditional_batch_norm_starts_as_the_shared_one_and_steers_only_its_class():
  kwargs = dict(num_classes=10, channels=1, image_size=28, latent_dim=16, width=4)
  plain, conditional = g.ACGANGenerator(**kwargs), g.ACGANGenerator(conditional_bn=True, **kwargs)
  z, labels = _latents(6, 16), np.arange(6) % 3
  variables = conditional.init(KEY, z, labels)
  params = variables["params"]
  assert params["class_scale_1"]["embedding"].shape == (10, 4)
  # At the start (scales one, offsets zero) it is the plain generator with the same weights.
  plain_params = {k: v for k, v in params.items() if not k.startswith("class_")}
  plain_params.update({f"BatchNorm_{i}": {"scale": jnp.ones(w), "bias": jnp.zeros(w)}
                       for i, w in ((0, 8), (1, 4))})
  plain_out, _ = plain.apply({**variables, "params": plain_params}, z, labels,
                             mutable=["batch_stats"])
  out, _ = conditional.apply(variables, z, labels, mutable=["batch_stats"])
  np.testing.assert_allclose(out, plain_out, atol=1e-6)
  # A change to class 2's offsets moves class 2's images alone (running averages: no mixing).
  shifted = jax.tree_util.tree_map(lambda x: x, params)
  shifted["class_offset_1"]["embedding"] = params["class_offset_1"]["embedding"].at[2].add(1.0)
  before = conditional.apply(variables, z, labels, train=False)
  after = conditional.apply({**variables, "params": shifted}, z, labels, train=False)
  moved = np.abs(np.asarray(after - before)).reshape(6, -1).max(axis=1) > 1e-3
  np.testing.assert_array_equal(moved, labels == 2)


def test_acgan_generator_rejects_bad_size():
  with pytest.raises(ValueError, match="divisible by 4"):
    _param_count(g.ACGANGenerator(10, 1, 30, width=4), jnp.zeros((2, 100)),
                 jnp.zeros(2, int))


# ----------------------------------------------------------------------------- tabular


def test_tabular_gan_shapes_and_gradients():
  generator = g.TabularGenerator(num_features=7, num_classes=3, hidden=(16, 16), latent_dim=8)
  critic = g.TabularCritic(num_classes=3, hidden=(16, 16))
  z, labels = _latents(5, 8), np.array([0, 1, 2, 1, 0])

  @jax.jit
  def run(key):
    gen_key, critic_key = jax.random.split(key)
    gen_params = generator.init(gen_key, z, labels)["params"]
    rows = generator.apply({"params": gen_params}, z, labels)
    other_rows = generator.apply({"params": gen_params}, z, (labels + 1) % 3)
    critic_params = critic.init(critic_key, rows, labels)["params"]

    def loss(gp, cp):
      scores = critic.apply({"params": cp}, generator.apply({"params": gp}, z, labels), labels)
      return scores.mean(), scores

    grads, scores = jax.grad(loss, argnums=(0, 1), has_aux=True)(gen_params, critic_params)
    return rows, other_rows, scores, grads

  rows, other_rows, scores, (gen_grads, critic_grads) = run(KEY)
  assert rows.shape == (5, 7) and scores.shape == (5,)
  assert np.max(np.abs(other_rows - rows)) > 0  # the label conditions the output
  _assert_all_grads_nonzero(gen_grads)
  _assert_all_grads_nonzero(critic_grads)
