"""Image classification data: TFDS, local IDX files, scikit-learn digits.

Every source is loaded once into host memory as uint8 NHWC arrays at the size
the model wants (resized on load), with int32 labels. Normalisation and
augmentation run on the device inside the jitted steps (see `preprocess`), so
the host only gathers rows, and the batch at a step is a pure function of
(seed, step): a resumed run sees exactly the batches a straight run would.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import struct

import jax
import jax.numpy as jnp
import numpy as np

TFDS_NAMES = ("mnist", "fashion_mnist", "cifar10", "cifar100", "celeb_a")
SOURCES = ("tfds", "idx", "sklearn")
DEFAULT_IDX_DIR = "/usr/share/datasets/fashion-mnist"

# Per-channel statistics in [0, 1] pixel units, as the papers' code uses.
_KNOWN_STATS = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


class DataError(ValueError):
  """A data set that cannot be loaded as configured; the message says why."""


@dataclasses.dataclass(frozen=True)
class ImageDataset:
  name: str
  train_images: np.ndarray  # uint8 (N, H, W, C)
  train_labels: np.ndarray  # int32 (N,)
  test_images: np.ndarray
  test_labels: np.ndarray
  num_classes: int
  mean: tuple[float, ...]
  std: tuple[float, ...]
  augment: str  # 'none' or 'crop_flip'

  @property
  def image_shape(self) -> tuple[int, int, int]:
    return tuple(self.train_images.shape[1:])


def load(data_config) -> ImageDataset:
  """Loads the data set a `config.data` block names."""
  source, name = data_config.source, data_config.name
  if source not in SOURCES:
    raise DataError(f"Unknown data source {source!r}; choose one of {SOURCES} "
                    "(--config.data.source).")
  if source == "sklearn":
    if name != "digits":
      raise DataError(f"The sklearn source offers 'digits', not {name!r}.")
    train, test, num_classes = _load_digits(data_config.get("seed", 0))
  elif source == "idx":
    train, test, num_classes = _load_idx(data_config.data_dir or DEFAULT_IDX_DIR)
  else:
    if name not in TFDS_NAMES:
      raise DataError(f"Unknown TFDS data set {name!r}; supported: {TFDS_NAMES}"
                      " (--config.data.name).")
    train, test, num_classes = _load_tfds(name, data_config)
  limit = data_config.get("max_train_examples", 0)
  if limit:  # before resizing: a smoke run on 512 images should not resize 60,000
    train = (train[0][:limit], train[1][:limit])
  size = data_config.image_size
  train = (_resize(train[0], size, data_config.get("center_crop", False)), train[1])
  test = (_resize(test[0], size, data_config.get("center_crop", False)), test[1])
  mean, std = _KNOWN_STATS.get(name) or _channel_stats(train[0])
  if data_config.get("normalization", "dataset") == "symmetric":
    # GANs with a tanh output model pixels in [-1, 1].
    mean, std = (0.5,) * len(mean), (0.5,) * len(std)
  augment = data_config.get("augment", "none")
  if augment not in ("none", "crop_flip"):
    raise DataError(f"Unknown augment {augment!r}; use 'none' or 'crop_flip'.")
  return ImageDataset(name, train[0], train[1].astype(np.int32), test[0],
                      test[1].astype(np.int32), num_classes, tuple(mean),
                      tuple(std), augment)


def _channel_stats(images: np.ndarray):
  pixels = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
  return tuple(pixels.mean(0)), tuple(pixels.std(0))


def _resize(images: np.ndarray, size: int, center_crop: bool) -> np.ndarray:
  if center_crop:
    h, w = images.shape[1:3]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    images = images[:, top:top + side, left:left + side]
  if not size or images.shape[1:3] == (size, size):
    return images
  out = np.empty((len(images), size, size, images.shape[-1]), np.uint8)
  resize = jax.jit(lambda x: jax.image.resize(
      x, (x.shape[0], size, size, x.shape[-1]), "bilinear", antialias=True))
  chunk = 4096
  for start in range(0, len(images), chunk):
    part = images[start:start + chunk].astype(np.float32)
    if len(part) < chunk:  # keep one compiled shape
      part = np.concatenate([part, np.zeros((chunk - len(part),) + part.shape[1:], np.float32)])
    resized = np.asarray(resize(part))[:min(chunk, len(images) - start)]
    out[start:start + len(resized)] = np.clip(np.round(resized), 0, 255)
  return out


def _load_digits(seed: int):
  from sklearn.datasets import load_digits
  from sklearn.model_selection import train_test_split
  digits = load_digits()
  images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
  x_train, x_test, y_train, y_test = train_test_split(
      images, digits.target, test_size=0.2, random_state=seed,
      stratify=digits.target)
  return (x_train, y_train), (x_test, y_test), 10


def _read_idx(path: str) -> np.ndarray:
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rb") as f:
    data = f.read()
  zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
  if zero != 0 or dtype_code != 0x08:
    raise DataError(f"{path} is not an unsigned-byte IDX file.")
  shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
  return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _load_idx(directory: str):
  def find(stem):
    for candidate in (stem, stem + ".gz"):
      path = os.path.join(directory, candidate)
      if os.path.exists(path):
        return path
    raise DataError(
        f"Missing {stem}[.gz] in {directory!r}. Install the Debian package "
        "'dataset-fashion-mnist' (apt-get install dataset-fashion-mnist) or point "
        "--config.data.data_dir at a folder with the four IDX files.")
  x_train = _read_idx(find("train-images-idx3-ubyte"))[..., None]
  y_train = _read_idx(find("train-labels-idx1-ubyte"))
  x_test = _read_idx(find("t10k-images-idx3-ubyte"))[..., None]
  y_test = _read_idx(find("t10k-labels-idx1-ubyte"))
  return (x_train, y_train), (x_test, y_test), int(y_train.max()) + 1


def _load_tfds(name: str, data_config):
  import tensorflow_datasets as tfds
  data_dir = data_config.data_dir or None
  builder = tfds.builder(name, data_dir=data_dir)
  if not data_config.get("download", False) and not _tfds_prepared(builder):
    raise DataError(
        f"TFDS data set {name!r} is not prepared in {builder.data_dir!r}. Point "
        "--config.data.data_dir at a folder that holds it, prepare it with "
        f"`tfds build {name} --data_dir DIR`, or set --config.data.download=True "
        "on a machine with internet access.")
  splits = {"train": "train", "test": "test"}
  if name == "celeb_a":
    splits["test"] = "validation"  # CelebA's test split is not needed for GANs
  arrays = {}
  for role, split in splits.items():
    ds = tfds.load(name, split=split, data_dir=data_dir,
                   download=data_config.get("download", False))
    images, labels = [], []
    # Batched iteration: tfds.load(batch_size=-1) breaks under mock data.
    for example in tfds.as_numpy(ds.batch(4096)):
      images.append(example["image"])
      labels.append(example.get("label", np.zeros(len(example["image"]), np.int64)))
    arrays[role] = (np.concatenate(images), np.concatenate(labels))
  info = builder.info
  num_classes = info.features["label"].num_classes if "label" in info.features else 1
  return arrays["train"], arrays["test"], num_classes


def _tfds_prepared(builder) -> bool:
  # Under tfds.testing.mock_data the builder reports itself unprepared but
  # loading works; the mock replaces `as_dataset`, which we detect.
  as_dataset = type(builder).as_dataset
  if getattr(as_dataset, "__module__", "").startswith("tensorflow_datasets.testing"):
    return True
  return builder.is_prepared()


# ----------------------------------------------------------------------------
# Batching on the host.


class EpochBatcher:
  """Fixed-shape training batches; epoch order drawn from (seed, epoch).

  `batch(step)` depends only on the step, so a resumed run continues with the
  very batch an uninterrupted run would have seen. The remainder of each epoch
  is dropped (one compiled shape).
  """

  def __init__(self, arrays: dict[str, np.ndarray], batch_size: int, seed: int):
    self.arrays = arrays
    self.batch_size = batch_size
    self.seed = seed
    self.num_examples = len(next(iter(arrays.values())))
    if batch_size > self.num_examples:
      raise ValueError(f"batch_size={batch_size} exceeds the {self.num_examples} "
                       "training examples.")
    self.steps_per_epoch = self.num_examples // batch_size
    self._epoch, self._order = -1, None

  def batch(self, step: int) -> dict[str, np.ndarray]:
    from gan_tsc import parallel
    epoch, index = divmod(step, self.steps_per_epoch)
    if epoch != self._epoch:
      self._order = np.random.default_rng([self.seed, epoch]).permutation(self.num_examples)
      self._epoch = epoch
    rows = self._order[index * self.batch_size:(index + 1) * self.batch_size]
    rows = np.sort(rows[parallel.host_slice(self.batch_size)])
    return parallel.shard_batch({k: v[rows] for k, v in self.arrays.items()})


def eval_batches(images: np.ndarray, labels: np.ndarray, batch_size: int):
  """Yields sharded (image, label, mask) batches covering every example once."""
  from gan_tsc import parallel
  n = len(images)
  for start in range(0, n, batch_size):
    stop = min(start + batch_size, n)
    pad = batch_size - (stop - start)
    x, y = images[start:stop], labels[start:stop]
    mask = np.ones(stop - start, np.float32)
    if pad:
      x = np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)])
      y = np.concatenate([y, np.zeros(pad, y.dtype)])
      mask = np.concatenate([mask, np.zeros(pad, np.float32)])
    local = parallel.host_slice(batch_size)
    yield parallel.shard_batch({"image": x[local], "label": y[local], "mask": mask[local]})


# ----------------------------------------------------------------------------
# On-device preprocessing (inside jitted steps).


def normalize(images: jax.Array, mean, std) -> jax.Array:
  x = images.astype(jnp.float32) / 255.0
  return (x - jnp.asarray(mean, jnp.float32)) / jnp.asarray(std, jnp.float32)


def random_crop_flip(key: jax.Array, images: jax.Array, pad: int = 4) -> jax.Array:
  """Per-image random crop after zero padding, and random horizontal flip."""
  n, h, w, _ = images.shape
  crop_key, flip_key = jax.random.split(key)
  padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  offsets = jax.random.randint(crop_key, (n, 2), 0, 2 * pad + 1)
  crop = lambda img, off: jax.lax.dynamic_slice(img, (off[0], off[1], 0), (h, w, img.shape[-1]))
  images = jax.vmap(crop)(padded, offsets)
  flip = jax.random.bernoulli(flip_key, 0.5, (n, 1, 1, 1))
  return jnp.where(flip, images[:, :, ::-1], images)


def preprocess(images, dataset: ImageDataset, key=None, train: bool = False):
  """uint8 batch -> normalised float batch; augments when training."""
  x = images.astype(jnp.float32)
  if train and dataset.augment == "crop_flip":
    x = random_crop_flip(key, x)  # pads with black, before normalising
  return normalize(x, dataset.mean, dataset.std)


# ----------------------------------------------------------------------------
# The GANs' pixel range. Generators end in tanh, so GANs see pixels in
# [-1, 1]; classifiers see them normalised with the data set's statistics.


def to_tanh_range(images) -> jax.Array:
  """uint8 (or 0..255 float) pixels -> [-1, 1], the range a GAN models."""
  return images.astype(jnp.float32) / 127.5 - 1.0


def from_tanh_range(images, dataset: ImageDataset) -> jax.Array:
  """A generator's [-1, 1] images -> the normalised inputs a classifier takes."""
  return normalize((images + 1.0) * 127.5, dataset.mean, dataset.std)
