"""Which relationship holds for an ordered pair of characters at a clip (LIReC ``add_relationships``).

Per movie, in clip order: the label the clip states for ``(a, b)``; else the opposite of the label it
states for ``(b, a)``; else the pair's label from the latest earlier clip that stated one (LIReC
propagates every known pair to later clips); else none. The annotations stage feeds it the clip's
relationship nodes, the samples stage the clip's annotation rows: both use this one rule.
"""
from __future__ import annotations

Pair = tuple[str, str]


class PairRelationships:
    """The relationships of one movie's ordered pairs, clip after clip."""

    def __init__(self, opposite: dict[int, int]):
        self.opposite = opposite
        self.known: dict[Pair, int] = {}

    def update(self, direct: dict[Pair, int]) -> dict[Pair, int]:
        """Enter the next clip, which states ``direct`` labels; return what it states for each pair
        (direct labels, plus the opposite of a reverse pair's label where a pair has none)."""
        stated = dict(direct)
        for (a, b), relationship in direct.items():
            if (b, a) not in stated and relationship in self.opposite:
                stated[(b, a)] = self.opposite[relationship]
        self.known.update(stated)
        return stated

    def at_clip(self, a: str, b: str) -> int | None:
        """The pair's relationship at the current clip (None: never stated so far)."""
        return self.known.get((a, b))
