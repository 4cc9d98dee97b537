# Shared helpers of the workflow: validated config, movie lists, paths and per-stage settings.
import json
import os
import sys
from pathlib import Path

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")
# validate() fills defaults of the top level; pipeline.config fills nested ones the same way.
sys.path.insert(0, str(Path(workflow.basedir)))
from pipeline.config import validate_config
from pipeline.dataset import DatasetLayout, movie_splits
from pipeline.paths import WorkPaths
from pipeline.resources import gpu_jobs
from model.tables import TABLES, required_evaluations

validate_config(config, source="workflow_config.yaml")

PATHS = WorkPaths(config)
LAYOUT = DatasetLayout.from_config(config)
SPLIT_MOVIES = movie_splits(config)
MOVIES = [m for split in ("train", "val", "test") for m in SPLIT_MOVIES[split]]
IS_DEMO = config["dataset"]["format"] == "demo"


def settings(*sections):
    """The config sections that shape a stage's output, as one JSON string.

    Used both as the rule's params (so a change reruns exactly that stage) and as the entry
    point's --settings argument (so the stage runs with exactly those settings).
    """
    return json.dumps({name: config[name] for name in sections}, sort_keys=True)


def dataset_ready():
    """The file that marks the dataset as present: made by demo_dataset for the demo."""
    if IS_DEMO:
        return str(LAYOUT.split)
    return []


# --- experiments and tables ------------------------------------------------------------------
def experiment_settings(wildcards):
    """Settings that shape a trained model: training hyper-parameters, seed and its experiment entry."""
    return json.dumps(
        {
            "seed": config["seed"],
            "train": config["train"],
            "experiments": {wildcards.experiment: config["experiments"][wildcards.experiment]},
        },
        sort_keys=True,
    )


def experiment_samples(wildcards, split):
    pooling = config["experiments"][wildcards.experiment]["pooling"]
    return str(PATHS.samples(pooling, split))


def train_samples(wildcards):
    return experiment_samples(wildcards, "train")


def val_samples(wildcards):
    return experiment_samples(wildcards, "val")


def eval_samples(wildcards):
    return experiment_samples(wildcards, wildcards.split)


def model_dir(wildcards):
    return str(PATHS.model_dir(wildcards.experiment))


def table_evaluations(wildcards):
    return [str(PATHS.evaluation(name, split)) for name, split in required_evaluations(wildcards.number)]
