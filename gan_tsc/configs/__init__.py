"""Config building blocks for configs/*.py, one module per method family.

  common    generic blocks (data, optimizer, model, supervised phase), the image
            tasks' teachers, smoke runs, variant parsing (`parse_variant`), `load`
  dafl      DAFL's generator and phase, its baselines
  gan_tsc   GAN-TSC on images: AC-GAN, distilled students, TSC Score
  gan_kd    GAN-KD: DCGAN generators and critics, WGAN-GP, compression, metrics
  tabular   GAN-TSC on tabular data: tabular GAN and random forests

`load(name, variant)` builds configs/<name>.py's config as the launcher does.
"""

from gan_tsc.configs import common, dafl, gan_kd, gan_tsc, tabular
from gan_tsc.configs.common import ConfigDict, load

__all__ = ["ConfigDict", "load", "common", "dafl", "gan_kd", "gan_tsc", "tabular"]
