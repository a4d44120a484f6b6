r"""GAN-TSC with random forests on scikit-learn's breast-cancer data. Runs anywhere.

The data ships with scikit-learn (569 rows, 30 features, 2 classes), split
70/30 stratified. A class-conditional WGAN-GP learns the training rows; a
500-tree RandomForestClassifier teacher labels real, GAN, MUNGE and
Gaussian-mixture rows (9x the training set each) with its probabilities;
RandomForestRegressor students of 1, 5, 10, 15 and 20 trees learn them.
Test ROC-AUC, mean ± std over 3 seeds, in the printed table,
`<workdir>/forest/table.md` and results.json.

  python launch/main.py --config=configs/gan_tsc_breast_cancer.py --workdir=runs/gan_tsc_bc

Expected: about 2 minutes on a 2-core CPU. With 171 test rows the AUCs sit
near 0.99 for every row; the table shows the protocol, MAGIC
(configs/gan_tsc_magic.py) shows the differences. `:smoke` runs each phase
in seconds.
"""

from gan_tsc import config_lib as cl


def get_config(variant: str = ""):
  variants = cl.parse_variant(variant, allowed=("smoke",))
  config = cl.base(pipeline=("gan", "forest"))
  config.data = cl.tabular_data("sklearn", name="breast_cancer", test_fraction=0.3)
  # 398 training rows: 5 critic batches of 64 per generator step fit in one epoch.
  config.gan = cl.tabular_gan_phase(num_steps=2000, batch_size=64, n_critic=5)
  config.forest = cl.forest_phase(generator="gan")
  if "smoke" in variants:
    cl.tabular_smoke(config)
  return config
