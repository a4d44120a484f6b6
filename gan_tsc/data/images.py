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

from gan_tsc.data.batching import padded_chunks
from gan_tsc.errors import UserError
from gan_tsc.ops import pixels

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


class DataError(UserError, ValueError):
  """A data set that cannot be loaded as configured; the message says why."""


@dataclasses.dataclass(frozen=True)
class ImageDataset:
  name: str
  train_images: np.ndarray  # uint8 (N, H, W, C)
  train_labels: np.ndarray  # int32 (N,)
  test_images: np.ndarray
  test_labels: np.ndarray
  num_classes: int
  mean: tuple[float, ...] | np.ndarray  # per channel; (H, W, C) with normalization='pixel_mean'
  std: tuple[float, ...]
  augment: str  # 'none' or 'crop_flip'

  @property
  def image_shape(self) -> tuple[int, int, int]:
    return tuple(self.train_images.shape[1:])


_LOADED: dict[str, ImageDataset] = {}


def load(data_config) -> ImageDataset:
  """The data set a `config.data` block names, loaded once.

  The phases of a pipeline share one data block, and loading resizes every
  image (Fashion-MNIST: seconds; CelebA: minutes), so the last data set
  loaded is kept and handed to the next phase that asks for the same block.
  """
  key = data_config.to_json()
  if key not in _LOADED:
    _LOADED.clear()
    _LOADED[key] = _load(data_config)
  return _LOADED[key]


def _load(data_config) -> ImageDataset:
  source, name = data_config.source, data_config.name
  if source not in SOURCES:
    raise DataError(f"Unknown data source {source!r}; choose one of {SOURCES} "
                    "(--config.data.source).")
  if source == "sklearn":
    if name != "digits":
      raise DataError(f"The sklearn source offers 'digits', not {name!r}.")
    train, test, num_classes = _load_digits(data_config.seed)
  elif source == "idx":
    train, test, num_classes = _load_idx(data_config.data_dir or DEFAULT_IDX_DIR)
  else:
    if name not in TFDS_NAMES:
      raise DataError(f"Unknown TFDS data set {name!r}; supported: {TFDS_NAMES}"
                      " (--config.data.name).")
    train, test, num_classes = _load_tfds(name, data_config)
  limit = data_config.max_train_examples
  if limit:  # before resizing: a smoke run on 512 images should not resize 60,000
    train = (train[0][:limit], train[1][:limit])
  size = data_config.image_size
  train = (_resize(train[0], size, data_config.center_crop), train[1])
  test = (_resize(test[0], size, data_config.center_crop), test[1])
  mean, std = _statistics(data_config, train[0])
  augment = data_config.augment
  if augment not in ("none", "crop_flip"):
    raise DataError(f"Unknown augment {augment!r}; use 'none' or 'crop_flip'.")
  return ImageDataset(name, train[0], train[1].astype(np.int32), test[0],
                      test[1].astype(np.int32), num_classes,
                      mean if isinstance(mean, np.ndarray) else tuple(mean), tuple(std), augment)


CHANNELS = {"mnist": 1, "fashion_mnist": 1, "digits": 1, "cifar10": 3, "cifar100": 3,
            "celeb_a": 3}


def stand_in(data_config, num_classes: int) -> ImageDataset:
  """One zero image and label of the configured data's shapes, with its pixel
  statistics where they are known without reading it (else 0.5): what a step's
  preprocessing reads, to time or count a step without loading the data
  (benchmarks/step_speed.py)."""
  name = data_config.name
  if name not in CHANNELS:
    raise DataError(f"No image shape known for {name!r}; known: {tuple(CHANNELS)}.")
  shape = (1, data_config.image_size, data_config.image_size, CHANNELS[name])
  zeros, labels = np.zeros(shape, np.uint8), np.zeros((1,), np.int32)
  mean, std = _statistics(data_config, zeros, known_only=True)
  return ImageDataset(name, zeros, labels, zeros, labels, num_classes, mean, std,
                      data_config.augment)


NORMALIZATIONS = ("dataset", "symmetric", "pixel_mean")


def _statistics(data_config, train_images: np.ndarray, known_only: bool = False):
  """(mean, std) in [0, 1] pixel units for `pixels.normalize`, by the block's normalization:
    dataset     per channel: the paper's known figures, else the training images';
    symmetric   0.5 and 0.5: [-1, 1], the range a tanh GAN models;
    pixel_mean  the training images' mean image (H, W, C) and std 1/255: inputs are
                0..255 pixels minus the per-pixel training mean, as GAN-TSC's
                authors feed their image students and teacher.
  known_only (no data read): unknown statistics are 0.5, a pixel mean is 0.5 everywhere."""
  kind, channels = data_config.normalization, train_images.shape[-1]
  if kind not in NORMALIZATIONS:
    raise DataError(f"Unknown normalization {kind!r}; choose one of {NORMALIZATIONS} "
                    "(--config.data.normalization).")
  if kind == "symmetric":
    return (0.5,) * channels, (0.5,) * channels
  if kind == "pixel_mean":
    mean = (np.full(train_images.shape[1:], 0.5, np.float32) if known_only
            else train_images.astype(np.float64).mean(0).astype(np.float32) / 255.0)
    return mean, (1.0 / 255.0,) * channels
  known = _KNOWN_STATS.get(data_config.name)
  if known or known_only:
    return known or ((0.5,) * channels, (0.5,) * channels)
  return _channel_stats(train_images)


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
  # One compiled shape: chunks of 4096, or the whole set when smaller (a smoke
  # run's 32 images padded to 4096 spent 25 s resizing padding).
  chunk = max(1, min(4096, len(images)))
  for start, (part, count) in zip(range(0, len(images), chunk), padded_chunks(images, chunk)):
    resized = np.asarray(resize(part.astype(np.float32)))[:count]
    out[start:start + count] = np.clip(np.round(resized), 0, 255)
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
  try:
    with opener(path, "rb") as f:
      data = f.read()
  except (EOFError, OSError) as error:  # a cut-off or corrupt .gz
    raise DataError(f"{path} cannot be read: {error}. Download it again.") from None
  if len(data) < 4:
    raise DataError(f"{path} is {len(data)} bytes long: too short for an IDX file.")
  zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
  if zero != 0 or dtype_code != 0x08 or len(data) < 4 + 4 * ndim:
    raise DataError(f"{path} is not an unsigned-byte IDX file.")
  shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
  expected = 4 + 4 * ndim + int(np.prod(shape))
  if len(data) != expected:
    raise DataError(f"{path} is {len(data)} bytes long, but its header ({'x'.join(map(str, shape))}"
                    f" bytes of data) says {expected}: the file is truncated or damaged. "
                    "Download it again.")
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
  if not data_config.download and not _tfds_prepared(builder):
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
                   download=data_config.download)
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
# On-device preprocessing (inside jitted steps).


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
  return pixels.normalize(x, dataset.mean, dataset.std)
