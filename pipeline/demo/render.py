"""Render a planned clip: figure trajectories (choreography), video frames and face tracks.

Each figure is a textured body with a head at the top of its person box: the face box
``[0.35, 0.65] x [0.10, 0.25]`` of the person box (LIReC's face -> person ratios,
:class:`pipeline.tracks.PersonBoxRatios`) is always inside the drawn head, so the face tracks map
back onto the drawn person through :func:`pipeline.tracks.face_to_person_box`.

Motion is scripted per shot: the interactions of a shot get horizontal regions of the frame; their
participants start at the pattern's start positions, perform the visual pattern during the
interaction (approach, leave, chase, hit, hug, hand over, walk together, push, wave, dance, or
stand still facing each other while talking) and hold afterwards; every other figure walks around
on its own. A cut (new background crop, new positions) starts every shot.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.demo.knobs import DemoKnobs
from pipeline.demo.sizes import DemoSize
from pipeline.demo.story import ClipPlan, Interaction, Look, MoviePlan, draw_look
from pipeline.tracks import PersonBoxRatios

FACE = PersonBoxRatios.defaults()   # where the demo draws faces inside a figure: the schema default
ARM_DOWN, ARM_FORWARD, ARM_UP = 10.0, 90.0, 155.0   # arm angle (degrees from hanging down)
ITEM_COLOR = (40, 240, 250)                          # BGR of the object handed over


@dataclass
class Figure:
    """A drawn person: a named character (``character`` index) or an anonymous extra (None)."""

    look: Look
    character: int | None


@dataclass
class Choreography:
    """Per-frame geometry of every figure of a clip (arrays indexed [figure, frame])."""

    center_x: np.ndarray      # float, person-box centre
    ground: np.ndarray        # float, person-box bottom before the bob
    bob: np.ndarray           # float, lift (pixels up)
    arm: np.ndarray           # float, arm angle in degrees (0: down, 90: forward, 180: up)
    facing: np.ndarray        # +1 right, -1 left
    stride: np.ndarray        # float, walked distance (drives the legs)
    items: list[list[tuple[float, float]]]   # per frame: positions of handed-over objects
    shot_of_frame: np.ndarray  # int, shot index of each frame

    def person_boxes(self, figures: list[Figure]) -> np.ndarray:
        """``(n_figures, n_frames, 4)`` person boxes ``(x, y, w, h)`` in pixels."""
        widths = np.array([f.look.width for f in figures], dtype=float)[:, None]
        heights = np.array([f.look.height for f in figures], dtype=float)[:, None]
        x = self.center_x - widths / 2
        y = self.ground - self.bob - heights
        return np.stack([x, y, np.broadcast_to(widths, x.shape), np.broadcast_to(heights, x.shape)],
                        axis=-1)


def clip_figures(plan: MoviePlan, clip: ClipPlan, rng: np.random.Generator, size: DemoSize,
                 knobs: DemoKnobs) -> list[Figure]:
    figures = [Figure(plan.characters[c].look, c) for c in clip.on_screen]
    figures += [Figure(draw_look(rng, size, knobs), None) for _ in range(clip.extras)]
    return figures


# --- choreography --------------------------------------------------------------------------------------

def _ramp(n: int, start: int, end: int) -> np.ndarray:
    """0 before ``start``, linear to 1 at ``end``, 1 after (length ``n``)."""
    t = np.arange(n, dtype=float)
    return np.clip((t - start) / max(end - start, 1), 0.0, 1.0)


class _ShotScript:
    """Fills the choreography arrays of one shot (frames ``[f0, f1)``)."""

    def __init__(self, chor: Choreography, figures: list[Figure], fig_of: dict[int, int], f0: int,
                 f1: int, size: DemoSize, knobs: DemoKnobs, rng: np.random.Generator):
        self.chor, self.figures, self.fig_of, self.f0, self.f1 = chor, figures, fig_of, f0, f1
        self.n = f1 - f0
        self.width, self.height = size.frame_size
        self.fps = size.fps
        self.knobs, self.rng = knobs, rng
        self.placed: set[int] = set()

    def w(self, fig: int) -> float:
        return float(self.figures[fig].look.width)

    def set(self, fig: int, x: np.ndarray, ground: float, arm: np.ndarray | float = ARM_DOWN,
            facing: np.ndarray | float = 1.0, bob: np.ndarray | float = 0.0) -> None:
        sl = slice(self.f0, self.f1)
        half = self.w(fig) / 2
        self.chor.center_x[fig, sl] = np.clip(x, half, self.width - half)
        self.chor.ground[fig, sl] = ground
        self.chor.arm[fig, sl] = arm
        self.chor.facing[fig, sl] = facing
        self.chor.bob[fig, sl] = bob
        self.placed.add(fig)

    def walk_bob(self, x: np.ndarray, amplitude: float = 2.0) -> np.ndarray:
        """Vertical bob of a walking figure: proportional to its speed."""
        speed = np.abs(np.gradient(x)) if len(x) > 1 else np.zeros_like(x)
        phase = np.cumsum(speed) / 6.0
        return amplitude * np.minimum(speed, 3.0) / 3.0 * np.abs(np.sin(np.pi * phase))

    # -- one interaction group ---------------------------------------------------------------------
    def perform(self, inter: Interaction, region: tuple[float, float], ground: float,
                listeners: list[int]) -> None:
        """Place the participants (``listeners`` are extra still objects) and script the pattern."""
        n, rng = self.n, self.rng
        s = max(0, int(round(inter.start * self.fps)) - self.f0)
        e = min(n, int(round(inter.end * self.fps)) - self.f0)
        subj, obj = self.fig_of[inter.subject], self.fig_of[inter.objects[0]]
        ws, wo = self.w(subj), self.w(obj)
        lo, hi = region
        d = 1.0 if rng.random() < 0.5 else -1.0               # subject left (+1) or right (-1) of object
        scale = self.knobs.motion_scale
        contact = 0.5 * (ws + wo)
        motion = inter.motion
        t = np.arange(n, dtype=float)

        def ends(gap_s: float) -> tuple[float, float]:
            """Subject and object centres ``gap`` apart, centred in the region."""
            mid = (lo + hi) / 2
            return mid - d * gap_s / 2, mid + d * gap_s / 2

        def edge(side: float, w: float) -> float:
            """Centre of a figure at the region edge on ``side`` (+1 right, -1 left)."""
            return hi - w / 2 if side > 0 else lo + w / 2

        arm_s = np.full(n, ARM_DOWN)
        arm_o = np.full(n, ARM_DOWN)
        face_s, face_o = d, -d
        if motion == "approach":
            xs0, xo = edge(-d, ws), edge(d, wo)
            xs1 = xo - d * (contact + 0.3 * ws)
            xs = xs0 + (xs1 - xs0) * _ramp(n, s, s + int(0.8 * (e - s)))
            xo = np.full(n, xo)
        elif motion == "leave":
            xs0, xo0 = ends(contact + 0.3 * ws)
            xs1 = edge(-d, ws)
            xs = xs0 + (xs1 - xs0) * _ramp(n, s, s + int(0.8 * (e - s)))
            xo = np.full(n, xo0)
            face_s = np.where(t >= s, -d, d)
        elif motion == "chase":
            xs0 = edge(-d, ws)
            xo0 = xs0 + d * (contact + 1.0 * ws)
            span = (hi - lo) - (ws + wo) - 1.0 * ws
            run = _ramp(n, s, e) * span * scale
            xs = xs0 + d * run
            xo = xo0 + d * run * 1.08
            arm_s = np.where((t >= s) & (t < e), ARM_FORWARD, ARM_DOWN)
        elif motion == "hit":
            xs0, xo0 = ends(contact + 0.9 * ws)
            step = _ramp(n, s, s + max(2, (e - s) // 4))
            xs = xs0 + d * 0.9 * ws * step
            punching = (t >= s + max(2, (e - s) // 4)) & (t < e)
            phase = ((t - s) // 2) % 2
            arm_s = np.where(punching, np.where(phase == 0, ARM_FORWARD, 40.0), ARM_DOWN)
            recoil = np.cumsum(punching & (phase == 0)) * 1.5 * scale
            xo = xo0 + d * np.minimum(recoil, 0.8 * wo)
            arm_o = np.where(punching, ARM_UP, ARM_DOWN)
        elif motion == "hug":
            xs0, xo0 = ends(contact + 1.0 * ws)
            close = _ramp(n, s, s + max(2, (e - s) // 3))
            target = 0.35 * (ws + wo)
            gap = (contact + 1.0 * ws) - ((contact + 1.0 * ws) - target) * close
            sway = np.where((t >= s) & (t < e), 2.0 * scale * np.sin(2 * np.pi * (t - s) / (1.2 * self.fps)), 0.0)
            mid = (xs0 + xo0) / 2
            xs = mid - d * gap / 2 + sway
            xo = mid + d * gap / 2 + sway
            arm_s = np.where(t >= s, ARM_FORWARD, ARM_DOWN)
            arm_o = arm_s.copy()
        elif motion == "hand_over":
            xs0, xo0 = ends(contact + 0.7 * ws)
            xs, xo = np.full(n, xs0), np.full(n, xo0)
            arm_s = np.where((t >= s + 0.1 * (e - s)) & (t < s + 0.8 * (e - s)), ARM_FORWARD, ARM_DOWN)
            arm_o = np.where(t >= s + 0.45 * (e - s), ARM_FORWARD, ARM_DOWN)
            self._item_path(subj, obj, xs0, xo0, ground, s, e, d)
        elif motion == "walk_together":
            xs0 = edge(-d, ws)
            xo0 = xs0 + d * (contact + 2.0)
            span = (hi - lo) - (ws + wo) - 2.0
            run = _ramp(n, s, e) * span * scale
            xs, xo = xs0 + d * run, xo0 + d * run
            face_o = d
        elif motion == "push":
            xs0 = edge(-d, ws) + d * 0.2 * ws
            xo0 = xs0 + d * (contact + 0.5 * ws)
            reach = _ramp(n, s, s + max(2, (e - s) // 4)) * 0.5 * ws
            shove = _ramp(n, s + max(2, (e - s) // 4), s + int(0.75 * (e - s)))
            span = ((hi - lo) - (ws + wo) - 0.7 * ws) * scale
            xs = xs0 + d * (reach + 0.6 * span * shove)
            stumble = _ramp(n, s + int(0.75 * (e - s)), e)
            xo = xo0 + d * (0.6 * span * shove + 0.4 * span * stumble * 0.6)
            arm_s = np.where((t >= s) & (t < s + int(0.75 * (e - s))), ARM_FORWARD, ARM_DOWN)
            arm_o = np.where((t >= s) & (t < e), ARM_UP - 30 * np.abs(np.sin(t)), ARM_DOWN)
        elif motion == "wave":
            xs0, xo0 = ends(contact + 2.0 * ws)
            xs, xo = np.full(n, xs0), np.full(n, xo0)
            active = (t >= s) & (t < e)
            arm_s = np.where(active, 140.0 + 35.0 * np.sin(2 * np.pi * (t - s) / 4.0) * scale, ARM_DOWN)
        elif motion == "dance":
            mid = (lo + hi) / 2
            amp = 0.8 * ws * scale
            active = (t >= s) & (t < e)
            swing = np.where(active, np.cos(2 * np.pi * (t - s) / (1.0 * self.fps)), 1.0)
            xs = mid - d * (contact / 2 + amp * swing)
            xo = mid + d * (contact / 2 + amp * swing)
            arm_s = np.where(active, ARM_UP - 40 * (1 + np.sin(2 * np.pi * (t - s) / 6.0)) / 2, ARM_DOWN)
            arm_o = arm_s.copy()
        else:  # still: face each other and talk; the speaker gestures
            xs0, xo0 = ends(contact + 0.8 * ws)
            xs, xo = np.full(n, xs0), np.full(n, xo0)
            talking = (t >= s) & (t < e) & (np.sin(2 * np.pi * t / 10.0 + rng.uniform(0, 6)) > 0.3)
            arm_s = np.where(talking, 35.0, ARM_DOWN)
        lift = 3.0 * scale * np.abs(np.sin(2 * np.pi * (t - s) / 5.0)) * ((t >= s) & (t < e))
        bob_s = self.walk_bob(xs) + (lift if motion in ("wave", "dance") else 0.0)
        bob_o = self.walk_bob(xo) + (lift if motion == "dance" else 0.0)
        self.set(subj, xs, ground, arm_s, face_s, bob_s)
        self.set(obj, xo, ground, arm_o, face_o, bob_o)
        for k, listener in enumerate(listeners):
            fig = self.fig_of[listener]
            if fig in self.placed:
                continue
            x = float(xo[0]) + d * (k + 1) * (0.9 * self.w(fig) + 0.5 * wo)
            self.set(fig, np.full(n, x), ground + rng.uniform(-3, 3), ARM_DOWN, -d)

    def _item_path(self, subj: int, obj: int, xs: float, xo: float, ground: float,
                   s: int, e: int, d: float) -> None:
        """The handed-over object travels from the subject's hand to the object's hand."""
        hs, ho = self.figures[subj].look.height, self.figures[obj].look.height
        hand_s = (xs + d * 0.75 * self.w(subj), ground - 0.62 * hs)
        hand_o = (xo - d * 0.75 * self.w(obj), ground - 0.62 * ho)
        for f in range(s, self.n):
            k = (f - (s + 0.2 * (e - s))) / max(0.5 * (e - s), 1)
            if k < 0:
                continue
            k = min(k, 1.0)
            self.chor.items[self.f0 + f].append((hand_s[0] + (hand_o[0] - hand_s[0]) * k,
                                                 hand_s[1] + (hand_o[1] - hand_s[1]) * k))

    def wander(self, fig: int) -> None:
        """Random walk of a figure that does not interact in this shot (a bystander)."""
        rng, n = self.rng, self.n
        half = self.w(fig) / 2
        x = rng.uniform(half, self.width - half)
        velocity = rng.choice([-1.0, 1.0]) * self.knobs.bystander_speed_px * rng.uniform(0.3, 1.0)
        xs = np.empty(n)
        for f in range(n):
            if rng.random() < 0.05:
                velocity = rng.choice([-1.0, 0.0, 1.0]) * self.knobs.bystander_speed_px * rng.uniform(0.3, 1.0)
            if not half <= x + velocity <= self.width - half:
                velocity = -velocity
            x += velocity
            xs[f] = x
        ground = rng.uniform(0.72, 0.86) * self.height
        ground = max(ground, self.figures[fig].look.height + 2.0)
        facing = np.sign(np.gradient(xs)) if n > 1 else np.ones(n)
        facing[facing == 0] = 1.0
        self.set(fig, xs, ground, ARM_DOWN, facing, self.walk_bob(xs, 1.5))


def choreograph(clip: ClipPlan, figures: list[Figure], size: DemoSize, knobs: DemoKnobs,
                rng: np.random.Generator) -> Choreography:
    n_frames = clip.duration * size.fps
    n_fig = len(figures)
    chor = Choreography(
        center_x=np.zeros((n_fig, n_frames)), ground=np.zeros((n_fig, n_frames)),
        bob=np.zeros((n_fig, n_frames)), arm=np.full((n_fig, n_frames), ARM_DOWN),
        facing=np.ones((n_fig, n_frames)), stride=np.zeros((n_fig, n_frames)),
        items=[[] for _ in range(n_frames)], shot_of_frame=np.zeros(n_frames, dtype=int))
    width, height = size.frame_size
    fig_of = {f.character: k for k, f in enumerate(figures) if f.character is not None}
    starts = [int(s * size.fps) for s in clip.shot_starts] + [n_frames]
    for shot, (f0, f1) in enumerate(zip(starts, starts[1:])):
        chor.shot_of_frame[f0:f1] = shot
        script = _ShotScript(chor, figures, fig_of, f0, f1, size, knobs, rng)
        in_shot = [i for i in clip.interactions if f0 <= int(i.start * size.fps) < f1]
        groups = _groups(in_shot)
        weights = [2.0 if g[0].motion != "still" else 1.2 for g in groups]
        order = list(rng.permutation(len(groups)))
        edges = np.concatenate([[0.0], np.cumsum([weights[k] for k in order])])
        edges = edges / edges[-1] * width
        for slot, k in enumerate(order):
            primary, others = groups[k][0], groups[k][1:]
            listeners = [c for c in primary.objects[1:]] + [
                c for o in others for c in o.participants if c not in primary.participants]
            ground = float(min(height - 2, max(height * 0.86 + rng.uniform(-4, 8),
                                               max(figures[fig_of[c]].look.height for c in primary.participants) + 2)))
            script.perform(primary, (float(edges[slot]), float(edges[slot + 1])), ground, listeners)
        for fig in range(n_fig):
            if fig not in script.placed:
                script.wander(fig)
    noise = rng.normal(0.0, knobs.position_noise_px, chor.center_x.shape)
    chor.center_x += noise
    for fig, figure in enumerate(figures):
        half = figure.look.width / 2
        chor.center_x[fig] = np.clip(chor.center_x[fig], half, width - half)
        chor.stride[fig] = np.cumsum(np.abs(np.diff(chor.center_x[fig], prepend=chor.center_x[fig, 0])))
    return chor


def _groups(interactions: list[Interaction]) -> list[list[Interaction]]:
    """Interactions of a shot grouped by shared participants; a group's first entry leads the motion."""
    groups: list[list[Interaction]] = []
    for inter in interactions:
        for group in groups:
            if any(set(inter.participants) & set(g.participants) for g in group):
                group.append(inter)
                break
        else:
            groups.append([inter])
    for group in groups:
        group.sort(key=lambda i: i.motion == "still")   # a moving interaction leads the placement
    return groups


# --- drawing ----------------------------------------------------------------------------------------

def _texture(look: Look, rng: np.random.Generator) -> np.ndarray:
    h, w = look.height, look.width
    yy, xx = np.mgrid[0:h, 0:w]
    period = int(rng.integers(3, 6))
    if look.texture == "stripes_h":
        pattern = (yy // period) % 2 == 0
    elif look.texture == "stripes_v":
        pattern = (xx // period) % 2 == 0
    elif look.texture == "checker":
        pattern = ((yy // period) + (xx // period)) % 2 == 0
    elif look.texture == "dots":
        pattern = ((yy % (2 * period)) < period // 2 + 1) & ((xx % (2 * period)) < period // 2 + 1)
    else:
        pattern = np.zeros((h, w), dtype=bool)
    body = np.where(pattern[..., None], np.array(look.accent, np.uint8), np.array(look.color, np.uint8))
    return body.astype(np.uint8)


def _torso_mask(look: Look) -> np.ndarray:
    """Mask of the torso inside the person box (rows 0.27h..0.8h)."""
    h, w = look.height, look.width
    mask = np.zeros((h, w), np.uint8)
    top, bottom = int(0.27 * h), int(0.8 * h)
    if look.shape == "rect":
        cv2.rectangle(mask, (1, top), (w - 2, bottom), 1, -1)
    elif look.shape == "ellipse":
        cv2.ellipse(mask, (w // 2, (top + bottom) // 2), (w // 2 - 1, (bottom - top) // 2), 0, 0, 360, 1, -1)
    elif look.shape == "trapezoid":
        pts = np.array([[w // 4, top], [w - 1 - w // 4, top], [w - 1, bottom], [0, bottom]], np.int32)
        cv2.fillConvexPoly(mask, pts, 1)
    else:  # diamond-ish: wide shoulders, narrow waist
        pts = np.array([[0, top], [w - 1, top], [w - 1 - w // 4, bottom], [w // 4, bottom]], np.int32)
        cv2.fillConvexPoly(mask, pts, 1)
    return mask.astype(bool)


class FigureSprites:
    """Pre-rendered torso texture and mask of each figure (drawn once per clip)."""

    def __init__(self, figures: list[Figure], rng: np.random.Generator):
        self.bodies = [_texture(f.look, rng) for f in figures]
        self.masks = [_torso_mask(f.look) for f in figures]


def _draw_figure(frame: np.ndarray, figure: Figure, sprite: np.ndarray, mask: np.ndarray,
                 box: list[float], arm: float, facing: float, stride: float) -> None:
    look = figure.look
    x0, y0 = int(round(box[0])), int(round(box[1]))
    w, h = look.width, look.height
    height, width = frame.shape[:2]
    limb = max(2, w // 6)
    # legs: alternate with the walked distance
    hip_y = y0 + int(0.78 * h)
    swing = math.sin(stride / 5.0) * 0.22 * w
    for side, sign in ((0.35, 1.0), (0.65, -1.0)):
        hip_x = x0 + int(side * w)
        cv2.line(frame, (hip_x, hip_y), (int(hip_x + sign * swing), y0 + h - 1), look.accent, limb)
    # torso (textured)
    ys0, xs0 = max(0, y0), max(0, x0)
    ys1, xs1 = min(height, y0 + h), min(width, x0 + w)
    if ys1 > ys0 and xs1 > xs0:
        sub_mask = mask[ys0 - y0:ys1 - y0, xs0 - x0:xs1 - x0]
        region = frame[ys0:ys1, xs0:xs1]
        region[sub_mask] = sprite[ys0 - y0:ys1 - y0, xs0 - x0:xs1 - x0][sub_mask]
    # arms: the front arm takes the pose, the back arm hangs
    shoulder_y = y0 + int(0.34 * h)
    length = 0.36 * h
    angle = math.radians(arm)
    front_x = x0 + w / 2 + facing * 0.42 * w
    tip = (int(front_x + facing * math.sin(angle) * length), int(shoulder_y + math.cos(angle) * length))
    cv2.line(frame, (int(front_x), shoulder_y), tip, look.accent, limb)
    back_x = x0 + w / 2 - facing * 0.42 * w
    cv2.line(frame, (int(back_x), shoulder_y), (int(back_x - facing * 2), int(shoulder_y + length)),
             look.accent, limb)
    # head around the face box [0.35, 0.65] x [0.10, 0.25] of the person box
    centre = (int(round(x0 + 0.5 * w)), int(round(y0 + 0.5 * (FACE.face_y0 + FACE.face_y1) * h)))
    axes = (max(2, int(round(0.2 * w))), max(2, int(round(0.1 * h))))
    cv2.ellipse(frame, centre, axes, 0, 0, 360, look.head, -1)
    cv2.ellipse(frame, centre, axes, 0, 0, 360, (20, 20, 20), 1)


def movie_background(rng: np.random.Generator, size: DemoSize) -> np.ndarray:
    """A large low-contrast textured backdrop; every shot shows a different crop of it."""
    width, height = size.frame_size
    big_w, big_h = width * 2, height + height // 2
    base = np.array([rng.integers(40, 110) for _ in range(3)], dtype=float)
    yy, xx = np.mgrid[0:big_h, 0:big_w].astype(float)
    gradient = (yy / big_h)[..., None] * rng.uniform(-30, 30, 3) + (xx / big_w)[..., None] * rng.uniform(-20, 20, 3)
    blocks = rng.uniform(-18, 18, (big_h // 12 + 1, big_w // 12 + 1, 3))
    blocks = np.repeat(np.repeat(blocks, 12, axis=0), 12, axis=1)[:big_h, :big_w]
    floor = (yy > 0.8 * big_h)[..., None] * -25.0
    image = np.clip(base + gradient + blocks + floor, 0, 255)
    return image.astype(np.uint8)


def render_frames(figures: list[Figure], chor: Choreography, background: np.ndarray, size: DemoSize,
                  knobs: DemoKnobs, rng: np.random.Generator):
    """Yield the BGR frames of a clip."""
    width, height = size.frame_size
    n_frames = chor.center_x.shape[1]
    boxes = chor.person_boxes(figures)
    sprites = FigureSprites(figures, rng)
    n_shots = int(chor.shot_of_frame.max()) + 1 if n_frames else 0
    offsets = [(int(rng.integers(0, background.shape[1] - width + 1)),
                int(rng.integers(0, background.shape[0] - height + 1))) for _ in range(n_shots)]
    noise_bank = [rng.normal(0.0, knobs.background_noise, (height, width, 3)) for _ in range(4)]
    # plain Python floats: per-element numpy scalar arithmetic dominates the drawing time otherwise
    box_list, arm_list = boxes.tolist(), chor.arm.tolist()
    facing_list, stride_list = chor.facing.tolist(), chor.stride.tolist()
    draw_order = np.argsort(chor.ground, axis=0, kind="stable").T.tolist()   # farther figures first
    for f in range(n_frames):
        ox, oy = offsets[chor.shot_of_frame[f]]
        frame = background[oy:oy + height, ox:ox + width].copy()
        for fig in draw_order[f]:
            _draw_figure(frame, figures[fig], sprites.bodies[fig], sprites.masks[fig], box_list[fig][f],
                         arm_list[fig][f], facing_list[fig][f], stride_list[fig][f])
        for (ix, iy) in chor.items[f]:
            cv2.rectangle(frame, (int(ix) - 3, int(iy) - 3), (int(ix) + 3, int(iy) + 3), ITEM_COLOR, -1)
        noisy = frame.astype(np.float32) + noise_bank[f % len(noise_bank)]
        yield np.clip(noisy, 0, 255).astype(np.uint8)


def write_video(path: Path, frames, size: DemoSize) -> int:
    """Write frames to an mp4 (fourcc mp4v); returns the number of frames written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(size.fps), size.frame_size)
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot open an mp4v video writer")
    count = 0
    try:
        for frame in frames:
            writer.write(frame)
            count += 1
    finally:
        writer.release()
    return count


# --- face tracks -----------------------------------------------------------------------------------------

@dataclass
class RawTrack:
    """A face track before serialisation: figure, label and detections (frame, x, y, w, h)."""

    figure: int | None          # None: a false detection ("no_face")
    label: str
    detections: list[tuple[int, float, float, float, float]]
    track_id: int = -1          # the annotators' "ftrack_id" (ids of dropped tracks stay unused)


def face_tracks(plan: MoviePlan, clip: ClipPlan, figures: list[Figure], chor: Choreography,
                size: DemoSize, knobs: DemoKnobs, rng: np.random.Generator) -> tuple[list[RawTrack], int]:
    """Face tracks of a clip (sorted by first frame) and how many track ids were used.

    Per clip a character has no track at all with ``missing_track_rate``; within a track single
    frames are missed (``detection_miss_rate``) and longer losses (``track_gap_rate``) split it; a
    shot cut always ends a track. Tracks shorter than ``short_track_frames`` are dropped, their ids
    stay used (the release's ids have such gaps).
    """
    width, height = size.frame_size
    boxes = chor.person_boxes(figures)
    n_frames = boxes.shape[1]
    segments: list[tuple[int | None, str, list]] = []
    for fig, figure in enumerate(figures):
        if rng.random() < knobs.missing_track_rate:
            continue
        if figure.character is None:
            label = "other"
        else:
            label = _track_label(plan.characters[figure.character].name,
                                 plan.characters[figure.character].alias_words, knobs, rng)
        current: list = []
        lost = 0
        for f in range(n_frames):
            cut = f > 0 and chor.shot_of_frame[f] != chor.shot_of_frame[f - 1]
            if cut and current:
                segments.append((fig, label, current))
                current = []
            if lost > 0:
                lost -= 1
                if lost == 0 and current:
                    segments.append((fig, label, current))
                    current = []
                continue
            if rng.random() < knobs.track_gap_rate:
                lost = int(rng.integers(6, 14))
                continue
            if rng.random() < knobs.detection_miss_rate:
                continue
            x, y, w, h = boxes[fig, f]
            jitter = rng.normal(0.0, knobs.face_jitter_px, 4)
            fw = (FACE.face_x1 - FACE.face_x0) * w + jitter[2] * 0.5
            fh = (FACE.face_y1 - FACE.face_y0) * h + jitter[3] * 0.5
            fx = x + FACE.face_x0 * w + jitter[0]
            fy = y + FACE.face_y0 * h + jitter[1]
            fx = float(np.clip(fx, 0.0, width - fw))
            fy = float(np.clip(fy, 0.0, height - fh))
            current.append((f, fx, fy, fw, fh))
        if current:
            segments.append((fig, label, current))
    if rng.random() < 0.15 and n_frames > 8:   # a false detection on the background
        start = int(rng.integers(0, n_frames - 6))
        length = int(rng.integers(4, min(12, n_frames - start) + 1))
        fw = float(rng.uniform(5, 9))
        person_w = fw / (FACE.face_x1 - FACE.face_x0)          # its person box stays in the frame too
        fx = float(rng.uniform(FACE.face_x0 * person_w, width - (1 - FACE.face_x0) * person_w))
        fy = float(rng.uniform(FACE.face_y0 * height / 2, height / 4))
        segments.append((None, "no_face", [(f, fx, fy, fw, fw) for f in range(start, start + length)]))
    segments.sort(key=lambda seg: (seg[2][0][0], -1 if seg[0] is None else seg[0]))
    tracks = [RawTrack(fig, label, dets, track_id=k) for k, (fig, label, dets) in enumerate(segments)]
    kept = [t for t in tracks if len(t.detections) >= knobs.short_track_frames]
    return kept, len(tracks)


def _track_label(name: str, aliases: list[str], knobs: DemoKnobs, rng: np.random.Generator) -> str:
    """How annotators wrote the character's name on a track: full, with \\xa0, or one word."""
    if len(name.split()) > 1 and aliases and rng.random() < knobs.alias_rate:
        return str(rng.choice(aliases))
    if " " in name and rng.random() < 0.3:
        return name.replace(" ", "\xa0")
    return name
