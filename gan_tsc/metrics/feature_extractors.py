"""Feature extractors that IS and FID read: a classifier of the data set, or InceptionV3.

An extractor maps images in [-1, 1] (generator outputs, and real images
converted the same way) to (class probabilities, features): the
probabilities give the Inception Score, the features the Fréchet distance.

  ClassifierExtractor  a classifier trained on the data set itself (e.g. the
                       pipeline's 'judge' phase): works offline, but its
                       numbers are on its own scale, not comparable with
                       published Inception numbers.
  InceptionExtractor   InceptionV3 of the standard FID weights, the TF graph
                       `classify_image_graph_def.pb` (pool_3 features,
                       softmax for IS), when the config points at that file.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from gan_tsc import parallel
from gan_tsc.data import batching
from gan_tsc.errors import UserError
from gan_tsc.ops import pixels

EXTRACTORS = ("classifier", "inception", "none")
INCEPTION_GRAPH_NAME = "classify_image_graph_def.pb"


class ExtractorError(UserError, ValueError):
  """A feature extractor the config asks for that cannot be built."""


def to_host(array) -> np.ndarray:
  """A (possibly sharded) device array as one host numpy array."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    return np.asarray(multihost_utils.process_allgather(array, tiled=True))
  return np.asarray(array)


class ClassifierExtractor:
  """Softmax and penultimate features of a classifier trained on the data set.

  `mean`/`std` are the normalisation the classifier was trained with (the
  loaded data set's). The forward pass is jitted once, batch sharded on the
  mesh; the classifier's variables are an argument, never a constant.
  """
  comparable_with_published = False

  def __init__(self, model, variables, mean, std, batch_size: int, description: str):
    parallel.check_batch_size(batch_size, "generator_metrics.batch_size")
    self.variables, self.batch_size, self.description = variables, batch_size, description

    def forward(variables, images):
      logits, features = model.apply(variables, pixels.from_tanh_range(images, mean, std),
                                     train=False, return_features=True)
      return jax.nn.softmax(logits.astype(jnp.float32), -1), features.reshape(len(images), -1)

    self._forward = jax.jit(forward, in_shardings=(parallel.replicated(), parallel.batch_sharded()),
                            out_shardings=(parallel.batch_sharded(), parallel.batch_sharded()))

  def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs, features = [], []
    for batch, count in batching.padded_chunks(np.asarray(images, np.float32), self.batch_size):
      local = batch[parallel.host_slice(self.batch_size)]
      p, f = self._forward(self.variables, parallel.shard_batch(local))
      probs.append(to_host(p)[:count])
      features.append(to_host(f)[:count])
    return np.concatenate(probs), np.concatenate(features)


class InceptionExtractor:
  """InceptionV3 from the standard FID weights file, run by TensorFlow on the host.

  Images are fed as the graph expects: RGB floats in [0, 255] of any size
  (the graph resizes to 299×299 itself); grayscale is repeated over three
  channels. Features are pool_3 (2048-d). The graph's own softmax reshapes
  pool_3 to a batch of one, so the class probabilities are recomputed from
  pool_3 and the softmax weights, without the bias, as the published
  Inception Score protocol does.
  """
  comparable_with_published = True

  def __init__(self, graph_path: str, batch_size: int = 100):
    check_inception_graph(graph_path)
    import tensorflow as tf
    self.batch_size = batch_size
    self.description = f"InceptionV3 ({graph_path})"
    graph_def = tf.compat.v1.GraphDef()
    with open(graph_path, "rb") as f:
      graph_def.ParseFromString(f.read())
    self._graph = tf.Graph()
    with self._graph.as_default():
      self._images = tf.compat.v1.placeholder(tf.float32, (None, None, None, 3))
      pool3, matmul = tf.import_graph_def(
          graph_def, input_map={"ExpandDims:0": self._images},
          return_elements=["pool_3:0", "softmax/logits/MatMul"], name="inception")
      self._features = tf.reshape(pool3, (tf.shape(pool3)[0], -1))
      self._probs = tf.nn.softmax(tf.matmul(self._features, matmul.inputs[1]))
    self._session = tf.compat.v1.Session(graph=self._graph)

  def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images, np.float32)
    if images.shape[-1] == 1:
      images = np.repeat(images, 3, axis=-1)
    if images.shape[-1] != 3:
      raise ExtractorError(f"InceptionV3 takes 1 or 3 channels, got {images.shape[-1]}.")
    unit_pixels = np.asarray(pixels.tanh_to_unit(images)) * 255.0
    probs, features = [], []
    for start in range(0, len(unit_pixels), self.batch_size):
      p, f = self._session.run((self._probs, self._features),
                               {self._images: unit_pixels[start:start + self.batch_size]})
      probs.append(p)
      features.append(f)
    return np.concatenate(probs), np.concatenate(features)


def check_inception_graph(graph_path: str) -> None:
  """Fails early, naming the file, when the FID weights are not where the config says."""
  if not graph_path or not os.path.isfile(graph_path):
    where = f"at {graph_path!r}" if graph_path else "(generator_metrics.inception_graph is empty)"
    raise ExtractorError(
        f"InceptionV3 features need the standard FID weights file {INCEPTION_GRAPH_NAME}, "
        f"which was not found {where}. Download it on a machine with internet access "
        "(it ships inside the inception-2015-12-05 archive), then set "
        f"--config.generator_metrics.inception_graph=/path/to/{INCEPTION_GRAPH_NAME}; or use "
        "--config.generator_metrics.extractor=classifier (a classifier trained on the data set).")


def build(metrics_config, inputs: dict, dataset) -> ClassifierExtractor | InceptionExtractor | None:
  """The extractor `config.generator_metrics` names; None for 'none' (sharpness only).

  'classifier' uses the TrainedClassifier of the earlier phase named by
  `metrics_config.classifier`, with `dataset`'s normalisation (the one it was
  trained with).
  """
  kind = metrics_config.extractor
  if kind not in EXTRACTORS:
    raise ExtractorError(f"Unknown generator_metrics.extractor {kind!r}; choose one of "
                         f"{EXTRACTORS}.")
  if kind == "none":
    return None
  if kind == "inception":
    return InceptionExtractor(metrics_config.inception_graph,
                              metrics_config.inception_batch_size)
  name = metrics_config.classifier
  classifier = inputs.get(name)
  if classifier is None or not hasattr(classifier, "variables") or not hasattr(classifier, "model"):
    raise ExtractorError(
        f"generator_metrics.classifier={name!r} names no classifier phase that runs earlier "
        "in the pipeline; add a supervised phase of that name before the GAN phases, or set "
        "--config.generator_metrics.extractor=none.")
  model_name = getattr(classifier.model_config, "name", type(classifier.model).__name__)
  description = (f"classifier '{name}' ({model_name}) trained on {dataset.name}; its IS/FID are "
                 "on its own scale, not comparable with published Inception numbers")
  return ClassifierExtractor(classifier.model, classifier.variables, dataset.mean, dataset.std,
                             metrics_config.batch_size, description)
