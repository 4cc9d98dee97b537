"""The generative model of one demo movie: cast, relationships, clips, interactions and dialog.

Everything here is abstract (who does what when, who says what); :mod:`pipeline.demo.render`
turns a :class:`ClipPlan` into frames and face tracks, :mod:`pipeline.demo.writers` into the
MovieGraphs files. All randomness comes from the ``numpy.random.Generator`` passed in.

Model, per movie:

1. Cast of ``min_characters..max_characters`` characters with names whose words are unique within
   the movie, an importance (screen-time weight ``importance_decay**rank``) and a look
   (:class:`Look`: colour, shape, texture, size) drawn anew per movie.
2. For every unordered pair, with probability ``missing_relationship_rate`` no relationship, else a
   class from ``RELATIONSHIP_PRIOR`` for one direction and its opposite for the other, each with a
   fine word. Fixed for the whole movie.
3. Clips: 2-4 characters on screen (by importance), 1-3 interactions. An interaction's subject and
   object are on-screen characters (again by importance); its class is drawn from
   ``P(a | r) ~ modality_weight(a) * exp(relationship_strength * AFFINITY[r][a])`` with
   ``r = rel(subject, object)`` (uniform affinity when the pair has no label). Interactions follow
   each other with gaps, or overlap the previous one (``overlap_rate``); dialog-only interactions
   may address two listeners (``one_to_many_rate``). A new shot starts at every interaction that
   does not overlap the previous one. This is the ``sequential`` layout (``DemoKnobs.layout``); the
   ``lanes`` layout (:func:`draw_lane_interactions`, the default preset's) instead makes a clip of
   2-4 shots of 2 s (or 4 s), and in each shot 1-2 disjoint on-screen pairs interact side by side for
   the whole shot (several samples per feature window, as MovieGraphs clips hold several
   interactions at once); symmetric classes may be annotated in both directions, and a shot may be
   all action or all talk (``lane_modality_coupling``: its other pairs draw from the classes of its
   first pair's kind, :func:`shot_kind_classes`).
4. Dialog: the subject says ``cue_sentences`` sentences carrying the class's lexical cue
   (``dialog_cue_rate``), another class's cue (``dialog_confusion_rate``) or a neutral line; the
   object replies in a second speaker turn (``reply_rate``); fillers, unrelated lines, sentences split
   with "..." and wrapped lines add noise. With ``address_rate`` a line of a labelled pair addresses
   the other by a vocative of their relationship (``ADDRESS_TERMS``: "honey", "Mom", "sir", ...), and
   with ``relationship_line_rate`` the subject's first cue adds a line that reveals it
   (``RELATIONSHIP_LINES``: a parent asks about homework, a boss wants the report).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pipeline.demo.knobs import DemoKnobs
from pipeline.demo.sizes import DemoSize
from pipeline.demo.vocabulary import (
    ADDRESS_TERMS, AFFINITY, ATTRIBUTES, DIALOG_CUES, DIALOG_REPLIES, FILLERS, FINE_RELATIONSHIPS, FIRST_NAMES,
    GENERIC_REPLIES, INTERACTION_BY_NAME, INTERACTION_CLASSES, NEUTRAL_LINES, OPPOSITE_RELATIONSHIP, RELATIONSHIP_LINES, RELATIONSHIP_PRIOR,
    SCENE_LABELS, SITUATIONS, SUMMARIES, SURNAMES, TITLES, TOPICS, UNRELATED_LINES, InteractionClass,
)

SHAPES = ("rect", "ellipse", "trapezoid", "diamond")
TEXTURES = ("plain", "stripes_h", "stripes_v", "checker", "dots")
MODALITY_INDEX = {"visual": 0, "dialog": 1, "both": 2}


@dataclass(frozen=True)
class Look:
    """How a character is drawn in one movie (person box ``width`` x ``height`` pixels)."""

    color: tuple[int, int, int]        # BGR body colour
    accent: tuple[int, int, int]       # BGR texture / limb colour
    head: tuple[int, int, int]         # BGR head colour
    shape: str
    texture: str
    width: int
    height: int


@dataclass(frozen=True)
class Character:
    index: int                 # position in the castlist (entity attr node_id)
    name: str
    chid: str
    importance: float
    look: Look

    @property
    def call_name(self) -> str:
        """What others call the character in dialog (first word that is not a title)."""
        words = [w for w in self.name.split() if w not in TITLES]
        return words[0] if words else self.name

    @property
    def alias_words(self) -> list[str]:
        """Words of the name that may stand alone as a track label (titles excluded)."""
        return [w for w in self.name.split() if w not in TITLES]


@dataclass
class Interaction:
    """One annotated interaction: ``subject -> fine label -> each object`` in [start, end] seconds."""

    fine: str
    merged: str
    subject: int                # character index
    objects: list[int]
    start: int                  # clip-relative seconds
    end: int
    shows_motion: bool          # the visual signature is performed (visual_cue_rate)
    topic: str | None = None

    @property
    def cls(self) -> InteractionClass:
        return INTERACTION_BY_NAME[self.merged]

    @property
    def participants(self) -> list[int]:
        return [self.subject, *self.objects]

    @property
    def motion(self) -> str:
        """The motion the participants perform ("still" for dialog-only or unperformed cues)."""
        return self.cls.visual if (self.cls.visual and self.shows_motion) else "still"


@dataclass
class SubtitleCue:
    start: float
    end: float
    lines: list[str]


@dataclass
class ClipPlan:
    sid: int                      # clip-graph key in the MovieGraph (0-based, with gaps)
    scene: int                    # 1-based scene number
    ss: int                       # first and last shot (1-based, movie-wide)
    es: int
    duration: int                 # seconds
    on_screen: list[int]          # named characters on screen (character indices)
    extras: int                   # anonymous extras ("other" tracks)
    interactions: list[Interaction]
    cues: list[SubtitleCue]
    shot_starts: list[int]        # seconds at which a new shot starts (first is 0)
    situation: str
    scene_label: str
    description: str
    attributes: list[tuple[int, str, str]] = field(default_factory=list)  # (character, subtype, value)
    summary: tuple[int, int, str] | None = None

    @property
    def name(self) -> str:
        return f"scene-{self.scene:03d}.ss-{self.ss:04d}.es-{self.es:04d}"


@dataclass
class MoviePlan:
    movie: str
    characters: list[Character]
    relationships: dict[tuple[int, int], tuple[str, str]]  # (a, b) -> (class, fine word) of a->b
    clips: list[ClipPlan]

    def relationship(self, a: int, b: int) -> str | None:
        entry = self.relationships.get((a, b))
        return entry[0] if entry else None


# --- cast ---------------------------------------------------------------------------------------------

def _random_color(rng: np.random.Generator, value_range: tuple[int, int]) -> tuple[int, int, int]:
    """A saturated BGR colour (random hue) with brightness in ``value_range``."""
    import cv2

    hsv = np.array([[[rng.integers(0, 180), rng.integers(150, 256), rng.integers(*value_range)]]],
                   dtype=np.uint8)
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def draw_look(rng: np.random.Generator, size: DemoSize, knobs: DemoKnobs) -> Look:
    width, height = size.frame_size
    low, high = knobs.figure_height
    person_h = int(round(height * rng.uniform(low, high)))
    person_w = int(round(person_h * rng.uniform(0.36, 0.5)))
    return Look(color=_random_color(rng, (120, 256)), accent=_random_color(rng, (30, 120)),
                head=_random_color(rng, (170, 256)), shape=str(rng.choice(SHAPES)),
                texture=str(rng.choice(TEXTURES)), width=person_w, height=person_h)


def draw_names(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` names whose words (lower-cased) are unique across the cast."""
    used: set[str] = set()
    names: list[str] = []
    while len(names) < count:
        form = rng.integers(0, 4)
        first, surname, title = rng.choice(FIRST_NAMES), rng.choice(SURNAMES), rng.choice(TITLES)
        name = {0: f"{first} {surname}", 1: f"{title} {surname}", 2: str(first),
                3: f"{first} {surname}"}[int(form)]
        words = {w.lower() for w in name.split()}
        if words & used:
            continue
        used |= words
        names.append(name)
    return names


def draw_cast(rng: np.random.Generator, movie: str, size: DemoSize, knobs: DemoKnobs) -> list[Character]:
    count = int(rng.integers(knobs.min_characters, knobs.max_characters + 1))
    names = draw_names(rng, count)
    return [Character(index=k, name=names[k], chid=f"{movie}:{k + 1:02d}",
                      importance=float(knobs.importance_decay ** k), look=draw_look(rng, size, knobs))
            for k in range(count)]


def draw_relationships(rng: np.random.Generator, n_characters: int,
                       knobs: DemoKnobs) -> dict[tuple[int, int], tuple[str, str]]:
    """Directed relationship (class, fine word) of every labelled ordered pair; opposites consistent."""
    classes = list(RELATIONSHIP_PRIOR)
    prior = np.array([RELATIONSHIP_PRIOR[c] for c in classes])
    prior = prior / prior.sum()
    relationships: dict[tuple[int, int], tuple[str, str]] = {}
    for a in range(n_characters):
        for b in range(a + 1, n_characters):
            if rng.random() < knobs.missing_relationship_rate:
                continue
            forward = classes[int(rng.choice(len(classes), p=prior))]
            backward = OPPOSITE_RELATIONSHIP[forward]
            relationships[(a, b)] = (forward, str(rng.choice(FINE_RELATIONSHIPS[forward])))
            relationships[(b, a)] = (backward, str(rng.choice(FINE_RELATIONSHIPS[backward])))
    return relationships


# --- interactions ---------------------------------------------------------------------------------------

def interaction_distribution(relationship: str | None, knobs: DemoKnobs,
                             allowed: list[InteractionClass] | None = None) -> tuple[list[InteractionClass], np.ndarray]:
    """``P(a | r)`` over ``allowed`` classes (all by default): modality prior x relationship affinity."""
    classes = list(allowed if allowed is not None else INTERACTION_CLASSES)
    modality_counts = {m: sum(1 for c in classes if c.modality == m) for m in MODALITY_INDEX}
    affinity = AFFINITY.get(relationship, {}) if relationship else {}
    weights = np.array([
        knobs.modality_weights[MODALITY_INDEX[c.modality]] / max(modality_counts[c.modality], 1)
        * math.exp(knobs.relationship_strength * affinity.get(c.name, 0.0))
        for c in classes])
    if weights.sum() <= 0:
        weights = np.ones(len(classes))
    return classes, weights / weights.sum()


def _choose_weighted(rng: np.random.Generator, items: list, weights: list[float], count: int) -> list:
    probs = np.asarray(weights, dtype=float)
    picked = rng.choice(len(items), size=count, replace=False, p=probs / probs.sum())
    return [items[int(i)] for i in sorted(picked)]


def draw_interactions(rng: np.random.Generator, plan_rels: dict, on_screen: list[int],
                      importance: list[float], size: DemoSize, knobs: DemoKnobs) -> list[Interaction]:
    """Interactions of one clip with their times (the clip duration is fitted around them).

    Subject and object are drawn by importance, so the main pairs of a movie recur across clips.
    """
    probs = np.array(knobs.interactions_per_clip[: size.max_interactions], dtype=float)
    count = 1 + int(rng.choice(len(probs), p=probs / probs.sum()))
    interactions: list[Interaction] = []
    cursor = int(rng.integers(0, 2))
    previous_overlapped = False
    for _ in range(count):
        previous = interactions[-1] if interactions else None
        overlap = (previous is not None and not previous_overlapped and rng.random() < knobs.overlap_rate)
        subject = _choose_weighted(rng, on_screen, [importance[c] for c in on_screen], 1)[0]
        others = [c for c in on_screen if c != subject]
        obj = _choose_weighted(rng, others, [importance[c] for c in others], 1)[0]
        allowed = list(INTERACTION_CLASSES)
        if overlap and previous is not None:
            shares = bool({subject, obj} & set(previous.participants))
            if shares and previous.motion != "still":
                allowed = [c for c in INTERACTION_CLASSES if c.visual is None]
        relationship = plan_rels.get((subject, obj), (None, None))[0]
        classes, p = interaction_distribution(relationship, knobs, allowed)
        cls = classes[int(rng.choice(len(classes), p=p))]
        objects = [obj]
        third = [c for c in others if c != obj]
        if cls.modality == "dialog" and third and rng.random() < knobs.one_to_many_rate:
            objects.append(int(rng.choice(third)))
        length = int(rng.integers(knobs.min_interaction_seconds, knobs.max_interaction_seconds + 1))
        if cls.visual and length < 2:
            length = 2
        if overlap and previous is not None:
            start = previous.start + int(rng.integers(0, max(1, (previous.end - previous.start) // 2 + 1)))
        else:
            start = cursor + (int(rng.integers(0, 3)) if previous is not None else 0)
        shows_motion = bool(cls.visual) and rng.random() < knobs.visual_cue_rate
        topic = str(rng.choice(TOPICS)) if cls.dialog and rng.random() < 0.3 else None
        interactions.append(Interaction(
            fine=str(rng.choice(cls.fine)), merged=cls.name, subject=subject, objects=objects,
            start=start, end=start + length, shows_motion=shows_motion, topic=topic))
        cursor = max(cursor, start + length)
        previous_overlapped = overlap
    return interactions


# Classes whose interaction is mutual: the lanes layout annotates them in both directions at times.
SYMMETRIC_CLASSES = frozenset({"hugs", "walks with", "dances with", "kisses", "disagrees with"})


def draw_lane_interactions(rng: np.random.Generator, plan_rels: dict, on_screen: list[int],
                           importance: list[float], knobs: DemoKnobs) -> tuple[list[Interaction], int]:
    """Interactions of one clip of the lanes layout and the clip's duration (seconds).

    The clip is ``shots_per_clip`` shots of 2 s (4 s with ``long_shot_rate``), back to back; in each
    shot 1-2 disjoint pairs of on-screen characters (``lanes_per_shot``) interact for the whole shot,
    so every interaction covers whole 2-s feature windows. Characters left over may listen to a
    dialog-only interaction (``one_to_many_rate``); a symmetric interaction is annotated in both
    directions with ``bidirectional_rate``.
    """
    lane_probs = np.array(knobs.lanes_per_shot, dtype=float)
    n_shots = int(rng.integers(knobs.shots_per_clip[0], knobs.shots_per_clip[1] + 1))
    interactions: list[Interaction] = []
    start = 0
    for _ in range(n_shots):
        length = 4 if rng.random() < knobs.long_shot_rate else 2
        n_lanes = min(1 + int(rng.choice(len(lane_probs), p=lane_probs / lane_probs.sum())), len(on_screen) // 2)
        free = list(on_screen)
        pairs = []
        for _lane in range(n_lanes):
            subject = _choose_weighted(rng, free, [importance[c] for c in free], 1)[0]
            free.remove(subject)
            obj = _choose_weighted(rng, free, [importance[c] for c in free], 1)[0]
            free.remove(obj)
            pairs.append((subject, obj))
        allowed: list[InteractionClass] | None = None     # the first pair draws from every class
        for subject, obj in pairs:
            relationship = plan_rels.get((subject, obj), (None, None))[0]
            classes, p = interaction_distribution(relationship, knobs, allowed)
            cls = classes[int(rng.choice(len(classes), p=p))]
            if allowed is None and knobs.lane_modality_coupling > 0 and rng.random() < knobs.lane_modality_coupling:
                allowed = shot_kind_classes(cls)
            objects = [obj]
            if cls.modality == "dialog" and free and rng.random() < knobs.one_to_many_rate:
                listener = int(rng.choice(free))
                free.remove(listener)
                objects.append(listener)
            shows_motion = bool(cls.visual) and rng.random() < knobs.visual_cue_rate
            topic = str(rng.choice(TOPICS)) if cls.dialog and rng.random() < 0.3 else None
            fine = str(rng.choice(cls.fine))
            interactions.append(Interaction(fine=fine, merged=cls.name, subject=subject, objects=objects,
                                            start=start, end=start + length, shows_motion=shows_motion,
                                            topic=topic))
            if cls.name in SYMMETRIC_CLASSES and rng.random() < knobs.bidirectional_rate:
                interactions.append(Interaction(fine=fine, merged=cls.name, subject=obj, objects=[subject],
                                                start=start, end=start + length, shows_motion=shows_motion))
        start += length
    return interactions, start


def shot_kind_classes(first: InteractionClass) -> list[InteractionClass] | None:
    """Classes the other pairs of a shot draw from when the shot is all action or all talk
    (``lane_modality_coupling``): the first pair's kind plus the classes that need both modalities."""
    if first.modality == "both":
        return None
    return [c for c in INTERACTION_CLASSES if c.modality in (first.modality, "both")]


def shot_starts(interactions: list[Interaction]) -> list[int]:
    """A shot starts at 0 and at every interaction that does not overlap the one before."""
    starts = [0]
    for previous, current in zip(interactions, interactions[1:]):
        if current.start >= previous.end and current.start > 0:
            starts.append(current.start)
    return starts


# --- dialog --------------------------------------------------------------------------------------------

def _wrap(text: str) -> list[str]:
    """Break a line in two at the middle word boundary (as subtitle editors do)."""
    words = text.split()
    cut = len(words) // 2
    return [" ".join(words[:cut]), " ".join(words[cut:])]


def _sentence(rng: np.random.Generator, pattern: str | None, addressee: str, knobs: DemoKnobs,
              relationship: str | None = None) -> str:
    """One subject sentence: the pattern's cue, a confusing cue, or a neutral line; addressed by the
    vocative of ``relationship`` (rel(speaker, addressee)) with ``address_rate``."""
    draw = rng.random()
    if pattern and draw < knobs.dialog_cue_rate:
        template = str(rng.choice(DIALOG_CUES[pattern]))
    elif draw < knobs.dialog_cue_rate + knobs.dialog_confusion_rate:
        other = [p for p in DIALOG_CUES if p != pattern]
        template = str(rng.choice(DIALOG_CUES[str(rng.choice(other))]))
    else:
        template = str(rng.choice(NEUTRAL_LINES))
    return _addressed(rng, template, addressee, relationship, knobs)


def _addressed(rng: np.random.Generator, template: str, addressee: str, relationship: str | None,
               knobs: DemoKnobs) -> str:
    """``template`` with its ``{name}`` filled: the addressee's name, or with ``address_rate`` the
    vocative of the relationship (ADDRESS_TERMS), which a line without ``{name}`` gets before its
    final punctuation ("Thank you so much, honey.")."""
    terms = ADDRESS_TERMS.get(relationship or "", ())
    if not terms or knobs.address_rate <= 0 or rng.random() >= knobs.address_rate:
        return template.format(name=addressee)
    term = str(rng.choice(terms))
    if "{name}" in template:
        line = template.format(name=term)
        return line[0].upper() + line[1:]
    body, end = (template[:-1], template[-1]) if template[-1] in ".!?" else (template, ".")
    return f"{body}, {term}{end}"


def draw_dialog(rng: np.random.Generator, interactions: list[Interaction], duration: int,
                characters: list[Character], knobs: DemoKnobs,
                relationships: dict[tuple[int, int], tuple[str, str]] | None = None) -> list[SubtitleCue]:
    """Subtitle cues of a clip, clip-relative, inside [0, duration], sorted by start; ``relationships``
    (the movie's, for ``address_rate`` and ``relationship_line_rate``) may be left out when both are 0."""
    relationships = relationships or {}
    cues: list[SubtitleCue] = []

    def place(start: float, end: float, lines: list[str]) -> None:
        start, end = max(0.0, start), min(float(duration), end)
        if end - start >= 0.3:
            cues.append(SubtitleCue(round(start, 3), round(end, 3), lines))

    for inter in interactions:
        pattern = inter.cls.dialog
        t = inter.start + rng.uniform(0.05, 0.6)
        stop = inter.end - 0.1
        if pattern is None:
            if rng.random() < knobs.unrelated_rate:
                line = str(rng.choice(UNRELATED_LINES))
                place(t, min(stop, t + 1.8), [line])
            continue
        addressee = characters[inter.objects[0]].call_name
        spoken_to = relationships.get((inter.subject, inter.objects[0]), (None, None))[0]
        answered = relationships.get((inter.objects[0], inter.subject), (None, None))[0]
        n_sentences = int(rng.integers(knobs.cue_sentences[0], knobs.cue_sentences[1] + 1))
        for sentence_index in range(n_sentences):
            if t >= stop - 0.3:
                break
            sentence = _sentence(rng, pattern, addressee, knobs, spoken_to)
            if (spoken_to and sentence_index == 0 and knobs.relationship_line_rate > 0
                    and rng.random() < knobs.relationship_line_rate):
                sentence = f"{sentence} {rng.choice(RELATIONSHIP_LINES[spoken_to])}"
            length = min(stop - t, 0.25 * len(sentence.split()) + rng.uniform(0.6, 1.2))
            if rng.random() < knobs.reply_rate:
                reply_pool = DIALOG_REPLIES.get(pattern, GENERIC_REPLIES) + GENERIC_REPLIES
                reply = _addressed(rng, str(rng.choice(reply_pool)), characters[inter.subject].call_name,
                                   answered, knobs)
                place(t, t + length + 0.4, [f"- {sentence}", f"- {reply}"])
            elif len(sentence.split()) >= 4 and rng.random() < knobs.split_line_rate:
                words = sentence.split()
                cut = len(words) // 2
                middle = t + length / 2
                place(t, middle, [" ".join(words[:cut]) + "..."])
                place(middle + 0.05, t + length, ["..." + " ".join(words[cut:])])
            elif len(sentence) > 24 and rng.random() < knobs.wrap_rate:
                place(t, t + length, _wrap(sentence))
            else:
                place(t, t + length, [sentence])
            t += length + rng.uniform(0.2, 0.8)
        if rng.random() < knobs.filler_rate and t < stop - 0.5:
            place(t, min(stop, t + 0.8), [str(rng.choice(FILLERS))])
    if rng.random() < knobs.unrelated_rate and duration > 3:
        t = rng.uniform(0.0, duration - 2.0)
        place(t, t + 1.5, [str(rng.choice(UNRELATED_LINES))])
    cues.sort(key=lambda cue: (cue.start, cue.end))
    return cues


# --- movie ----------------------------------------------------------------------------------------------

def draw_movie(rng: np.random.Generator, movie: str, size: DemoSize, knobs: DemoKnobs) -> MoviePlan:
    """The complete abstract plan of one movie."""
    characters = draw_cast(rng, movie, size, knobs)
    relationships = draw_relationships(rng, len(characters), knobs)
    importance = [c.importance for c in characters]
    clips: list[ClipPlan] = []
    scene, shot, sid = 0, 0, -1
    for _ in range(size.clips_per_movie):
        gap = 1 + int(rng.random() < 0.15)          # MovieGraphs skips some scenes
        scene += gap
        sid += gap
        n_on_screen = int(rng.integers(knobs.min_on_screen,
                                       min(knobs.max_on_screen, len(characters)) + 1))
        on_screen = _choose_weighted(rng, list(range(len(characters))), importance, n_on_screen)
        if knobs.layout == "lanes":
            interactions, duration = draw_lane_interactions(rng, relationships, on_screen, importance, knobs)
        else:
            interactions = draw_interactions(rng, relationships, on_screen, importance, size, knobs)
            duration = max(size.min_clip_seconds, max(i.end for i in interactions) + int(rng.integers(0, 3)))
        if knobs.layout == "sequential" and duration > size.max_clip_seconds:
            interactions = [i for i in interactions if i.end <= size.max_clip_seconds] or \
                [_shorten(interactions[0], size.max_clip_seconds)]
            duration = size.max_clip_seconds
        shots = shot_starts(interactions)
        ss = shot + 1
        shot += len(shots)
        cues = draw_dialog(rng, interactions, duration, characters, knobs, relationships)
        extras = int(rng.random() < knobs.extra_rate)
        attributes = [(int(rng.choice(on_screen)), subtype, str(rng.choice(values)))
                      for subtype, values in ATTRIBUTES.items() if rng.random() < 0.4]
        first = interactions[0]
        summary = ((first.subject, first.objects[0], str(rng.choice(SUMMARIES)))
                   if rng.random() < 0.3 else None)
        situation, scene_label = str(rng.choice(SITUATIONS)), str(rng.choice(SCENE_LABELS))
        names = [characters[c].name for c in on_screen]
        description = (f"{', '.join(names[:-1])} and {names[-1]} meet at the {scene_label}; "
                       f"{characters[first.subject].name} {first.fine} "
                       f"{characters[first.objects[0]].name}.")
        clips.append(ClipPlan(sid=sid, scene=scene, ss=ss, es=ss + len(shots) - 1, duration=duration,
                              on_screen=on_screen, extras=extras, interactions=interactions,
                              cues=cues, shot_starts=shots, situation=situation,
                              scene_label=scene_label, description=description,
                              attributes=attributes, summary=summary))
    return MoviePlan(movie=movie, characters=characters, relationships=relationships, clips=clips)


def _shorten(interaction: Interaction, limit: int) -> Interaction:
    start = min(interaction.start, limit - 2)
    interaction.start, interaction.end = start, min(interaction.end, limit)
    return interaction
