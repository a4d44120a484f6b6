"""Image-quality metrics for generated samples: IS, FID and Laplacian sharpness.

These run on the host in float64 numpy: callers compute classifier
probabilities or features in batches with JAX and pass the stacked arrays.
Keeping the final reductions out of JAX avoids float32 error in the matrix
square root that FID needs and keeps the metrics independent of devices.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

# Floor for probabilities before taking logs, so exact zeros give 0·log 0 = 0.
_LOG_EPS = 1e-12
# How far a probability row may sum from 1 (softmax outputs in float32).
_ROW_SUM_ATOL = 1e-3
# Added to both covariances' diagonals when their product is singular.
_COV_OFFSET_EPS = 1e-6
# Largest imaginary part of sqrtm(s1 s2), relative to its real part, that is
# dropped as rounding error rather than reported.
_IMAG_RTOL = 1e-3
# sqrtm results whose square misses the product by more than this (relative)
# are treated as failed, which happens for singular products.
_SQRTM_RESIDUAL_RTOL = 1e-3


def inception_score(probs: np.ndarray,
                    num_splits: int = 10) -> tuple[float, float]:
  """Inception Score exp(E_x KL(p(y|x) || p(y))), as (mean, std) over splits.

  Splitting follows the usual protocol, so numbers are comparable with the
  literature; the std shows how much the score depends on the sample.
  """
  probs = np.asarray(probs, dtype=np.float64)
  if probs.ndim != 2:
    raise ValueError(
        f"probs must be 2-D (num_samples, num_classes), got shape {probs.shape}")
  if num_splits < 1:
    raise ValueError(f"num_splits must be >= 1, got {num_splits}")
  num_samples = probs.shape[0]
  if num_samples < num_splits:
    raise ValueError(
        f"need at least num_splits={num_splits} samples, got {num_samples}")
  if not np.all(np.isfinite(probs)):
    raise ValueError("probs contains non-finite values")
  if np.any(probs < 0):
    raise ValueError("probs must be non-negative (pass probabilities, "
                     "not logits)")
  row_sums = probs.sum(axis=1)
  if not np.allclose(row_sums, 1.0, rtol=0.0, atol=_ROW_SUM_ATOL):
    worst = row_sums[np.argmax(np.abs(row_sums - 1.0))]
    raise ValueError(
        f"each row of probs must sum to 1 (within {_ROW_SUM_ATOL}); found a "
        f"row summing to {worst:.6g} (pass probabilities, not logits)")

  scores = []
  for split in np.array_split(probs, num_splits, axis=0):
    marginal = split.mean(axis=0, keepdims=True)
    log_conditional = np.log(np.clip(split, _LOG_EPS, None))
    log_marginal = np.log(np.clip(marginal, _LOG_EPS, None))
    kl_per_sample = np.sum(split * (log_conditional - log_marginal), axis=1)
    scores.append(np.exp(np.mean(kl_per_sample)))
  scores = np.asarray(scores)
  return float(scores.mean()), float(scores.std())


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean and covariance (float64) of features (num_samples, dim), for FID."""
  features = np.asarray(features, dtype=np.float64)
  if features.ndim != 2:
    raise ValueError(
        f"features must be 2-D (num_samples, dim), got shape {features.shape}")
  if features.shape[0] < 2:
    raise ValueError(
        f"need at least 2 samples for a covariance, got {features.shape[0]}")
  mean = features.mean(axis=0)
  covariance = np.atleast_2d(np.cov(features, rowvar=False))
  return mean, covariance


def _product_sqrtm(sigma1: np.ndarray, sigma2: np.ndarray) -> np.ndarray | None:
  """sqrtm(sigma1 @ sigma2), or None when it is not finite or inaccurate."""
  product = sigma1 @ sigma2
  with warnings.catch_warnings():
    # Singular products (e.g. features that are always zero) warn here; the
    # residual check below decides, and the caller retries with an offset.
    warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
    root = scipy.linalg.sqrtm(product)
  if not np.all(np.isfinite(root)):
    return None
  residual = np.linalg.norm(root @ root - product)
  if residual > _SQRTM_RESIDUAL_RTOL * max(np.linalg.norm(product), 1e-300):
    return None
  return root


def _large_imaginary_part(root: np.ndarray) -> bool:
  """Whether sqrtm's imaginary part is more than rounding error."""
  if not np.iscomplexobj(root):
    return False
  scale = max(np.max(np.abs(root.real)), np.finfo(np.float64).tiny)
  return bool(np.max(np.abs(root.imag)) > _IMAG_RTOL * scale)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
  """Fréchet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2).

  ||mu1 - mu2||² + Tr(sigma1 + sigma2 - 2 sqrtm(sigma1 sigma2)). Singular
  products (fewer samples than dimensions) get a small diagonal offset.
  """
  mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
  mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
  sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
  sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
  if mu1.ndim != 1 or mu1.shape != mu2.shape:
    raise ValueError(
        f"means must be 1-D of equal length, got {mu1.shape} and {mu2.shape}")
  dim = mu1.shape[0]
  for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
    if sigma.shape != (dim, dim):
      raise ValueError(
          f"{name} must have shape ({dim}, {dim}), got {sigma.shape}")

  covmean = _product_sqrtm(sigma1, sigma2)
  # A nearly singular product (e.g. features that barely vary) can also come
  # back with a spurious imaginary part; it gets the same offset retry.
  if covmean is None or _large_imaginary_part(covmean):
    offset = _COV_OFFSET_EPS * np.eye(dim)
    covmean = _product_sqrtm(sigma1 + offset, sigma2 + offset)
    if covmean is None:
      raise ValueError(
          "sqrtm(sigma1 @ sigma2) failed even after adding "
          f"{_COV_OFFSET_EPS}·I to both covariances")

  if np.iscomplexobj(covmean):
    if _large_imaginary_part(covmean):
      max_imag = np.max(np.abs(covmean.imag))
      scale = max(np.max(np.abs(covmean.real)), np.finfo(np.float64).tiny)
      raise ValueError(
          f"sqrtm(sigma1 @ sigma2) has a large imaginary part ({max_imag:.3g} "
          f"vs real scale {scale:.3g}); are the covariances valid?")
    covmean = covmean.real

  mean_term = float(np.sum((mu1 - mu2) ** 2))
  trace_term = float(
      np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))
  return max(mean_term + trace_term, 0.0)


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
  """Fréchet Inception Distance between two feature sets (num_samples, dim)."""
  features_a = np.asarray(features_a)
  features_b = np.asarray(features_b)
  for name, features in (("features_a", features_a),
                         ("features_b", features_b)):
    if features.ndim != 2:
      raise ValueError(
          f"{name} must be 2-D (num_samples, dim), got shape {features.shape}")
    if features.shape[0] < 2:
      raise ValueError(
          f"{name} needs at least 2 samples, got {features.shape[0]}")
  if features_a.shape[1] != features_b.shape[1]:
    raise ValueError(
        f"feature dims differ: {features_a.shape[1]} vs {features_b.shape[1]}")
  mu_a, sigma_a = feature_statistics(features_a)
  mu_b, sigma_b = feature_statistics(features_b)
  return frechet_distance(mu_a, sigma_a, mu_b, sigma_b)


def laplacian_variance(images: np.ndarray) -> np.ndarray:
  """Per-image variance of the Laplacian (N,), a blur-sensitive sharpness score.

  images: (N, H, W, C) floats; channels are averaged to grayscale. The 3×3
  kernel [[0,1,0],[1,-4,1],[0,1,0]] is applied to the valid region only, so
  no padding edges inflate the score.
  """
  images = np.asarray(images, dtype=np.float64)
  if images.ndim != 4:
    raise ValueError(
        f"images must be 4-D (N, H, W, C), got shape {images.shape}")
  if images.shape[1] < 3 or images.shape[2] < 3:
    raise ValueError(
        f"images must be at least 3×3, got {images.shape[1]}×{images.shape[2]}")
  gray = images.mean(axis=3)
  laplacian = (gray[:, :-2, 1:-1] + gray[:, 2:, 1:-1] + gray[:, 1:-1, :-2] +
               gray[:, 1:-1, 2:] - 4.0 * gray[:, 1:-1, 1:-1])
  return laplacian.reshape(laplacian.shape[0], -1).var(axis=1)


def mean_sharpness(images: np.ndarray) -> float:
  """Mean over images of the Laplacian variance (higher is sharper)."""
  return float(np.mean(laplacian_variance(images)))
