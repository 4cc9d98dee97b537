"""The demo's calibration targets: what the synthetic demo is designed to show, and by how much.

Demo knowledge only: :mod:`model.report` checks these on the demo's tables (and shows the section for
the demo dataset alone); a target that compares two rows is met when their paired difference (the
same samples, paired bootstrap) reaches its margin with a 95% interval excluding 0. A missed target is
reported with what limits it (:data:`MISSED_READING`).
"""
from __future__ import annotations

# Interaction top-1 of visual + dialog + tracks on test must lie in this range (a real question).
INTERACTION_RANGE = (35.0, 80.0)
# Visual + dialog must beat each single modality by at least this many points, on each of these splits
# (Table 1 is on val; the report also evaluates Table 1's modality rows on test for this target).
MODALITY_MARGIN = 5.0
MODALITY_SPLITS = ("val", "test")
# Relationship accuracy with the most clips must beat one clip by at least this many points.
RELATIONSHIP_GAIN = 10.0
# Weak character-pair accuracy must beat its Random row by at least this many points (and stay below full).
WEAK_ABOVE_RANDOM = 10.0

# Why a calibration target can miss on the demo (printed under the table for each missed target).
MISSED_READING = {
    "interaction": "the demo's difficulty knobs (cue strengths, noise rates) set this level; see "
                   "data/demo/README.md.",
    "visual": "the visual channel carries the interaction cues of the visual-only classes; a miss means the "
              "backbone's features of the synthetic figures separate them no better than the dialog.",
    "dialog": "in a two-pair shot the clip-level visual and dialog vectors are the same for both pairs' samples, "
              "so a model without tracks gets at most one of two different labels right; visual + dialog gains "
              "over dialog only in action shots (no dialog: the visual vector alone tells the motions, from "
              "I3D features of both pairs pooled) and on the classes that need both modalities; the per-pair "
              "motion evidence is in the track features (the Visual + Dialog + Tracks row of Table 1), and "
              "the short demo schedule (8 epochs) limits what the fusion learns from the visual vector.",
    "relationship": "per clip, a relationship shows in the pair's dialog (vocatives and relationship lines, "
                    "pipeline.demo.knobs address_rate and relationship_line_rate, mixed with the other pair's "
                    "words in a two-pair shot and absent from action shots) and in interactions shaped by it "
                    "(relationship_strength); a pair's context clips are its own interactions, so a pair with "
                    "few interactions gains little from more clips, and a curve over about 170 validation "
                    "pairs moves by several points between neighbouring clip counts.",
    "weak": "weak labels must find the pair from the per-character track features alone (the clip's visual "
            "and dialog vectors are the same for every candidate), so the weak model inherits the weak "
            "visual signal.",
}
