"""Tests for IS, FID and Laplacian sharpness against hand computations."""

import numpy as np
import pytest
import scipy.linalg
import scipy.signal

from gan_tsc.metrics import image_quality as iq


# ---------------------------------------------------------------- Inception


def test_inception_score_of_uniform_predictions_is_one():
  probs = np.full((200, 10), 0.1)
  mean, std = iq.inception_score(probs, num_splits=10)
  assert mean == pytest.approx(1.0, abs=1e-6)
  assert std == pytest.approx(0.0, abs=1e-6)


def test_inception_score_of_confident_balanced_predictions_is_num_classes():
  num_classes, num_samples = 10, 1000
  # Labels cycle 0..9, so each of the 10 contiguous splits of 100 holds every
  # class exactly 10 times.
  labels = np.arange(num_samples) % num_classes
  probs = np.eye(num_classes)[labels]
  mean, std = iq.inception_score(probs, num_splits=10)
  assert mean == pytest.approx(num_classes, abs=1e-4)
  assert std == pytest.approx(0.0, abs=1e-4)


def test_inception_score_of_single_confident_class_is_one():
  probs = np.zeros((100, 10))
  probs[:, 3] = 1.0
  mean, _ = iq.inception_score(probs, num_splits=5)
  assert mean == pytest.approx(1.0, abs=1e-6)


def test_inception_score_matches_hand_computation():
  rng = np.random.default_rng(0)
  num_samples, num_classes = 7, 4
  probs = rng.dirichlet(np.full(num_classes, 0.5), size=num_samples)

  marginal = [sum(probs[i, k] for i in range(num_samples)) / num_samples
              for k in range(num_classes)]
  mean_kl = 0.0
  for i in range(num_samples):
    kl = 0.0
    for k in range(num_classes):
      kl += probs[i, k] * (np.log(probs[i, k]) - np.log(marginal[k]))
    mean_kl += kl / num_samples
  expected = np.exp(mean_kl)

  mean, std = iq.inception_score(probs, num_splits=1)
  assert mean == pytest.approx(expected, rel=1e-10)
  assert std == 0.0
  assert 1.0 < mean < num_classes


def test_inception_score_uses_each_splits_own_marginal():
  # Split 1: two confident classes (IS 2); split 2: one class (IS 1). With a
  # marginal pooled over both splits they would score 4 and 2 instead.
  probs = np.eye(3)[[0, 0, 1, 1, 2, 2, 2, 2]]
  mean, std = iq.inception_score(probs, num_splits=2)
  assert mean == pytest.approx(1.5)
  assert std == pytest.approx(0.5)


@pytest.mark.parametrize(
    "probs, num_splits, message",
    [
        (np.full((10,), 0.1), 1, "2-D"),
        (np.full((10, 4), 0.3), 1, "sum to 1"),
        (np.tile([1.5, -0.5], (10, 1)), 1, "non-negative"),
        (np.full((5, 2), 0.5), 10, "at least"),
        (np.full((5, 2), np.nan), 1, "non-finite"),
    ],
)
def test_inception_score_rejects_bad_input(probs, num_splits, message):
  with pytest.raises(ValueError, match=message):
    iq.inception_score(probs, num_splits=num_splits)


# ---------------------------------------------------------------------- FID


def _direct_fid(a, b):
  mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
  sigma_a = np.cov(a, rowvar=False)
  sigma_b = np.cov(b, rowvar=False)
  covmean = np.real(scipy.linalg.sqrtm(sigma_a @ sigma_b))
  return (np.sum((mu_a - mu_b) ** 2) + np.trace(sigma_a) + np.trace(sigma_b) -
          2.0 * np.trace(covmean))


def test_feature_statistics_are_float64_mean_and_covariance():
  features = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
  mean, covariance = iq.feature_statistics(features)
  assert mean.dtype == np.float64 and covariance.dtype == np.float64
  np.testing.assert_allclose(mean, features.astype(np.float64).mean(axis=0))
  np.testing.assert_allclose(
      covariance, np.cov(features.astype(np.float64), rowvar=False))


def test_fid_of_set_with_itself_is_zero():
  rng = np.random.default_rng(1)
  features = rng.normal(size=(300, 16)) * 5.0 + 2.0
  scale = np.trace(np.cov(features, rowvar=False))
  assert iq.fid(features, features) < 1e-6 * scale


def test_fid_matches_direct_computation():
  rng = np.random.default_rng(2)
  mixing = rng.normal(size=(6, 6))
  a = rng.normal(size=(400, 6))
  b = rng.normal(size=(300, 6)) @ mixing + 0.5
  expected = _direct_fid(a, b)
  assert expected > 1.0
  assert iq.fid(a, b) == pytest.approx(expected, rel=1e-6)


def test_fid_between_shifted_gaussians_approaches_squared_shift():
  rng = np.random.default_rng(3)
  shift = np.array([1.0, 2.0, 0.0, -1.0])
  a = rng.normal(size=(20000, 4))
  b = rng.normal(size=(20000, 4)) + shift
  assert iq.fid(a, b) == pytest.approx(np.sum(shift**2), abs=0.1)


def test_fid_is_symmetric():
  rng = np.random.default_rng(4)
  a = rng.normal(size=(200, 5))
  b = rng.normal(size=(150, 5)) * 2.0 + 1.0
  assert iq.fid(a, b) == pytest.approx(iq.fid(b, a), rel=1e-8)


def test_fid_with_fewer_samples_than_dims_is_finite():
  # Rank-deficient covariances make sigma1 @ sigma2 singular.
  rng = np.random.default_rng(5)
  a = rng.normal(size=(5, 20))
  b = rng.normal(size=(5, 20)) + 1.0
  value = iq.fid(a, b)
  assert np.isfinite(value) and value >= 0.0


def test_frechet_distance_retries_with_diagonal_offset(monkeypatch):
  real_sqrtm = scipy.linalg.sqrtm
  products = []

  def sqrtm_failing_once(matrix):
    products.append(matrix)
    if len(products) == 1:
      return np.full_like(matrix, np.nan)
    return real_sqrtm(matrix)

  monkeypatch.setattr(scipy.linalg, "sqrtm", sqrtm_failing_once)
  rng = np.random.default_rng(8)
  a, b = rng.normal(size=(50, 3)), rng.normal(size=(40, 3)) + 1.0
  mu_a, sigma_a = iq.feature_statistics(a)
  mu_b, sigma_b = iq.feature_statistics(b)
  value = iq.frechet_distance(mu_a, sigma_a, mu_b, sigma_b)

  assert len(products) == 2
  offset = 1e-6 * np.eye(3)
  np.testing.assert_allclose(products[1],
                             (sigma_a + offset) @ (sigma_b + offset))
  covmean = np.real(real_sqrtm((sigma_a + offset) @ (sigma_b + offset)))
  expected = (np.sum((mu_a - mu_b)**2) + np.trace(sigma_a) +
              np.trace(sigma_b) - 2.0 * np.trace(covmean))
  assert value == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_retries_a_spurious_imaginary_part(monkeypatch):
  # Nearly singular products can come back from sqrtm with an imaginary part
  # well above rounding; the offset retry (not an error) handles them.
  real_sqrtm = scipy.linalg.sqrtm
  calls = []

  def sqrtm_complex_once(matrix):
    calls.append(matrix)
    root = real_sqrtm(matrix)
    return root + 0.1j * np.abs(root).max() if len(calls) == 1 else root

  monkeypatch.setattr(scipy.linalg, "sqrtm", sqrtm_complex_once)
  rng = np.random.default_rng(9)
  a, b = rng.normal(size=(60, 3)), rng.normal(size=(50, 3)) * 2.0
  mu_a, sigma_a = iq.feature_statistics(a)
  mu_b, sigma_b = iq.feature_statistics(b)
  value = iq.frechet_distance(mu_a, sigma_a, mu_b, sigma_b)
  assert len(calls) == 2
  offset = 1e-6 * np.eye(3)
  covmean = np.real(real_sqrtm((sigma_a + offset) @ (sigma_b + offset)))
  expected = (np.sum((mu_a - mu_b)**2) + np.trace(sigma_a) +
              np.trace(sigma_b) - 2.0 * np.trace(covmean))
  assert value == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_raises_when_retry_fails(monkeypatch):
  monkeypatch.setattr(scipy.linalg, "sqrtm",
                      lambda matrix: np.full_like(matrix, np.inf))
  with pytest.raises(ValueError, match="failed"):
    iq.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2))


def test_frechet_distance_of_diagonal_gaussians_is_closed_form():
  # Commuting covariances: sqrtm(s1 s2) = diag(sqrt(d1 d2)).
  d1, d2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
  mu1, mu2 = np.zeros(3), np.array([1.0, 0.0, 2.0])
  expected = 5.0 + np.sum(d1 + d2 - 2.0 * np.sqrt(d1 * d2))
  value = iq.frechet_distance(mu1, np.diag(d1), mu2, np.diag(d2))
  assert value == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_rejects_large_imaginary_part():
  # Not a covariance: the product has a negative eigenvalue.
  with pytest.raises(ValueError, match="imaginary"):
    iq.frechet_distance(np.zeros(2), np.diag([1.0, 1.0]), np.zeros(2),
                        np.diag([-1.0, 1.0]))


@pytest.mark.parametrize(
    "a, b, message",
    [
        (np.zeros(10), np.zeros((10, 1)), "2-D"),
        (np.zeros((10, 3)), np.zeros((10, 3, 1)), "2-D"),
        (np.zeros((1, 3)), np.zeros((10, 3)), "at least 2"),
        (np.zeros((10, 3)), np.zeros((10, 4)), "dims differ"),
    ],
)
def test_fid_rejects_bad_shapes(a, b, message):
  with pytest.raises(ValueError, match=message):
    iq.fid(a, b)


def test_frechet_distance_rejects_mismatched_statistics():
  with pytest.raises(ValueError, match="shape"):
    iq.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2))
  with pytest.raises(ValueError, match="means"):
    iq.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(3))


# ---------------------------------------------------------------- Sharpness


def test_laplacian_variance_matches_hand_computation():
  image = np.array([
      [0, 1, 0, 2, 0],
      [3, 0, 1, 0, 1],
      [0, 2, 5, 1, 0],
      [1, 0, 1, 0, 4],
      [0, 3, 0, 2, 0],
  ], dtype=np.float64)
  # Valid 3×3 region: (up + down + left + right) - 4 · centre.
  laplacian = np.array([
      [(1 + 2 + 3 + 1) - 4 * 0, (0 + 5 + 0 + 0) - 4 * 1, (2 + 1 + 1 + 1) - 4 * 0],
      [(0 + 0 + 0 + 5) - 4 * 2, (1 + 1 + 2 + 1) - 4 * 5, (0 + 0 + 5 + 0) - 4 * 1],
      [(2 + 3 + 1 + 1) - 4 * 0, (5 + 0 + 0 + 0) - 4 * 1, (1 + 2 + 1 + 4) - 4 * 0],
  ], dtype=np.float64)  # [[7, 1, 5], [-3, -15, 1], [7, 1, 8]]
  # Mean 12/9, mean square 424/9, variance 408/9.
  assert np.mean(laplacian**2) - np.mean(laplacian)**2 == pytest.approx(408 / 9)

  result = iq.laplacian_variance(image[None, :, :, None])
  assert result.shape == (1,)
  assert result[0] == pytest.approx(408 / 9, rel=1e-12)


def test_laplacian_variance_matches_valid_convolution():
  rng = np.random.default_rng(6)
  images = rng.uniform(size=(4, 9, 7, 1))
  kernel = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)
  expected = [scipy.signal.convolve2d(image[..., 0], kernel, mode="valid").var()
              for image in images]
  np.testing.assert_allclose(iq.laplacian_variance(images), expected,
                             rtol=1e-12)


def test_laplacian_variance_of_constant_image_is_zero():
  images = np.full((3, 8, 8, 3), 0.7)
  np.testing.assert_allclose(iq.laplacian_variance(images), 0.0, atol=1e-20)
  assert iq.mean_sharpness(images) == pytest.approx(0.0, abs=1e-20)


def test_checkerboard_is_sharper_than_its_blur():
  rows, cols = np.indices((16, 16))
  checkerboard = ((rows + cols) % 2).astype(np.float64)
  # 3×3 box blur of the (edge-padded) checkerboard.
  padded = np.pad(checkerboard, 1, mode="edge")
  blurred = sum(padded[dy:dy + 16, dx:dx + 16]
                for dy in range(3) for dx in range(3)) / 9.0
  images = np.stack([checkerboard, blurred])[..., None]
  sharp, soft = iq.laplacian_variance(images)
  assert sharp > 10.0 * soft
  assert iq.mean_sharpness(images) == pytest.approx((sharp + soft) / 2)


def test_laplacian_variance_averages_channels_to_grayscale():
  rng = np.random.default_rng(7)
  images = rng.uniform(size=(2, 6, 6, 3))
  gray = images.mean(axis=-1, keepdims=True)
  np.testing.assert_allclose(iq.laplacian_variance(images),
                             iq.laplacian_variance(gray), rtol=1e-12)
  # A channel-independent score would differ: the grayscale one averages out.
  per_channel = np.mean(
      [iq.laplacian_variance(images[..., c:c + 1]) for c in range(3)], axis=0)
  assert not np.allclose(iq.laplacian_variance(images), per_channel)


@pytest.mark.parametrize("shape", [(8, 8, 3), (2, 2, 8, 1), (2, 8, 2, 1)])
def test_laplacian_variance_rejects_bad_shapes(shape):
  with pytest.raises(ValueError):
    iq.laplacian_variance(np.zeros(shape))
