"""Test setup: 8 fake CPU devices, set before jax is imported anywhere."""

import os
import sys

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

import pytest  # noqa: E402


def run_launcher(argv):
  """Runs launch/main.py's main() in this process (8 fake devices, mocks apply)."""
  import importlib.util
  from absl import flags
  spec = importlib.util.spec_from_file_location(
      "launch_main", os.path.join(ROOT, "launch", "main.py"))
  if "launch_main" not in sys.modules:
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["launch_main"] = module
  module = sys.modules["launch_main"]
  flags.FLAGS.unparse_flags()
  flags.FLAGS(["main.py"] + list(argv))
  module.main([])


@pytest.fixture
def launcher():
  return run_launcher


def pytest_configure(config):
  config.addinivalue_line("markers", "slow: longer end-to-end runs")
