"""Predict for one clip: the full score tensor and the answers to the paper's Figure 6 questions.

Given a trained model and a sample of a shard (one interaction instance of a clip, which fixes the
clip's candidate pairs), :func:`predict_clip` returns the scores s_IC(v, a, p) (pairs x
interactions), s_RC(V, r, p) (pairs x relationships) and their sum as the pairs x interactions x
relationships tensor (Sec. 3.2, "During inference ..."), and answers

- *Who?* (Int + Rel -> Char): argmax_p s_IC(v, a*, p) + s_RC(V, r*, p);
- *Doing what?* (Char + Rel -> Int): argmax_a s_IC(v, a, p*);
- *What relationship?* (Char + Int -> Rel): argmax_r s_RC(V, r, p*);
- *all three jointly*: the argmax of the whole tensor.

Models without candidates score only the true pair (one row); without relationships the tensor is
pairs x interactions. ``python -m model.predict --checkpoint best.pt --samples test.h5
--sample 12`` prints the answers as JSON.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from model.checkpoint import load_checkpoint
from model.data import make_batch
from pipeline.errors import PipelineError
from pipeline.formats.shard import SampleShard

Pair = tuple[str | None, str | None]


@dataclass
class ClipPrediction:
    movie: str
    clip: str
    candidates: list[Pair]                       # (subject, object); None = no character (single)
    interaction_scores: np.ndarray | None        # (P, A) sigmoid scores
    relationship_scores: np.ndarray | None       # (P, R)
    score_tensor: np.ndarray                     # (P, A, R) = s_IC + s_RC, or (P, A) / (P, R)
    truth: dict[str, Any] = field(default_factory=dict)
    who: Pair | None = None                      # given the true interaction (and relationship)
    doing_what: str | None = None                # given the true pair (and relationship)
    what_relationship: str | None = None         # given the true pair and interaction
    jointly: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"movie": self.movie, "clip": self.clip, "candidates": self.candidates, "truth": self.truth,
                "who": self.who, "doing_what": self.doing_what, "what_relationship": self.what_relationship,
                "jointly": self.jointly, "score_tensor_shape": list(self.score_tensor.shape)}


@torch.no_grad()
def predict_clip(model, run, shard, sample: int, device: torch.device | str = "cpu") -> ClipPrediction:
    """Scores and Figure 6 answers for ``sample`` of ``shard`` (a :class:`model.data.SampleShard`)."""
    if not 0 <= sample < len(shard):
        raise PipelineError(f"{shard.path}: sample {sample} out of range 0..{len(shard) - 1}")
    model.eval()
    batch = make_batch(shard, [sample], run.experiment).to(device)
    logits = model(batch)
    valid = batch.pair_mask[0].cpu().numpy()
    interaction = torch.sigmoid(logits.interaction[0]).cpu().numpy()[valid] if logits.interaction is not None else None
    relationship = (torch.sigmoid(logits.relationship[0]).cpu().numpy()[valid]
                    if logits.relationship is not None else None)
    if run.experiment.predicts_characters:
        rows = shard.candidates[sample, :int(shard.candidate_count[sample])]
        true_slot = int(shard.true_candidate[sample, 0])
    else:
        rows = np.array([[shard.subject_row[sample], shard.object_row[sample]]])
        true_slot = 0
    candidates = [(shard.character_name(int(a)), shard.character_name(int(b))) for a, b in rows]
    if interaction is not None and relationship is not None:
        tensor = interaction[:, :, None] + relationship[:, None, :]
    else:
        tensor = interaction if interaction is not None else relationship
    a_true, r_true = int(shard.interaction[sample]), int(shard.relationship[sample])
    names_a, names_r = shard.interaction_names, shard.relationship_names
    prediction = ClipPrediction(
        movie=shard.names("movies", int(shard.movie[sample])), clip=shard.names("samples/clip", sample),
        candidates=candidates, interaction_scores=interaction, relationship_scores=relationship, score_tensor=tensor,
        truth={"pair": candidates[true_slot], "interaction": names_a[a_true],
               "relationship": names_r[r_true] if r_true >= 0 else None})
    if interaction is not None:
        who_score = interaction[:, a_true].copy()
        if relationship is not None and r_true >= 0:
            who_score += relationship[:, r_true]
        prediction.who = candidates[int(who_score.argmax())]
        prediction.doing_what = names_a[int(interaction[true_slot].argmax())]
    if relationship is not None:
        prediction.what_relationship = names_r[int(relationship[true_slot].argmax())]
    best = np.unravel_index(int(np.argmax(tensor)), tensor.shape)
    joint: dict[str, Any] = {"pair": candidates[best[0]], "score": float(tensor[best])}
    if interaction is not None:
        joint["interaction"] = names_a[best[1]]
    if relationship is not None:
        joint["relationship"] = names_r[best[-1]]
    prediction.jointly = joint
    return prediction


@dataclass(frozen=True)
class PredictSettings:
    """Prediction runs on the device of ``train.device``."""

    device: str

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "PredictSettings":
        return cls(device=config["train"]["device"])


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.cli import stage_main
    from pipeline.devices import resolve_device

    def arguments(parser) -> None:
        parser.add_argument("--checkpoint", required=True, type=Path)
        parser.add_argument("--samples", required=True, type=Path)
        parser.add_argument("--sample", required=True, type=int, help="sample index in the shard")

    def run(settings: PredictSettings, args) -> None:
        device = resolve_device(settings.device)
        model, run_config, _ = load_checkpoint(args.checkpoint, device)
        prediction = predict_clip(model, run_config, SampleShard(args.samples), args.sample, device)
        print(json.dumps(prediction.to_dict(), indent=2))

    return stage_main("predict", run, description="Figure 6 answers for one sample of a shard.",
                      arguments=arguments, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
