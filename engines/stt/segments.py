"""What both engines do to their segments: drop punctuation alone, keep time order."""

from __future__ import annotations

import re

from .model import Segment

_WORD = re.compile(r"\w")


def is_speech(text: str) -> bool:
    """Whether a segment's text has a word: punctuation alone (". . ." on low noise) is
    not speech."""
    return bool(_WORD.search(text))


def in_time_order(candidates: list[tuple[Segment, float]]) -> list[Segment]:
    """Segments sorted by start, each after the previous one and inside its own window."""
    segments: list[Segment] = []
    last_end = 0.0
    for segment, window_end in sorted(candidates, key=lambda c: (c[0].start, c[0].end)):
        s = min(max(segment.start, last_end), window_end)
        e = min(max(segment.end, s), window_end)
        if segment.words is not None:
            for word in segment.words:
                word.start = round(min(max(word.start, s), e), 3)
                word.end = round(min(max(word.end, word.start), e), 3)
        segment.start, segment.end = round(float(s), 3), round(float(e), 3)
        segments.append(segment)
        last_end = e
    return segments
