# Shared helpers of the rule files: validated config, movie lists, paths and per-stage settings.
import json
import sys
from pathlib import Path

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")
# validate() fills defaults of the top level; pipeline.config fills nested ones the same way.
sys.path.insert(0, str(Path(workflow.basedir)))
from pipeline.config import validate_config
from pipeline.dataset import DatasetLayout, movie_splits
from pipeline.paths import WorkPaths

validate_config(config, source="workflow_config.yaml")

PATHS = WorkPaths(config)
LAYOUT = DatasetLayout.from_config(config)
SPLIT_MOVIES = movie_splits(config)
MOVIES = [m for split in ("train", "val", "test") for m in SPLIT_MOVIES[split]]
IS_DEMO = config["dataset"]["format"] == "demo"


wildcard_constraints:
    movie=r"[A-Za-z0-9_\-]+",
    split=r"train|val|test",
    pooling=r"max|avg|sum",


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
