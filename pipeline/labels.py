"""Label maps of LIReC: fine interactions -> merged classes, fine relationships -> classes, opposites.

Plain-text formats (as distributed in LIReC's ``others/`` folder, see docs/architecture.md):

- ``merged_interactions.txt``: one merged class per line, TAB separated
  ``merged_name<TAB>fine_1<TAB>fine_2 ...``; the merged class id is the line index (LIReC's
  ``load_merged_interactions``).
- ``relships_many2_15.txt``: one fine relationship per line, ``<fine words ...> <class>`` (the last
  whitespace token is the class, LIReC's ``load_relships``).
- ``relships_15_opp.txt``: ``<class> <opposite class>`` per line; the relationship classes and
  their ids are the left column in order of first appearance. (LIReC itself sorts the names in
  reverse alphabetical order; ids here follow the file so that they are stable and documented.)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from pipeline.dataset import DatasetError
from pipeline.h5io import write_text_atomic


class LabelError(DatasetError):
    """A label file is missing or malformed; the message names the file and line."""


def _read_lines(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().splitlines()
    except FileNotFoundError:
        raise LabelError(f"{path}: label file not found") from None
    except UnicodeDecodeError as exc:
        raise LabelError(f"{path}: not UTF-8 text ({exc})") from None


def _numbered(lines: Sequence[str], source: str) -> Iterable[tuple[int, str]]:
    """(line number, stripped line) of the non-empty lines; an empty line is allowed only at the end."""
    last = len(lines)
    while last and not lines[last - 1].strip():
        last -= 1
    if last == 0:
        raise LabelError(f"{source}: the file is empty")
    for index in range(last):
        text = lines[index].strip()
        if not text:
            raise LabelError(f"{source}:{index + 1}: empty line (ids are line numbers; remove it)")
        yield index + 1, text


def parse_interactions(lines: Sequence[str], source: str) -> tuple[list[str], dict[str, int]]:
    """Merged class names (id = line index) and fine name -> merged id."""
    merged: list[str] = []
    fine_to_merged: dict[str, int] = {}
    where_fine: dict[str, int] = {}
    for line_no, text in _numbered(lines, source):
        fields = [f.strip() for f in text.split("\t")]
        name, fines = fields[0], [f for f in fields[1:] if f]
        if name in merged:
            raise LabelError(f"{source}:{line_no}: merged interaction {name!r} already defined on line "
                             f"{merged.index(name) + 1}")
        merged_id = len(merged)
        merged.append(name)
        for fine in fines:
            if fine in fine_to_merged and fine_to_merged[fine] != merged_id:
                raise LabelError(f"{source}:{line_no}: fine interaction {fine!r} is in merged class {name!r} "
                                 f"and in {merged[fine_to_merged[fine]]!r} (line {where_fine[fine]})")
            fine_to_merged[fine] = merged_id
            where_fine[fine] = line_no
    return merged, fine_to_merged


def parse_opposites(lines: Sequence[str], source: str) -> tuple[list[str], dict[str, str]]:
    """Relationship classes (order of first appearance) and class -> opposite class (an involution)."""
    classes: list[str] = []
    opposite: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for line_no, text in _numbered(lines, source):
        tokens = text.split()
        if len(tokens) != 2:
            raise LabelError(f"{source}:{line_no}: expected '<class> <opposite class>', got {text!r}")
        name, opp = tokens
        if name in opposite:
            if opposite[name] != opp:
                raise LabelError(f"{source}:{line_no}: {name!r} has opposite {opp!r} here but "
                                 f"{opposite[name]!r} on line {line_of[name]}")
            continue
        classes.append(name)
        opposite[name] = opp
        line_of[name] = line_no
    for name, opp in opposite.items():
        if opp not in opposite:
            raise LabelError(f"{source}:{line_of[name]}: opposite {opp!r} of {name!r} has no line of its own")
        if opposite[opp] != name:
            raise LabelError(f"{source}:{line_of[name]}: the opposite map is not an involution: "
                             f"{name} -> {opp} -> {opposite[opp]}")
    return classes, opposite


def parse_relationships(lines: Sequence[str], source: str, classes: Sequence[str]) -> dict[str, int]:
    """Fine relationship -> class id (classes from the opposite file)."""
    class_id = {name: k for k, name in enumerate(classes)}
    fine_to_class: dict[str, int] = {}
    for line_no, text in _numbered(lines, source):
        tokens = text.split()
        if len(tokens) < 2:
            raise LabelError(f"{source}:{line_no}: expected '<fine relationship words> <class>', got {text!r}")
        fine, name = " ".join(tokens[:-1]), tokens[-1]
        if name not in class_id:
            raise LabelError(f"{source}:{line_no}: class {name!r} is not in the opposite-relationship file")
        if fine in fine_to_class and fine_to_class[fine] != class_id[name]:
            raise LabelError(f"{source}:{line_no}: fine relationship {fine!r} maps to {name!r} and to "
                             f"{classes[fine_to_class[fine]]!r}")
        fine_to_class[fine] = class_id[name]
    return fine_to_class


@dataclass(frozen=True)
class LabelMaps:
    """Merged interaction classes and relationship classes with the maps onto them."""

    interactions: list[str]              # merged interaction names; id = index
    fine_to_merged: dict[str, int]       # fine interaction -> merged id
    relationships: list[str]             # relationship classes; id = index
    fine_to_relationship: dict[str, int]  # fine relationship -> class id
    opposite: dict[int, int]             # class id -> id of the opposite direction

    @classmethod
    def load(cls, interactions_path: str | Path, relationships_path: str | Path,
             opposite_path: str | Path) -> "LabelMaps":
        interactions_path, relationships_path, opposite_path = map(
            Path, (interactions_path, relationships_path, opposite_path))
        return cls.parse(_read_lines(interactions_path), _read_lines(relationships_path),
                         _read_lines(opposite_path), sources=(str(interactions_path),
                                                              str(relationships_path), str(opposite_path)))

    @classmethod
    def from_classes(cls, interactions: Sequence[str], relationships: Sequence[str],
                     opposite: Mapping[int, int]) -> "LabelMaps":
        """Label maps whose fine names are the class names themselves (synthetic data, tests)."""
        return cls(interactions=list(interactions), fine_to_merged={name: k for k, name in enumerate(interactions)},
                   relationships=list(relationships),
                   fine_to_relationship={name: k for k, name in enumerate(relationships)}, opposite=dict(opposite))

    @classmethod
    def from_layout(cls, layout) -> "LabelMaps":
        """From a :class:`pipeline.dataset.DatasetLayout`."""
        return cls.load(layout.interactions_map, layout.relationships_map, layout.relationships_opposite)

    @classmethod
    def parse(cls, interaction_lines: Sequence[str], relationship_lines: Sequence[str],
              opposite_lines: Sequence[str], sources: tuple[str, str, str] = ("interactions",
                                                                               "relationships", "opposites")
              ) -> "LabelMaps":
        merged, fine_to_merged = parse_interactions(interaction_lines, sources[0])
        classes, opposite = parse_opposites(opposite_lines, sources[2])
        fine_to_relationship = parse_relationships(relationship_lines, sources[1], classes)
        class_id = {name: k for k, name in enumerate(classes)}
        return cls(interactions=merged, fine_to_merged=fine_to_merged, relationships=classes,
                   fine_to_relationship=fine_to_relationship,
                   opposite={class_id[a]: class_id[b] for a, b in opposite.items()})

    @property
    def num_interactions(self) -> int:
        return len(self.interactions)

    @property
    def num_relationships(self) -> int:
        return len(self.relationships)

    def interaction_of(self, fine_label: str) -> int | None:
        """Merged interaction id of a fine interaction name (``None`` if not in the map)."""
        return self.fine_to_merged.get(fine_label.strip())

    def relationship_of(self, fine_label: str) -> int | None:
        """Relationship class id of a fine relationship name (``None`` if not in the map)."""
        return self.fine_to_relationship.get(" ".join(fine_label.split()))


def label_file_texts(interactions: Sequence[tuple[str, Sequence[str]]], relationships: Mapping[str, str],
                     opposite: Mapping[str, str]) -> tuple[str, str, str]:
    """The three files' texts for merged interactions ``[(merged, [fine, ...]), ...]``, fine
    relationship -> class, and class -> opposite class (validated by parsing them back)."""
    for merged, fines in interactions:
        for name in (merged, *fines):
            if not name.strip() or any(c in name for c in "\t\n\r"):
                raise LabelError(f"interaction name {name!r} is empty or contains a tab/newline")
    for name in (*relationships.values(), *opposite.keys(), *opposite.values()):
        if len(name.split()) != 1 or name != name.strip():
            raise LabelError(f"relationship class {name!r} must be one word")
    texts = (
        "".join("\t".join([merged, *fines]) + "\n" for merged, fines in interactions),
        "".join(f"{' '.join(fine.split())} {name}\n" for fine, name in relationships.items()),
        "".join(f"{name} {opp}\n" for name, opp in opposite.items()),
    )
    LabelMaps.parse(*(text.splitlines() for text in texts))
    return texts


def write_label_files(interactions_path: str | Path, relationships_path: str | Path, opposite_path: str | Path,
                      interactions: Sequence[tuple[str, Sequence[str]]], relationships: Mapping[str, str],
                      opposite: Mapping[str, str]) -> None:
    """Write the three label files in LIReC's formats (atomically, after validating them)."""
    texts = label_file_texts(interactions, relationships, opposite)
    for path, text in zip((interactions_path, relationships_path, opposite_path), texts):
        write_text_atomic(path, text)
