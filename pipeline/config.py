"""Load and validate ``workflow_config.yaml`` against the JSON schema, filling in defaults.

The Snakefile validates with ``snakemake.utils.validate`` (same schema); the stage entry points use
:func:`load_config` so that every stage also runs without Snakemake and sees the same defaults.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators

SCHEMA_PATH = Path(__file__).with_name("schemas") / "config.schema.yaml"
DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "workflow_config.yaml"


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or does not match the schema."""


def _extend_with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _extend_with_defaults(Draft202012Validator)


def load_schema() -> dict:
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def validate_config(config: dict[str, Any], source: str = "configuration") -> dict[str, Any]:
    """Validate ``config`` in place (defaults filled in) and return it.

    Raises :class:`ConfigError` with one line per problem, each naming the offending key.
    """
    validator = _DefaultFillingValidator(load_schema())
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


def settings_from_cli(config_path: str | None, settings_json: str | None) -> dict[str, Any]:
    """The configuration a stage entry point runs with.

    Snakemake passes the validated config (``--settings`` JSON, the stage's sections), so that the
    rule's ``params`` are exactly what shapes the output; standalone use passes ``--config FILE``.
    """
    if settings_json:
        try:
            overrides = json.loads(settings_json)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--settings is not valid JSON: {exc}") from None
        base = load_config(config_path) if config_path else validate_config({})
        return validate_config(deep_update(base, overrides), source="--settings")
    return load_config(config_path)
