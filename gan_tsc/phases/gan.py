"""GAN-TSC's GAN phase: a class-conditional GAN on the teacher's training data.

Images get an AC-GAN (`acgan.py`); tabular rows a conditional WGAN-GP
(`tabular_gan.py`). The data block's `kind` ('image' by default, or
'tabular') picks which.
"""

from __future__ import annotations

import importlib

KINDS = {"image": "acgan", "tabular": "tabular_gan"}


def run(config, phase: str, workdir: str, inputs: dict):
  kind = config.data.get("kind", "image")
  if kind not in KINDS:
    raise ValueError(f"Unknown data kind {kind!r}; choose one of {tuple(KINDS)} "
                     "(--config.data.kind).")
  return importlib.import_module(f"gan_tsc.phases.{KINDS[kind]}").run(config, phase, workdir, inputs)
