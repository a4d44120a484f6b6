"""Data sources, deterministic batching, and on-device preprocessing."""

import gzip
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_tsc import configs
from gan_tsc.data import batching
from gan_tsc.data import images as image_data
from gan_tsc.ops import pixels


def write_idx(path, array, compress):
  header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
  opener = gzip.open if compress else open
  with opener(path + (".gz" if compress else ""), "wb") as f:
    f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def idx_folder(tmp_path):
  rng = np.random.default_rng(0)
  arrays = {
      "train-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28)),
      "train-labels-idx1-ubyte": np.arange(20) % 10,
      "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 28, 28)),
      "t10k-labels-idx1-ubyte": np.arange(10),
  }
  for i, (name, array) in enumerate(arrays.items()):
    write_idx(str(tmp_path / name), array, compress=i % 2 == 0)
  return tmp_path, arrays


def test_idx_files_are_read_exactly(idx_folder):
  folder, arrays = idx_folder
  data = image_data.load(
      configs.common.data("idx", "fashion_mnist", image_size=28, data_dir=str(folder)))
  np.testing.assert_array_equal(data.train_images[..., 0], arrays["train-images-idx3-ubyte"])
  np.testing.assert_array_equal(data.test_labels, arrays["t10k-labels-idx1-ubyte"])
  assert data.num_classes == 10 and data.train_images.dtype == np.uint8


def test_resize_to_32(idx_folder):
  folder, _ = idx_folder
  data = image_data.load(
      configs.common.data("idx", "fashion_mnist", image_size=32, data_dir=str(folder)))
  assert data.train_images.shape == (20, 32, 32, 1) and data.test_images.shape == (10, 32, 32, 1)


def test_stand_in_has_the_shapes_and_known_statistics_of_the_data(idx_folder):
  folder, _ = idx_folder
  block = configs.common.data("idx", "fashion_mnist", image_size=32, data_dir=str(folder))
  loaded, stand_in = image_data.load(block), image_data.stand_in(block, 10)
  assert stand_in.image_shape == loaded.image_shape == (32, 32, 1)
  assert (stand_in.mean, stand_in.std, stand_in.augment) == (loaded.mean, loaded.std, loaded.augment)
  cifar = image_data.stand_in(configs.common.data("tfds", "cifar100", normalization="symmetric"), 100)
  assert cifar.image_shape == (32, 32, 3) and cifar.mean == (0.5,) * 3
  with pytest.raises(image_data.DataError, match="No image shape known"):
    image_data.stand_in(configs.common.data("idx", "kmnist"), 10)


def test_digits_split_and_stats():
  data = image_data.load(configs.common.data("sklearn", "digits"))
  assert len(data.train_images) + len(data.test_images) == 1797
  assert data.image_shape == (32, 32, 1) and data.num_classes == 10
  assert set(np.unique(data.test_labels)) == set(range(10))
  pixels = data.train_images.astype(np.float64) / 255
  assert data.mean[0] == pytest.approx(pixels.mean(), rel=1e-6)


def test_batches_are_a_function_of_the_step():
  arrays = {"x": np.arange(50), "y": np.arange(50) * 2}
  a = batching.EpochBatcher(arrays, 8, seed=3)
  b = batching.EpochBatcher(arrays, 8, seed=3)
  assert a.steps_per_epoch == 6
  seen = [np.asarray(a.batch(s)["x"]) for s in range(6)]
  # One epoch: every batch distinct rows, remainder (2 rows) dropped.
  assert len(np.unique(np.concatenate(seen))) == 48
  # Random access (as after a resume) gives the same batch as sequential.
  for step in (13, 2, 7):
    np.testing.assert_array_equal(np.asarray(b.batch(step)["x"]), np.asarray(a.batch(step)["x"]))
  np.testing.assert_array_equal(np.asarray(a.batch(9)["y"]), 2 * np.asarray(a.batch(9)["x"]))
  c = batching.EpochBatcher(arrays, 8, seed=4)
  assert not np.array_equal(np.asarray(c.batch(0)["x"]), np.asarray(a.batch(0)["x"]))


def test_eval_batches_cover_every_example_once():
  images = np.arange(21)[:, None, None, None].astype(np.uint8)
  labels = np.arange(21, dtype=np.int32)
  covered = []
  for batch in batching.eval_batches({"image": images, "label": labels}, 8):
    assert batch["image"].shape[0] == 8
    mask = np.asarray(batch["mask"]).astype(bool)
    covered.extend(np.asarray(batch["label"])[mask])
  assert sorted(covered) == list(range(21))


def test_crop_flip_keeps_content_and_shape():
  images = jnp.arange(2 * 6 * 6 * 1, dtype=jnp.float32).reshape(2, 6, 6, 1) + 1
  out = image_data.random_crop_flip(jax.random.PRNGKey(0), images, pad=2)
  assert out.shape == images.shape
  # Every output pixel is either padding (0) or a pixel of the same image.
  for i in range(2):
    assert set(np.unique(out[i])) - {0.0} <= set(np.unique(images[i]))
  keys = jax.random.split(jax.random.PRNGKey(1), 20)
  outs = [image_data.random_crop_flip(k, images, pad=2) for k in keys]
  assert len({np.asarray(o).tobytes() for o in outs}) > 10


def test_normalize():
  x = jnp.full((1, 2, 2, 1), 255, jnp.uint8)
  np.testing.assert_allclose(pixels.normalize(x, (0.5,), (0.25,)), 2.0)


def test_pixel_mean_normalization_subtracts_the_training_mean_image():
  data = image_data.load(configs.common.data("sklearn", "digits", normalization="pixel_mean"))
  mean_image = data.train_images.astype(np.float64).mean(0)  # (32, 32, 1), 0..255
  assert np.asarray(data.mean).shape == (32, 32, 1)
  batch = data.test_images[:5]
  expected = batch.astype(np.float64) - mean_image  # the authors': pixels minus the mean
  np.testing.assert_allclose(image_data.preprocess(batch, data), expected, atol=1e-3)
  stand_in = image_data.stand_in(configs.common.data("tfds", "cifar10",
                                                     normalization="pixel_mean"), 10)
  assert np.asarray(stand_in.mean).shape == (32, 32, 3) and stand_in.std == (1 / 255,) * 3
  with pytest.raises(image_data.DataError, match="Unknown normalization 'zca'"):
    image_data.load(configs.common.data("sklearn", "digits", normalization="zca"))


def test_unknown_names_are_clear():
  with pytest.raises(image_data.DataError, match="offers 'digits'"):
    image_data.load(configs.common.data("sklearn", "iris"))
  with pytest.raises(image_data.DataError, match="Unknown augment"):
    image_data.load(configs.common.data("sklearn", "digits", augment="mixup"))
