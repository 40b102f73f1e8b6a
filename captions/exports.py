"""Transcript exports: TXT, SRT, WebVTT, JSON and TSV, as pure functions.

Subtitles are cut into cues a person can read. A cue never has more than
``max_lines_per_cue`` lines of at most ``max_chars_per_line`` characters; it stays on
screen at least ``min_cue_seconds`` and long enough to be read at
``max_chars_per_second``, and never longer than ``max_cue_seconds``. Cues never
overlap. When speech is faster than the reading speed allows, a cue starts when the
previous one ends (slightly after its words were spoken) rather than flash by: the
text is never dropped. Cue times are computed in whole milliseconds, the unit both
formats write, so what is written is exactly what was checked.
"""

from __future__ import annotations

import html
import json
import math
import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class ReadabilityLimits:
    max_chars_per_line: int = 42
    max_lines_per_cue: int = 2
    max_chars_per_second: int = 17
    min_cue_ms: int = 833  # five sixths of a second, a common broadcast minimum
    max_cue_ms: int = 7000

    def __post_init__(self):
        if self.max_chars_per_line < 1 or self.max_lines_per_cue < 1:
            raise ValueError("lines need at least one character and cues at least one line")
        if self.max_chars_per_second < 1 or not 0 < self.min_cue_ms <= self.max_cue_ms:
            raise ValueError("reading speed and cue durations must be positive and ordered")

    @property
    def max_chars_per_cue(self) -> int:
        # A cue must be readable within its longest allowed duration.
        by_reading = self.max_chars_per_second * self.max_cue_ms // 1000
        return max(1, min(self.max_chars_per_line * self.max_lines_per_cue, by_reading))


# Allowed ranges, for validating what a customer asks for.
LIMIT_RANGES = {
    "max_chars_per_line": (16, 80),
    "max_lines_per_cue": (1, 3),
    "max_chars_per_second": (8, 40),
    "min_cue_ms": (300, 3000),
    "max_cue_ms": (1000, 20000),
}


@dataclass
class Cue:
    start_ms: int
    end_ms: int
    lines: list[str]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


@dataclass
class _Word:
    text: str
    start: float
    end: float
    glued: bool  # written without a space after the previous word (a split long word)
    segment: int


_CONTROL = re.compile(r"[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """One line of plain text: no control or direction characters, no cue arrows."""
    text = unicodedata.normalize("NFC", str(text))
    text = _CONTROL.sub(" ", text).replace("-->", "->")
    return " ".join(text.split())


def _segment_words(index: int, segment: dict, max_chars: int) -> list[_Word]:
    start, end = float(segment["start"]), float(segment["end"])
    timed = segment.get("words") or []
    pieces: list[tuple[str, float, float]] = []
    if timed:
        for w in timed:
            word = clean_text(w.get("word", ""))
            if word:
                pieces.append((word, float(w["start"]), float(w["end"])))
    else:
        words = clean_text(segment.get("text", "")).split(" ")
        words = [w for w in words if w]
        # Without word timings, time is shared out in proportion to the characters.
        total = sum(len(w) + 1 for w in words) or 1
        t = start
        for w in words:
            step = (end - start) * (len(w) + 1) / total
            pieces.append((w, t, t + step))
            t += step
    out = []
    for word, ws, we in pieces:
        for part in word.split(" "):
            if not part:
                continue
            chunks = [part[i:i + max_chars] for i in range(0, len(part), max_chars)]
            for j, chunk in enumerate(chunks):
                out.append(_Word(chunk, ws, we, glued=j > 0, segment=index))
    return out


def _wrap(words: list[_Word], width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for w in words:
        joined = line + ("" if w.glued or not line else " ") + w.text
        if line and len(joined) > width:
            lines.append(line)
            line = w.text
        else:
            line = joined
    if line:
        lines.append(line)
    return lines


def _balanced(words: list[_Word], limits: ReadabilityLimits) -> list[str]:
    """The fewest lines, then the most even line lengths, within the line width."""
    greedy = _wrap(words, limits.max_chars_per_line)
    if len(greedy) < 2:
        return greedy
    total = sum(len(line) for line in greedy) + len(greedy) - 1
    for width in range(math.ceil(total / len(greedy)), limits.max_chars_per_line):
        lines = _wrap(words, width)
        if len(lines) == len(greedy):
            return lines
    return greedy


def _fits(words: list[_Word], limits: ReadabilityLimits) -> bool:
    lines = _wrap(words, limits.max_chars_per_line)
    chars = sum(len(line) for line in lines) + len(lines) - 1
    return len(lines) <= limits.max_lines_per_cue and chars <= limits.max_chars_per_cue


def transcript_cues(segments: list[dict], limits: ReadabilityLimits | None = None) -> list[Cue]:
    """Cut timed segments into readable, non-overlapping subtitle cues."""
    limits = limits or ReadabilityLimits()
    words: list[_Word] = []
    for i, segment in enumerate(segments):
        # A word longer than a line (or than a cue can show) is split over lines.
        words.extend(_segment_words(i, segment, min(limits.max_chars_per_line,
                                                    limits.max_chars_per_cue)))
    groups: list[list[_Word]] = []
    current: list[_Word] = []
    for w in words:
        if current and (
            w.segment != current[0].segment  # a cue never spans two segments
            or not _fits([*current, w], limits)
            or (w.end - current[0].start) * 1000 > limits.max_cue_ms
        ):
            groups.append(current)
            current = []
        current.append(w)
    if current:
        groups.append(current)

    cues: list[Cue] = []
    previous_end = 0
    for group in groups:
        lines = _balanced(group, limits)
        chars = sum(len(line) for line in lines) + len(lines) - 1
        spoken_start = max(0, math.floor(group[0].start * 1000))
        spoken_end = math.ceil(group[-1].end * 1000)
        needed = max(limits.min_cue_ms, math.ceil(chars * 1000 / limits.max_chars_per_second))
        start = max(spoken_start, previous_end)
        end = min(max(spoken_end, start + needed), start + limits.max_cue_ms)
        cues.append(Cue(start_ms=start, end_ms=end, lines=lines))
        previous_end = end
    return cues


def _clock(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def transcript_to_srt(segments: list[dict], limits: ReadabilityLimits | None = None) -> str:
    blocks = []
    for n, cue in enumerate(transcript_cues(segments, limits), start=1):
        blocks.append(f"{n}\n{_clock(cue.start_ms, ',')} --> {_clock(cue.end_ms, ',')}\n"
                      + "\n".join(cue.lines) + "\n")
    return "\n".join(blocks)


def transcript_to_vtt(segments: list[dict], limits: ReadabilityLimits | None = None) -> str:
    blocks = ["WEBVTT\n"]
    for cue in transcript_cues(segments, limits):
        # Cue text is markup in WebVTT: &, < and > must be escaped.
        text = "\n".join(html.escape(line, quote=False) for line in cue.lines)
        blocks.append(f"{_clock(cue.start_ms, '.')} --> {_clock(cue.end_ms, '.')}\n{text}\n")
    return "\n".join(blocks)


def transcript_to_txt(segments: list[dict]) -> str:
    """The words only, one paragraph: the same text as the transcript's ``text``."""
    return " ".join(t for s in segments if (t := str(s.get("text", "")).strip())) + "\n"


def transcript_to_tsv(segments: list[dict]) -> str:
    """Whisper's TSV layout: start and end in integer milliseconds, then the text."""
    rows = ["start\tend\ttext"]
    for s in segments:
        text = clean_text(s.get("text", ""))
        if not text:
            continue  # a row without words is noise to anyone reading the table
        start = round(float(s["start"]) * 1000)
        end = max(start, round(float(s["end"]) * 1000))
        rows.append(f"{start}\t{end}\t{text}")
    return "\n".join(rows) + "\n"


def transcript_to_json(*, language: str, duration_seconds: float, segments: list[dict],
                       engine: dict | None = None) -> str:
    document = {
        "language": language,
        "duration_seconds": duration_seconds,
        "text": transcript_to_txt(segments).strip(),
        "segments": segments,
    }
    if engine:
        document["engine"] = engine
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
