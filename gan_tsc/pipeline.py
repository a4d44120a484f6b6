"""Runs the phases a config names, in order, chaining their outputs.

    config.pipeline = ('teacher', 'dafl')
    config.teacher = dict(kind='supervised', ...)
    config.dafl = dict(kind='dafl', teacher='teacher', ...)

Each phase is `run(config, phase_name, workdir, inputs) -> output`, where
`inputs` maps earlier phase names to their outputs (a frozen teacher, a
generator). A finished phase restores its final checkpoint instead of
training again, so rerunning a pipeline resumes where it stopped.
"""

from __future__ import annotations

import importlib
import os

from absl import logging

from gan_tsc import reporting, validation, workdirs
from gan_tsc.errors import ConfigError

# kind -> module under gan_tsc.phases with a `run` function.
PHASE_KINDS = {
    "supervised": "supervised",
    "dafl": "dafl",
    "distill": "distill",
    "gan": None,  # GAN-TSC's class-conditional GAN: see GAN_MODULES
    "forest": "forest",  # GAN-TSC's random-forest teacher and students
    "tsc_score": "tsc_score",  # GAN-TSC's TSC Score of an earlier phase's generator
    "wgan_gp": "wgan_gp",  # GAN-KD's teacher generator, and its scratch baselines
    "compress": "compress_generator",  # GAN-KD's student generator
}
# The `gan` kind by the data block's kind: images get an AC-GAN, tabular rows a WGAN-GP.
GAN_MODULES = {"image": "acgan", "tabular": "tabular_gan"}


def phase_runner(kind: str, data_kind: str = "image"):
  if kind not in PHASE_KINDS:
    raise ConfigError(f"Unknown phase kind {kind!r}; available: {sorted(PHASE_KINDS)}.")
  module = PHASE_KINDS[kind]
  if module is None:
    if data_kind not in GAN_MODULES:
      raise ConfigError(f"Unknown data kind {data_kind!r}; choose one of {tuple(GAN_MODULES)} "
                       "(--config.data.kind).")
    module = GAN_MODULES[data_kind]
  return importlib.import_module(f"gan_tsc.phases.{module}").run


def validate(config) -> None:
  """Catches an impossible pipeline or setting before any phase starts."""
  validation.check(config)
  if not config.pipeline:
    raise ConfigError("config.pipeline names no phase.")
  for position, phase in enumerate(config.pipeline):
    if phase not in config:
      raise ConfigError(f"config.pipeline names {phase!r} but the config has no "
                       f"'{phase}' block.")
    phase_runner(config[phase].kind, config.data.kind)
    for role in ("teacher", "generator", "student_init"):
      source = config[phase].get(role, None)
      if isinstance(source, str) and source and source not in config.pipeline[:position]:
        raise ConfigError(
            f"{phase}.{role}={source!r} is not a phase that runs before {phase!r} "
            f"in {tuple(config.pipeline)}.")


def run(config, workdir: str, retrain: bool = False) -> dict:
  """Runs every phase of `config.pipeline`; returns their outputs by name.

  Refuses, before any work, a workdir another run is using or one whose
  phases were made from other settings (`retrain=True` trains those again).
  """
  validate(config)
  with workdirs.lock(workdir):
    workdirs.check_unchanged(config, workdir, retrain)
    reporting.write_file(os.path.join(workdir, "config.json"),
                         config.to_json_best_effort(indent=2))
    outputs = {}
    for phase in config.pipeline:
      kind = config[phase].kind
      logging.info("=== phase %s (%s) ===", phase, kind)
      workdirs.record_inputs(config, phase, workdir)
      outputs[phase] = phase_runner(kind, config.data.kind)(config, phase, workdir, outputs)
    table = results_table(config, reporting.read_results(workdir))
    reporting.write_file(os.path.join(workdir, "results.md"), table)
    writer = reporting.create_writer(workdir)
    writer.write_texts(0, {"results/table": table})
    writer.close()
  reporting.say(table)
  return outputs


def results_table(config, results: dict) -> str:
  """A markdown table: one row per phase with its final-step test accuracy."""
  lines = ["| phase | kind | model | params | final test accuracy | steps |",
           "|---|---|---|---|---|---|"]
  for phase in config.pipeline:
    r, c = results.get(phase, {}), config[phase]
    model = c.get("model", None) or c.get("student", None) or c.get("generator", None)
    accuracy = f"{100 * r['test_accuracy']:.2f}%" if "test_accuracy" in r else "-"
    lines.append(f"| {phase} | {c.kind} | {model.get('name', '-') if model else '-'} | "
                 f"{r.get('params', '-')} | {accuracy} | {r.get('steps', '-')} |")
  return "\n".join(lines) + "\n"
