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

Each generator step reads n_critic fresh real batches, batch_size x n_critic
rows: 64 x 5 = 320 of the 398 training rows here. That must not exceed the
training rows; for a smaller data set lower --config.gan.batch_size or
--config.gan.n_critic (the phase lowers batch_size to fit, with a warning).
"""

from gan_tsc.configs import tabular


def get_config(variant: str = ""):
  # 398 training rows: 5 critic batches of 64 per generator step fit in one epoch.
  return tabular.tabular_config(
      variant, tabular.tabular_data("sklearn", name="breast_cancer", test_fraction=0.3),
      num_steps=2000, batch_size=64, n_critic=5)
