"""Subtitle parsing and sentence splitting: the real MovieGraphs webvtt fixtures and nasty input."""
from __future__ import annotations

import logging

import pytest

from pipeline.dataset import DatasetError
from pipeline.subtitles import (
    Cue,
    clean_cue_lines,
    next_person_sentences,
    parse_subtitles,
    read_sentences,
    read_subtitles,
    sentences_from_cues,
    split_sentences,
)
from tests._dialog_helpers import FIXTURE_SUBTITLES, vtt


def _texts(sentences):
    return [s.text for s in sentences]


def _sentences(tmp_path, text: str, name: str = "clip.webvtt", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return read_sentences(path)


# --- real fixtures ---------------------------------------------------------------------------


def test_fixture_two_speakers_in_one_cue():
    sentences = read_sentences(FIXTURE_SUBTITLES / "scene-004.ss-0005.es-0005.webvtt")
    assert _texts(sentences) == ["Good morning, Miss Ratched.", "Good morning."]
    assert [s.turn for s in sentences] == [0, 1]
    assert all((s.start, s.end) == (4.462, 6.672) for s in sentences)
    # The second dash line is the next person: the first sentence is paired with it.
    assert next_person_sentences(sentences) == [1, None]


def test_fixture_single_cue():
    sentences = read_sentences(FIXTURE_SUBTITLES / "scene-007.ss-0015.es-0015.webvtt")
    assert _texts(sentences) == ["Okay, my friend, let's go."]
    assert (sentences[0].start, sentences[0].end, sentences[0].turn) == (1.5, 5.002, 0)
    assert next_person_sentences(sentences) == [None]


def test_fixture_long_scene_sentences_turns_and_spans():
    sentences = read_sentences(FIXTURE_SUBTITLES / "scene-014.ss-0065.es-0068.webvtt")
    assert _texts(sentences) == [
        "Yes?",
        "Mr. McMurphy's here, doc.",          # "Mr." is no sentence end
        "Good, have him come in.",
        "Thank you.",
        "McMurphy, I'm Dr. Spivey.",
        "Dr. Spivey, what a pleasure it is to meet you.",  # one sentence over two subtitle lines
        "Sure.",                                # a one-word sentence
        "Pull up a chair, sit down, let's talk.",
        "Sure.",
    ]
    assert [s.turn for s in sentences] == [0, 1, 2, 3, 4, 5, 6, 6, 7]
    assert (sentences[5].start, sentences[5].end) == (15.264, 17.390)
    assert [(s.start, s.end) for s in sentences[6:]] == [(17.558, 20.769)] * 3
    # Pairs only across a dash inside a cue; both sentences of turn 6 get the reply of turn 7.
    assert next_person_sentences(sentences) == [None, 2, None, None, None, None, 8, 8, None]
    starts = [s.start for s in sentences]
    assert starts == sorted(starts)


# --- nasty input -----------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"   \n\n", b"WEBVTT\n", b"\xef\xbb\xbfWEBVTT\r\n\r\n"])
def test_empty_files_have_no_sentences(tmp_path, content):
    path = tmp_path / "empty.webvtt"
    path.write_bytes(content)
    assert read_subtitles(path) == []
    assert read_sentences(path) == []


def test_bom_and_crlf_give_the_same_sentences(tmp_path):
    text = (FIXTURE_SUBTITLES / "scene-014.ss-0065.es-0068.webvtt").read_text(encoding="utf-8")
    plain = _sentences(tmp_path, text, "lf.webvtt")
    crlf = _sentences(tmp_path, "\ufeff" + text.replace("\n", "\r\n"), "crlf.webvtt")
    cr = _sentences(tmp_path, text.replace("\n", "\r"), "cr.webvtt")
    assert crlf == plain and cr == plain and len(plain) == 9


def test_utf16_with_bom(tmp_path):
    sentences = _sentences(tmp_path, "\ufeff" + vtt(("00:00:01.000", "00:00:02.000", "Café? Oui.")),
                           encoding="utf-16-le")
    assert _texts(sentences) == ["Café?", "Oui."]


def test_non_utf8_bytes_fall_back_to_cp1252_with_a_warning(tmp_path, caplog):
    text = vtt(("00:00:01.000", "00:00:02.000", "Caf\u00e9 \u201cnoir\u201d, please."))
    with caplog.at_level(logging.WARNING, logger="pipeline.subtitles"):
        sentences = _sentences(tmp_path, text, "latin.webvtt", encoding="cp1252")
    assert _texts(sentences) == ["Caf\u00e9 \u201cnoir\u201d, please."]
    assert "latin.webvtt" in caplog.text and "cp1252" in caplog.text


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path, caplog):
    path = tmp_path / "odd.srt"
    path.write_bytes(b"1\n00:00:01,000 --> 00:00:02,000\nHello \x81there.\n")
    with caplog.at_level(logging.WARNING, logger="pipeline.subtitles"):
        sentences = read_sentences(path)
    assert _texts(sentences) == ["Hello \x81there."]
    assert "latin-1" in caplog.text


def test_binary_file_is_a_clear_error(tmp_path):
    path = tmp_path / "binary.webvtt"
    path.write_bytes(b"WEBVTT\n\n\x00\x01\x02 --> \x00")
    with pytest.raises(DatasetError, match=r"binary\.webvtt: line 3: contains NUL bytes"):
        read_subtitles(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="missing.webvtt: subtitle file not found"):
        read_subtitles(tmp_path / "missing.webvtt")


@pytest.mark.parametrize("timing, message", [
    ("00:00:01.000 -> 00:00:02.000", "line 3: malformed timing line"),   # looks like one: not text
    ("00:00:01.000 --> soon", "line 3: malformed timing line"),
    ("00:00:05.000 --> 00:00:02.000", "line 3: cue ends"),
    ("Hello first", "line 3: text before the first cue"),
])
def test_bad_timing_lines(tmp_path, timing, message):
    path = tmp_path / "bad.webvtt"
    path.write_text(f"WEBVTT\n\n{timing}\nHello.\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=rf"bad\.webvtt: {message}"):
        read_subtitles(path)


def test_a_broken_timing_line_after_a_cue_is_not_merged_into_it(tmp_path):
    """Issue 12 item 6: "00:00:05.810 -> 00:00:07.900 I've loved you" used to become text of the
    previous cue. Now: an error naming file and line, or (skip policy) that cue left out and recorded."""
    path = tmp_path / "clip.webvtt"
    path.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nHello there.\n\n"
                    "00:00:05.810 -> 00:00:07.900\nI've loved you all along.\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"clip\.webvtt: line 6: malformed timing line '00:00:05.810 -> "):
        read_subtitles(path)
    skipped: list[dict] = []
    cues = read_subtitles(path, skipped)
    assert [cue.lines for cue in cues] == [("Hello there.",)]
    assert skipped == [{"line": 6, "reason": skipped[0]["reason"]}] and "malformed" in skipped[0]["reason"]


def test_overlapping_and_unordered_cues_are_kept_in_time_order(tmp_path):
    text = vtt(
        ("00:00:05.000", "00:00:07.000", "Third."),
        ("00:00:01.000", "00:00:04.000", "First."),
        ("00:00:02.000", "00:00:03.000", "Second, overlapping."),
    )
    sentences = _sentences(tmp_path, text)
    assert _texts(sentences) == ["First.", "Second, overlapping.", "Third."]
    assert [(s.start, s.end) for s in sentences] == [(1.0, 4.0), (2.0, 3.0), (5.0, 7.0)]
    assert [s.turn for s in sentences] == [0, 1, 2]


def test_tags_sound_descriptions_and_entities_are_removed(tmp_path):
    text = vtt(
        ("00:00:01.000", "00:00:02.000", "{\\an8}<i>Hello</i> <b>there</b>, <font color=\"#ff0\">Tom</font>."),
        ("00:00:02.000", "00:00:03.000", "[door slams]\n(laughing) Rock <c.yellow>&amp;</c> roll!"),
        ("00:00:03.000", "00:00:04.000", "(SIGHS)"),
        ("00:00:04.000", "00:00:05.000", "\u266a La la <00:00:04.500>la \u266a"),
        ("00:00:05.000", "00:00:06.000", "[man speaking\nindistinctly]"),
    )
    sentences = _sentences(tmp_path, text)
    assert _texts(sentences) == ["Hello there, Tom.", "Rock & roll!", "La la la"]
    assert [s.turn for s in sentences] == [0, 1, 2]


def test_speaker_labels_and_voice_tags_mark_turns(tmp_path):
    text = vtt(
        ("00:00:01.000", "00:00:02.000", "JOHN: Where were you?"),
        ("00:00:02.000", "00:00:03.000", "MARY: Out."),
        ("00:00:03.000", "00:00:04.000", "MARY: With friends."),
        ("00:00:04.000", "00:00:05.000", "<v Dr. Who>Fine.</v>"),
    )
    sentences = _sentences(tmp_path, text)
    assert _texts(sentences) == ["Where were you?", "Out.", "With friends.", "Fine."]
    assert [s.turn for s in sentences] == [0, 1, 2, 3]
    # JOHN -> MARY and MARY -> Dr. Who are speaker changes; MARY -> MARY is not.
    assert next_person_sentences(sentences) == [1, None, 3, None]


def test_webvtt_cue_settings_identifiers_note_and_style_blocks(tmp_path):
    text = (
        "WEBVTT - a title\nKind: captions\nLanguage: en\n\n"
        "STYLE\n::cue { color: yellow }\n\n"
        "NOTE This is a comment\nover two lines --> not a cue\n\n"
        "intro-1\n00:01.250 --> 00:02.500 align:start position:10% line:0\nFirst line.\n\n"
        "2\n01:00:03.000 --> 01:00:04.000\nAn hour later.\n"
    )
    cues = read_subtitles(_write(tmp_path, "settings.vtt", text))
    assert [(c.start, c.end, c.lines) for c in cues] == [
        (1.25, 2.5, ("First line.",)), (3603.0, 3604.0, ("An hour later.",))]


def test_srt_with_index_comma_times_coordinates_and_blank_line_in_cue(tmp_path):
    text = (
        "1\n00:00:01,500 --> 00:00:03,000 X1:100 X2:200 Y1:10 Y2:20\n- Are you coming?\n- No.\n\n"
        "2\n00:00:04,000 --> 00:00:06,250\nI'll stay\n\nhere tonight.\n"
    )
    sentences = _sentences(tmp_path, text, "clip.srt")
    assert _texts(sentences) == ["Are you coming?", "No.", "I'll stay here tonight."]
    assert sentences[2].start == 4.0 and sentences[2].end == 6.25
    assert next_person_sentences(sentences) == [1, None, None]


def test_lines_ending_with_dots_are_joined_across_cues(tmp_path):
    text = vtt(
        ("00:00:01.000", "00:00:02.000", "I was going to..."),
        ("00:00:02.500", "00:00:04.000", "...go home. And then?"),
        ("00:00:05.000", "00:00:06.000", "Well"),
        ("00:00:06.000", "00:00:07.000", "we stayed."),
        ("00:00:08.000", "00:00:09.000", "Hi."),
        ("00:00:09.000", "00:00:10.000", "Hi."),
    )
    sentences = _sentences(tmp_path, text)
    assert _texts(sentences) == ["I was going to go home.", "And then?", "Well we stayed.", "Hi.", "Hi."]
    assert [(s.start, s.end) for s in sentences] == [(1.0, 4.0), (2.5, 4.0), (5.0, 7.0), (8.0, 9.0), (9.0, 10.0)]
    assert [s.turn for s in sentences] == [0, 0, 1, 2, 3]
    # New cues without a dash or label are not known speaker changes: no pairs.
    assert next_person_sentences(sentences) == [None] * 5


def test_voice_tag_inside_a_line_drops_the_name_and_header_glued_cue_is_read(tmp_path):
    assert [line.text for line in clean_cue_lines(["Hello <v Bob>there</v>."])] == ["Hello there."]
    cues = read_subtitles(_write(tmp_path, "glued.vtt", "WEBVTT\n00:01.000 --> 00:02.000\nHi.\n"))
    assert [(c.start, c.end, c.lines) for c in cues] == [(1.0, 2.0, ("Hi.",))]


def test_sound_only_dash_line_does_not_make_a_turn():
    lines = clean_cue_lines(["- [gunshot]", "- Get down!"])
    assert [(line.text, line.dash) for line in lines] == [("Get down!", True)]
    cues = [Cue(0.0, 1.0, ("Run.",), 3), Cue(1.0, 2.0, ("- [gunshot]", "- Get down!"), 6)]
    sentences = sentences_from_cues(cues)
    assert [s.turn for s in sentences] == [0, 1]
    assert next_person_sentences(sentences) == [None, None]


@pytest.mark.parametrize("text, expected", [
    ("Hi.", ["Hi."]),
    ("Hi. Hello!", ["Hi.", "Hello!"]),
    ("Wait... what? No!", ["Wait... what?", "No!"]),
    ("Mrs. Smith met J. Edgar at 3.30 p.m. today.", ["Mrs. Smith met J. Edgar at 3.30 p.m. today."]),
    ("\"Go!\" he said. Okay.", ["\"Go!\" he said.", "Okay."]),
    ("Really?! Yes.", ["Really?!", "Yes."]),
    ("No. Me? I. Ok.", ["No.", "Me?", "I.", "Ok."]),
    ("... -", []),
])
def test_split_sentences(text, expected):
    assert [text[a:b] for a, b in split_sentences(text)] == expected


def test_parse_from_text_names_the_source_in_errors():
    with pytest.raises(DatasetError, match=r"^movie/clip\.srt: line 2: malformed"):
        parse_subtitles("1\n00:00:01,000 --> x\nHi.\n", "movie/clip.srt")


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
