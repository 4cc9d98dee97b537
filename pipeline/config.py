"""Load and validate ``workflow_config.yaml`` against the JSON schema, filling in defaults.

The schema (``pipeline/schemas/config.schema.yaml``) is the one source of every setting's default and
of every enumerated value: the typed settings objects of the stages take their values from a
validated config (never defaults of their own), and code that needs an enum (poolings, tasks, ...)
reads it with :func:`schema_enum`. The Snakefile validates with ``snakemake.utils.validate`` (same
schema) and then :func:`validate_config`; stage entry points use :func:`config_from_cli`, so every
stage also runs without Snakemake and sees the same defaults.
"""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import PipelineError

SCHEMA_PATH = Path(__file__).with_name("schemas") / "config.schema.yaml"
DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "workflow_config.yaml"


class ConfigError(PipelineError):
    """The configuration file is missing, unreadable or does not match the schema."""


@functools.lru_cache(maxsize=1)
def _schema() -> dict:
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_schema() -> dict:
    """The config schema (a fresh copy)."""
    return copy.deepcopy(_schema())


def _subschema(path: str) -> dict:
    """The schema of a dotted config path; ``*`` stands for an entry of a mapping (``experiments.*.task``)."""
    node = _schema()
    for part in path.split("."):
        if part == "*":
            node = node["additionalProperties"]
        else:
            node = node["properties"][part]
    return node


def schema_enum(path: str) -> tuple:
    """The allowed values of an enumerated setting, e.g. ``schema_enum("experiments.*.pooling")``."""
    node = _subschema(path)
    if "enum" not in node:  # an array of enumerated items (e.g. modalities)
        node = node["items"]
    return tuple(node["enum"])


def _validator_class():
    from jsonschema import Draft202012Validator, validators

    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})


def validate_config(config: dict[str, Any], source: str = "configuration") -> dict[str, Any]:
    """Validate ``config`` in place (defaults filled in) and return it.

    Raises :class:`ConfigError` with one line per problem, each naming the offending key.
    """
    validator = _validator_class()(_schema())
    # Two passes: the first fills defaults of nested objects created by the defaults of the first.
    for _ in range(2):
        errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
        if errors:
            lines = []
            for error in errors:
                key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
                lines.append(f"  {key}: {error.message}")
            raise ConfigError(f"{source} is not a valid LIReC-pipeline configuration:\n" + "\n".join(lines))
    return config


def schema_defaults(path: str | None = None) -> Any:
    """The default value of a config section or key (``"train"``, ``"visual.roi"``), all defaults filled.

    ``experiments.*`` is the default experiment entry.
    """
    if path is None:
        return validate_config({})
    parts = path.split(".")
    if parts[0] == "experiments" and len(parts) >= 2 and parts[1] == "*":
        value = validate_config({"experiments": {"default": {}}})["experiments"]["default"]
        parts = parts[2:]
    else:
        value = validate_config({})
    for part in parts:
        value = value[part]
    return value


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a YAML config file, apply nested ``overrides`` and validate it (defaults filled in)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings")
    if overrides:
        deep_update(config, overrides)
    return validate_config(config, source=str(path))


def deep_update(target: dict, updates: dict) -> dict:
    """Recursively merge ``updates`` into ``target`` (dicts merge, other values replace)."""
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_update(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def config_from_cli(config_path: str | None, settings_json: str | None) -> dict[str, Any]:
    """The configuration a stage entry point runs with.

    Snakemake passes ``--settings`` (JSON of exactly the stage's config sections, the rule's
    ``params.settings``) over the schema's defaults, so that nothing else reaches the stage;
    standalone use passes ``--config FILE`` (``--settings`` then overrides parts of that file).
    """
    if settings_json:
        try:
            overrides = json.loads(settings_json)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--settings is not valid JSON: {exc}") from None
        if not isinstance(overrides, dict):
            raise ConfigError("--settings must be a JSON object of config sections")
        base = load_config(config_path) if config_path else validate_config({})
        return validate_config(deep_update(base, overrides), source="--settings")
    return load_config(config_path)
