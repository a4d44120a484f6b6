"""Step cost: model FLOPs against hand counts, the devices' peak, and what a run reports."""

import types

import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest

from gan_tsc import configs, models, step_cost


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


def test_a_matmul_convolution_path_counts_the_model_not_its_work():
  """LeNet-5 with conv='matmul' (patches @ kernel, an im2col backward) counts the
  FLOPs of the same network with XLA's convolutions, forward and backward."""
  x = jnp.ones((8, 32, 32, 1))

  def loss_grad(conv):
    model = models.build_classifier(configs.common.model("lenet5", 10, conv=conv))
    variables = models.init_variables(model, jax.random.PRNGKey(0), (32, 32, 1))
    return step_cost.model_flops(
        jax.grad(lambda p: jnp.sum(model.apply({**variables, "params": p}, x, train=False))),
        variables["params"])

  assert loss_grad("matmul") == loss_grad("xla") > 0


def test_peak_flops_is_measured_on_cpu_and_read_from_the_table_on_accelerators():
  peak, source = step_cost.peak_flops()
  assert peak > 1e8 and "measured" in source  # the tests run on CPU devices
  h100 = types.SimpleNamespace(platform="gpu", device_kind="NVIDIA H100 80GB HBM3")
  assert step_cost.peak_flops([h100] * 8) == (8 * 989e12, "NVIDIA H100 dense bfloat16 peak x 8")
  unknown = types.SimpleNamespace(platform="gpu", device_kind="Some GPU")
  assert step_cost.peak_flops([unknown])[0] == 0.0
