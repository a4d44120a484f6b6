"""Speed of nn.Conv ('xla') vs the matrix-product convolutions ('matmul') on the CPU, for DAFL.

  python benchmarks/conv_speed.py --batch 256 --steps 20

Times, after compilation and 3 warm-up calls, (a) forward + backward (gradient
w.r.t. input and kernel) of every conv shape in DAFL's MNIST networks (DAFL
generator, LeNet-5 teacher, LeNet-5-half student) and (b) a whole mock DAFL
step: generator forward/backward through the frozen teacher (one-hot,
activation and information-entropy losses), student distillation on the
detached images, Adam updates for generator and student. The two
implementations are timed interleaved (A, B, A, B, ...) so that load from
other processes hits both alike; medians are reported. Takes a few minutes at
batch 256 on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, Callable, Dict, List


import flax.linen as nn  # pylint: disable=g-import-not-at-top
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan_tsc.ops.layers import conv_layer

IMPLS = ('xla', 'matmul')

# name: (H, W, C_in, C_out, kernel, padding) -- DAFL MNIST networks, 32x32x1 images.
CONV_SHAPES = {
    'gen conv1 3x3 128->128 @16x16': (16, 16, 128, 128, 3, 'SAME'),
    'gen conv2 3x3 128->64 @32x32': (32, 32, 128, 64, 3, 'SAME'),
    'gen conv3 3x3 64->1 @32x32': (32, 32, 64, 1, 3, 'SAME'),
    'LeNet5 c1 5x5 1->6 @32x32': (32, 32, 1, 6, 5, 'VALID'),
    'LeNet5 c2 5x5 6->16 @14x14': (14, 14, 6, 16, 5, 'VALID'),
    'LeNet5 c3 5x5 16->120 @5x5': (5, 5, 16, 120, 5, 'VALID'),
    'LeNet5-half c1 5x5 1->3 @32x32': (32, 32, 1, 3, 5, 'VALID'),
    'LeNet5-half c2 5x5 3->8 @14x14': (14, 14, 3, 8, 5, 'VALID'),
    'LeNet5-half c3 5x5 8->60 @5x5': (5, 5, 8, 60, 5, 'VALID'),
}


# ----------------------------------------------------------------------------
# Models (a self-contained copy, so the benchmark does not depend on models/).

class BatchStatsNorm(nn.Module):
  """BatchNorm with batch statistics only (DAFL's generator is always in training mode)."""
  epsilon: float = 1e-5
  use_affine: bool = True

  @nn.compact
  def __call__(self, x):
    axes = tuple(range(x.ndim - 1))
    mean = jnp.mean(x, axes)
    var = jnp.mean(jnp.square(x - mean), axes)
    y = (x - mean) * jax.lax.rsqrt(var + self.epsilon)
    if self.use_affine:
      c = x.shape[-1]
      y = y * self.param('scale', nn.initializers.ones, (c,)) + self.param(
          'bias', nn.initializers.zeros, (c,))
    return y


def upsample2(x):
  # Nearest x2 as repeats: its gradient is a reshape-sum. jax.image.resize
  # (x, ..., 'nearest') gives the same values but lowers to a gather and a
  # scatter-add, ~190 ms more per step at batch 256 on this CPU.
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class DAFLGenerator(nn.Module):
  conv: str = 'xla'
  img_size: int = 32
  channels: int = 1

  @nn.compact
  def __call__(self, z):
    conv = conv_layer(self.conv)
    s = self.img_size // 4
    x = nn.Dense(128 * s * s)(z).reshape(z.shape[0], s, s, 128)
    x = BatchStatsNorm()(x)
    x = upsample2(x)
    x = conv(128, (3, 3), padding='SAME')(x)
    x = nn.leaky_relu(BatchStatsNorm(epsilon=0.8)(x), 0.2)
    x = upsample2(x)
    x = conv(64, (3, 3), padding='SAME')(x)
    x = nn.leaky_relu(BatchStatsNorm(epsilon=0.8)(x), 0.2)
    x = jnp.tanh(conv(self.channels, (3, 3), padding='SAME')(x))
    return BatchStatsNorm(use_affine=False)(x)


def max_pool2(x):
  return nn.max_pool(x, (2, 2), strides=(2, 2))


class LeNet5(nn.Module):
  """LeNet-5 as in DAFL (widths 6/16/120/84); width_div=2 gives LeNet-5-half."""
  conv: str = 'xla'
  width_div: int = 1
  num_classes: int = 10

  @nn.compact
  def __call__(self, x):
    conv = conv_layer(self.conv)
    d = self.width_div
    x = max_pool2(nn.relu(conv(6 // d, (5, 5), padding='VALID')(x)))
    x = max_pool2(nn.relu(conv(16 // d, (5, 5), padding='VALID')(x)))
    feat = nn.relu(conv(120 // d, (5, 5), padding='VALID')(x)).reshape(x.shape[0], -1)
    h = nn.relu(nn.Dense(84 // d)(feat))
    return nn.Dense(self.num_classes)(h), feat


# ----------------------------------------------------------------------------
# Timing helpers.

def interleaved_times(fns: Dict[str, Callable[[], Any]], steps: int,
                      warmup: int = 3) -> Dict[str, List[float]]:
  """Calls each fn warmup times, then steps rounds of A, B, ...; seconds per call."""
  for fn in fns.values():
    for _ in range(warmup):
      jax.block_until_ready(fn())
  times = {name: [] for name in fns}
  for _ in range(steps):
    for name, fn in fns.items():
      t0 = time.perf_counter()
      jax.block_until_ready(fn())
      times[name].append(time.perf_counter() - t0)
  return times


def fmt_ms(ts):
  q25, med, q75 = np.percentile(np.asarray(ts) * 1e3, [25, 50, 75])
  return f'{med:9.1f} [{q25:.0f}-{q75:.0f}]'


# ----------------------------------------------------------------------------
# (a) conv shapes.

def bench_conv_shapes(batch: int, steps: int, impls) -> None:
  print(f'\n(a) conv forward + grad wrt input and kernel, batch {batch}: '
        'median ms [IQR] over interleaved calls')
  header = f'{"layer":34s}' + ''.join(f'{i:>22s}' for i in impls)
  if len(impls) == 2:
    header += f'{"speed-up":>10s}'
  print(header)
  rng = np.random.default_rng(0)
  for name, (h, w, c, o, k, pad) in CONV_SHAPES.items():
    x = jnp.asarray(rng.standard_normal((batch, h, w, c), np.float32))
    params = {'params': {
        'kernel': jnp.asarray(rng.standard_normal((k, k, c, o), np.float32) * 0.1),
        'bias': jnp.zeros((o,), jnp.float32)}}
    fns = {}
    for impl in impls:
      module = conv_layer(impl)(o, (k, k), padding=pad)

      def loss(p, x, module=module):
        y = module.apply(p, x)
        return jnp.sum(y * jnp.cos(y))  # a non-trivial output gradient

      grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
      fns[impl] = lambda grad=grad: grad(params, x)
    ts = interleaved_times(fns, steps)
    line = f'{name:34s}' + ''.join(f'{fmt_ms(ts[i]):>22s}' for i in impls)
    if len(impls) == 2:
      line += f'{np.median(ts[impls[0]]) / np.median(ts[impls[1]]):9.2f}x'
    print(line, flush=True)


# ----------------------------------------------------------------------------
# (b) mock DAFL step.

def make_dafl_step(conv: str, batch: int, latent: int = 100):
  gen = DAFLGenerator(conv=conv)
  teacher = LeNet5(conv=conv)
  student = LeNet5(conv=conv, width_div=2)
  opt_g = optax.adam(0.2)
  opt_s = optax.adam(2e-3)
  oh_w, ie_w, a_w = 1.0, 5.0, 0.1

  def init(key):
    kg, kt, ks = jax.random.split(key, 3)
    img = jnp.zeros((batch, 32, 32, 1))
    gp = gen.init(kg, jnp.zeros((batch, latent)))
    tp = teacher.init(kt, img)
    sp = student.init(ks, img)
    return {'g': gp, 's': sp, 'og': opt_g.init(gp), 'os': opt_s.init(sp)}, tp

  def step(state, teacher_params, key):
    z = jax.random.normal(key, (batch, latent))

    def gen_loss(gp):
      img = gen.apply(gp, z)
      logits, feat = teacher.apply(teacher_params, img)
      pred = jnp.argmax(logits, -1)
      oh = optax.softmax_cross_entropy_with_integer_labels(logits, pred).mean()
      act = -jnp.mean(jnp.abs(feat))
      p = jnp.mean(jax.nn.softmax(logits), 0)
      ie = jnp.sum(p * jnp.log10(p))
      return oh_w * oh + ie_w * ie + a_w * act, (img, logits)

    (lg, (img, t_logits)), gg = jax.value_and_grad(gen_loss, has_aux=True)(state['g'])
    img = jax.lax.stop_gradient(img)
    t_prob = jax.nn.softmax(jax.lax.stop_gradient(t_logits))

    def student_loss(sp):
      s_logits, _ = student.apply(sp, img)
      return jnp.mean(jnp.sum(t_prob * (jnp.log(t_prob + 1e-10)
                                        - jax.nn.log_softmax(s_logits)), -1))

    ls, gs = jax.value_and_grad(student_loss)(state['s'])
    ug, og = opt_g.update(gg, state['og'], state['g'])
    us, os_ = opt_s.update(gs, state['os'], state['s'])
    new = {'g': optax.apply_updates(state['g'], ug), 's': optax.apply_updates(state['s'], us),
           'og': og, 'os': os_}
    return new, {'loss_g': lg, 'loss_s': ls}

  return init, jax.jit(step, donate_argnums=0)


def bench_dafl_step(batch: int, steps: int, impls) -> None:
  print(f'\n(b) mock DAFL step (generator + LeNet-5 teacher + LeNet-5-half student, '
        f'Adam), batch {batch}')
  runners = {}
  for impl in impls:
    init, step = make_dafl_step(impl, batch)
    state, tp = jax.jit(init)(jax.random.PRNGKey(0))
    t0 = time.perf_counter()
    compiled = step.lower(state, tp, jax.random.PRNGKey(1)).compile()
    print(f'  compiled {impl} step in {time.perf_counter() - t0:.1f} s', flush=True)
    holder = {'state': state, 'i': 0}

    def run(compiled=compiled, holder=holder, tp=tp):
      holder['i'] += 1
      holder['state'], metrics = compiled(
          holder['state'], tp, jax.random.fold_in(jax.random.PRNGKey(2), holder['i']))
      return metrics

    runners[impl] = run
  # Same initial state and keys: the first step's losses must agree.
  first = {impl: jax.device_get(run()) for impl, run in runners.items()}
  print('  first-step losses: ' + '; '.join(
      f'{impl} g={m["loss_g"]:.5f} s={m["loss_s"]:.5f}' for impl, m in first.items()))
  ts = interleaved_times(runners, steps)
  print(f'{"conv":10s}{"ms/step median [IQR]":>26s}{"images/s":>10s}{"min ms":>9s}')
  for impl in impls:
    med = np.median(ts[impl])
    print(f'{impl:10s}{fmt_ms(ts[impl]):>26s}{batch / med:10.1f}{min(ts[impl]) * 1e3:9.0f}')
  if len(impls) == 2:
    print(f'speed-up {impls[1]} vs {impls[0]}: '
          f'{np.median(ts[impls[0]]) / np.median(ts[impls[1]]):.2f}x (median)')


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--batch', type=int, default=256)
  parser.add_argument('--steps', type=int, default=20,
                      help='timed calls per implementation (after 3 warm-up calls)')
  parser.add_argument('--impls', default=','.join(IMPLS),
                      help='comma-separated conv implementations (xla, matmul)')
  parser.add_argument('--skip-convs', action='store_true', help='skip table (a)')
  parser.add_argument('--skip-step', action='store_true', help='skip table (b)')
  args = parser.parse_args(argv)
  impls = tuple(args.impls.split(','))
  print(f'jax {jax.__version__}, backend {jax.default_backend()}, '
        f'{os.cpu_count()} CPUs, XLA_FLAGS={os.environ.get("XLA_FLAGS", "")!r}')
  if not args.skip_convs:
    bench_conv_shapes(args.batch, args.steps, impls)
  if not args.skip_step:
    bench_dafl_step(args.batch, args.steps, impls)


if __name__ == '__main__':
  main()
