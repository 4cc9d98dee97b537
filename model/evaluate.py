"""Evaluate trained models on a sample shard: the paper's metrics, random baselines, per-unit outcomes.

``python -m model.evaluate --config FILE [--settings JSON] --experiment NAME
--checkpoint work/models/NAME/best.pt [work/models/NAME/repeat1/best.pt ...]
--samples work/samples/<pooling>/<split>.h5 --out work/eval/NAME/<split>.json``

One checkpoint per repeat of the experiment (``train.repeats``; repeat 0 first). Output JSON::

    {"experiment": NAME, "task": ..., "samples": path, "num_samples": S,
     "checkpoint": repeat 0's, "epoch": repeat 0's selected epoch,
     "protocol": "paper" | "lirec", "weak_pair_candidates": "pairs" | "all" (weak supervision only),
     "metrics": {name: {"accuracy": percent, "n": evaluated items, "random": percent}, ...},
     "repeats": [{"repeat": 0, "seed": ..., "checkpoint": ..., "epoch": ..., "accuracy": {name: percent}}, ...],
     "units": {"sample": {"count": S, "sha256": ...}, "pair": {"count": G, "sha256": ...}},
     "outcomes": {name: {"unit": "sample" | "pair", "counted": "0110...", "scored": "0110...",
                         "chance": [per unit], "hits": ["0100...", one string per repeat]}, ...},
     "relationship_vs_clips": {"1": {...}, ..., "18": {...}},            # rel / int_rel only (Fig. 5)
     "relationship_vs_clips_outcomes": {"1": {...}, ..., "18": {...}}}

With one repeat a metric is that model's; with N the accuracy is the mean over the N seeds and the
entry adds ``"seeds": N`` and ``"seed_sd"`` (standard deviation over seeds, percentage points).

Metric names (those that apply to the task): ``interaction_top1``, ``interaction_soft_top1``,
``interaction_top5`` (given the true pair), ``relationship`` (pair level, given the true pair and
interaction), ``character`` (given the true interaction and relationship), ``joint``. Which samples
count (paper Sec. 4.2: "we only consider samples that have a relationship, or when a pair of
characters appear"): relationship metrics use samples with a relationship label; character and
joint metrics use samples whose true subject and object both have a track (and, for the joint
interaction-relationship-character accuracy, a relationship label). Protocol ``lirec`` counts as the
authors' code does (:mod:`model.metrics`).

Outcomes keep, per unit, what each metric is made of, so that the report compares two models on
the same units (paired, :mod:`pipeline.stats`): ``counted`` / ``scored`` / ``hits`` are strings of
``0``/``1``, one character per unit, as :class:`model.metrics.Outcomes`. Units are the shard's
samples in shard order, or for the pair-level relationship accuracy the labelled relationship pairs
(``rel_key`` groups, sorted). Their identities, a sample's ``(movie, clip, start, end, subject,
object, interaction)`` and a pair's ``(movie, subject, object, relationship)``, are hashed into
``units.*.sha256``: two evaluation files pair unit by unit when their hashes are equal (the shards
of every pooling of one split have the same samples).
"""
from __future__ import annotations

import hashlib
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from model.checkpoint import check_features, load_checkpoint
from model.config import RunConfig
from model.data import iterate_batches
from model.heads import InteractionRelationshipModel
from model.metrics import (Metric, Outcomes, character_hits, interaction_hits, joint_hits, lirec_joint_hits,
                           lirec_relationship_hits, relationship_pair_outcomes, sample_outcomes)
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
            if e.predicts_characters:  # protocol lirec: the reversed pair's relationship and its label
                reverse_slot = batch.true_pair[:, 1]
                add("relationship_reverse", relationship[rows, reverse_slot.clamp(min=0)])
                add("reverse_relationship", torch.where(reverse_slot >= 0,
                                                        batch.pair_relationship[rows, reverse_slot.clamp(min=0)],
                                                        torch.full_like(reverse_slot, -1)))
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
            joint_inputs = (interaction.cpu().numpy(), mask, true_pair, batch.interaction.cpu().numpy())
            relationship_inputs = (relationship.cpu().numpy() if relationship is not None else None,
                                   batch.relationship.cpu().numpy() if relationship is not None else None)
            hits, chance = joint_hits(*joint_inputs, *relationship_inputs)
            add("joint_hits", hits)
            add("joint_chance", chance)
            hits, chance = lirec_joint_hits(*joint_inputs, at_truth.cpu().numpy(), *relationship_inputs)
            add("lirec_joint_hits", hits)
            add("lirec_joint_chance", chance)
    return {name: np.concatenate(values) for name, values in out.items()}


def outcomes_from_scores(scores: dict[str, np.ndarray], shard: SampleShard, run: RunConfig,
                         protocol: str) -> dict[str, Outcomes]:
    """Per-unit outcomes of every metric of the task, counted as ``protocol`` says (:mod:`model.metrics`)."""
    ids = scores["sample_ids"]
    relationship = shard.relationship[ids]
    lirec_characters = protocol == "lirec" and run.experiment.predicts_characters
    outcomes: dict[str, Outcomes] = {}
    if "interaction" in scores:
        for name, (hits, chance) in interaction_hits(scores["interaction"], shard.interaction[ids],
                                                     shard.overlap[ids], scores.get("interaction_reverse"),
                                                     scores.get("bidirectional")).items():
            outcomes[f"interaction_{name}"] = sample_outcomes(hits, chance)
    if "character_hits" in scores:  # the samples character and joint metrics count
        tracked = shard.any_character_tracked()[ids] if lirec_characters else shard.pair_visible()[ids]
    if "relationship" in scores:
        if lirec_characters:
            hits, chance = lirec_relationship_hits(scores["relationship"], scores["relationship_reverse"],
                                                   relationship, scores["reverse_relationship"])
            outcomes["relationship"] = sample_outcomes(hits, chance, counted=tracked, scored=relationship >= 0)
        else:
            outcomes["relationship"] = relationship_pair_outcomes(scores["relationship"], relationship,
                                                                  shard.rel_key[ids])
    if "character_hits" in scores:
        outcomes["character"] = sample_outcomes(scores["character_hits"], scores["character_chance"], tracked)
        if lirec_characters:
            outcomes["joint"] = sample_outcomes(scores["lirec_joint_hits"], scores["lirec_joint_chance"], tracked)
        else:
            joint_include = tracked & (relationship >= 0) if "relationship" in scores else tracked
            outcomes["joint"] = sample_outcomes(scores["joint_hits"], scores["joint_chance"], joint_include)
    return outcomes


def evaluate_outcomes(model: InteractionRelationshipModel, shard: SampleShard, run: RunConfig, device: torch.device,
                      protocol: str, rel_clips: int | None = None) -> dict[str, Outcomes]:
    """Outcomes of all metrics of the task on ``shard`` (context clips: the experiment's K unless ``rel_clips``)."""
    return outcomes_from_scores(collect_scores(model, shard, run, device, rel_clips), shard, run, protocol)


def evaluate_model(model: InteractionRelationshipModel, shard: SampleShard, run: RunConfig, device: torch.device,
                   rel_clips: int | None = None) -> dict[str, Metric]:
    """All metrics of the task on ``shard`` as the paper defines them (training selects checkpoints on
    these, whatever ``evaluation.protocol`` says, so that the protocol changes evaluation only)."""
    return {name: outcome.metric()
            for name, outcome in evaluate_outcomes(model, shard, run, device, "paper", rel_clips).items()}


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
                          device: torch.device, clips: Sequence[int] = FIGURE5_CLIPS) -> dict[str, Outcomes]:
    """Figure 5: pair-level relationship outcomes of the same model with K context clips."""
    curve = {}
    for k in clips:
        scores = collect_scores(model, shard, run, device, rel_clips=k)
        ids = scores["sample_ids"]
        curve[str(k)] = relationship_pair_outcomes(scores["relationship"], shard.relationship[ids], shard.rel_key[ids])
    return curve


def _bits(values: np.ndarray) -> str:
    return "".join("1" if value else "0" for value in np.asarray(values, bool))


def _fingerprint(identities: list[tuple]) -> dict[str, Any]:
    """Count and sha256 of a unit list (a repeated identity gets its occurrence number)."""
    seen: dict[tuple, int] = {}
    numbered = []
    for identity in identities:
        seen[identity] = seen.get(identity, -1) + 1
        numbered.append([*identity, seen[identity]])
    text = json.dumps(numbered, separators=(",", ":"), ensure_ascii=False)
    return {"count": len(identities), "sha256": hashlib.sha256(text.encode()).hexdigest()}


def _outcomes_entry(per_repeat: list[Outcomes]) -> dict[str, Any]:
    first = per_repeat[0]
    return {"unit": first.unit, "counted": _bits(first.counted), "scored": _bits(first.scored),
            "chance": [round(float(value), 6) for value in first.chance],
            "hits": [_bits(outcome.hits) for outcome in per_repeat]}


def _metric_entry(per_repeat: list[Outcomes]) -> dict[str, Any]:
    """The metric of one model, or with repeats the mean over seeds with their spread."""
    metrics = [outcome.metric() for outcome in per_repeat]
    entry = metrics[0].to_dict()
    if len(metrics) > 1 and entry["n"] > 0:
        values = np.array([metric.accuracy for metric in metrics])
        entry.update(accuracy=float(values.mean()), seeds=len(metrics), seed_sd=float(values.std(ddof=1)))
    return entry


def _number(value: float | None) -> float:
    return float("nan") if value is None else value


@dataclass
class _Evaluated:
    checkpoint: Path
    run: RunConfig
    epoch: Any
    outcomes: dict[str, Outcomes]
    curve: dict[str, Outcomes]


def evaluation_report(checkpoints: Sequence[Path], samples: Path, device: torch.device, protocol: str,
                      experiment: str | None = None, figure5: bool = True) -> dict[str, Any]:
    """The evaluation file's content for the repeats ``checkpoints`` (repeat 0 first) of one experiment."""
    shard = SampleShard(samples)
    evaluated: list[_Evaluated] = []
    for checkpoint in checkpoints:
        model, run, info = load_checkpoint(checkpoint, device)
        name = experiment if experiment is not None else (evaluated[0].run.experiment.name if evaluated else None)
        if name is not None and run.experiment.name != name:
            raise PipelineError(f"{checkpoint}: holds experiment {run.experiment.name!r}, not {name!r}")
        check_compatible(shard, info, checkpoint)
        curve = (relationship_vs_clips(model, shard, run, device)
                 if figure5 and run.experiment.task in ("rel", "int_rel") else {})
        evaluated.append(_Evaluated(Path(checkpoint), run, info.get("epoch"),
                                    evaluate_outcomes(model, shard, run, device, protocol), curve))
    first = evaluated[0]
    names = list(first.outcomes)
    report: dict[str, Any] = {
        "experiment": first.run.experiment.name, "task": first.run.experiment.task, "samples": str(samples),
        "checkpoint": str(first.checkpoint), "epoch": first.epoch, "num_samples": len(shard),
        "protocol": protocol,
        "metrics": {name: _metric_entry([e.outcomes[name] for e in evaluated]) for name in names},
        "repeats": [{"repeat": k, "seed": e.run.seed, "checkpoint": str(e.checkpoint), "epoch": e.epoch,
                     "accuracy": {name: e.outcomes[name].metric().to_dict()["accuracy"] for name in names}}
                    for k, e in enumerate(evaluated)],
        "units": {"sample": _fingerprint(shard.sample_identities())},
        "outcomes": {name: _outcomes_entry([e.outcomes[name] for e in evaluated]) for name in names},
    }
    if first.run.experiment.supervision == "weak":  # how the weak models chose their positive pair
        report["weak_pair_candidates"] = first.run.train.weak_pair_candidates
    if any(outcome.unit == "pair" for outcome in first.outcomes.values()) or first.curve:
        labelled_pairs = np.unique(shard.rel_key[shard.relationship >= 0])   # the pair units, sorted
        report["units"]["pair"] = _fingerprint(shard.group_identities(labelled_pairs))
    if first.curve:
        report["relationship_vs_clips"] = {k: _metric_entry([e.curve[k] for e in evaluated]) for k in first.curve}
        report["relationship_vs_clips_outcomes"] = {k: _outcomes_entry([e.curve[k] for e in evaluated])
                                                   for k in first.curve}
    for name, entry in report["metrics"].items():
        LOG.info("%s %s (%s protocol%s): %.2f%% (n=%d, random %.2f%%)", first.run.experiment.name, name, protocol,
                 f", mean of {len(evaluated)} seeds" if len(evaluated) > 1 else "", _number(entry["accuracy"]),
                 entry["n"], _number(entry["random"]))
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


@dataclass(frozen=True)
class EvaluationSettings:
    """The evaluated experiment's run settings (device, repeats) and the evaluation protocol."""

    run: RunConfig
    protocol: str

    @classmethod
    def from_config(cls, config: dict[str, Any], experiment: str) -> "EvaluationSettings":
        return cls(run=RunConfig.from_config(config, experiment), protocol=config["evaluation"]["protocol"])


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.cli import stage_main

    def arguments(parser) -> None:
        parser.add_argument("--experiment", required=True, help="an entry of the config's experiments")
        parser.add_argument("--checkpoint", required=True, type=Path, nargs="+",
                            help="work/models/<experiment>/best.pt, then repeat<k>/best.pt of each further repeat")
        parser.add_argument("--samples", required=True, type=Path, help="work/samples/<pooling>/<split>.h5")
        parser.add_argument("--out", required=True, type=Path, help="work/eval/<experiment>/<split>.json")

    def run(settings: EvaluationSettings, args) -> None:
        repeats = settings.run.train.repeats
        if len(args.checkpoint) != repeats:
            raise PipelineError(f"{args.checkpoint[0]}: train.repeats is {repeats}, but {len(args.checkpoint)} "
                                "checkpoint(s) were given (one per repeat, repeat 0 first)")
        report = evaluation_report(args.checkpoint, args.samples, resolve_device(settings.run.train.device),
                                   settings.protocol, experiment=args.experiment)
        write_json_atomic(args.out, report)

    return stage_main("evaluate", run, description=__doc__.split("\n")[0], arguments=arguments,
                      wildcards=lambda args: {"experiment": args.experiment}, threads=True, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
