"""Tabular classification data: `.npz` files, CSV files, scikit-learn sets.

A `config.data` block with `kind='tabular'` names one source:

  npz      `path` to a file holding the four arrays X_train (N, F), y_train (N,),
           X_test (M, F), y_test (M,); the file's own split is kept.
  csv      `path` to a comma-separated file of numbers, one row per example,
           features first and the class id in the LAST column. A first line
           that is not all numbers is taken for a header and skipped. The rows
           are split into train and test (stratified) by `test_fraction` and
           `split_seed`.
  sklearn  `name` of a data set bundled with scikit-learn (`SKLEARN_NAMES`),
           split the same way as a CSV.

Labels are class ids 0..K-1 (integers; a float array is accepted when every
value is whole), every class has training rows, and features are finite.
Anything else stops with a `DataError` that names the file, the array and
the problem. Relative paths are looked up from the working directory, then
from the repository root (configs name `../shared/data/...` from the root).

Features keep their own units for the forests; the GAN models them
standardised with the training split's mean and standard deviation
(`TabularDataset.standardize` / `.destandardize`).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from gan_tsc.errors import UserError

SOURCES = ("npz", "csv", "sklearn")
SKLEARN_NAMES = ("breast_cancer", "wine", "iris")
NPZ_ARRAYS = ("X_train", "y_train", "X_test", "y_test")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class DataError(UserError, ValueError):
  """A tabular data set that cannot be used as configured; the message says why."""


@dataclasses.dataclass(frozen=True)
class TabularDataset:
  """A split tabular data set. Features in their own units, float64."""
  name: str
  train_features: np.ndarray  # (N, F) float64
  train_labels: np.ndarray  # (N,) int32 in 0..K-1
  test_features: np.ndarray  # (M, F) float64
  test_labels: np.ndarray  # (M,) int32
  num_classes: int
  mean: np.ndarray  # (F,) of the training split
  std: np.ndarray  # (F,) of the training split; 1 where a feature is constant

  @property
  def num_features(self) -> int:
    return self.train_features.shape[1]

  @property
  def class_frequencies(self) -> np.ndarray:
    """Share of each class among the training rows, (K,)."""
    counts = np.bincount(self.train_labels, minlength=self.num_classes)
    return counts / counts.sum()

  def standardize(self, features):
    return (features - self.mean) / self.std

  def destandardize(self, features):
    return features * self.std + self.mean


def load(data_config) -> TabularDataset:
  """Loads and validates the data set a `config.data` block names."""
  source = data_config.source
  if source not in SOURCES:
    raise DataError(f"Unknown tabular data source {source!r}; choose one of {SOURCES} "
                    "(--config.data.source).")
  if source == "sklearn":
    name = data_config.name
    features, labels = _load_sklearn(name)
    arrays = _split(features, labels, data_config, f"scikit-learn {name!r}")
  else:
    path = resolve_path(data_config.path)
    name = os.path.basename(path)
    if source == "npz":
      arrays = _load_npz(path)
    else:
      features, labels = _load_csv(path)
      arrays = _split(features, labels, data_config, path)
  return from_arrays(name, *arrays)


def from_arrays(name: str, x_train, y_train, x_test, y_test) -> TabularDataset:
  """Validates four arrays (`name` is the file they came from, for errors)."""
  x_train = _features(x_train, name, "X_train")
  x_test = _features(x_test, name, "X_test")
  y_train = _labels(y_train, name, "y_train")
  y_test = _labels(y_test, name, "y_test")
  for x_name, x, y_name, y in (("X_train", x_train, "y_train", y_train),
                               ("X_test", x_test, "y_test", y_test)):
    if len(x) != len(y):
      raise DataError(f"{name}: {x_name} has {len(x)} rows but {y_name} has {len(y)} labels; "
                      "they must match row for row.")
    if not len(x):
      raise DataError(f"{name}: {x_name} has no rows.")
  if x_train.shape[1] != x_test.shape[1]:
    raise DataError(f"{name}: X_train has {x_train.shape[1]} features but X_test has "
                    f"{x_test.shape[1]}; both splits need the same columns.")
  num_classes = int(y_train.max()) + 1
  missing = sorted(set(range(num_classes)) - set(np.unique(y_train).tolist()))
  if missing:
    raise DataError(
        f"{name}: y_train has class ids up to {num_classes - 1} but none of class(es) "
        f"{missing}. Class ids must be 0..K-1 with every class in the training split; "
        "re-encode the labels (e.g. with np.unique(y, return_inverse=True)).")
  if num_classes < 2:
    raise DataError(f"{name}: y_train holds a single class; a classifier needs at least two.")
  if num_classes == 2 and len(np.unique(y_test)) < 2:
    raise DataError(f"{name}: y_test holds a single class; ROC-AUC on the test split needs "
                    "both classes.")
  if y_test.max() >= num_classes:
    bad = sorted(set(np.unique(y_test[y_test >= num_classes]).tolist()))
    raise DataError(f"{name}: y_test has class id(s) {bad[:5]} out of range: the training "
                    f"split has classes 0..{num_classes - 1} only.")
  mean = x_train.mean(0)
  std = x_train.std(0)
  std = np.where(std > 0, std, 1.0)  # a constant feature stays put instead of dividing by 0
  return TabularDataset(name, x_train, y_train, x_test, y_test, num_classes, mean, std)


def resolve_path(path: str) -> str:
  """A relative path is tried from the working directory, then the repo root."""
  if not path:
    raise DataError("No tabular data file given; set --config.data.path to an .npz or .csv file.")
  candidates = [path] if os.path.isabs(path) else [os.path.abspath(path),
                                                   os.path.join(REPO_ROOT, path)]
  for candidate in candidates:
    if os.path.isfile(candidate):
      return os.path.normpath(candidate)
  raise DataError(f"Tabular data file {path!r} not found (looked at "
                  f"{', '.join(repr(os.path.normpath(c)) for c in candidates)}); "
                  "set --config.data.path to an existing .npz or .csv file.")


def _load_npz(path: str):
  try:
    archive = np.load(path, allow_pickle=False)
  except Exception as error:  # zipfile, pickle and format errors alike
    raise DataError(f"{path}: cannot be read as an .npz archive ({error}).") from error
  with archive:
    missing = [k for k in NPZ_ARRAYS if k not in archive.files]
    if missing:
      raise DataError(f"{path}: missing array(s) {missing}; a tabular .npz needs "
                      f"{list(NPZ_ARRAYS)} (it holds {sorted(archive.files)}).")
    try:
      return tuple(archive[k] for k in NPZ_ARRAYS)
    except ValueError as error:  # object arrays need pickle, which is never allowed
      raise DataError(f"{path}: cannot read its arrays as numbers ({error}); store "
                      f"{list(NPZ_ARRAYS)} as numeric arrays.") from error


def _load_csv(path: str):
  with open(path) as f:
    first = f.readline()
  try:
    [float(v) for v in first.strip().split(",")]
    skip = 0
  except ValueError:
    skip = 1  # a header line
  try:
    table = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2, dtype=np.float64)
  except ValueError as error:
    raise DataError(f"{path}: every row after an optional header must be comma-separated "
                    f"numbers, features first and the class id last ({error}).") from error
  if table.shape[1] < 2:
    raise DataError(f"{path}: needs at least one feature column and the label column.")
  return table[:, :-1], table[:, -1]


def _load_sklearn(name: str):
  import sklearn.datasets
  if name not in SKLEARN_NAMES:
    raise DataError(f"Unknown scikit-learn data set {name!r}; choose one of {SKLEARN_NAMES} "
                    "(--config.data.name).")
  bunch = getattr(sklearn.datasets, f"load_{name}")()
  return bunch.data, bunch.target


def _split(features, labels, data_config, where: str):
  from sklearn.model_selection import train_test_split
  fraction = data_config.test_fraction
  if not 0.0 < fraction < 1.0:
    raise DataError(f"test_fraction={fraction} must lie strictly between 0 and 1 "
                    "(--config.data.test_fraction).")
  labels = _labels(labels, where, "label column")
  try:
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=fraction, random_state=data_config.split_seed,
        stratify=labels)
  except ValueError as error:  # e.g. a class with a single row
    raise DataError(f"{where}: cannot split into train and test stratified by class "
                    f"({error}).") from error
  return x_train, y_train, x_test, y_test


def _features(x, where: str, array: str) -> np.ndarray:
  x = np.asarray(x)
  if x.ndim != 2:
    raise DataError(f"{where}: {array} must be 2-D (rows, features), got shape {x.shape}.")
  if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
    raise DataError(f"{where}: {array} must hold numbers, got dtype {x.dtype}.")
  x = x.astype(np.float64)
  bad = ~np.isfinite(x)
  if bad.any():
    rows, cols = np.nonzero(bad)
    raise DataError(f"{where}: {array} has {bad.sum()} NaN or infinite value(s) (first at row "
                    f"{rows[0]}, column {cols[0]}); impute or drop them first.")
  return x


def _labels(y, where: str, array: str) -> np.ndarray:
  y = np.asarray(y)
  if y.ndim == 2 and y.shape[1] == 1:
    y = y[:, 0]
  if y.ndim != 1:
    raise DataError(f"{where}: {array} must be 1-D class ids, got shape {y.shape}.")
  if np.issubdtype(y.dtype, np.floating):
    if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
      example = y[~np.isfinite(y) | (y != np.round(y))][0]
      raise DataError(f"{where}: {array} must be integer class ids 0..K-1, found {example!r}.")
  elif not (np.issubdtype(y.dtype, np.integer) or y.dtype == bool):
    raise DataError(f"{where}: {array} must be integer class ids 0..K-1, got dtype {y.dtype} "
                    "(encode string labels as 0..K-1 first).")
  if len(y) and y.min() < 0:
    raise DataError(f"{where}: {array} has negative class id {int(y.min())}; "
                    "class ids must be 0..K-1.")
  if len(y) and y.max() > np.iinfo(np.int32).max:  # before the int32 cast wraps it
    raise DataError(f"{where}: {array} has class id {int(y.max())}; class ids must be 0..K-1.")
  return y.astype(np.int32)
