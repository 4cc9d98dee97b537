"""The workflow configuration: the shipped file validates, defaults fill in, mistakes are named."""
from __future__ import annotations

import json

import pytest
import yaml

from pipeline.config import ConfigError, config_from_cli, load_config, schema_defaults, schema_enum, validate_config
from pipeline.demo.sizes import DEMO_SIZES, demo_movie_ids
from pipeline.workflow import planned_movie_splits
from tests.conftest import REPO_ROOT


def test_shipped_config_is_valid_and_complete():
    with open(REPO_ROOT / "workflow_config.yaml", encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    config = load_config(REPO_ROOT / "workflow_config.yaml")
    assert config["dataset"]["format"] == "demo"
    assert validate_config({})["train"]["lr"] == pytest.approx(3e-5)  # the paper's value is the default
    assert config["train"]["batch_size"] == 64
    assert all(e["rel_clips"] == 18 for e in config["experiments"].values())
    # The shipped file sets every section and every top-level key of the schema (one comment each).
    assert set(raw) == set(schema_defaults())
    for section, value in schema_defaults().items():
        if isinstance(value, dict) and section != "experiments":
            assert set(raw[section]) == set(value), section


def test_enums_and_defaults_have_one_source():
    """The typed settings objects and the demo presets take their defaults and enums from the schema."""
    from model.config import MODALITIES, TASKS, RunConfig
    from pipeline.samples import POOLINGS

    assert POOLINGS == ("max", "avg", "sum") and TASKS == schema_enum("experiments.*.task")
    assert MODALITIES == ("visual", "dialog", "tracks")
    assert set(DEMO_SIZES) == set(schema_enum("demo.size"))
    run = RunConfig.defaults("x")
    assert run.train.epochs == schema_defaults("train.epochs") == 100
    assert run.experiment.rel_clips == schema_defaults("experiments.*.rel_clips") == 18


def test_defaults_fill_nested_sections():
    config = validate_config({})
    assert config["visual"]["person_box"]["face_x0"] == pytest.approx(0.35)
    assert config["dialog"]["layer"] == -2
    assert config["dataset"]["labels"]["interactions"].endswith("merged_interactions.txt")


@pytest.mark.parametrize(
    "override, key",
    [
        ({"visual": {"backbone": "resnet50"}}, "visual.backbone"),
        ({"visual": {"bakbone": "i3d"}}, "visual"),
        ({"train": {"lr": "fast"}}, "train.lr"),
        ({"samples": {"max_candidates": 0}}, "samples.max_candidates"),
    ],
)
def test_wrong_key_or_type_names_the_key(override, key):
    with pytest.raises(ConfigError) as excinfo:
        validate_config(override)
    assert key in str(excinfo.value)


def test_unreadable_config_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("visual: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_settings_json_overrides_the_file(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump({"dialog": {"layer": -1}}))
    config = config_from_cli(str(path), json.dumps({"dialog": {"batch_size": 4}}))
    assert config["dialog"]["layer"] == -1 and config["dialog"]["batch_size"] == 4
    with pytest.raises(ConfigError, match="--settings"):
        config_from_cli(str(path), "{not json")


def test_demo_movie_ids_are_disjoint_and_follow_the_size():
    for name, size in DEMO_SIZES.items():
        ids = demo_movie_ids(name)
        flat = ids["train"] + ids["val"] + ids["test"]
        assert len(flat) == len(set(flat)) == size.movies_train + size.movies_val + size.movies_test
    config = validate_config({"demo": {"size": "tiny"}, "dataset": {"movies": [demo_movie_ids("tiny")["val"][0]]}})
    splits = planned_movie_splits(config)       # the workflow plans the demo before its data exists
    assert splits["train"] == [] and len(splits["val"]) == 1


def test_repeat_seeds_and_what_a_resumed_model_must_match():
    """Repeat 0 is the run of the master seed; the repeat count never, and the weak pair choice only for
    weak supervision, is part of what ``last.pt`` must match to be resumed."""
    from model.config import RunConfig, repeat_seed

    def run(supervision: str, **train):
        config = validate_config({"seed": 5, "train": train, "experiments": {
            "e": {"task": "int_char", "supervision": supervision}}})
        return RunConfig.from_config(config, "e")

    assert run("full").for_repeat(0) == run("full") and run("full").for_repeat(2).seed == repeat_seed(5, 2)
    assert len({repeat_seed(5, k) for k in range(4)}) == 4 and repeat_seed(5, 1) == repeat_seed(5, 1)
    assert run("full", repeats=3).identity() == run("full").identity()
    assert run("full", weak_pair_candidates="all").identity() == run("full").identity()
    assert run("weak", weak_pair_candidates="all").identity() != run("weak").identity()
    assert run("full").for_repeat(1).identity() != run("full").identity()   # its own seed


def test_a_checkpoint_from_before_the_repeat_and_pair_choice_keys_still_loads():
    from model.config import RunConfig

    run = RunConfig.defaults("x", task="int_char", supervision="weak")
    payload = run.to_dict()
    for key in ("weak_pair_candidates", "repeats"):
        del payload["train"][key]
    assert RunConfig.from_dict(payload) == run
