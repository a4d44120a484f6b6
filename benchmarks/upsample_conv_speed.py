"""DAFL generator's upsample + 3x3 conv stages: plain pair against the sub-pixel form.

  .venv/bin/python benchmarks/upsample_conv_speed.py --batch 256 --repeats 7

For each stage of DAFL's paper generator (8->16 px, 128->128 channels;
16->32 px, 128->64), times forward + backward (gradients to the input and the
kernel) of nearest x2 upsampling followed by XLA's 3x3 'SAME' convolution,
and of gan_tsc/ops/upsample_conv.py's sub-pixel form of the same function,
after compiling and one warm-up call, the two interleaved so that load from
other processes hits both alike; medians and the largest difference of the
outputs are printed. Under the launcher's XLA flags (bench_util).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import bench_util  # noqa: E402,F401  (XLA flags before JAX starts, as the launcher)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from gan_tsc.ops import upsample_conv  # noqa: E402

STAGES = {"8->16 px, 128->128": (8, 128, 128), "16->32 px, 128->64": (16, 128, 64)}


def forward_backward(function):
  return jax.jit(jax.grad(lambda x, k, g: jnp.vdot(function(x, k), g), argnums=(0, 1)))


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--repeats", type=int, default=7)
  args = parser.parse_args()
  keys = jax.random.split(jax.random.PRNGKey(0), 3)
  print(f"devices: {jax.devices()}; batch {args.batch}; median of {args.repeats}\n")
  print("| stage | plain s | sub-pixel s | plain / sub-pixel | max output difference |")
  print("|---|---|---|---|---|")
  for name, (side, cin, cout) in STAGES.items():
    x = jax.random.normal(keys[0], (args.batch, side, side, cin))
    kernel = jax.random.normal(keys[1], (3, 3, cin, cout)) / np.sqrt(9 * cin)
    cotangent = jax.random.normal(keys[2], (args.batch, 2 * side, 2 * side, cout))
    steps = {"plain": forward_backward(upsample_conv.upsample_then_conv),
             "sub-pixel": forward_backward(upsample_conv.upsample_conv)}
    times = {k: [] for k in steps}
    for step in steps.values():
      jax.block_until_ready(step(x, kernel, cotangent))
    for _ in range(args.repeats):
      for label, step in steps.items():
        start = time.perf_counter()
        jax.block_until_ready(step(x, kernel, cotangent))
        times[label].append(time.perf_counter() - start)
    difference = float(jnp.max(jnp.abs(upsample_conv.upsample_then_conv(x, kernel)
                                       - upsample_conv.upsample_conv(x, kernel))))
    a, b = np.median(times["plain"]), np.median(times["sub-pixel"])
    print(f"| {name} | {a:.3f} | {b:.3f} | {a / b:.2f} | {difference:.1e} |", flush=True)


if __name__ == "__main__":
  main()
