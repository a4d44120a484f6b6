"""GAN-TSC on tabular data: loading and bad input, the WGAN-GP, MUNGE, forests, table."""

import json
import os
import time

import jax
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import roc_auc_score

from gan_tsc import configs
from gan_tsc import checkpoints, forests, parallel
from gan_tsc.data import tabular
from gan_tsc.data import batching
from gan_tsc.errors import WorkdirError
from gan_tsc.models import generators
from gan_tsc.phases import forest, shared, tabular_gan
from gan_tsc.trained import TrainedGenerator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAGIC = os.path.join(ROOT, "..", "shared", "data", "magic_gamma_telescope.npz")


def blobs(n=400, features=4, seed=0, test=100):
  """Two classes of skewed, correlated, unstandardised rows."""
  rng = np.random.default_rng(seed)
  y = (rng.random(n + test) < 0.3).astype(np.int64)
  x = rng.normal(size=(n + test, features))
  x[:, 1] += 0.8 * x[:, 0]
  x += 2.0 * y[:, None]
  x[:, 2] = np.exp(x[:, 2])  # a heavy right tail
  x = x * np.arange(1, features + 1) * 3.0 + 10.0
  return x[:n], y[:n], x[n:], y[n:]


def save_npz(path, **arrays):
  np.savez(path, **arrays)
  return configs.tabular.tabular_data("npz", path=str(path))


# ---------------------------------------------------------------------------
# Data: sources, statistics, and every kind of bad input.


def test_npz_loads_and_standardises_with_training_statistics(tmp_path):
  x, y, xt, yt = blobs()
  dataset = tabular.load(save_npz(tmp_path / "d.npz", X_train=x, y_train=y.astype(float),
                                  X_test=xt, y_test=yt))
  assert (dataset.num_classes, dataset.num_features) == (2, 4)
  np.testing.assert_allclose(dataset.mean, x.mean(0))
  np.testing.assert_allclose(dataset.std, x.std(0))
  z = dataset.standardize(dataset.train_features)
  np.testing.assert_allclose(z.mean(0), 0, atol=1e-9)
  np.testing.assert_allclose(dataset.destandardize(z), x)
  assert dataset.train_labels.dtype == np.int32
  np.testing.assert_allclose(dataset.class_frequencies, np.bincount(y) / len(y))


def test_csv_with_header_label_last_and_sklearn_sets(tmp_path):
  x, y, _, _ = blobs(n=200)
  path = tmp_path / "d.csv"
  with open(path, "w") as f:
    f.write("a,b,c,d,label\n")
    for row, label in zip(x, y):
      f.write(",".join(f"{v:.6f}" for v in row) + f",{label}\n")
  dataset = tabular.load(configs.tabular.tabular_data("csv", path=str(path), test_fraction=0.25))
  assert len(dataset.train_features) == 150 and len(dataset.test_features) == 50
  assert dataset.num_features == 4
  wine = tabular.load(configs.tabular.tabular_data("sklearn", name="wine"))
  assert (wine.num_classes, wine.num_features) == (3, 13)


BAD_NPZ = {
    "missing": (dict(X_train=np.ones((4, 2)), y_train=[0, 1, 0, 1], X_test=np.ones((2, 2))),
                r"missing array\(s\) \['y_test'\]"),
    "fractional labels": (dict(y_train=[0, 1, 0.5, 1]), r"y_train must be integer class ids"),
    "string labels": (dict(y_train=np.array(["a", "b", "a", "b"])), r"y_train.*dtype <U1"),
    "negative class": (dict(y_test=[-1, 0]), r"y_test has negative class id -1"),
    "class out of range": (dict(y_test=[0, 2]), r"y_test has class id\(s\) \[2\] out of range"),
    "class gap": (dict(y_train=[0, 2, 0, 2], y_test=[0, 0]), r"none of class\(es\) \[1\]"),
    "one class": (dict(y_train=[0, 0, 0, 0], y_test=[0, 0]), r"single class"),
    "NaN feature": (dict(X_train=np.array([[0, 1], [np.nan, 1], [1, 0], [0, 0]])),
                    r"X_train has 1 NaN or infinite value\(s\) \(first at row 1, column 0\)"),
    "inf feature": (dict(X_test=np.array([[0, np.inf], [1, 1]])), r"X_test has 1 NaN or infinite"),
    "lengths": (dict(y_train=[0, 1, 0]), r"X_train has 4 rows but y_train has 3 labels"),
    "columns": (dict(X_test=np.ones((2, 3))), r"X_train has 2 features but X_test has 3"),
    "1-D features": (dict(X_train=np.ones(4)), r"X_train must be 2-D"),
    "one-class test split": (dict(y_test=[1, 1]), r"y_test holds a single class"),
    "huge class id": (dict(y_test=np.array([0, 2**40])), r"y_test has class id 1099511627776"),
    "object array": (dict(X_test=np.array([[0, "a"], [1, None]], dtype=object)),
                     r"cannot read its arrays as numbers"),
}


@pytest.mark.parametrize("case", sorted(BAD_NPZ))
def test_bad_npz_is_refused_with_a_clear_error(tmp_path, case):
  changes, message = BAD_NPZ[case]
  arrays = dict(X_train=np.arange(8.0).reshape(4, 2), y_train=np.array([0, 1, 0, 1]),
                X_test=np.ones((2, 2)), y_test=np.array([0, 1]))
  arrays.update({k: np.asarray(v) for k, v in changes.items()})
  if case == "missing":
    arrays.pop("y_test")
  with pytest.raises(tabular.DataError, match=message) as error:
    tabular.load(save_npz(tmp_path / "bad.npz", **arrays))
  assert "bad.npz" in str(error.value)  # names the file


def test_bad_files_and_names_are_refused(tmp_path):
  with pytest.raises(tabular.DataError, match="not found"):
    tabular.load(configs.tabular.tabular_data("npz", path=str(tmp_path / "nope.npz")))
  (tmp_path / "text.npz").write_text("not a zip")
  with pytest.raises(tabular.DataError, match="cannot be read as an .npz"):
    tabular.load(configs.tabular.tabular_data("npz", path=str(tmp_path / "text.npz")))
  (tmp_path / "bad.csv").write_text("a,b,label\n1,2,0\n3,x,1\n")
  with pytest.raises(tabular.DataError, match="bad.csv: every row"):
    tabular.load(configs.tabular.tabular_data("csv", path=str(tmp_path / "bad.csv")))
  (tmp_path / "frac.csv").write_text("1,2,0\n3,4,1.5\n5,6,0\n7,8,1\n")
  with pytest.raises(tabular.DataError, match="integer class ids"):
    tabular.load(configs.tabular.tabular_data("csv", path=str(tmp_path / "frac.csv")))
  with pytest.raises(tabular.DataError, match="Unknown scikit-learn data set 'mnist'"):
    tabular.load(configs.tabular.tabular_data("sklearn", name="mnist"))
  with pytest.raises(tabular.DataError, match="Unknown tabular data source"):
    tabular.load(configs.tabular.tabular_data("parquet", path="x"))


# ---------------------------------------------------------------------------
# The conditional WGAN-GP.


def gan_config(num_steps=300, hidden=(64, 64), batch_size=64, n_critic=3, lr=1e-3,
               ensemble_size=1):
  c = configs.tabular.tabular_gan_phase(
      num_steps=num_steps, batch_size=batch_size, n_critic=n_critic, hidden=hidden, latent_dim=8,
      learning_rate=lr, ensemble_size=ensemble_size)
  c.log_every_steps = 50
  return c


def blob_dataset(**kwargs):
  return tabular.from_arrays("blobs", *blobs(**kwargs))


def class_conditions(dataset, clusters_per_class=1):
  return tabular_gan.Conditions(dataset.standardize(dataset.train_features), dataset.train_labels,
                                dataset.num_classes, clusters_per_class)


def sampler(generator, dataset, conditions=None):
  return tabular_gan.make_sampler(generator, 8, conditions or class_conditions(dataset),
                                  tabular_gan.FeatureTransform("standardize", dataset))


def setup_gan(c, dataset, seed=0):
  conditions = class_conditions(dataset)
  generator, critic = tabular_gan.build_models(c, dataset, conditions.num)
  state, gs, ds = tabular_gan.create_state(generator, critic, jax.random.PRNGKey(seed), c,
                                           dataset.num_features, c.num_steps)
  step = shared.jit_step(tabular_gan.make_step(generator, critic, c, gs, ds), batch="stacked")
  batcher = batching.EpochBatcher(
      {"features": dataset.standardize(dataset.train_features).astype(np.float32),
       "label": conditions.ids}, c.batch_size, seed, stacks=c.n_critic)
  return generator, state, step, batcher


def moment_gap(generator, variables, dataset):
  sample = sampler(generator, dataset)
  generated = TrainedGenerator(generator, variables, None, {}, sample, sample_chunk=4096)
  rows, labels = generated.sample_on_host(jax.random.PRNGKey(5), 4096)
  stats = tabular_gan.sample_statistics(rows, labels, dataset)
  return stats["sample_feature_mean_gap"] + stats["sample_feature_std_gap"]


def test_critic_distinguishes_then_gan_losses_fall_and_samples_approach_data():
  dataset = blob_dataset()
  c = gan_config()
  generator, state, step, batcher = setup_gan(c, dataset)
  key = jax.random.PRNGKey(1)
  gap_before = moment_gap(generator, {"params": state.generator.params}, dataset)
  history = []
  for i in range(c.num_steps):
    state, metrics = step(state, batcher.batch(i), key)
    # Reading each step keeps 8 fake devices on 2 cores from queueing up
    # collectives until one starves (XLA aborts after 40 s).
    history.append(jax.device_get(metrics))
  w = np.array([m["wasserstein_estimate"] for m in history])
  critic_loss = np.array([m["critic_loss"] for m in history])
  # The critic soon scores real rows above fake ones (a positive distance)...
  assert w[10:60].mean() > 0.3, w[:60]
  # ...and, as the generator catches up, the distance it finds and its loss fall.
  assert w[-50:].mean() < 0.5 * w[10:60].max(), (w[10:60].max(), w[-50:].mean())
  assert critic_loss[-50:].mean() > critic_loss[10:60].min()  # less negative
  gap_after = moment_gap(generator, {"params": state.generator.params}, dataset)
  assert gap_after < 0.5 * gap_before, (gap_before, gap_after)
  assert step._cache_size() == 1  # one compile


@pytest.mark.parametrize("members", [1, 2])
def test_eight_devices_agree_with_one(members):
  dataset = blob_dataset()
  c = gan_config(num_steps=3, batch_size=32, hidden=(16,), ensemble_size=members)
  # SGD, not Adam: Adam's first steps move every weight by about the learning
  # rate whatever its gradient's size, so float noise in a near-zero gradient
  # can flip a step; SGD's steps differ only as much as the gradients do.
  c.generator_optimizer = c.critic_optimizer = configs.common.optimizer("sgd", 0.05)
  key = jax.random.PRNGKey(3)
  params = []
  for devices in (jax.devices()[:1], jax.devices()):
    with parallel.using_devices(devices):
      _, state, step, batcher = setup_gan(c, dataset)
      for i in range(3):
        state, _ = step(state, batcher.batch(i), key)
      params.append(jax.device_get((state.generator.params, state.critic.params)))
  assert len(jax.devices()) == 8
  for a, b in zip(jax.tree.leaves(params[0]), jax.tree.leaves(params[1])):
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def test_sampler_gives_data_units_and_training_class_mix():
  dataset = blob_dataset()
  c = gan_config()
  generator, state, _, _ = setup_gan(c, dataset)
  sample = sampler(generator, dataset)
  variables = {"params": jax.device_get(state.generator.params)}
  rows, labels = jax.device_get(sample(variables, jax.random.PRNGKey(0), 20000))
  assert rows.shape == (20000, 4)
  assert abs(np.mean(labels == 1) - dataset.class_frequencies[1]) < 0.02
  # De-standardised: the same generator output, scaled by the training statistics.
  z_rows = generator.apply(first_member(variables), jax.random.normal(
      jax.random.split(jax.random.PRNGKey(0))[1], (20000, 8)), labels)
  np.testing.assert_allclose(rows, np.asarray(z_rows) * dataset.std + dataset.mean, rtol=1e-4,
                             atol=1e-3)


def first_member(tree):
  return jax.tree.map(lambda leaf: leaf[0], tree)


def test_ensemble_members_train_apart_and_take_turns_in_the_samples():
  dataset = blob_dataset()
  c = gan_config(num_steps=20, hidden=(16,), ensemble_size=3)
  generator, state, step, batcher = setup_gan(c, dataset)
  for i in range(c.num_steps):
    state, metrics = step(state, batcher.batch(i), jax.random.PRNGKey(1))
  assert metrics["generator_loss"].shape == ()  # the members' mean
  params = jax.device_get(state.generator.params)
  kernels = params["Dense_0"]["kernel"]
  assert kernels.shape[0] == 3
  assert not np.allclose(kernels[0], kernels[1]) and not np.allclose(kernels[1], kernels[2])
  # Row j comes from member j mod 3: rebuild each row from its member's own output.
  n = 10  # not a multiple of 3: the last turn is cut short
  rows, labels = jax.device_get(sampler(generator, dataset)({"params": params},
                                                            jax.random.PRNGKey(4), n))
  condition_key, z_key = jax.random.split(jax.random.PRNGKey(4))
  z = jax.random.normal(z_key, (12, 8))
  for j in range(n):
    member = jax.tree.map(lambda leaf, j=j: leaf[j % 3], params)
    expected = generator.apply({"params": member}, z[j:j + 1], labels[j:j + 1])
    np.testing.assert_allclose(rows[j], np.asarray(expected)[0] * dataset.std + dataset.mean,
                               rtol=1e-4, atol=1e-4)


def test_cluster_conditions_cover_each_class_in_proportion():
  dataset = blob_dataset()
  conditions = class_conditions(dataset, clusters_per_class=3)
  assert conditions.num == 6
  np.testing.assert_array_equal(conditions.to_class[conditions.ids], dataset.train_labels)
  np.testing.assert_allclose(conditions.frequencies.sum(), 1.0)
  generator = generators.TabularGenerator(4, 6, (8,), 8)
  variables = generator.init(jax.random.PRNGKey(0), np.zeros((1, 8)), np.zeros(1, np.int32))
  one_member = jax.tree.map(lambda leaf: leaf[None], variables)
  _, labels = sampler(generator, dataset, conditions)(one_member, jax.random.PRNGKey(1), 20000)
  assert set(np.unique(labels)) == {0, 1}  # classes, not cluster ids
  assert abs(np.mean(np.asarray(labels) == 1) - dataset.class_frequencies[1]) < 0.02


def test_sampler_draws_the_classes_it_is_given():
  dataset = blob_dataset()
  conditions = class_conditions(dataset, clusters_per_class=3)
  generator = generators.TabularGenerator(4, 6, (8,), 8)
  variables = generator.init(jax.random.PRNGKey(0), np.zeros((1, 8)), np.zeros(1, np.int32))
  one_member = jax.tree.map(lambda leaf: leaf[None], variables)
  wanted = forests.balanced_labels(9001, 2, np.random.default_rng(0))
  assert np.bincount(wanted).tolist() == [4501, 4500]
  rows, labels = jax.device_get(sampler(generator, dataset, conditions)(
      one_member, jax.random.PRNGKey(1), 9001, wanted))
  np.testing.assert_array_equal(labels, wanted)
  # Each row from a cluster of its class, the clusters in their within-class proportions:
  # rebuild the rows from the drawn condition ids' generator outputs.
  condition_key, z_key = jax.random.split(jax.random.PRNGKey(1))
  z = jax.random.normal(z_key, (9001, 8))
  outputs = [np.asarray(generator.apply(variables, z, np.full(9001, k, np.int32)))
             * dataset.std + dataset.mean for k in range(6)]
  distance = np.array([np.abs(rows - o).max(1) for o in outputs])  # (6, n)
  of_its_class = conditions.to_class[:, None] == wanted[None, :]
  assert np.all(np.where(of_its_class, distance, np.inf).min(0) < 1e-3)
  ids = np.argmin(np.where(of_its_class, distance, np.inf), axis=0)
  for k in range(2):
    clusters = np.flatnonzero(conditions.to_class == k)
    within = conditions.frequencies[clusters] / conditions.frequencies[clusters].sum()
    drawn = np.bincount(ids[wanted == k], minlength=6)[clusters] / np.sum(wanted == k)
    np.testing.assert_allclose(drawn, within, atol=0.03)


def pipeline_config(data_block, gan_steps=4, **gan_overrides):
  config = configs.common.base(pipeline=("gan",))
  config.data = data_block
  config.gan = configs.tabular.tabular_gan_phase(num_steps=gan_steps, batch_size=16, n_critic=2,
                                                 hidden=(16,), latent_dim=4, **gan_overrides)
  config.gan.checkpoint_every_steps = 0  # the final step only
  config.gan.log_every_steps = 2
  return config


def test_resume_equals_straight_run_and_wrong_width_generator_is_refused(tmp_path, capsys):
  x, y, xt, yt = blobs()
  data = save_npz(tmp_path / "d.npz", X_train=x, y_train=y, X_test=xt, y_test=yt)
  straight = tabular_gan.run(pipeline_config(data, 4), "gan", str(tmp_path / "a"), {})
  tabular_gan.run(pipeline_config(data, 2), "gan", str(tmp_path / "b"), {})
  resumed = tabular_gan.run(pipeline_config(data, 4), "gan", str(tmp_path / "b"), {})
  for a, b in zip(jax.tree.leaves(jax.device_get(straight.variables)),
                  jax.tree.leaves(jax.device_get(resumed.variables))):
    np.testing.assert_array_equal(a, b)
  # A generator for 4 features restored for 5-feature data: named, not a shape dump.
  wide = save_npz(tmp_path / "wide.npz", X_train=np.c_[x, x[:, :1]], y_train=y,
                  X_test=np.c_[xt, xt[:, :1]], y_test=yt)
  config = pipeline_config(wide, checkpoint=str(tmp_path / "a" / "gan"))
  with pytest.raises(tabular_gan.TabularGanError, match="makes rows of 4 features but the data "
                     r"\(wide.npz\) and its teacher have 5"):
    tabular_gan.run(config, "gan", str(tmp_path / "c"), {})
  with pytest.raises(tabular_gan.TabularGanError, match="makes rows of 4 features"):
    tabular_gan.run(pipeline_config(wide, 4), "gan", str(tmp_path / "a"), {})  # resume, new data
  # A run that stopped before its last step, and a generator trained on other
  # features, are refused rather than decoded wrongly.
  tabular_gan.run(pipeline_config(data, 2), "gan", str(tmp_path / "e"), {})
  # As a killed 4-step run leaves it: its config, a checkpoint at step 2, no final record.
  with open(tmp_path / "e" / "gan" / "config.json", "w") as f:
    f.write(pipeline_config(data, 4).gan.to_json())
  os.remove(tmp_path / "e" / "results.json")
  with pytest.raises(checkpoints.CheckpointError, match="did not finish: its latest checkpoint "
                     "is step 2 of 4"):
    tabular_gan.run(pipeline_config(data, checkpoint=str(tmp_path / "e" / "gan")),
                    "gan", str(tmp_path / "f"), {})
  quantile = pipeline_config(data, checkpoint=str(tmp_path / "a" / "gan"))
  quantile.gan.feature_transform = "quantile"
  with pytest.raises(tabular_gan.TabularGanError, match="feature_transform='standardize'"):
    tabular_gan.run(quantile, "gan", str(tmp_path / "g"), {})
  # An ensemble restored as a single GAN (or the reverse) names the size to set.
  pair = pipeline_config(data, ensemble_size=2, checkpoint=str(tmp_path / "a" / "gan"))
  with pytest.raises(tabular_gan.TabularGanError, match="ensemble_size=1"):
    tabular_gan.run(pair, "gan", str(tmp_path / "h"), {})
  os.remove(tmp_path / "a" / "gan" / "config.json")  # a bare checkpoints folder: shapes only
  with pytest.raises(tabular_gan.TabularGanError, match="an ensemble of 1 GANs but the config "
                     "asks for 2; set --config.<phase>.ensemble_size=1"):
    tabular_gan.run(pair, "gan", str(tmp_path / "i"), {})
  with pytest.raises(tabular_gan.TabularGanError, match="ensemble_size=0"):
    tabular_gan.run(pipeline_config(data, ensemble_size=0), "gan", str(tmp_path / "j"), {})
  restored = tabular_gan.run(pipeline_config(data, checkpoint=str(tmp_path / "a" / "gan")),
                             "gan", str(tmp_path / "d"), {})
  for a, b in zip(jax.tree.leaves(jax.device_get(straight.variables)),
                  jax.tree.leaves(jax.device_get(restored.variables))):
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# Forests: MUNGE, Gaussian mixtures, the prefix trick, scores, the table.


def test_munge_keeps_ranges_and_class_balance():
  dataset = blob_dataset(n=600)
  x, y = dataset.train_features, dataset.train_labels
  rows = forests.munge(x, multiplier=9, swap_probability=0.1, spread=1.5, seed=0)
  assert rows.shape == (9 * len(x), x.shape[1])
  assert np.all(rows >= x.min(0)) and np.all(rows <= x.max(0))
  changed = np.mean(rows != np.tile(x, (9, 1)))
  assert 0.1 < changed < 0.35, changed  # p=0.1 per row, plus changes as a neighbour
  teacher = forests.fit_teacher(x, y, 50, 0, n_jobs=1)
  shares = np.bincount(teacher.predict(rows), minlength=2) / len(rows)
  np.testing.assert_allclose(shares, dataset.class_frequencies, atol=0.05)
  # The spread shrinks the noise: s -> infinity copies the neighbour's value.
  swapped = forests.munge(x, 1, swap_probability=1.0, spread=1e9, seed=0, clip=False)
  distance = np.abs(swapped[:, None, :] - x[None, :, :]).min(1)  # to a value in the column
  assert distance.max() < 1e-6


def test_gaussian_mixture_sampler_keeps_class_mix_and_ranges():
  dataset = blob_dataset(n=600)
  mixture = forests.ClassGaussianMixture(dataset.train_features, dataset.train_labels, 2,
                                         components=3)
  rows, labels = mixture.sample(6000, seed=1)
  assert rows.shape == (6000, 4)
  assert abs(np.mean(labels == 1) - dataset.class_frequencies[1]) < 0.03
  assert np.all(rows >= dataset.train_features.min(0))
  np.testing.assert_allclose(rows[labels == 1].mean(0),
                             dataset.train_features[dataset.train_labels == 1].mean(0),
                             rtol=0.1)
  again, _ = mixture.sample(6000, seed=1)
  np.testing.assert_array_equal(rows, again)  # a seed fixes the draw
  _, balanced = mixture.sample(6001, seed=1, class_mix="balanced")
  assert np.bincount(balanced).tolist() == [3001, 3000]


@pytest.mark.parametrize("kind", ["regressor", "multi_output", "classifier"])
def test_first_k_trees_are_the_k_tree_forest(kind):
  x, y, xt, _ = blobs(n=300)
  target = {"regressor": y.astype(float), "multi_output": np.eye(2)[y], "classifier": y}[kind]
  model = RandomForestClassifier if kind == "classifier" else RandomForestRegressor
  big = model(6, random_state=4, n_jobs=1).fit(x, target)
  prefixes = forests.prefix_predictions(big, xt, (1, 3, 6))
  for k, prefix in zip((1, 3, 6), prefixes):
    small = model(k, random_state=4, n_jobs=1).fit(x, target)
    expected = small.predict_proba(xt) if kind == "classifier" else small.predict(xt)
    np.testing.assert_allclose(prefix, expected, rtol=1e-6)


def test_scores_are_auc_for_two_classes_and_accuracy_for_more():
  y = np.array([0, 1, 1, 0, 1])
  p = np.array([0.2, 0.9, 0.4, 0.5, 0.7])
  assert forests.score(y, p, 2) == pytest.approx(roc_auc_score(y, p))
  assert forests.score(y, np.c_[1 - p, p], 2) == pytest.approx(roc_auc_score(y, p))
  probs = np.eye(3)[[0, 2, 1, 1]]
  assert forests.score(np.array([0, 2, 2, 1]), probs, 3) == pytest.approx(0.75)


@pytest.mark.parametrize("name", ["breast_cancer", "wine"])
def test_table_runs_on_a_bundled_set_in_seconds(name):
  dataset = tabular.load(configs.tabular.tabular_data("sklearn", name=name))
  start = time.perf_counter()
  teacher = forests.fit_teacher(dataset.train_features, dataset.train_labels, 50, 0, 1)
  mixture = forests.ClassGaussianMixture(dataset.train_features, dataset.train_labels,
                                         dataset.num_classes, components=2)
  n = 9 * len(dataset.train_features)
  # A stand-in for the GAN: any source of rows in the data's units will do.
  synthetic = {"gan": lambda s: mixture.sample(n, s + 100)[0],
               "gmm": lambda s: mixture.sample(n, s)[0],
               "munge": lambda s: forests.munge(dataset.train_features, 9, seed=s)}
  table = forests.compression_table(dataset, teacher, synthetic, tree_counts=(1, 3),
                                    num_seeds=2, n_jobs=1, log=lambda _: None)
  assert time.perf_counter() - start < 30
  assert table.metric == ("roc_auc" if name == "breast_cancer" else "accuracy")
  assert list(table.scores) == list(forests.DEFAULT_ROWS)
  for row, scores in table.scores.items():
    assert scores.shape == (2, 2) and np.all((scores > 0.5) & (scores <= 1.0)), (row, scores)
  assert table.teacher_score > 0.85
  markdown = table.markdown()
  assert "| training + GAN |" in markdown and "± " in markdown
  assert len(markdown.strip().splitlines()) == 4 + len(forests.DEFAULT_ROWS)
  json.dumps(table.to_json())


def test_munge_only_learns_from_munge_rows_alone():
  dataset = tabular.load(configs.tabular.tabular_data("sklearn", name="breast_cancer"))
  teacher = forests.fit_teacher(dataset.train_features, dataset.train_labels, 20, 0, 1)
  n = len(dataset.train_features)
  # A 'MUNGE' source of one repeated row: alone it teaches nothing (a constant
  # student, ROC-AUC 0.5); beside the training rows the student still learns.
  constant = {"munge": lambda s: np.repeat(dataset.train_features[:1], n, axis=0)}
  table = forests.compression_table(dataset, teacher, constant, rows=("munge", "munge_only"),
                                    tree_counts=(3,), num_seeds=1, n_jobs=1,
                                    log=lambda _: None)
  assert table.scores["munge_only"][0, 0] == 0.5
  assert table.scores["munge"][0, 0] > 0.9
  assert "| MUNGE only |" in table.markdown() and "| training + MUNGE |" in table.markdown()


def test_table_refuses_rows_without_their_source():
  dataset = tabular.load(configs.tabular.tabular_data("sklearn", name="iris"))
  teacher = forests.fit_teacher(dataset.train_features, dataset.train_labels, 5, 0, 1)
  with pytest.raises(forests.ForestError, match="needs synthetic rows from 'gan'"):
    forests.compression_table(dataset, teacher, {}, rows=("training", "gan"))
  with pytest.raises(forests.ForestError, match="GAN source made rows of shape|gan source"):
    forests.compression_table(dataset, teacher, {"gan": lambda s: np.ones((10, 3))},
                              rows=("gan",), num_seeds=1)


def test_forest_phase_refuses_a_generator_of_the_wrong_width(tmp_path):
  config = configs.load("gan_tsc_breast_cancer", "smoke", lock=False)
  wrong = TrainedGenerator(generators.TabularGenerator(7, 2, (4,), 4), {}, None, {}, None)
  with pytest.raises(forests.ForestError, match="makes rows of 7 features but the teacher is "
                     "trained on breast_cancer with 30"):
    forest.run(config, "forest", str(tmp_path), {"gan": wrong})
  with pytest.raises(forests.ForestError, match="names no earlier phase"):
    forest.run(config, "forest", str(tmp_path), {})
  config.forest.generator = ""
  config.forest.model.tree_counts = (0, 3)
  config.forest.synthetic_multiplier = 0
  config.forest.class_mix = "uniform"
  with pytest.raises(forests.ForestError, match=r"tree_counts=\(0, 3\) must list .*; "
                     r"class_mix='uniform' must be one of \('training', 'balanced'\); "
                     "synthetic_multiplier=0 must be at least 1"):
    forest.run(config, "forest", str(tmp_path), {})


# ---------------------------------------------------------------------------
# End to end through the launcher.


def test_breast_cancer_smoke_through_the_launcher(launcher, tmp_path, capsys):
  config = f"--config={ROOT}/configs/gan_tsc_breast_cancer.py:smoke"
  launcher([config, f"--workdir={tmp_path}"])
  results = json.load(open(tmp_path / "results.json"))
  assert set(results) == {"gan", "forest"}
  assert set(results["forest"]["rows"]) == set(forests.DEFAULT_ROWS)
  assert results["forest"]["metric"] == "roc_auc"
  assert (tmp_path / "forest" / "table.md").exists()
  assert os.listdir(tmp_path / "gan" / "checkpoints")
  # A rerun restores the GAN and reads the table instead of refitting.
  capsys.readouterr()
  launcher([config, f"--workdir={tmp_path}"])
  assert "[forest] finished earlier" in capsys.readouterr().out
  # Other forest settings in the same workdir: refused, then computed again on request,
  # the GAN (whose settings did not change) kept.
  other = [config, f"--workdir={tmp_path}", "--config.forest.model.tree_counts=(1, 2)"]
  with pytest.raises(WorkdirError, match=r"forest.model.tree_counts: \[1, 3\] -> \[1, 2\]"):
    launcher(other)
  gan_saved = os.path.getmtime(tmp_path / "gan" / "checkpoints")
  launcher(other + ["--retrain"])
  results = json.load(open(tmp_path / "results.json"))
  assert results["forest"]["tree_counts"] == [1, 2]
  assert os.path.getmtime(tmp_path / "gan" / "checkpoints") == gan_saved


@pytest.mark.skipif(not os.path.exists(MAGIC), reason=f"needs {MAGIC}")
def test_magic_config_reads_the_shared_file():
  config = configs.load("gan_tsc_magic", "smoke")
  dataset = tabular.load(config.data)
  assert dataset.train_features.shape == (13312, 10) and dataset.num_classes == 2
  assert config.pipeline == ("gan", "forest")
