"""FastConv / conv2d agree with nn.Conv / lax.conv in value and gradients."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_tsc.ops import conv as conv_lib
from gan_tsc.ops import layers, patch_conv
from gan_tsc.ops.conv import FastConv, conv2d
from gan_tsc.ops.layers import conv_layer

CASES = [
    # (batch, H, W, C, O, kernel, padding)
    (3, 8, 8, 4, 5, (3, 3), 'SAME'),
    (2, 12, 12, 6, 16, (5, 5), 'VALID'),
    (2, 10, 10, 1, 6, (5, 5), 'VALID'),
    (2, 7, 7, 24, 8, (5, 5), 'SAME'),
    (3, 6, 6, 32, 1, (3, 3), 'SAME'),
    (2, 6, 8, 20, 7, (2, 4), 'SAME'),
    (2, 6, 6, 3, 4, (3, 3), ((2, 0), (1, 3))),
    (2, 9, 9, 5, 40, (5, 5), 'VALID'),
    (2, 5, 5, 16, 120, (5, 5), 'VALID'),
    (2, 7, 6, 40, 33, (3, 3), ((0, 2), (3, 1))),
]


def _rel_err(a, b):
  a, b = np.asarray(a), np.asarray(b)
  return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-6))


@pytest.mark.parametrize('n,h,w,c,o,k,pad', CASES)
def test_value_and_grads_match_nn_conv(n, h, w, c, o, k, pad):
  # numpy data: jax.random / initialisers would add ~1 s of compile per case.
  rng = np.random.default_rng(n * 100 + c * 10 + o)
  x = rng.standard_normal((n, h, w, c), np.float32)
  params = {'params': {
      'kernel': rng.standard_normal(k + (c, o), np.float32) / np.sqrt(k[0] * k[1] * c),
      'bias': rng.standard_normal((o,), np.float32)}}  # non-zero: bias path used
  ref = nn.Conv(o, k, padding=pad)
  fast = FastConv(o, k, padding=pad)
  y_shape = jax.eval_shape(ref.apply, params, x).shape
  proj = rng.standard_normal(y_shape, np.float32)

  @jax.jit
  def run(params, x):
    out = {}
    for name, module in (('ref', ref), ('fast', fast)):
      loss = lambda p, x: jnp.sum(proj * module.apply(p, x))  # pylint: disable=cell-var-from-loop
      out[name] = (module.apply(params, x),) + jax.grad(loss, argnums=(0, 1))(params, x)
    return out

  out = run(params, x)
  (y_ref, p_ref, x_ref), (y_fast, p_fast, x_fast) = out['ref'], out['fast']
  assert y_fast.shape == y_ref.shape
  np.testing.assert_allclose(y_fast, y_ref, atol=1e-4, rtol=1e-4)
  assert _rel_err(x_fast, x_ref) < 1e-5
  assert _rel_err(p_fast['params']['kernel'], p_ref['params']['kernel']) < 1e-5
  assert _rel_err(p_fast['params']['bias'], p_ref['params']['bias']) < 1e-5


@pytest.mark.parametrize('k,pad', [(5, 'VALID'), (3, ((2, 0), (0, 1)))])
def test_forced_paths_and_chunks_with_remainder(monkeypatch, k, pad):
  """im2col weight gradient in 3 chunks + a remainder; col2im and tconv input grads."""
  monkeypatch.setattr(conv_lib, '_chunk_size', lambda n, nbytes: min(n, 2))
  rng = np.random.default_rng(k)
  x = rng.standard_normal((7, 9, 8, 4), np.float32)
  kern = rng.standard_normal((k, k, 4, 3), np.float32)

  def ref(x, kern):
    return jax.lax.conv_general_dilated(
        x, kern, (1, 1), pad, dimension_numbers=('NHWC', 'HWIO', 'NHWC'))

  g = rng.standard_normal(jax.eval_shape(ref, x, kern).shape, np.float32)
  expected = jax.jit(lambda x, k, g: jax.vjp(ref, x, k)[1](g))(x, kern, g)
  for max_col2im in (0, 100):  # tconv, col2im
    monkeypatch.setattr(conv_lib, '_COL2IM_MAX_IN_CHANNELS', max_col2im)
    got = jax.jit(lambda x, k, g: jax.vjp(lambda x, k: conv2d(x, k, pad), x, k)[1](g))(
        x, kern, g)
    for a, b in zip(got, expected):
      assert _rel_err(a, b) < 1e-5


def test_batch_dims_jit_and_vmap():
  rng = np.random.default_rng(4)
  x = rng.standard_normal((2, 3, 6, 6, 2), np.float32)  # two leading batch dims
  ref, fast = nn.Conv(4, (3, 3)), FastConv(4, (3, 3))
  params = {'params': {'kernel': rng.standard_normal((3, 3, 2, 4), np.float32),
                       'bias': rng.standard_normal((4,), np.float32)}}
  np.testing.assert_allclose(jax.jit(fast.apply)(params, x),
                             jax.jit(ref.apply)(params, x), atol=1e-5)
  # Unbatched input, as nn.Conv allows.
  np.testing.assert_allclose(jax.jit(fast.apply)(params, x[0, 0]),
                             jax.jit(ref.apply)(params, x[0, 0]), atol=1e-5)
  # vmap over a leading axis, value and gradient.
  f = lambda p, xi: jnp.sum(jnp.sin(fast.apply(p, xi)))
  r = lambda p, xi: jnp.sum(jnp.sin(ref.apply(p, xi)))
  gv = jax.jit(jax.vmap(jax.grad(f, argnums=1), in_axes=(None, 0)))(params, x)
  gr = jax.jit(jax.vmap(jax.grad(r, argnums=1), in_axes=(None, 0)))(params, x)
  np.testing.assert_allclose(gv, gr, atol=1e-5)


def test_frozen_kernel_grad_is_dead_code():
  """Gradient w.r.t. the input only: the kernel-gradient scan is not compiled in."""
  x = jnp.ones((32, 16, 16, 32))  # a scan over 32 one-image chunks
  k = jnp.ones((3, 3, 32, 32))
  f = jax.jit(jax.grad(lambda x, k: jnp.sum(conv2d(x, k)), argnums=0))
  hlo = f.lower(x, k).compile().as_text()
  assert 'while' not in hlo
  g = jax.jit(jax.grad(lambda x, k: jnp.sum(conv2d(x, k)), argnums=1))
  assert 'while' in g.lower(x, k).compile().as_text()


def test_conv_vocabulary_and_errors():
  assert conv_layer('xla') is nn.Conv and conv_layer('xla', transpose=True) is nn.ConvTranspose
  matmul = conv_layer('matmul')
  assert isinstance(matmul(4, (3, 3)), FastConv)  # 'SAME', stride 1: im2col backward
  assert isinstance(matmul(4, (4, 4), (2, 2), padding=((1, 1), (1, 1))), patch_conv.Conv)
  assert isinstance(conv_layer('matmul', transpose=True)(4, (4, 4)), patch_conv.ConvTranspose)
  with layers.standard_convs():  # counting model FLOPs: the standard layers, same params
    assert type(matmul(4, (3, 3))) is nn.Conv
    assert type(conv_layer('matmul', transpose=True)(4, (4, 4))) is nn.ConvTranspose
  assert isinstance(matmul(4, (3, 3)), FastConv)
  with pytest.raises(ValueError, match="Unknown conv 'im2col'"):
    conv_layer('im2col')
  x = jnp.zeros((1, 8, 8, 2))
  with pytest.raises(NotImplementedError):
    FastConv(4, (3, 3), strides=2).init(jax.random.PRNGKey(0), x)
  with pytest.raises(NotImplementedError):
    FastConv(4, (3, 3), feature_group_count=2).init(jax.random.PRNGKey(0), x)
  with pytest.raises(NotImplementedError):
    FastConv(4, (3, 3), kernel_dilation=2).init(jax.random.PRNGKey(0), x)
  with pytest.raises(ValueError, match='pair'):
    FastConv(4, 3).init(jax.random.PRNGKey(0), x)


def test_switching_implementation_keeps_param_tree():
  """Same parameter names (Conv_0, ...), shapes and initial values as nn.Conv."""

  class Net(nn.Module):
    impl: str

    @nn.compact
    def __call__(self, x):
      conv = conv_layer(self.impl)
      x = nn.relu(conv(4, (3, 3))(x))
      x = nn.Dense(3)(x)
      return conv(2, (5, 5), padding='VALID')(x)

  x = jnp.zeros((1, 8, 8, 1))
  key = jax.random.PRNGKey(5)
  p_xla, p_fast = jax.jit(lambda key: (Net('xla').init(key, x),
                                      Net('matmul').init(key, x)))(key)
  assert set(p_xla['params']) == {'Conv_0', 'Conv_1', 'Dense_0'}
  assert jax.tree_util.tree_structure(p_xla) == jax.tree_util.tree_structure(p_fast)
  for a, b in zip(jax.tree_util.tree_leaves(p_xla), jax.tree_util.tree_leaves(p_fast)):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)  # same initialisers, same RNG paths
  no_bias = jax.eval_shape(FastConv(7, (3, 3), use_bias=False).init, key, x)
  assert set(no_bias['params']) == {'kernel'}


@pytest.mark.parametrize('name', ['lenet5_bn', 'lenet5_half'])
def test_lenet_conv_matmul_is_the_same_network(name):
  """conv='matmul' in a LeNet block: the same parameters, logits, BN statistics
  and gradients (to the parameters and to the input, as the data-free losses take them)."""
  from ml_collections import ConfigDict
  from gan_tsc import models
  from gan_tsc.models.classifiers import BN_INPUT_STATS
  nets = [models.build_classifier(ConfigDict(dict(name=name, num_classes=10, conv=conv)))
          for conv in ('xla', 'matmul')]
  assert [n.conv for n in nets] == ['xla', 'matmul']
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 32, 32, 1))
  inits = [n.init(jax.random.PRNGKey(1), x) for n in nets]
  jax.tree.map(np.testing.assert_array_equal, inits[0]['params'], inits[1]['params'])
  variables = {k: v for k, v in inits[0].items() if k != BN_INPUT_STATS}

  def loss(net, params, x):
    logits, stats = net.apply({**variables, 'params': params}, x,
                              mutable=[BN_INPUT_STATS])
    bn = sum(jnp.sum(m) + jnp.sum(v) for m, v in
             (leaf['input'][0] for leaf in stats.get(BN_INPUT_STATS, {}).values()))
    return jnp.sum(logits ** 2) + bn

  grads = [jax.grad(lambda p, x: loss(n, p, x), argnums=(0, 1))(variables['params'], x)
           for n in nets]
  assert _rel_err(loss(nets[0], variables['params'], x),
                  loss(nets[1], variables['params'], x)) < 1e-5
  for a, b in zip(jax.tree_util.tree_leaves(grads[0]), jax.tree_util.tree_leaves(grads[1])):
    assert _rel_err(a, b) < 1e-4


@pytest.mark.parametrize('n,h,w,c,o', [(2, 4, 4, 3, 5), (3, 3, 5, 8, 2), (1, 1, 1, 4, 4)])
def test_upsample_conv_is_upsample_then_3x3_conv(n, h, w, c, o):
  """The sub-pixel stage: the same parameters, values and gradients (input and
  kernel) as nearest x2 upsampling followed by Flax's 3x3 'SAME' convolution."""
  from gan_tsc.ops import upsample_conv
  rng = np.random.default_rng(h * 10 + w)
  x = jnp.asarray(rng.standard_normal((n, h, w, c), np.float32))
  plain = nn.Conv(o, (3, 3), padding='SAME')
  fused = upsample_conv.UpsampleConv(o)
  key = jax.random.PRNGKey(0)
  params = fused.init(key, x)
  same_init = plain.init(key, upsample_conv.upsample_nearest(x))
  jax.tree.map(np.testing.assert_array_equal, params, same_init)
  params = jax.tree.map(lambda p: p + rng.standard_normal(p.shape).astype(np.float32), params)

  def loss(module, prepare):
    cotangent = jnp.asarray(rng.standard_normal((n, 2 * h, 2 * w, o), np.float32))
    return lambda p, x: jnp.vdot(module.apply(p, prepare(x)), cotangent)

  rng = np.random.default_rng(0)
  want = jax.value_and_grad(loss(plain, upsample_conv.upsample_nearest), (0, 1))(params, x)
  rng = np.random.default_rng(0)
  got = jax.value_and_grad(loss(fused, lambda v: v), (0, 1))(params, x)
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    assert _rel_err(a, b) < 1e-5
  # Counting model FLOPs, it is the plain pair (gan_tsc/step_cost.py).
  with layers.standard_convs():
    jaxpr = jax.make_jaxpr(lambda p, v: fused.apply(p, v))(params, x)
  convs = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == 'conv_general_dilated']
  assert [e.invars[1].aval.shape for e in convs] == [(3, 3, c, o)]
  assert convs[0].invars[0].aval.shape == (n, 2 * h, 2 * w, c)
