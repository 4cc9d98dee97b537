"""Clip subtitles (WebVTT or SRT, clip-relative times) -> cues -> speaker turns -> sentences.

This is the text half of the paper's "Dialog features" (Sec. 4.1): "all dialogues are first parsed
into sentences. A complete sentence may be as short as a single word (e.g. "Hi.") or consist of
several subtitle lines. Multiple lines are also joined if they end with '...'." The cleaning rules
follow the authors' ``text_utils/feature_extraction.py`` (``preprocess_file``/``preprocess_text``).

Reading (:func:`read_subtitles`)
    - Bytes are decoded as UTF-8 (a UTF-8 BOM is dropped; a UTF-16 BOM selects UTF-16). Files that
      are not valid UTF-8 fall back to cp1252, then latin-1 (which decodes any byte), with a logged
      warning naming the file: subtitle files in the wild are often Windows-1252. NUL bytes (a
      binary file) are a :class:`~pipeline.dataset.DatasetError`.
    - CRLF and CR line ends become LF. Blocks are separated by blank lines. A block whose timing
      line is ``start --> end [cue settings]`` is a cue (WebVTT ``hh:mm:ss.ttt``/``mm:ss.ttt`` or
      SRT ``hh:mm:ss,ttt``; the lines before the timing line are a cue identifier / SRT index). The
      WebVTT header block and ``NOTE``/``STYLE``/``REGION`` blocks are skipped. A text block without
      a timing line after a cue (a blank line inside an SRT cue) is appended to that cue.
    - A malformed timing line (also one that only looks like one, "00:00:05.810 -> 00:00:07.900",
      which read as text would merge its words into the previous cue), a cue ending before it
      starts, or text before the first cue raise :class:`~pipeline.dataset.DatasetError` naming the
      file and line; under the skip policy (``skipped``) the malformed cue is left out and recorded. An empty file (or only the
      ``WEBVTT`` header, as MovieGraphs writes clips without dialog) has no cues.
    - Cues are returned in time order (start, then end; file order breaks ties), so overlapping cues
      keep their order in time.

Cleaning (per cue, :func:`clean_cue_lines`)
    - Removed: formatting tags (``<i>``, ``<b>``, ``<font ...>``, ``<c.class>``, WebVTT inline
      timestamps), ASS override tags (``{\\an8}``), sound descriptions in ``[...]`` and ``(...)``
      (also across lines of one cue), music signs (``♪``), HTML entities decoded.
    - A line starting with a dialog dash ("- Good morning.") starts a new speaker turn, as in the
      authors' code. A WebVTT voice tag (``<v John>``) or a speaker label in capitals at the start of
      a line ("JOHN: ...", "DR. SMITH: ...") also starts a turn; the label itself is removed.

Turns and sentences (:func:`sentences_from_cues`)
    - The lines of one cue without a dash continue the current turn ("Dr. Spivey, what a pleasure /
      it is to meet you." is one sentence). A new cue starts a new turn unless it continues the
      previous one: the previous turn ends with "..." (the paper's rule; the dots are dropped when
      joining, as the authors' code does), or it ends without sentence-final punctuation and the
      next cue starts in lower case. A "..." at the start of a line is dropped.
    - A turn's text is split into sentences after ``.``, ``?`` or ``!`` (with closing quotes or
      brackets) followed by white space, except before a lower-case word, after common
      abbreviations (Mr., Dr., St., ...) and after single-letter initials; an ellipsis ("...")
      never ends a sentence. A fragment without any letter or digit is not a sentence.
    - A sentence's time span covers every cue its text comes from (start of the first, end of the
      last); several sentences of one cue share the cue's span.
    - ``Sentence.turn`` numbers the turns of a clip 0, 1, ... in time order. ``Sentence.reply`` is
      True for the first sentence of a turn that follows an *explicit* speaker change: a dialog
      dash that is not the first line of its cue (the dash lines of one cue are different people), or
      a speaker label / voice tag different from the previous turn's. A new cue alone is not a
      speaker change: consecutive cues are often the same person (the authors' code, likewise,
      pairs sentences only within one subtitle block). :func:`next_person_sentences` gives each
      sentence its "sentence from the next person" for the pair encoding.
"""
from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from pipeline.dataset import DatasetError

log = logging.getLogger(__name__)

SUBTITLE_SUFFIXES = (".webvtt", ".vtt", ".srt")

# ---------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class Cue:
    """One subtitle cue: clip-relative seconds and its raw text lines (tags not yet removed)."""

    start: float
    end: float
    lines: tuple[str, ...]
    line_number: int  # 1-based line of the timing line in the file


@dataclass(frozen=True)
class Sentence:
    """One sentence of dialog with the time span it covers and its speaker turn."""

    text: str
    start: float
    end: float
    turn: int
    reply: bool = False  # first sentence of a turn after an explicit speaker change


_TIMESTAMP = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d+))?"
_TIMING_LINE = re.compile(rf"^\s*{_TIMESTAMP}\s*-->\s*{_TIMESTAMP}(?:\s+.*)?$")
# A line that starts like a timing line (a clock time, then an arrow or a second clock time) but is
# not one: "00:00:05.810 -> 00:00:07.900", "00:05.8 --> oops". Read as text it would merge a cue's
# words into the previous cue, so it is a malformed timing line.
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
_TIMING_LIKE = re.compile(rf"^\s*{_CLOCK}\s*(?:(?:[-=–—]\s*)+>|→|(?:[-=–—]\s*)*{_CLOCK})")
_SKIPPED_WEBVTT_BLOCKS = ("NOTE", "STYLE", "REGION")


def decode_subtitle_bytes(raw: bytes, path: str | Path = "<bytes>") -> str:
    """Decode a subtitle file's bytes (see the module docstring for the fallback order)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{path}: has a UTF-16 byte-order mark but is not valid UTF-16 ({exc})") from None
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            position = exc.start
            line = raw[:position].count(b"\n") + 1
            try:
                text = raw.decode("cp1252")
                fallback = "cp1252"
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
                fallback = "latin-1"
            log.warning("%s: not valid UTF-8 (byte 0x%02x at line %d); decoded as %s",
                        path, raw[position], line, fallback)
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise DatasetError(f"{path}: line {line}: contains NUL bytes; not a subtitle text file")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _seconds(groups: Sequence[str | None]) -> float:
    hours, minutes, seconds, fraction = groups
    value = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    if fraction:
        value += int(fraction) / 10 ** len(fraction)
    return float(value)


def parse_subtitles(text: str, path: str | Path = "<text>", skipped: list[dict] | None = None) -> list[Cue]:
    """Cues of a WebVTT or SRT document (already decoded), in time order.

    A malformed cue (timing line) raises :class:`DatasetError` naming the file and line; with a
    ``skipped`` list (the skip policy) it is left out and recorded there as ``{"line", "reason"}``.
    """
    lines = text.split("\n")

    def malformed(line_number: int, reason: str) -> None:
        if skipped is None:
            raise DatasetError(f"{path}: line {line_number}: {reason}")
        skipped.append({"line": line_number, "reason": reason})
        log.warning("%s: line %d: %s; the cue is skipped", path, line_number, reason)

    cues: list[Cue] = []
    index = 0
    first_block = True
    while index < len(lines):
        if not lines[index].strip():
            index += 1
            continue
        block_start = index
        while index < len(lines) and lines[index].strip():
            index += 1
        block = lines[block_start:index]
        is_first_block, first_block = first_block, False
        if is_first_block and block[0].strip().startswith("WEBVTT"):
            # Header block (may carry "Kind:", "Language:" lines); a cue glued to it without a
            # blank line is still read.
            timing = next((k for k, line in enumerate(block) if "-->" in line), None)
            if timing is None:
                continue
            block_start += timing
            block = block[timing:]
        head = block[0].strip()
        if head.split(" ", 1)[0] in _SKIPPED_WEBVTT_BLOCKS and "-->" not in head:
            continue
        timing_offset = next((k for k, line in enumerate(block) if "-->" in line), None)
        if timing_offset is None:
            # an SRT index line may come first; a timing-like line among the first two is no text
            broken = next((k for k, line in enumerate(block[:2]) if _TIMING_LIKE.match(line)), None)
            if broken is not None:
                malformed(block_start + broken + 1, f"malformed timing line {block[broken].strip()[:80]!r} "
                                                    "(expected 'hh:mm:ss.ttt --> hh:mm:ss.ttt')")
                continue
            if not cues:
                raise DatasetError(f"{path}: line {block_start + 1}: text before the first cue "
                                   f"(expected a timing line 'start --> end'): {head[:60]!r}")
            previous = cues[-1]
            cues[-1] = Cue(previous.start, previous.end, previous.lines + tuple(block), previous.line_number)
            continue
        line_number = block_start + timing_offset + 1
        match = _TIMING_LINE.match(block[timing_offset])
        if match is None:
            malformed(line_number, f"malformed timing line {block[timing_offset].strip()[:80]!r} "
                                   "(expected 'hh:mm:ss.ttt --> hh:mm:ss.ttt')")
            continue
        start, end = _seconds(match.groups()[:4]), _seconds(match.groups()[4:])
        if end < start:
            malformed(line_number, f"cue ends ({end:.3f}s) before it starts ({start:.3f}s)")
            continue
        cues.append(Cue(start, end, tuple(block[timing_offset + 1:]), line_number))
    order = sorted(range(len(cues)), key=lambda k: (cues[k].start, cues[k].end, k))
    return [cues[k] for k in order]


def read_subtitles(path: str | Path, skipped: list[dict] | None = None) -> list[Cue]:
    """Cues of a WebVTT or SRT file in time order; an empty or header-only file gives ``[]``.
    With ``skipped`` (skip policy), malformed cues are left out and recorded there."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: subtitle file not found") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read subtitle file ({exc.strerror})") from None
    return parse_subtitles(decode_subtitle_bytes(raw, path), path, skipped)


# ---------------------------------------------------------------------------------------------
# Cleaning


@dataclass(frozen=True)
class CueLine:
    """One cleaned line of a cue; ``new_turn`` when it opens a speaker turn (dash, label, voice)."""

    text: str
    new_turn: bool
    dash: bool
    speaker: str | None


_ASS_TAG = re.compile(r"\{\\[^}]*\}")
_VOICE_TAG = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")
_MARKUP_TAG = re.compile(r"</?[A-Za-z][^>]*>|<\d[\d:.]*>")
_SOUND_DESCRIPTION = re.compile(r"\[[^\]]*\]|\([^)]*\)")
_MUSIC_SIGNS = re.compile(r"[♪♫]")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060\ufeff]")
_DIALOG_DASH = re.compile(r"^[-\u2010-\u2015]+\s*")
_SPEAKER_LABEL = re.compile(r"^([A-Z][A-Z0-9 .'&\-]*[A-Z0-9.]|[A-Z]):\s+")
_VOICE_MARKER = "\x01"
_VOICE_NAME = re.compile("\x01[^\x01]*\x01")


def _speaker_key(name: str) -> str:
    return " ".join(name.lower().split())


def clean_cue_lines(lines: Sequence[str]) -> list[CueLine]:
    """The cleaned, non-empty lines of one cue with their speaker-turn markers."""
    # Voice tags name the speaker: keep them as a marker through the tag removal.
    text = "\n".join(lines)
    text = _VOICE_TAG.sub(lambda m: f"{_VOICE_MARKER}{m.group(1).strip()}{_VOICE_MARKER}", text)
    text = _ASS_TAG.sub("", text)
    text = _MARKUP_TAG.sub("", text)
    text = html.unescape(text).replace("\xa0", " ").replace("\u2026", "...")
    text = _INVISIBLE.sub("", text)
    text = _SOUND_DESCRIPTION.sub("", text)
    text = _MUSIC_SIGNS.sub("", text)
    cleaned: list[CueLine] = []
    for line in text.split("\n"):
        line = line.strip()
        speaker = None
        dash = False
        match = _DIALOG_DASH.match(line)
        if match:
            dash, line = True, line[match.end():]
        if line.startswith(_VOICE_MARKER):
            end = line.find(_VOICE_MARKER, 1)
            speaker, line = line[1:end], line[end + 1:]
        line = _VOICE_NAME.sub(" ", line).strip()  # a voice tag inside a line: drop the name
        if speaker is None:
            match = _SPEAKER_LABEL.match(line)
            if match and sum(ch.isalpha() for ch in match.group(1)) >= 2:
                speaker, line = match.group(1), line[match.end():]
        if not dash:  # a dash after a voice tag or label
            match = _DIALOG_DASH.match(line)
            if match:
                dash, line = True, line[match.end():]
        line = " ".join(line.split())
        if not any(ch.isalnum() for ch in line):
            continue  # nothing spoken left (e.g. "- [laughs]")
        cleaned.append(CueLine(line, dash or speaker is not None, dash,
                               _speaker_key(speaker) if speaker else None))
    return cleaned


# ---------------------------------------------------------------------------------------------
# Turns and sentences

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr prof mt ft vs sgt capt col gen lt cmdr rev hon gov pres sen rep messrs mme "
    "mlle".split()
)
_SENTENCE_END = re.compile(r"(?<!\.)([.?!]+)([\"'\u201d\u2019)\]]*)(?=\s|$)")
_FINAL_PUNCTUATION = re.compile(r"[.?!][\"'\u201d\u2019)\]]*$")
_ELLIPSIS_END = re.compile(r"\.\.\.+[\"'\u201d\u2019)\]]*$")
_LEADING_ELLIPSIS = re.compile(r"^\.\.\.+\s*")


@dataclass
class _Turn:
    pieces: list[tuple[str, float, float]]  # (text, start, end) per cue line
    reply: bool
    speaker: str | None

    @property
    def text(self) -> str:
        return " ".join(piece for piece, _, _ in self.pieces)


def _is_sentence_end(text: str, match: re.Match) -> bool:
    marks = match.group(1)
    if marks.startswith("..."):
        return False  # an ellipsis is a pause, never the end of a sentence
    following = text[match.end():].lstrip()[:1]
    if following.islower():
        return False  # '"Go!" he said.', 'at 5 p.m. today'
    if marks != ".":
        return True  # "?", "!", "?!", ".?" ...
    word = re.search(r"(\S+)$", text[: match.start()])
    if word is None:
        return True
    token = word.group(1).lower().strip("\"'(\u201c\u2018")
    if token in _ABBREVIATIONS:
        return False
    if len(token) == 1 and token.isalpha() and token != "i":
        return False  # an initial: "J. Edgar"
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", token):
        return False  # "e.g", "a.m", "U.S"
    return True


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character ranges of the sentences of one turn's text (see the module docstring)."""
    ranges = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if _is_sentence_end(text, match):
            ranges.append((start, match.end()))
            start = match.end()
    ranges.append((start, len(text)))
    result = []
    for begin, end in ranges:
        while begin < end and text[begin].isspace():
            begin += 1
        while end > begin and text[end - 1].isspace():
            end -= 1
        if any(ch.isalnum() for ch in text[begin:end]):
            result.append((begin, end))
    return result


def _continues(turn: _Turn, line: CueLine) -> bool:
    """Whether a new cue's first line continues the previous cue's turn (same speaker)."""
    if line.new_turn:
        return False
    previous = turn.text
    if _ELLIPSIS_END.search(previous):
        return True
    starts_lower = line.text[:1].islower() or line.text.startswith("...")
    return starts_lower and not _FINAL_PUNCTUATION.search(previous)


def _append(turn: _Turn, text: str, start: float, end: float) -> None:
    """Add a line to a turn; a trailing "..." joined to the next line is dropped (authors' rule)."""
    if turn.pieces:
        previous, p_start, p_end = turn.pieces[-1]
        if _ELLIPSIS_END.search(previous):
            stripped = re.sub(r"\.\.\.+(?=[\"'\u201d\u2019)\]]*$)", "", previous).rstrip()
            turn.pieces[-1] = (stripped, p_start, p_end)
    turn.pieces.append((_LEADING_ELLIPSIS.sub("", text), start, end))


def _turns_from_cues(cues: Sequence[Cue]) -> list[_Turn]:
    turns: list[_Turn] = []
    for cue in cues:
        for position, line in enumerate(clean_cue_lines(cue.lines)):
            if turns and position > 0 and not line.new_turn:
                _append(turns[-1], line.text, cue.start, cue.end)
                continue
            if turns and position == 0 and _continues(turns[-1], line):
                _append(turns[-1], line.text, cue.start, cue.end)
                continue
            previous_speaker = turns[-1].speaker if turns else None
            reply = bool(turns) and (
                (line.dash and position > 0)
                or (line.speaker is not None and previous_speaker is not None and line.speaker != previous_speaker)
            )
            turn = _Turn([], reply, line.speaker)
            _append(turn, line.text, cue.start, cue.end)
            turns.append(turn)
    return turns


def sentences_from_cues(cues: Sequence[Cue]) -> list[Sentence]:
    """The sentences of a clip's cues, in time order, with time spans and speaker turns."""
    sentences: list[Sentence] = []
    turn_index = 0
    for turn in _turns_from_cues(cues):
        # Character offsets of each piece in the joined turn text, to give sentences time spans.
        text, offsets = "", []
        for piece, start, end in turn.pieces:
            if not piece:
                continue
            if text:
                text += " "
            offsets.append((len(text), len(text) + len(piece), start, end))
            text += piece
        ranges = split_sentences(text)
        if not ranges:
            continue
        for number, (begin, end) in enumerate(ranges):
            spans = [(s, e) for lo, hi, s, e in offsets if lo < end and hi > begin]
            sentences.append(Sentence(
                text=text[begin:end],
                start=min(s for s, _ in spans),
                end=max(e for _, e in spans),
                turn=turn_index,
                reply=turn.reply and number == 0,
            ))
        turn_index += 1
    return sentences


def next_person_sentences(sentences: Sequence[Sentence]) -> list[int | None]:
    """For each sentence, the index of "a sentence from the next person" (paper, Sec. 4.1) or None.

    Every sentence of turn ``t`` is paired with the first sentence of turn ``t + 1`` when that turn
    follows an explicit speaker change (``Sentence.reply``); otherwise it has no partner.
    """
    first_of_turn: dict[int, int] = {}
    for index, sentence in enumerate(sentences):
        first_of_turn.setdefault(sentence.turn, index)
    partners: list[int | None] = []
    for sentence in sentences:
        candidate = first_of_turn.get(sentence.turn + 1)
        partners.append(candidate if candidate is not None and sentences[candidate].reply else None)
    return partners


def read_sentences(path: str | Path, skipped: list[dict] | None = None) -> list[Sentence]:
    """:func:`read_subtitles` then :func:`sentences_from_cues` (``skipped``: the skip policy)."""
    return sentences_from_cues(read_subtitles(path, skipped))
