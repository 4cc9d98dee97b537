"""The registry of stages: for each stage its rules, its entry point, the config sections that shape
its output and its typed settings object.

This is the one place that says which settings reach a stage. The Snakefile's rules take
``params.settings`` from :func:`stage_settings` (so changing a setting reruns exactly the stages
whose sections hold it), and every entry point (:mod:`pipeline.cli`) builds its settings object
from the same sections. Nothing here imports a stage module: settings classes are named by
``"module:Class"`` and imported only inside the entry point's own process.

A section is a dotted config path (``"dataset.root"``); ``{name}`` in it is filled from the rule's
wildcards (``"experiments.{experiment}"``). ``when`` adds a section only while a config flag is set
(random visual weights depend on the seed; real weights do not).
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Stage:
    name: str
    module: str                          # python -m <module>
    rules: tuple[str, ...]               # the Snakemake rules that run it
    sections: tuple[str, ...]            # config paths that shape its output
    settings: str                        # "module:Class"; Class.from_config(config, **wildcards)
    when: dict[str, str] = field(default_factory=dict)  # section -> config flag that adds it
    libraries: tuple[str, ...] = ()      # packages whose versions shape the numbers (params, attrs)

    def sections_for(self, config: dict[str, Any], **wildcards: str) -> tuple[str, ...]:
        extra = tuple(section for section, flag in self.when.items() if _lookup(config, flag))
        return tuple(section.format(**wildcards) for section in self.sections + extra)

    def settings_class(self) -> type:
        module, _, name = self.settings.partition(":")
        return getattr(importlib.import_module(module), name)

    def settings_from_config(self, config: dict[str, Any], **wildcards: Any) -> Any:
        return self.settings_class().from_config(config, **wildcards)


# The dataset paths the demo generator writes (a changed path remakes the data).
_DEMO_DATASET = tuple(f"dataset.{key}" for key in
                      ("root", "annotations", "split", "videos", "ftracks", "ftrack_ids", "subtitles", "labels"))
_VISUAL_DATASET = tuple(f"dataset.{key}" for key in
                        ("format", "root", "videos", "ftracks", "ftrack_ids", "track_scale"))
_MODEL = ("seed", "train", "experiments.{experiment}")

STAGES: dict[str, Stage] = {stage.name: stage for stage in (
    Stage("demo", "pipeline.demo", ("demo_dataset",), ("demo",) + _DEMO_DATASET,
          "pipeline.demo.generate:DemoSettings"),
    Stage("weights", "extractors.weights", ("i3d_weights",), ("work_dir",), "extractors.weights:WeightsSettings"),
    Stage("annotations", "pipeline.annotations", ("annotations",), ("dataset", "work_dir", "on_error.annotations"),
          "pipeline.annotations:AnnotationSettings"),
    Stage("visual", "extractors.visual", ("visual_features",),
          ("visual",) + _VISUAL_DATASET + ("work_dir", "on_error.visual"),
          "extractors.settings:VisualSettings", when={"seed": "visual.allow_random_weights"},
          libraries=("torch", "torchvision", "av", "decord", "numpy")),
    Stage("dialog", "extractors.dialog", ("dialog_features",),
          ("dialog", "dataset.format", "dataset.root", "dataset.subtitles", "on_error.dialog"),
          "extractors.settings:DialogSettings",
          libraries=("torch", "transformers", "tokenizers")),
    Stage("samples", "pipeline.samples", ("samples",), ("samples", "dataset", "seed", "work_dir", "on_error.samples"),
          "pipeline.samples:SampleSettings"),
    Stage("train", "model.train", ("train",), _MODEL, "model.config:RunConfig"),
    Stage("evaluate", "model.evaluate", ("evaluate",), _MODEL + ("evaluation.protocol",),
          "model.evaluate:EvaluationSettings"),
    Stage("figure2", "pipeline.figure2", ("figure2",), ("dataset", "work_dir"), "pipeline.figure2:Figure2Settings"),
    Stage("tables", "model.tables", ("table", "figure5"), (), "model.tables:TableSettings"),
    Stage("report", "model.report", ("report",), ("dataset.format", "evaluation.bootstrap"),
          "model.report:ReportSettings"),
    Stage("benchmarks", "pipeline.benchmarks", ("benchmark_summary",), (), "pipeline.benchmarks:BenchmarkSettings"),
    Stage("predict", "model.predict", ("predict", "predict_index"),
          ("predict", "visual", "dialog", "dataset", "samples", "seed", "work_dir", "results_dir", "train.device"),
          "model.predict:PredictSettings"),
)}


def _lookup(config: dict[str, Any], path: str) -> Any:
    value: Any = config
    for part in path.split("."):
        value = value[part]
    return value


def select_sections(config: dict[str, Any], sections: tuple[str, ...]) -> dict[str, Any]:
    """The nested sub-dict of ``config`` holding exactly ``sections`` (dotted paths)."""
    selected: dict[str, Any] = {}
    for section in sections:
        parts = section.split(".")
        target = selected
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = _lookup(config, section)
    return selected


def stage_versions(stage: str) -> dict[str, str]:
    """Installed versions of the libraries that shape the stage's numbers (``params.versions``, attrs)."""
    from pipeline.provenance import library_versions

    return library_versions(STAGES[stage].libraries)


def stage_code(stage: str) -> str:
    """Digest of the stage's own code (its entry module and what that imports; ``params.code``)."""
    from pipeline.sources import code_digest

    spec = STAGES[stage]
    return code_digest(spec.module, spec.settings.partition(":")[0])


def stage_settings(config: dict[str, Any], stage: str, **wildcards: str) -> str:
    """The stage's ``params.settings`` and ``--settings``: its sections of ``config`` as sorted JSON."""
    sections = STAGES[stage].sections_for(config, **wildcards)
    return json.dumps(select_sections(config, sections), sort_keys=True)
