"""Citation markers: ``[1]``, ``[1, 3]``, ``[2-4]``, ``[Source 2]``, ``[1 and 2]`` — one definition for
the citation check, the chat UI's links and the evaluation."""

from __future__ import annotations

import re

MARKER = re.compile(
    r"\[(?:(?:sources?|papers?|refs?)\s*)?(\d+(?:\s*(?:[,;]|and|-|–)\s*(?:(?:sources?|papers?)\s*)?\d+)*)\]",
    re.IGNORECASE,
)
MAX_RANGE = 20  # a range marker wider than this ("[1-999]") is read as its two ends


def parse_numbers(group: str) -> list[int]:
    """The numbers inside one marker (its first group): ``"1, 3-4"`` -> ``[1, 3, 4]``."""
    numbers: list[int] = []
    for part in re.split(r"\s*(?:[,;]|and)\s*", group):
        bounds = [int(n) for n in re.findall(r"\d+", part)]
        if len(bounds) == 2 and re.search(r"[-–]", part) and bounds[0] <= bounds[1] <= bounds[0] + MAX_RANGE:
            numbers.extend(range(bounds[0], bounds[1] + 1))
        else:
            numbers.extend(bounds)
    return numbers


def marker_numbers(text: str) -> list[int]:
    """Every number cited by a marker in ``text``, in order, repeats included."""
    return [n for match in MARKER.finditer(text) for n in parse_numbers(match.group(1))]
