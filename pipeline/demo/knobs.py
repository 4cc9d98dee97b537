"""Every difficulty knob of the demo generator, in one place.

Calibrate the demo here (and only here): how strong the visual and dialog cues are, how noisy the
tracks and subtitles are, how much relationships shape interactions. The generator reads nothing
else that changes difficulty; sizes (how much data) live in :mod:`pipeline.demo.sizes`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from pipeline.config import ConfigError
from pipeline.demo.sizes import DemoSize

LAYOUTS = ("sequential", "lanes")


@dataclass(frozen=True)
class DemoKnobs:
    # --- layout ------------------------------------------------------------------------------------
    # "sequential": 1-3 interactions per clip one after another (overlapping at times), one group on
    # screen at a time; "lanes": a clip is 2-4 shots of 2 or 4 s (a shot is one feature window or
    # two, interactions aligned to them), and in each shot 1-2 pairs interact side by side, each in
    # its own half of the frame with its own face tracks (MovieGraphs clips hold several
    # interactions at once). The lanes layout gives several samples per feature window.
    layout: str = "sequential"
    lanes_per_shot: tuple[float, ...] = (0.15, 0.85)   # lanes: P(1), P(2) interacting pairs per shot
    shots_per_clip: tuple[int, int] = (2, 4)           # lanes: shots per clip (inclusive range)
    long_shot_rate: float = 0.15           # lanes: a shot lasts 4 s instead of 2 s
    bidirectional_rate: float = 0.6        # lanes: a symmetric interaction (hugs, dances with, ...)
    #                                        is annotated in both directions (one instance, two samples)
    # lanes: with this probability a shot is all action or all talk, by the kind of its first pair's
    # interaction: the other pairs then draw from the visual-only + both classes (first is visual
    # only) or the dialog-only + both classes (first is dialog only), as scenes of one kind are in
    # movies; 0: every pair draws from all classes.
    lane_modality_coupling: float = 0.0
    figure_height: tuple[float, float] = (0.42, 0.58)  # person-box height range (fraction of the frame)

    # --- cast -------------------------------------------------------------------------------------
    min_characters: int = 4                # characters per movie (inclusive range)
    max_characters: int = 8
    importance_decay: float = 0.6          # screen-time weight of the k-th character: decay**k
    min_on_screen: int = 2                 # named characters on screen per clip
    max_on_screen: int = 4
    extra_rate: float = 0.35               # probability of an anonymous extra ("other"/"no_face")

    # --- relationships ------------------------------------------------------------------------------
    missing_relationship_rate: float = 0.33  # unordered pairs without a relationship label
    # How much a pair's relationship shapes its interactions: P(a | r) ~ prior(a) * exp(s * affinity)
    relationship_strength: float = 1.6
    # A subject sentence (and the object's reply) addresses the other by a vocative of their
    # relationship (vocabulary.ADDRESS_TERMS: "honey", "Mom", "sir", ...) instead of the name or in
    # addition to the line: weak evidence of the relationship in each clip, stronger over many clips.
    address_rate: float = 0.0
    # A dialog interaction of a labelled pair has the subject also say a line that reveals the
    # relationship (vocabulary.RELATIONSHIP_LINES: a parent asks about homework, a boss about the
    # report, ...), in the cue of its first sentence.
    relationship_line_rate: float = 0.0

    # --- interactions --------------------------------------------------------------------------------
    # Prior weight of classes by the modality that carries their signature (visual only, dialog
    # only, both needed); multiplied into P(a | r).
    modality_weights: tuple[float, float, float] = (0.30, 0.45, 0.25)
    interactions_per_clip: tuple[float, ...] = (0.35, 0.40, 0.25)  # P(1), P(2), P(3) interactions
    min_interaction_seconds: int = 2
    max_interaction_seconds: int = 6
    overlap_rate: float = 0.3              # an interaction starts while the previous one runs
    one_to_many_rate: float = 0.3          # dialog-only interactions addressed to two listeners

    # --- visual signature ----------------------------------------------------------------------------
    visual_cue_rate: float = 0.85          # the motion signature is performed (else: stand still)
    motion_scale: float = 1.0              # amplitude/speed of signature motions
    position_noise_px: float = 0.6         # per-frame positional noise of every figure
    bystander_speed_px: float = 1.2        # speed of the random walk of characters not interacting
    background_noise: float = 6.0          # std of per-frame pixel noise (uint8 levels)

    # --- dialog signature ----------------------------------------------------------------------------
    dialog_cue_rate: float = 0.75          # a subject sentence carries the class's lexical cue
    dialog_confusion_rate: float = 0.10    # a subject sentence carries another class's cue instead
    cue_sentences: tuple[int, int] = (1, 3)  # subject sentences per dialog interaction
    reply_rate: float = 0.6                # the object answers (speaker turn "- ")
    filler_rate: float = 0.25              # a filler line ("Um, okay.") is added
    unrelated_rate: float = 0.3            # per clip: unrelated lines in gaps / visual-only scenes
    split_line_rate: float = 0.15          # a sentence is split over two cues with "..."
    wrap_rate: float = 0.25                # a long cue is wrapped over two lines

    # --- face tracks ---------------------------------------------------------------------------------
    missing_track_rate: float = 0.25       # a character of a clip has no face track at all
    detection_miss_rate: float = 0.08      # single frames without a detection inside a track
    track_gap_rate: float = 0.02           # per frame: the tracker loses the face for a while
    face_jitter_px: float = 0.5            # std of the face-box position/size jitter
    short_track_frames: int = 3            # tracks shorter than this are dropped (ids skipped)
    alias_rate: float = 0.3                # a track is named by one word of the character name

    def __post_init__(self) -> None:
        if not 1 <= self.min_characters <= self.max_characters:
            raise ConfigError(f"min_characters/max_characters out of order: {self}")
        if not 2 <= self.min_on_screen <= self.max_on_screen:
            raise ConfigError("on-screen characters per clip must be at least 2 and ordered")
        if len(self.modality_weights) != 3 or min(self.modality_weights) < 0:
            raise ConfigError("modality_weights needs three non-negative weights")
        if self.layout not in LAYOUTS:
            raise ConfigError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if not self.lanes_per_shot or min(self.lanes_per_shot) < 0 or sum(self.lanes_per_shot) <= 0:
            raise ConfigError("lanes_per_shot needs non-negative probabilities of 1, 2, ... lanes")
        if not 1 <= self.shots_per_clip[0] <= self.shots_per_clip[1]:
            raise ConfigError("shots_per_clip bounds out of order")
        if not 0.0 < self.figure_height[0] <= self.figure_height[1] < 1.0:
            raise ConfigError("figure_height needs 0 < low <= high < 1")
        if not 1 <= self.min_interaction_seconds <= self.max_interaction_seconds:
            raise ConfigError("interaction duration bounds out of order")
        for item in fields(self):
            if item.name.endswith(("_rate", "_coupling")):
                value = getattr(self, item.name)
                if not 0.0 <= value <= 1.0:
                    raise ConfigError(f"{item.name} must be a probability, got {value}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def for_size(cls, size: DemoSize, overrides: dict[str, Any] | None = None) -> "DemoKnobs":
        """The size preset's knob defaults (:attr:`DemoSize.knobs`) with ``overrides`` applied on top."""
        return cls.from_overrides({**dict(size.knobs), **dict(overrides or {})})

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any] | None) -> "DemoKnobs":
        """Defaults with ``overrides`` applied; unknown names raise a ValueError naming them."""
        overrides = dict(overrides or {})
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown demo knob(s) {unknown}; known: {sorted(known)}")
        for item in fields(cls):
            if item.name in overrides and isinstance(getattr(cls(), item.name), tuple):
                overrides[item.name] = tuple(overrides[item.name])
        return cls(**overrides)
