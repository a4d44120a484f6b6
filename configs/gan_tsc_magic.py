r"""GAN-TSC with random forests on MAGIC Gamma Telescope (tabular, binary).

Reads an .npz with X_train/y_train/X_test/y_test (default: the authors'
split, ../shared/data/magic_gamma_telescope.npz from the repository root) or
a CSV (features, then the class id in the last column; set
--config.data.source=csv). A class-conditional WGAN-GP learns the 13,312
training rows; a 500-tree RandomForestClassifier teacher labels real, GAN,
MUNGE and Gaussian-mixture rows (9x the training set each) with its class
probabilities; RandomForestRegressor students of 1, 5, 10, 15 and 20 trees
learn them. Test ROC-AUC, mean ± std over 3 seeds, in the printed table,
`<workdir>/forest/table.md` and results.json.

The GAN is an ensemble of five WGAN-GPs trained side by side (one vmapped
step; `ensemble_size`), the synthetic rows drawn from each in turn. Five was
chosen on a validation split (benchmarks/gan_tsc_tabular.py --validation:
20% of the training rows; the test split unread); those runs are in
docs/RESULTS.md.

  python launch/main.py --config=configs/gan_tsc_magic.py --workdir=runs/gan_tsc_magic
  python launch/main.py --config=configs/gan_tsc_magic.py \
      --config.data.path=/my/data.npz --workdir=runs/my_data
  python benchmarks/gan_tsc_tabular.py --data ../shared/data/magic_gamma_telescope.npz

Expected: about 10 minutes on a quiet 2-core CPU (measured 9.8: GAN 6.9 min,
forests 2.9 min); teacher test ROC-AUC 0.9353, 20-tree students 0.9249
(training data only) and 0.9299 (training + GAN).
`:smoke` runs each phase in seconds.

Each generator step reads n_critic fresh real batches, batch_size x n_critic
rows (256 x 5 = 1,280 here), and that must not exceed the training rows: for
a smaller data set (--config.data.path=...) lower --config.gan.batch_size or
--config.gan.n_critic (e.g. 124 training rows: batch_size=16, n_critic=5 read
80). The phase lowers batch_size to fit, with a warning.
"""

from gan_tsc.configs import tabular


def get_config(variant: str = ""):
  # 13,312 training rows: 5 critic batches of 256 (1,280 rows) per generator step.
  return tabular.tabular_config(
      variant, tabular.tabular_data("npz", path="../shared/data/magic_gamma_telescope.npz"),
      num_steps=6000, batch_size=256, n_critic=5, ensemble_size=5)
