"""Evaluate a trained model on a sample shard: the paper's metrics and random baselines.

``python -m model.evaluate --config FILE [--settings JSON] --experiment NAME
--checkpoint work/models/NAME/best.pt --samples work/samples/<pooling>/<split>.h5
--out work/eval/NAME/<split>.json``

Output JSON::

    {"experiment": NAME, "task": ..., "samples": path, "num_samples": S, "epoch": selected epoch,
     "metrics": {name: {"accuracy": percent, "n": evaluated items, "random": percent}, ...},
     "relationship_vs_clips": {"1": {...}, "2": {...}, ..., "18": {...}}   # rel / int_rel only (Fig. 5)}

Metric names (those that apply to the task): ``interaction_top1``, ``interaction_soft_top1``,
``interaction_top5`` (given the true pair), ``relationship`` (pair level, given the true pair and
interaction), ``character`` (given the true interaction and relationship), ``joint``. Which samples
count (paper Sec. 4.2: "we only consider samples that have a relationship, or when a pair of
characters appear"): relationship metrics use samples with a relationship label; character and
joint metrics use samples whose true subject and object both have a track (and, for the joint
interaction-relationship-character accuracy, a relationship label).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from model.checkpoint import check_features, load_checkpoint
from model.config import RunConfig
from model.data import iterate_batches
from model.heads import InteractionRelationshipModel
from model.metrics import (Metric, character_hits, interaction_hits, joint_hits, relationship_pair_accuracy,
                           summarize)
from pipeline.devices import resolve_device
from pipeline.errors import PipelineError
from pipeline.formats.shard import SampleShard
from pipeline.h5io import write_json_atomic

LOG = logging.getLogger("model.evaluate")

FIGURE5_CLIPS = (1, 2, 4, 6, 10, 14, 18)
EVAL_BATCH_SIZE = 128


@torch.no_grad()
def collect_scores(model: InteractionRelationshipModel, shard: SampleShard, run: RunConfig, device: torch.device,
                   rel_clips: int | None = None, batch_size: int = EVAL_BATCH_SIZE) -> dict[str, np.ndarray]:
    """Per-sample sigmoid scores and per-sample hits of the character/joint metrics, over the shard."""
    model.eval()
    e = run.experiment
    out: dict[str, list[np.ndarray]] = {}

    def add(name: str, value: torch.Tensor | np.ndarray) -> None:
        out.setdefault(name, []).append(value.cpu().numpy() if isinstance(value, torch.Tensor) else value)

    for batch in iterate_batches(shard, e, batch_size, rel_clips=rel_clips):
        batch = batch.to(device)
        logits = model(batch)
        rows = torch.arange(batch.size, device=device)
        true_slot = batch.true_pair[:, 0]
        add("sample_ids", batch.sample_ids)
        interaction = torch.sigmoid(logits.interaction) if logits.interaction is not None else None
        relationship = torch.sigmoid(logits.relationship) if logits.relationship is not None else None
        if interaction is not None:
            add("interaction", interaction[rows, true_slot])
            if e.predicts_characters:  # a bidirectional interaction also holds at the reversed pair
                reverse_slot = batch.true_pair[:, 1]
                add("interaction_reverse", interaction[rows, reverse_slot.clamp(min=0)])
                add("bidirectional", reverse_slot >= 0)
        if relationship is not None:
            add("relationship", relationship[rows, true_slot])
        if e.predicts_characters:
            at_truth = interaction[rows, :, batch.interaction]
            if relationship is not None:
                rel_at_truth = relationship[rows, :, batch.relationship.clamp(min=0)]
                at_truth = at_truth + torch.where((batch.relationship >= 0)[:, None], rel_at_truth,
                                                  torch.zeros_like(rel_at_truth))
            mask = batch.pair_mask.cpu().numpy()
            true_pair = batch.true_pair.cpu().numpy()
            hits, chance = character_hits(at_truth.cpu().numpy(), mask, true_pair)
            add("character_hits", hits)
            add("character_chance", chance)
            hits, chance = joint_hits(interaction.cpu().numpy(), mask, true_pair, batch.interaction.cpu().numpy(),
                                      relationship.cpu().numpy() if relationship is not None else None,
                                      batch.relationship.cpu().numpy())
            add("joint_hits", hits)
            add("joint_chance", chance)
    return {name: np.concatenate(values) for name, values in out.items()}


def metrics_from_scores(scores: dict[str, np.ndarray], shard: SampleShard, run: RunConfig) -> dict[str, Metric]:
    ids = scores["sample_ids"]
    metrics: dict[str, Metric] = {}
    if "interaction" in scores:
        for name, (hits, chance) in interaction_hits(scores["interaction"], shard.interaction[ids],
                                                     shard.overlap[ids], scores.get("interaction_reverse"),
                                                     scores.get("bidirectional")).items():
            metrics[f"interaction_{name}"] = summarize(hits, chance)
    if "relationship" in scores:
        metrics["relationship"] = relationship_pair_accuracy(scores["relationship"], shard.relationship[ids],
                                                             shard.rel_key[ids])
    if "character_hits" in scores:
        visible = shard.pair_visible()[ids]
        metrics["character"] = summarize(scores["character_hits"], scores["character_chance"], visible)
        joint_include = visible & (shard.relationship[ids] >= 0) if "relationship" in scores else visible
        metrics["joint"] = summarize(scores["joint_hits"], scores["joint_chance"], joint_include)
    return metrics


def evaluate_model(model: InteractionRelationshipModel, shard: SampleShard, run: RunConfig, device: torch.device,
                   rel_clips: int | None = None) -> dict[str, Metric]:
    """All metrics of the task on ``shard`` (context clips: the experiment's K unless ``rel_clips``)."""
    return metrics_from_scores(collect_scores(model, shard, run, device, rel_clips), shard, run)


def selection_value(run: RunConfig, metrics: dict[str, Metric]) -> tuple[str, float]:
    """The validation number that picks the best checkpoint: the mean of the task's accuracies.

    Joint accuracy is left out: on a validation split of demo size it is a few hits out of a few
    dozen samples, too coarse to rank checkpoints (ties would keep an early epoch).
    """
    task = run.experiment.task
    names = {"int": ["interaction_top1"], "rel": ["relationship"], "int_rel": ["interaction_top1", "relationship"],
             "int_char": ["interaction_top1", "character"],
             "int_rel_char": ["interaction_top1", "relationship", "character"]}[task]
    values = [metrics[name].accuracy for name in names if name in metrics and metrics[name].n > 0]
    return "+".join(names), float(np.mean(values)) if values else float("-inf")


def relationship_vs_clips(model: InteractionRelationshipModel, shard: SampleShard, run: RunConfig,
                          device: torch.device, clips: Sequence[int] = FIGURE5_CLIPS) -> dict[str, Metric]:
    """Figure 5: pair-level relationship accuracy of the same model with K context clips."""
    curve = {}
    for k in clips:
        scores = collect_scores(model, shard, run, device, rel_clips=k)
        curve[str(k)] = relationship_pair_accuracy(scores["relationship"], shard.relationship[scores["sample_ids"]],
                                                   shard.rel_key[scores["sample_ids"]])
    return curve


def evaluation_report(checkpoint: Path, samples: Path, device: torch.device, experiment: str | None = None,
                      figure5: bool = True) -> dict[str, Any]:
    model, run, info = load_checkpoint(checkpoint, device)
    if experiment is not None and run.experiment.name != experiment:
        raise PipelineError(f"{checkpoint}: holds experiment {run.experiment.name!r}, not {experiment!r}")
    shard = SampleShard(samples)
    check_compatible(shard, info, checkpoint)
    metrics = evaluate_model(model, shard, run, device)
    report: dict[str, Any] = {
        "experiment": run.experiment.name, "task": run.experiment.task, "samples": str(samples),
        "checkpoint": str(checkpoint), "epoch": info.get("epoch"), "num_samples": len(shard),
        "metrics": {name: metric.to_dict() for name, metric in metrics.items()},
    }
    if figure5 and run.experiment.task in ("rel", "int_rel"):
        report["relationship_vs_clips"] = {k: m.to_dict() for k, m in
                                           relationship_vs_clips(model, shard, run, device).items()}
    for name, metric in metrics.items():
        LOG.info("%s %s: %.2f%% (n=%d, random %.2f%%)", run.experiment.name, name, metric.accuracy, metric.n,
                 metric.random)
    return report


def check_compatible(shard: SampleShard, info: dict[str, Any], checkpoint: Path) -> None:
    """The shard must have the model's feature dims, class counts, pooling and features."""
    expected = info["shard"]
    found = {"num_interactions": shard.num_interactions, "num_relationships": shard.num_relationships,
             "pooling": shard.pooling}
    wrong = {key: (expected.get(key), value) for key, value in found.items() if expected.get(key) != value}
    if wrong:
        raise PipelineError(f"{shard.path}: does not match the model of {checkpoint} (model vs shard): {wrong}")
    check_features(checkpoint, expected, str(shard.path), {"visual_dim": shard.visual_dim,
                                                           "dialog_dim": shard.dialog_dim}, shard.features)


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.cli import stage_main

    def arguments(parser) -> None:
        parser.add_argument("--experiment", required=True, help="an entry of the config's experiments")
        parser.add_argument("--checkpoint", required=True, type=Path, help="work/models/<experiment>/best.pt")
        parser.add_argument("--samples", required=True, type=Path, help="work/samples/<pooling>/<split>.h5")
        parser.add_argument("--out", required=True, type=Path, help="work/eval/<experiment>/<split>.json")

    def run(settings: RunConfig, args) -> None:
        report = evaluation_report(args.checkpoint, args.samples, resolve_device(settings.train.device),
                                   experiment=args.experiment)
        write_json_atomic(args.out, report)

    return stage_main("evaluate", run, description=__doc__.split("\n")[0], arguments=arguments,
                      wildcards=lambda args: {"experiment": args.experiment}, threads=True, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
