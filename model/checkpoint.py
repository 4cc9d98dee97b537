"""Model checkpoints: what ``best.pt`` and ``last.pt`` hold, written atomically and loaded safely.

A checkpoint is a dict of plain data and tensors only (``version``, ``model`` state dict, ``run``
settings as a dict, ``shard`` signature (:func:`shard_signature`: dims, classes, pooling and the
identity of the visual and dialog features it was trained on), epoch, metrics; ``last.pt`` adds the
optimizer state, RNG states and the training log), so it loads with ``torch.load(weights_only=True)``:
a checkpoint from someone else can hold no code to run. A file that needs more is refused with an error naming it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from model.config import RunConfig
from model.heads import InteractionRelationshipModel
from pipeline.errors import PipelineError
from pipeline.formats.shard import SampleShard
from pipeline.h5io import torch_save_atomic

CHECKPOINT_VERSION = 1


class CheckpointError(PipelineError):
    """A checkpoint is missing, unreadable, refused as unsafe or of another version (names the file)."""


def shard_signature(shard: SampleShard) -> dict[str, Any]:
    """What a model is bound to: feature dims, classes and pooling of the shards it was trained on, and
    which features those were (``features``: the feature files' identity attributes, plain data)."""
    return {"visual_dim": shard.visual_dim, "dialog_dim": shard.dialog_dim, "num_interactions": shard.num_interactions,
            "num_relationships": shard.num_relationships, "pooling": shard.pooling,
            "interaction_names": shard.interaction_names, "relationship_names": shard.relationship_names,
            "features": shard.features}


class FeatureMismatchError(PipelineError):
    """Features other than those a model was trained on (the message names both sides)."""


# What must match between a model and the features it is given (besides the identity attributes).
FEATURE_DIMS = ("visual_dim", "dialog_dim")


def feature_differences(signature: dict[str, Any], dims: dict[str, int | None],
                        features: dict[str, dict[str, Any] | None]) -> dict[str, tuple[Any, Any]]:
    """``{name: (model's, given)}`` where the given features differ from the model's ``signature``:
    the dimensions, and every identity attribute known on both sides (``visual.backbone``, ...).

    A side without a record (a checkpoint or shard older than the record, or a movie without
    subtitles) is not compared; the dimensions always are when given.
    """
    wrong = {name: (signature.get(name), dims[name]) for name in FEATURE_DIMS
             if dims.get(name) is not None and signature.get(name) != dims[name]}
    trained = signature.get("features") or {}
    for kind in ("visual", "dialog"):
        mine, theirs = trained.get(kind), features.get(kind)
        if mine is None or theirs is None:
            continue
        for key in sorted(set(mine) & set(theirs)):
            if mine[key] != theirs[key]:
                wrong[f"{kind}.{key}"] = (mine[key], theirs[key])
    return wrong


def check_features(checkpoint: str | Path, signature: dict[str, Any], where: str, dims: dict[str, int | None],
                   features: dict[str, dict[str, Any] | None]) -> None:
    """:class:`FeatureMismatchError` naming the checkpoint, ``where`` and every difference."""
    wrong = feature_differences(signature, dims, features)
    if wrong:
        listed = "; ".join(f"{name}: {model!r} vs {given!r}" for name, (model, given) in wrong.items())
        raise FeatureMismatchError(f"{where}: other features than the model {checkpoint} was trained on "
                                   f"(model vs these): {listed}. Extract the features with the model's settings "
                                   "(visual and dialog sections) or use a model trained on these features")


def build_model(run: RunConfig, signature: dict[str, Any]) -> InteractionRelationshipModel:
    return InteractionRelationshipModel(run, signature["visual_dim"], signature["dialog_dim"],
                                        signature["num_interactions"], signature["num_relationships"])


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically (temp file + rename), the same bytes for the same payload."""
    torch_save_atomic(path, payload)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's dict, loaded with ``weights_only=True``; :class:`CheckpointError` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt, foreign or unsafe files
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint, or one that holds more than tensors and plain "
                              f"data (refused, nothing in it was run): {message}") from None
    if not isinstance(payload, dict) or payload.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: not a model checkpoint of version {CHECKPOINT_VERSION}")
    return payload


def load_checkpoint(path: str | Path, device: torch.device) -> tuple[InteractionRelationshipModel, RunConfig,
                                                                      dict[str, Any]]:
    """Model (eval mode, on ``device``), run config and the checkpoint's other fields."""
    payload = read_checkpoint(path)
    try:
        run = RunConfig.from_dict(payload["run"])
        model = build_model(run, payload["shard"])
        model.load_state_dict(payload["model"])
    except (KeyError, TypeError, RuntimeError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: checkpoint does not hold a model of this code ({detail})") from None
    model.to(device).eval()
    return model, run, payload
