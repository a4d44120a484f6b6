"""gan_tsc: compressing models with generative adversarial networks (JAX/Flax)."""
