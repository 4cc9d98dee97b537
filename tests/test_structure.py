"""The house has one way through it: every stage is one registry entry, one rule file's rules, one
entry point with the shared command line, and imports run one way (core -> stages -> model -> outputs)."""
from __future__ import annotations

import contextlib
import io
import json
import re

import pytest

from pipeline.config import validate_config
from pipeline.sources import imported_modules, project_modules
from pipeline.stages import STAGES, select_sections, stage_settings
from tests.conftest import REPO_ROOT

RULE_FILES = sorted((REPO_ROOT / "pipeline" / "rules").glob("*.smk"))


def _rule_blocks() -> dict[str, str]:
    """``rule name -> its text`` of every rule of the workflow."""
    blocks = {}
    for path in RULE_FILES:
        text = path.read_text()
        starts = [(m.start(), m.group(1)) for m in re.finditer(r"^\s*rule (\w+):", text, re.M)]
        for (start, name), (end, _) in zip(starts, starts[1:] + [(len(text), "")]):
            blocks[name] = text[start:end]
    return blocks


def test_every_rule_runs_its_registry_entry_point_with_its_settings():
    blocks = _rule_blocks()
    registered = {rule for stage in STAGES.values() for rule in stage.rules}
    assert set(blocks) - {"all"} == registered, "every rule belongs to exactly one registered stage"
    for stage in STAGES.values():
        for rule in stage.rules:
            block = blocks[rule]
            assert f'stage_settings("{stage.name}")' in block, rule
            assert f"python -m {stage.module} --settings {{params.settings:q}}" in block, rule
    for path in RULE_FILES:   # rule files use the registry and workflow helpers, never a stage module
        text = path.read_text()
        assert not re.search(r"^(import|from) (extractors|model\.(train|evaluate))", text, re.M), path.name


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_entry_point_answers_help_with_the_common_options(stage):
    import importlib

    module = importlib.import_module(STAGES[stage].module + ("" if stage != "demo" else ".__main__"))
    output = io.StringIO()
    with contextlib.redirect_stdout(output), pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    assert "--config" in output.getvalue() and "--settings" in output.getvalue()


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_stage_builds_its_settings_from_its_sections_alone(stage):
    """The settings object a stage gets from its --settings JSON over the schema defaults equals the
    one built from the whole config: nothing outside its sections reaches it."""
    config = validate_config({"seed": 3, "work_dir": "elsewhere", "experiments": {"e": {"task": "int_rel"}},
                              "visual": {"allow_random_weights": True, "input_size": 64},
                              "dialog": {"layer": -3}, "dataset": {"overlap_iou": 0.3}})
    wildcards = {"experiment": "e"} if stage in ("train", "evaluate") else {}
    only_sections = validate_config(json.loads(stage_settings(config, stage, **wildcards)))
    spec = STAGES[stage]
    assert spec.settings_from_config(only_sections, **wildcards) == spec.settings_from_config(config, **wildcards)


def test_sections_select_nested_keys():
    config = {"a": {"b": 1, "c": 2}, "d": 3}
    assert select_sections(config, ("a.b", "d")) == {"a": {"b": 1}, "d": 3}


# --- imports ----------------------------------------------------------------------------------------
# Layers, lowest first: a module imports only modules of its own layer or below.
CORE = 0
STAGE_LAYER = 1
MODEL = 2
OUTPUTS = 3


def _layer(module: str) -> int:
    if module in ("model.tables", "model.report", "model.predict", "model.predict_page", "model.social_graph"):
        return OUTPUTS
    if module.startswith("model"):
        return MODEL
    if module.startswith("extractors") or module.startswith("pipeline.demo") or module in (
            "pipeline.annotations", "pipeline.samples", "pipeline.workflow", "pipeline.figure2"):
        return STAGE_LAYER
    return CORE


def _project_imports() -> dict[str, set[str]]:
    """Every project module -> the project modules it imports (at module level or inside functions)."""
    return {name: imported_modules(name) for name in project_modules()}


def test_imports_run_one_way_and_have_no_cycle():
    graph = _project_imports()
    upward = [(a, b) for a, targets in graph.items() for b in targets if _layer(b) > _layer(a)]
    assert not upward, f"imports against the layering: {upward}"
    done, active = set(), []

    def visit(module: str) -> None:
        if module in active:
            raise AssertionError(f"import cycle: {' -> '.join(active[active.index(module):] + [module])}")
        if module in done:
            return
        active.append(module)
        for target in sorted(graph[module]):
            if not target.startswith(module + "."):   # a package importing its own submodule is no cycle
                visit(target)
        active.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_core_knows_nothing_of_the_demo():
    graph = _project_imports()
    for module, targets in graph.items():
        if _layer(module) == CORE:
            assert not any(t.startswith("pipeline.demo") for t in targets), module


def test_bench_uses_no_test_helpers():
    for path in (REPO_ROOT / "bench").glob("*.py"):
        assert not re.search(r"^\s*(import|from) (tests|_\w+_helpers)", path.read_text(), re.M), path.name


def test_importing_a_module_changes_no_process_state():
    import os
    import subprocess
    import sys

    code = ("import os; before = (os.umask(0o022), dict(os.environ)); "
            "import pipeline.h5io, extractors.text_encoder, pipeline.cli; "
            "after = (os.umask(0o022), dict(os.environ)); print(before == after)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT,
                            env={k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"})
    assert result.stdout.strip() == "True", result.stderr
