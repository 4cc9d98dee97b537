"""Typed settings of a training run: the config's ``train`` section plus one ``experiments`` entry.

The values come from a validated config only; the defaults are the schema's
(``pipeline/schemas/config.schema.yaml``), which are the paper's: margin 0.101 (the authors' code),
lambda 1.5 (paper Sec. 4.3), per-modality MLP width 512, per-track width 256, dropout 0.3, Adam
lr 3e-5 with weight decay 1e-5, batch 64, 100 epochs, sum->max switch after 20 epochs, validation
every 2 epochs. :meth:`RunConfig.defaults` builds a run from those defaults (tests, tools).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from pipeline.config import ConfigError, schema_defaults, schema_enum

TASKS = schema_enum("experiments.*.task")
MODALITIES = schema_enum("experiments.*.modalities")


class ExperimentError(ConfigError):
    """An experiment entry is unknown or inconsistent (the message names it)."""


@dataclass(frozen=True)
class TrainSettings:
    """The ``train`` section."""

    epochs: int
    burn_in: int
    lr: float
    weight_decay: float
    batch_size: int
    margin: float
    lambda_int: float
    hidden: int
    track_hidden: int
    dropout: float
    eval_every: int
    context_pooling: str
    batching: str
    weak_pair_candidates: str   # "pairs" (two-character candidates) or "all" (LIReC: singles too)
    repeats: int                # models per experiment, seeds from repeat_seed (not part of a model)
    device: str


@dataclass(frozen=True)
class Experiment:
    """One ``experiments`` entry (see the schema for the keys)."""

    name: str
    modalities: tuple[str, ...]
    pooling: str
    task: str
    supervision: str
    negatives: str
    sampling: bool
    rel_clips: int
    joint: str

    @property
    def predicts_interactions(self) -> bool:
        return self.task != "rel"

    @property
    def predicts_relationships(self) -> bool:
        return self.task in ("rel", "int_rel", "int_rel_char")

    @property
    def predicts_characters(self) -> bool:
        """Scores every candidate pair of the clip (Eq. 7/11) instead of the true pair only."""
        return self.task in ("int_char", "int_rel_char")

    @property
    def uses_tracks(self) -> bool:
        return "tracks" in self.modalities

    @property
    def relationship_to_interaction(self) -> bool:
        """Eq. 5: interactions see the relationship representation (Table 3 "Rel. -> Int.")."""
        return self.predicts_interactions and self.predicts_relationships and self.joint in ("rel_to_int", "both")

    @property
    def interaction_to_relationship(self) -> bool:
        """Table 3 "Rel. <- Int.": relationships see the clip's interaction representation."""
        return self.predicts_interactions and self.predicts_relationships and self.joint in ("int_to_rel", "both")


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run depends on; stored in checkpoints."""

    train: TrainSettings
    experiment: Experiment
    seed: int

    @classmethod
    def defaults(cls, experiment_name: str = "experiment", **entry: Any) -> "RunConfig":
        """A run from the schema's defaults (the paper's values) and the experiment entry ``entry``."""
        config = schema_defaults()
        config["experiments"] = {experiment_name: {**schema_defaults("experiments.*"), **entry}}
        return cls.from_config(config, experiment_name)

    @classmethod
    def from_config(cls, config: dict[str, Any], experiment: str) -> "RunConfig":
        """The run of experiment ``experiment`` of a validated config."""
        experiment_name = experiment
        experiments = config.get("experiments") or {}
        if experiment_name not in experiments:
            raise ExperimentError(f"experiment {experiment_name!r} is not in the configuration's experiments "
                                  f"({', '.join(sorted(experiments)) or 'none defined'})")
        entry = dict(experiments[experiment_name])
        train = dict(config["train"])
        for key in ("epochs", "lr"):  # per-experiment overrides of the train section
            if entry.get(key) is not None:
                train[key] = entry[key]
        entry.pop("epochs", None)
        entry.pop("lr", None)
        settings = TrainSettings(**train)
        if "modalities" in entry:
            entry["modalities"] = tuple(entry["modalities"])
        run = cls(train=settings, experiment=Experiment(name=experiment_name, **entry), seed=int(config["seed"]))
        run.check()
        return run

    def check(self) -> None:
        e = self.experiment
        if e.task not in TASKS:
            raise ExperimentError(f"experiment {e.name!r}: unknown task {e.task!r}")
        unknown = set(e.modalities) - set(MODALITIES)
        if unknown or not e.modalities:
            raise ExperimentError(f"experiment {e.name!r}: modalities must be a non-empty subset of {MODALITIES}")
        if e.predicts_characters and not e.uses_tracks:
            raise ExperimentError(f"experiment {e.name!r}: task {e.task} predicts the character pair, which "
                                  "needs the 'tracks' modality (candidates differ only by their tracks)")
        if e.supervision == "weak" and not e.predicts_characters:
            raise ExperimentError(f"experiment {e.name!r}: weak supervision is about the character pair; "
                                  f"use task int_char or int_rel_char, not {e.task}")
        if e.sampling and e.supervision != "weak":
            raise ExperimentError(f"experiment {e.name!r}: multinomial sampling chooses the pair under weak "
                                  "supervision (Eq. 9); it needs supervision: weak")
        if e.negatives == "sum_max" and not e.predicts_characters:
            raise ExperimentError(f"experiment {e.name!r}: hard negatives (sum_max) are defined over the "
                                  "pair x class matrix (Eq. 8/10); use task int_char or int_rel_char")
        for key in ("batching", "context_pooling", "weak_pair_candidates"):
            allowed = schema_enum(f"train.{key}")
            if getattr(self.train, key) not in allowed:
                raise ExperimentError(f"train.{key} must be one of {allowed}, not {getattr(self.train, key)!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"train": asdict(self.train), "experiment": asdict(self.experiment), "seed": self.seed}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> "RunConfig":
        """The run stored in a checkpoint. A train key the checkpoint predates gets the schema's default,
        which is how such a model was trained (``weak_pair_candidates``, ``repeats``)."""
        experiment = dict(payload["experiment"])
        experiment["modalities"] = tuple(experiment["modalities"])
        train = {key: value for key, value in schema_defaults("train").items()
                 if key in ("weak_pair_candidates", "repeats")} | payload["train"]
        return cls(train=TrainSettings(**train), experiment=Experiment(**experiment), seed=int(payload["seed"]))

    def identity(self) -> dict[str, Any]:
        """What must match for ``last.pt`` to be resumed: everything but the epoch count / eval cadence,
        the number of repeats (a repeat is one model, its seed is in the identity) and, for a model
        without weak supervision, the weak pair choice it never uses."""
        payload = self.to_dict()
        for key in ("epochs", "eval_every", "device", "repeats"):
            payload["train"].pop(key)
        if self.experiment.supervision != "weak":
            payload["train"].pop("weak_pair_candidates")
        return payload

    def for_repeat(self, repeat: int) -> "RunConfig":
        """The run of repeat ``repeat`` (0 .. train.repeats - 1): the same settings, its own seed."""
        return replace(self, seed=repeat_seed(self.seed, repeat))


def repeat_seed(seed: int, repeat: int) -> int:
    """The seed of repeat ``repeat`` of a run with master seed ``seed``: the seed itself for repeat 0
    (one repeat trains exactly the model of the master seed), else drawn from numpy's SeedSequence
    of (seed, repeat), so the repeats' seeds neither collide nor depend on the number of repeats."""
    if repeat == 0:
        return seed
    return int(np.random.SeedSequence([seed, repeat]).generate_state(1)[0])
