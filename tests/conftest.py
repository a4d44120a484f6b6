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
  """Runs launch/main.py in this process (8 fake devices; mocks apply).

  Flags are parsed into a fresh FlagValues with the launcher's own
  definitions, so config overrides behave exactly as on the command line.
  """
  import importlib.util
  from absl import flags
  if "launch_main" not in sys.modules:
    spec = importlib.util.spec_from_file_location(
        "launch_main", os.path.join(ROOT, "launch", "main.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["launch_main"] = module
  module = sys.modules["launch_main"]
  argv = ["main.py"] + list(argv)
  flag_values = flags.FlagValues()
  module.define_flags(flag_values, argv)
  flag_values(argv)
  return module.run(flag_values)


@pytest.fixture
def launcher():
  return run_launcher


def pytest_configure(config):
  config.addinivalue_line("markers", "slow: longer end-to-end runs")
