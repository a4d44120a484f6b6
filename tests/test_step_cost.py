"""Step cost: model FLOPs against hand counts, the devices' peak, and what a run reports."""

import types

import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest

from gan_tsc import configs, models, step_cost
from gan_tsc.ops import layers


def test_matmul_and_convolution_flops_are_the_hand_counts():
  a, b = jnp.ones((32, 48)), jnp.ones((48, 16))
  assert step_cost.model_flops(jax.jit(lambda a, b: a @ b), a, b) == 2 * 32 * 48 * 16
  batched = jnp.ones((5, 32, 48))
  assert step_cost.model_flops(lambda x, b: jnp.einsum("nij,jk->nik", x, b), batched, b) \
      == 5 * 2 * 32 * 48 * 16
  conv = nn.Conv(8, (3, 3), padding="VALID")
  x = jnp.ones((4, 10, 10, 2))
  variables = conv.init(jax.random.PRNGKey(0), x)
  # 4 images x 8x8 outputs x 8 features, each 3x3x2 multiply-adds.
  assert step_cost.model_flops(conv.apply, variables, x) == 2 * 4 * 8 * 8 * 8 * 3 * 3 * 2


def test_backward_pass_and_loops_are_counted():
  dense = nn.Dense(16, use_bias=False)
  x = jnp.ones((32, 48))
  variables = dense.init(jax.random.PRNGKey(0), x)
  forward = 2 * 32 * 48 * 16
  # Gradients to the input and the kernel: two more products of the same size.
  both = jax.grad(lambda v, x: jnp.sum(dense.apply(v, x) ** 2), argnums=(0, 1))
  assert step_cost.model_flops(both, variables, x) == 3 * forward

  def ten_products(a, b):
    return jax.lax.scan(lambda c, _: (c @ b, None), a, None, length=10)[0]
  square = jnp.ones((48, 48))
  assert step_cost.model_flops(ten_products, jnp.ones((32, 48)), square) == 10 * 2 * 32 * 48 * 48

  def until_small(a, b):
    return jax.lax.while_loop(lambda c: c.sum() > 1.0, lambda c: c @ b, a)
  with pytest.raises(step_cost.StepCostError, match="while loop"):
    step_cost.model_flops(until_small, jnp.ones((32, 48)), square)


class _Upsample(nn.Module):
  conv: str

  @nn.compact
  def __call__(self, x):
    return layers.conv_layer(self.conv, transpose=True)(3, (4, 4), (2, 2))(x)


def test_a_matmul_convolution_path_counts_the_model_not_its_work():
  """A stride-2 transposed convolution as matrix products does a quarter of the
  multiplies XLA's (which dilates its input with zeros); counted, it is the
  standard layer's, even after the step was traced the usual way (JAX's caches).
  LeNet-5's patches @ kernel path counts as its convolutions too."""
  x = jnp.ones((2, 8, 8, 4))

  def grad_of(conv):
    net = _Upsample(conv)
    params = net.init(jax.random.PRNGKey(0), x)["params"]
    return jax.grad(lambda p: jnp.sum(net.apply({"params": p}, x) ** 2)), params

  matmul_grad, params = grad_of("matmul")
  as_run = jax.make_jaxpr(matmul_grad)(params)  # the path's own trace, cached by JAX
  assert step_cost._jaxpr_flops(as_run.jaxpr) < step_cost.model_flops(*grad_of("xla"))
  assert step_cost.model_flops(matmul_grad, params) == step_cost.model_flops(*grad_of("xla"))
  assert step_cost._jaxpr_flops(jax.make_jaxpr(matmul_grad)(params).jaxpr) == \
      step_cost._jaxpr_flops(as_run.jaxpr)  # and the count left no trace behind

  images = jnp.ones((8, 32, 32, 1))

  def lenet_grad(conv):
    model = models.build_classifier(configs.common.model("lenet5", 10, conv=conv))
    variables = models.init_variables(model, jax.random.PRNGKey(0), (32, 32, 1))
    return step_cost.model_flops(
        jax.grad(lambda p: jnp.sum(model.apply({**variables, "params": p}, images))),
        variables["params"])

  assert lenet_grad("matmul") == lenet_grad("xla") > 0


def test_a_compiled_step_counts_its_own_trace_or_the_standard_layers():
  """A run traces its step once (train_loop.CompiledStep) and counts that trace
  when every layer in it is standard; a layer on a faster path (the transposed
  convolution as products, DAFL's sub-pixel upsample + conv stages) leaves its
  name scope in the trace, and the step is counted again with standard layers."""
  from gan_tsc import train_loop

  def counts(loss, params, x):
    """(what the compiled step reports, the standard count, its own trace's count)"""
    step = jax.jit(jax.grad(loss))
    compiled = train_loop.CompiledStep(step)
    reported = compiled.cost(params, x).flops
    return reported, step_cost.model_flops(step, params, x), \
        step_cost._jaxpr_flops(compiled._traced.jaxpr)

  x = jnp.ones((2, 8, 8, 4))
  for conv in ("xla", "matmul"):
    net = _Upsample(conv)
    params = net.init(jax.random.PRNGKey(0), x)["params"]
    reported, standard, as_run = counts(
        lambda p, x: jnp.sum(net.apply({"params": p}, x) ** 2), params, x)
    assert reported == standard > 0
    assert (as_run < standard) == (conv == "matmul")

  generator = models.generators.DAFLGenerator(16, 8, 1, width=8)
  z = jnp.ones((4, 16))
  variables = generator.init(jax.random.PRNGKey(0), z)

  def generator_loss(params, z):
    images, _ = generator.apply({**variables, "params": params}, z, mutable=["batch_stats"])
    return jnp.sum(images ** 2)

  reported, standard, as_run = counts(generator_loss, variables["params"], z)
  assert reported == standard > as_run  # the sub-pixel stages do 16/36 of the stages' work


def test_peak_flops_is_measured_on_cpu_and_read_from_the_table_on_accelerators():
  peak, source = step_cost.peak_flops()
  assert peak > 1e8 and "measured" in source  # the tests run on CPU devices
  h100 = types.SimpleNamespace(platform="gpu", device_kind="NVIDIA H100 80GB HBM3")
  assert step_cost.peak_flops([h100] * 8) == (8 * 989e12, "NVIDIA H100 dense bfloat16 peak x 8")
  unknown = types.SimpleNamespace(platform="gpu", device_kind="Some GPU")
  assert step_cost.peak_flops([unknown])[0] == 0.0
