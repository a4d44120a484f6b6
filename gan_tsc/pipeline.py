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

from gan_tsc import reporting

# kind -> module under gan_tsc.phases with a `run` function.
PHASE_KINDS = {
    "supervised": "supervised",
    "dafl": "dafl",
    "distill": "distill",
    "gan": "gan",  # GAN-TSC's class-conditional GAN (images: AC-GAN; tabular: WGAN-GP)
    "forest": "forest",  # GAN-TSC's random-forest teacher and students
    "wgan_gp": "wgan_gp",  # GAN-KD's teacher generator, and its scratch baselines
    "compress": "compress_generator",  # GAN-KD's student generator
}


def phase_runner(kind: str):
  if kind not in PHASE_KINDS:
    raise ValueError(f"Unknown phase kind {kind!r}; available: {sorted(PHASE_KINDS)}.")
  return importlib.import_module(f"gan_tsc.phases.{PHASE_KINDS[kind]}").run


def validate(config) -> None:
  """Catches an impossible pipeline before any phase starts."""
  if not config.pipeline:
    raise ValueError("config.pipeline names no phase.")
  for position, phase in enumerate(config.pipeline):
    if phase not in config:
      raise ValueError(f"config.pipeline names {phase!r} but the config has no "
                       f"'{phase}' block.")
    phase_runner(config[phase].get("kind", phase))
    p_fake = config[phase].get("p_fake", 0.0)
    if not 0.0 <= p_fake <= 1.0:
      raise ValueError(f"{phase}.p_fake={p_fake} is not a probability in [0, 1].")
    for role in ("teacher", "generator", "student_init"):
      source = config[phase].get(role, None)
      if isinstance(source, str) and source and source not in config.pipeline[:position]:
        raise ValueError(
            f"{phase}.{role}={source!r} is not a phase that runs before {phase!r} "
            f"in {tuple(config.pipeline)}.")


def run(config, workdir: str) -> dict:
  """Runs every phase of `config.pipeline`; returns their outputs by name."""
  validate(config)
  os.makedirs(workdir, exist_ok=True)
  reporting.write_file(os.path.join(workdir, "config.json"), config.to_json_best_effort(indent=2))
  outputs = {}
  for phase in config.pipeline:
    kind = config[phase].get("kind", phase)
    logging.info("=== phase %s (%s) ===", phase, kind)
    outputs[phase] = phase_runner(kind)(config, phase, workdir, outputs)
  table = results_table(config, reporting.read_results(workdir))
  reporting.write_file(os.path.join(workdir, "results.md"), table)
  print(table, flush=True)
  return outputs


def results_table(config, results: dict) -> str:
  """A markdown table: one row per phase with its final-step test accuracy."""
  lines = ["| phase | kind | model | params | final test accuracy | steps |",
           "|---|---|---|---|---|---|"]
  for phase in config.pipeline:
    r, c = results.get(phase, {}), config[phase]
    model = c.get("model", None) or c.get("student", None) or c.get("generator", None)
    accuracy = f"{100 * r['test_accuracy']:.2f}%" if "test_accuracy" in r else "-"
    lines.append(f"| {phase} | {c.get('kind', phase)} | {model.get('name', '-') if model else '-'} | "
                 f"{r.get('params', '-')} | {accuracy} | {r.get('steps', '-')} |")
  return "\n".join(lines) + "\n"
