"""Test setup: 8 fake CPU devices, set before jax is imported anywhere.

Tests run on a one-device mesh unless marked `all_devices`: on a 2-core
machine, 8 fake devices cost each small step thread hand-offs and
collectives, and under load a starved collective makes XLA abort. The tests
that compare 8 devices with 1 open their own meshes (`parallel.using_devices`),
and the `all_devices` tests run a whole job on all 8.
"""

import os
import sys
import tempfile

# The tests' steps run a handful of times, so their time goes to compiling, not
# running. Two settings cut that, and change no result a test compares (both
# sides of every comparison compile the same way):
# - XLA's backend optimisation off: a DAFL step test took 49 s of CPU instead
#   of 3 min 17 s. Set XLA_FLAGS=--xla_backend_optimization_level=2 to test
#   the optimised code.
# - one compilation cache for the run, shared by the pytest-xdist workers
#   (they inherit this process's environment): a program that several tests
#   build (a smoke teacher, a DAFL step) is compiled once. It is a fresh folder
#   per run, so a run times what a clean machine sees.
_xla_flags = os.environ.get("XLA_FLAGS", "")
if "xla_backend_optimization_level" not in _xla_flags:
  _xla_flags += " --xla_backend_optimization_level=0"
os.environ["XLA_FLAGS"] = (_xla_flags + " --xla_force_host_platform_device_count=8").strip()
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
  os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="gan_tsc_tests_xla_cache_")
  os.environ["GAN_TSC_TESTS_OWN_CACHE"] = os.environ["JAX_COMPILATION_CACHE_DIR"]
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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
def child_env():
  """The environment of a launcher run in a child process: one CPU device, this run's
  compile settings and cache."""
  flags = os.environ["XLA_FLAGS"].replace("--xla_force_host_platform_device_count=8", "")
  return dict(os.environ, XLA_FLAGS=flags.strip(), JAX_PLATFORMS="cpu")


@pytest.fixture
def launcher():
  return run_launcher


@pytest.fixture
def optimised_training_steps(monkeypatch):
  """Training steps compiled with XLA's backend optimisations on: at the suite's
  level 0, large convolutions run up to a minute a step on 2 cores."""
  from gan_tsc import train_loop
  monkeypatch.setattr(train_loop.CompiledStep, "compiler_options",
                      {"xla_backend_optimization_level": 2})


@pytest.fixture
def kill_phase(monkeypatch):
  """kill_phase(phase, steps): the next run of `phase` in this process takes `steps`
  steps and then stops, as a kill would, before saving anything more."""
  from gan_tsc import train_loop
  original = train_loop.run

  def arm(phase: str, steps: int) -> None:
    taken = []

    def run(settings, state, step_fn, *rest, **kwargs):
      if settings.phase != phase:
        return original(settings, state, step_fn, *rest, **kwargs)

      def step(s, batch):
        if len(taken) == steps:
          monkeypatch.setattr(train_loop, "run", original)  # the rerun is not killed
          raise KeyboardInterrupt(f"simulated kill of {phase} after {steps} steps")
        taken.append(1)
        return step_fn(s, batch)

      return original(settings, state, step, *rest, **kwargs)

    monkeypatch.setattr(train_loop, "run", run)

  return arm


@pytest.fixture(autouse=True, scope="session")
def one_device_mesh():
  """The default mesh for the session, module fixtures included."""
  import jax
  from gan_tsc import parallel
  with parallel.using_devices(jax.devices()[:1]):
    yield


@pytest.fixture(autouse=True)
def all_devices_mesh(request, one_device_mesh):
  if not request.node.get_closest_marker("all_devices"):
    yield
    return
  import jax
  from gan_tsc import parallel
  with parallel.using_devices(jax.devices()):
    yield


def pytest_unconfigure(config):
  """The run's compilation cache goes with the run (removed by the process that made it)."""
  own = os.environ.get("GAN_TSC_TESTS_OWN_CACHE")
  if own and not hasattr(config, "workerinput"):
    import shutil
    shutil.rmtree(own, ignore_errors=True)


def pytest_configure(config):
  config.addinivalue_line("markers", "slow: longer end-to-end runs")
  config.addinivalue_line("markers", "all_devices: runs on all 8 fake devices")
