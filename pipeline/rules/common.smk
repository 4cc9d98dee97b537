# Shared helpers of the workflow: validated config, movie lists, paths and per-stage settings.
# The params.settings of each job come from stage_settings(<stage>), built by the registry of
# pipeline/stages.py from the config sections that shape that stage's output, and reach its entry
# point as --settings; so a changed setting reruns exactly the stages whose sections hold it.
import sys
from pathlib import Path

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")
# validate() fills defaults of the top level; pipeline.config fills nested ones the same way.
sys.path.insert(0, str(Path(workflow.basedir)))
from pipeline.config import schema_enum, validate_config
from pipeline.dataset import SPLITS, DatasetLayout
from pipeline.formats.stage_report import report_path
from pipeline.paths import WorkPaths
from pipeline.stages import stage_settings as _stage_settings
from pipeline.stages import stage_code, stage_versions
from pipeline.workflow import (
    dialog_dataset_inputs,
    gpu_jobs,
    planned_movie_splits,
    planned_movies,
    predict_movie_inputs,
    predict_movies,
    predict_uses_stage_features,
    visual_dataset_inputs,
    visual_dtype,
    visual_weights_input,
)
from model.report import target_evaluations
from model.tables import TABLES, required_evaluations

validate_config(config, source="workflow_config.yaml")

PATHS = WorkPaths(config)
LAYOUT = DatasetLayout.from_config(config)
SPLIT_MOVIES = planned_movie_splits(config)
MOVIES = planned_movies(SPLIT_MOVIES)
IS_DEMO = config["dataset"]["format"] == "demo"
POOLINGS = schema_enum("experiments.*.pooling")


def stage_settings(stage):
    """The rule's params.settings: the stage's config sections as JSON (a function of the wildcards,
    so that the "{movie}/{clip}" templates of the dataset paths are not taken for wildcards).
    """

    def settings(wildcards):
        return _stage_settings(config, stage, **dict(wildcards.items()))

    return settings


def stage_report(output):
    """The stage report beside an output file (``<output>.report.json``), as a path string."""
    return str(report_path(output))


def dataset_ready():
    """The file that marks the dataset as present: made by demo_dataset for the demo."""
    if IS_DEMO:
        return str(LAYOUT.split)
    return []


# --- experiments and tables ------------------------------------------------------------------
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
    return [
        str(PATHS.evaluation(name, split))
        for name, split in required_evaluations(wildcards.number)
    ]


def all_table_evaluations():
    """Every evaluation file the tables and figure 5 read, and on the demo those its calibration
    targets read too (the report reads them all)."""
    needed = {pair for number in TABLES for pair in required_evaluations(number)}
    needed |= set(required_evaluations("figure5"))
    # the demo's calibration targets also read Table 1's modality rows on test
    if IS_DEMO:
        needed |= set(target_evaluations())
    return [str(PATHS.evaluation(name, split)) for name, split in sorted(needed)]


def table_experiments():
    """The experiments the tables and figure 5 need."""
    return sorted(
        {name for number in TABLES for name, _ in required_evaluations(number)}
        | {name for name, _ in required_evaluations("figure5")}
    )


def needed_shards():
    """(pooling, split) of every sample shard the tables need (training, validation, evaluation)."""
    pooling = {
        name: config["experiments"][name]["pooling"] for name in table_experiments()
    }
    shards = {(pooling[name], split) for name in pooling for split in ("train", "val")}
    shards |= {
        (pooling[name], split)
        for number in TABLES
        for name, split in required_evaluations(number)
    }
    return sorted(shards)


def shard_reports():
    """The reports of the needed sample shards (what was left out, with upstream reasons)."""
    return [stage_report(PATHS.samples(pool, split)) for pool, split in needed_shards()]


def workflow_benchmarks():
    """The benchmark files of every job that the tables need (results/benchmarks.csv gathers them)."""
    files = ["benchmarks/demo/demo_dataset.tsv"] if IS_DEMO else []
    files += [f"benchmarks/visual/{movie}.tsv" for movie in MOVIES]
    files += ["benchmarks/dialog/dialog_features.tsv"]
    files += [
        f"benchmarks/samples/{pool}.{split}.tsv" for pool, split in needed_shards()
    ]
    files += [f"benchmarks/train/{name}.tsv" for name in table_experiments()]
    return files


# --- prediction ----------------------------------------------------------------------------
def predict_features(wildcards):
    """The predict rule's inputs: the stages' features and annotations of a movie of the run in the
    dataset's folder; else the movie's own files and the visual weights (the job extracts).
    """
    if predict_uses_stage_features(config, wildcards.movie, MOVIES):
        return {
            "visual": str(PATHS.visual_features(wildcards.movie)),
            "dialog": str(PATHS.dialog_features(wildcards.movie)),
            "annotations": str(PATHS.annotations(wildcards.movie)),
            "ready": dataset_ready(),
        }
    return {
        "movie": predict_movie_inputs(config, wildcards.movie),
        "weights": visual_weights_input(config),
    }


def predict_options(wildcards, input):
    """The command-line options that hand those inputs to python -m model.predict."""
    if "visual" in input.keys():
        return f"--visual {input.visual} --dialog {input.dialog} --annotations {input.annotations}"
    return "--annotations none"
