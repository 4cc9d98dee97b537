"""Streaming clip decoding for the visual backbones: windows of frames, resized on the fly.

A clip is cut into windows of ``window`` frames starting every ``stride`` frames (16/16: the paper's
and Hara's non-overlapping 16-frame windows). A window that runs past the last frame keeps its real
frames and is filled up by looping over them (Hara's ``LoopPadding``), so every frame of the clip
belongs to a window; its time span covers the real frames only.

Frames are decoded straight to the network's resize resolution, cropped per :class:`FrameGeometry`,
and handed out one batch of windows at a time, by one of two decoders (``visual.decoder``):

- ``pyav`` (default): PyAV pulls frames one at a time through the same libavfilter graph decord
  builds (rotation, ``scale=W:H`` with its bilinear flags, ``format=rgb24``), so the frames are the
  same bytes as decord's (tests/test_visual.py), and nothing is decoded before it is asked for:
  the stage holds about one batch of frames whatever the clip's length.
- ``decord``: ``decord.VideoReader(width=, height=).get_batch``. decord 0.6.0 has no read-ahead
  limit: while its decoder thread has no frame ready, ``NextFrame`` keeps pushing packets, and every
  pushed packet is decoded and kept (about 67 KB a frame at 112 px), so its memory grows with the
  clip's length (README "Performance", Memory).

Both decode the stream :func:`probe_video` finds (PyAV, FFmpeg's best video stream) and count its
frames as decord does (one per packet); decord picks its stream with its own, older FFmpeg, which can
choose another stream, so a video with several video streams is refused with ``decoder: decord``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from pipeline.config import schema_enum
from pipeline.dataset import DatasetError

CROPS = schema_enum("visual.crop")
DECODERS = schema_enum("visual.decoder")


class VideoError(DatasetError):
    """A clip video is missing, unreadable or empty; the message names the file."""


@dataclass(frozen=True)
class VideoInfo:
    """Native properties of a clip video."""

    path: Path
    n_frames: int
    fps: float
    width: int                  # after the display rotation, as decoded
    height: int
    stream: int = 0             # index of the video stream decoded (FFmpeg's best)
    video_streams: int = 1      # video streams in the file, cover pictures left out


@dataclass(frozen=True)
class FrameGeometry:
    """How video pixels become network-input pixels: resize to (resize_w, resize_h), then crop.

    ``crop="full"``: the shorter side becomes ``input_size`` (aspect ratio kept), nothing is cut, so
    every character stays on the feature grid. ``crop="center"``: Hara's ``Scale(input_size)`` then
    ``CenterCrop(input_size)`` (a square).
    """

    video_width: int
    video_height: int
    resize_width: int
    resize_height: int
    crop_x0: int
    crop_y0: int
    input_width: int
    input_height: int

    @classmethod
    def for_video(cls, width: int, height: int, input_size: int, crop: str) -> "FrameGeometry":
        if crop not in CROPS:
            raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
        scale = input_size / min(width, height)
        resize_w = input_size if width <= height else max(input_size, round(width * scale))
        resize_h = input_size if height <= width else max(input_size, round(height * scale))
        if crop == "full":
            return cls(width, height, resize_w, resize_h, 0, 0, resize_w, resize_h)
        x0 = int((resize_w - input_size) / 2 + 0.5)  # Hara's CenterCrop: round half up
        y0 = int((resize_h - input_size) / 2 + 0.5)
        return cls(width, height, resize_w, resize_h, x0, y0, input_size, input_size)

    def video_to_input(self, boxes: np.ndarray) -> np.ndarray:
        """Map (N, 4) boxes (x0, y0, x1, y1) from video pixels to input pixels, clipped to the input."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        sx = self.resize_width / self.video_width
        sy = self.resize_height / self.video_height
        mapped = boxes * np.array([sx, sy, sx, sy]) - np.array([self.crop_x0, self.crop_y0] * 2)
        mapped[:, [0, 2]] = np.clip(mapped[:, [0, 2]], 0.0, self.input_width)
        mapped[:, [1, 3]] = np.clip(mapped[:, [1, 3]], 0.0, self.input_height)
        return mapped

    def crop(self, frames: np.ndarray) -> np.ndarray:
        """Cut the input region out of resized frames (..., resize_h, resize_w, 3)."""
        if (self.input_width, self.input_height) == (self.resize_width, self.resize_height):
            return frames
        return frames[..., self.crop_y0:self.crop_y0 + self.input_height,
                      self.crop_x0:self.crop_x0 + self.input_width, :]


@dataclass(frozen=True)
class Window:
    """One window of a clip: ``frames`` are the decoded frame indices (loop-padded to full length)."""

    index: int
    first_frame: int
    n_real: int                 # frames of the clip inside the window (< window length at the end)
    frames: tuple[int, ...]

    def contains(self, frame: int) -> bool:
        return self.first_frame <= frame < self.first_frame + self.n_real

    def times(self, fps: float) -> tuple[float, float]:
        """Clip-relative (start, end) seconds of the real frames."""
        return self.first_frame / fps, (self.first_frame + self.n_real) / fps


def plan_windows(n_frames: int, window: int, stride: int) -> list[Window]:
    """Windows starting at 0, stride, 2*stride, ... while they start inside the clip."""
    if n_frames <= 0:
        return []
    windows = []
    for index, first in enumerate(range(0, n_frames, stride)):
        n_real = min(window, n_frames - first)
        frames = tuple(first + (k % n_real) for k in range(window))  # Hara's LoopPadding
        windows.append(Window(index, first, n_real, frames))
        if first + window >= n_frames:
            break  # later windows would only repeat frames this one already covers
    return windows


def _decord():
    import decord

    return decord


def probe_video(path: str | Path) -> VideoInfo:
    """Frame count, fps, size and stream of a video; :class:`VideoError` if it is missing or unreadable.

    The stream is FFmpeg's best video stream (``av_find_best_stream``: the one ffmpeg and players
    show). Its frames are counted as decord counts them (``IndexKeyframes``: one per packet, all
    demuxed, nothing decoded), the rate is its average frame rate (decord's ``get_avg_fps``), and
    the size is the coded size turned by the display rotation, read off the first frame, which is
    decoded to check that the video decodes at all (decord's probe read frame 0 too).
    """
    av = _pyav()
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: video file not found")
    try:
        with av.open(str(path)) as container:
            stream = container.streams.best("video")
            if stream is None:
                raise VideoError(f"{path}: no video stream")
            stream.thread_count = 1
            videos = sum(1 for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic)
            n_frames, first = 0, None
            for packet in container.demux(stream):
                n_frames += not is_flush_packet(packet)
                if first is None:
                    first = next(iter(packet.decode()), None)
            rate, width, height = stream.average_rate, stream.codec_context.width, stream.codec_context.height
            index, rotation = stream.index, _clockwise_rotation(first) if first is not None else 0
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: cannot decode video ({exc})") from None
    if n_frames == 0 or first is None:
        raise VideoError(f"{path}: video has no frames")
    fps = float(rate) if rate else float("nan")
    if not np.isfinite(fps) or fps <= 0:
        raise VideoError(f"{path}: video reports an invalid frame rate {fps}")
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(path=path, n_frames=n_frames, fps=fps, width=int(width), height=int(height),
                     stream=index, video_streams=max(videos, 1))


def _pyav():
    import av

    return av


def is_flush_packet(packet) -> bool:
    """Whether a packet from PyAV's ``demux`` is the empty one it yields at the end of each stream to
    flush the decoder (no data, no timestamp), not one of the stream's own."""
    return packet.size == 0 and packet.dts is None


# decord 0.6.0's filter chain for a video's display rotation, clockwise (its FFMPEGThreadedDecoder).
_ROTATION_FILTERS = {0: (), 90: (("transpose", "1"),), 180: (("transpose", "1"), ("transpose", "1")),
                     270: (("transpose", "2"),)}


def _clockwise_rotation(frame) -> int:
    """A decoded frame's display rotation in clockwise degrees, as decord and the ffmpeg CLI turn it
    (PyAV gives the display matrix's counter-clockwise angle)."""
    return round(-frame.rotation) % 360


class _PulledFrames:
    """Frames of one video in display order, decoded only when asked for (PyAV, one decoding thread).

    Each frame goes through decord's graph (rotation, ``scale=W:H`` with decord's bilinear
    scaler, ``format=rgb24``). Frames no window wants are decoded and dropped; of the wanted ones,
    those at or after the current batch's first frame are kept (overlapping windows of the next
    batch reuse them), so about one batch of frames is held.
    """

    def __init__(self, path: Path, width: int, height: int, wanted: set[int], *, stream: int):
        av = _pyav()
        self.path, self.width, self.height, self.wanted = path, width, height, wanted
        if not path.is_file():
            raise VideoError(f"{path}: video file not found")
        try:
            self.container = av.open(str(path))
        except av.FFmpegError as exc:
            raise VideoError(f"{path}: cannot decode video ({exc})") from None
        video = next((s for s in self.container.streams.video if s.index == stream), None)
        if video is None:
            self.container.close()
            raise VideoError(f"{path}: no video stream {stream}")
        self.stream = video             # the probe's (FFmpeg's best), not always the first
        self.stream.thread_count = 1    # like decord's num_threads=1: clips run in parallel (decode_workers)
        self.frames = self.container.decode(self.stream)
        self.graph = None
        self.next_index = 0         # display index of the next frame the decoder gives
        self.kept: dict[int, np.ndarray] = {}

    def _filter(self, frame) -> np.ndarray:
        """One decoded frame through the graph: (height, width, 3) uint8 RGB."""
        if self.graph is None:      # built at the first frame, which carries the display rotation
            self.graph = _pyav().filter.Graph()
            chain = [self.graph.add_buffer(template=self.stream)]
            filters = _ROTATION_FILTERS.get(_clockwise_rotation(frame), ())
            filters += (("scale", f"{self.width}:{self.height}:flags=bilinear"), ("format", "rgb24"))
            for name, arguments in filters:
                chain.append(self.graph.add(name, arguments))
                chain[-2].link_to(chain[-1])
            chain.append(self.graph.add("buffersink"))
            chain[-2].link_to(chain[-1])
            self.graph.configure()
        self.graph.push(frame)
        return self.graph.pull().to_ndarray()

    def get_batch(self, wanted: np.ndarray) -> np.ndarray:
        """Frames ``wanted`` (increasing): (len(wanted), height, width, 3) uint8."""
        av = _pyav()
        first, last = int(wanted[0]), int(wanted[-1])
        self.kept = {index: frame for index, frame in self.kept.items() if index >= first}
        try:
            while self.next_index <= last:
                frame = next(self.frames, None)
                if frame is None:
                    raise VideoError(f"{self.path}: the video ends at frame {self.next_index}, "
                                     f"frame {last} was asked for")
                if self.next_index >= first and self.next_index in self.wanted:
                    self.kept[self.next_index] = self._filter(frame)
                self.next_index += 1
        except av.FFmpegError as exc:
            raise VideoError(f"{self.path}: decoding frames {first}-{last} failed ({exc})") from None
        return np.stack([self.kept[int(index)] for index in wanted])

    def close(self) -> None:
        self.container.close()


class _DecordFrames:
    """``decord.VideoReader(width=, height=).get_batch``, with its errors as :class:`VideoError`."""

    def __init__(self, path: Path, width: int, height: int):
        decord = _decord()
        self.path = path
        if not path.is_file():
            raise VideoError(f"{path}: video file not found")
        try:
            self.reader = decord.VideoReader(str(path), ctx=decord.cpu(0), width=width, height=height, num_threads=1)
        except (RuntimeError, decord.DECORDError) as exc:
            raise VideoError(f"{path}: cannot decode video ({str(exc).strip().splitlines()[0]})") from None

    def get_batch(self, wanted: np.ndarray) -> np.ndarray:
        decord = _decord()
        try:
            return self.reader.get_batch(wanted.tolist()).asnumpy()
        except (RuntimeError, decord.DECORDError) as exc:
            raise VideoError(f"{self.path}: decoding frames {wanted[0]}-{wanted[-1]} failed "
                             f"({str(exc).strip().splitlines()[0]})") from None

    def close(self) -> None:
        self.reader = None


def read_frame(info: VideoInfo, index: int) -> np.ndarray:
    """Frame ``index`` of a probed video at its own size (display rotation applied): (height, width, 3)
    uint8 RGB, decoded by PyAV from the start."""
    if not 0 <= index < info.n_frames:
        raise VideoError(f"{info.path}: no frame {index} (the video has {info.n_frames})")
    source = _PulledFrames(info.path, info.width, info.height, {index}, stream=info.stream)
    try:
        return source.get_batch(np.array([index]))[0]
    finally:
        source.close()


def iter_window_batches(info: VideoInfo, geometry: FrameGeometry, windows: list[Window],
                        batch_size: int, *, decoder: str) -> Iterator[tuple[list[Window], np.ndarray]]:
    """Yield ``(windows, frames)`` per batch: frames is uint8 (B, T, input_h, input_w, 3) RGB.

    Each frame is decoded once per batch (overlapping windows share it), in increasing order, by
    ``decoder`` (``pyav`` or ``decord``: the same frames, see the module docstring).
    """
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
    if decoder == "pyav":
        wanted_anywhere = {frame for window in windows for frame in window.frames}
        source = _PulledFrames(info.path, geometry.resize_width, geometry.resize_height, wanted_anywhere,
                               stream=info.stream)
    elif info.video_streams > 1:
        raise VideoError(f"{info.path}: {info.video_streams} video streams; decord chooses one with its own "
                         f"FFmpeg, which may not be stream {info.stream} (FFmpeg's best, probed): "
                         f"use visual.decoder: pyav for this video")
    else:
        source = _DecordFrames(info.path, geometry.resize_width, geometry.resize_height)
    try:
        for start in range(0, len(windows), batch_size):
            batch = windows[start:start + batch_size]
            wanted = np.array(sorted({frame for w in batch for frame in w.frames}), dtype=np.int64)
            decoded = source.get_batch(wanted)
            if decoded.shape[1:3] != (geometry.resize_height, geometry.resize_width):
                raise VideoError(f"{info.path}: decoder returned frames of size {decoded.shape[2]}x"
                                 f"{decoded.shape[1]}, expected {geometry.resize_width}x{geometry.resize_height}")
            position = {int(frame): k for k, frame in enumerate(wanted)}
            order = np.array([[position[f] for f in w.frames] for w in batch], dtype=np.int64)
            yield batch, np.ascontiguousarray(geometry.crop(decoded[order]))
    finally:
        source.close()
