"""Label maps in LIReC's plain-text formats."""
from __future__ import annotations

import pytest

from pipeline.labels import LabelError, LabelMaps, write_label_files
from tests._moviegraphs_helpers import INTERACTIONS, OPPOSITES, RELATIONSHIPS, write_label_texts


def test_load_hand_written_files(tmp_path):
    maps = LabelMaps.load(*write_label_texts(tmp_path))
    assert maps.interactions == ["talk", "greet", "hug", "watch"]
    assert maps.num_interactions == 4
    assert maps.fine_to_merged["explains to"] == 0 and maps.fine_to_merged["waves at"] == 1
    assert maps.interaction_of("looks at ") == 3
    assert maps.interaction_of("talk") is None            # merged names are not fine names
    assert maps.relationships == ["friend", "boss", "worker", "stranger"]
    assert maps.num_relationships == 4
    assert maps.relationship_of("best friend") == 0      # multi-word fine label
    assert maps.relationship_of("manager") == 1 and maps.relationship_of("employee") == 2
    assert maps.relationship_of("enemy") is None
    assert maps.opposite == {0: 0, 1: 2, 2: 1, 3: 3}


def test_tabs_separate_fine_names_with_spaces(tmp_path):
    folder = tmp_path / "labels"
    paths = write_label_texts(folder)
    paths[0].write_text("talk\ttalks to\t speaks with \t\nhug\thugs\n\n\n")   # trailing blank lines are fine
    maps = LabelMaps.load(*paths)
    assert maps.fine_to_merged == {"talks to": 0, "speaks with": 0, "hugs": 1}


def test_writer_round_trip(tmp_path):
    paths = [tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"]
    write_label_files(*paths, interactions=list(INTERACTIONS.items()), relationships=RELATIONSHIPS,
                      opposite=dict(OPPOSITES))
    assert LabelMaps.load(*paths) == LabelMaps.load(*write_label_texts(tmp_path / "hand"))
    assert paths[0].read_text().splitlines()[0] == "talk\ttalks to\tspeaks with\texplains to"


def test_writer_refuses_bad_definitions(tmp_path):
    paths = [tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"]
    with pytest.raises(LabelError, match="one word"):
        write_label_files(*paths, interactions=[("talk", ["talks to"])], relationships={"x": "best friend"},
                          opposite={"best friend": "best friend"})
    with pytest.raises(LabelError, match="not an involution"):
        write_label_files(*paths, interactions=[("talk", ["talks to"])], relationships={"x": "a"},
                          opposite={"a": "b", "b": "c", "c": "b"})
    assert not any(p.exists() for p in paths)


@pytest.mark.parametrize("which, text, message", [
    (0, "talk\ttalks to\nhug\thugs\ttalks to\n", r"merged_interactions.txt:2: fine interaction 'talks to' .* \(line 1\)"),
    (0, "talk\ttalks to\ntalk\tspeaks\n", r":2: merged interaction 'talk' already defined on line 1"),
    (0, "talk\ttalks to\n\nhug\thugs\n", r"merged_interactions.txt:2: empty line"),
    (0, "", "the file is empty"),
    (1, "friend friend\nlonely\n", r"relships_many2_15.txt:2: expected"),
    (1, "friend friend\nbest friend enemy\n", r"relships_many2_15.txt:2: class 'enemy' is not in"),
    (1, "pal friend\npal boss\n", r"relships_many2_15.txt:2: fine relationship 'pal' maps to"),
    (2, "friend friend\nboss worker\nworker friend\n", r"relships_15_opp.txt:2: the opposite map is not an involution"),
    (2, "friend friend\nboss worker\n", r"relships_15_opp.txt:2: opposite 'worker' of 'boss' has no line"),
    (2, "friend friend extra\n", r"relships_15_opp.txt:1: expected '<class> <opposite class>'"),
    (2, "friend friend\nfriend boss\n", r"relships_15_opp.txt:2: 'friend' has opposite 'boss' here"),
])
def test_malformed_files_name_file_and_line(tmp_path, which, text, message):
    paths = write_label_texts(tmp_path)
    paths[which].write_text(text)
    with pytest.raises(LabelError, match=message):
        LabelMaps.load(*paths)


def test_missing_file(tmp_path):
    paths = list(write_label_texts(tmp_path))
    paths[1].unlink()
    with pytest.raises(LabelError, match=f"{paths[1]}: label file not found"):
        LabelMaps.load(*paths)
