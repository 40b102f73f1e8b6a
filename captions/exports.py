"""Transcript exports: TXT, SRT, WebVTT, JSON and TSV, as pure functions.

Subtitles are cut into cues a person can read. A cue never has more than
``max_lines_per_cue`` lines of at most ``max_chars_per_line`` characters; it stays on
screen at least ``min_cue_seconds`` and long enough to be read at
``max_chars_per_second``, and never longer than ``max_cue_seconds``. Cues never
overlap. When speech is faster than the reading speed allows, a cue starts when the
previous one ends (slightly after its words were spoken) rather than flash by: the
text is never dropped. Cue times are computed in whole milliseconds, the unit both
formats write, so what is written is exactly what was checked.

Where cues and lines break follows professional subtitling guidelines (the BBC's, and
Netflix's timed-text style guide): after a sentence or a clause, else before a
conjunction or a preposition, never between an article and its noun when it can be
helped; a cue of one or two words joins its neighbour when the limits allow. The
breaks are chosen together, by a shortest path over the possible cues, not one at a
time. Given the media's duration, no cue ends after the media does: when the last
words come too fast to read before the end, their cues are shortened in proportion
rather than run past it.
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
    speaker: str = ""


_CONTROL = re.compile(r"[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


# Characters no file name should carry on any system, besides the control marks above.
_UNSAFE_IN_NAMES = re.compile(r'[<>:"/\\|?*%;\x00]+')
_MAX_NAME_CHARS = 100


def export_filename(original_name: str, fmt: str) -> str:
    """The download's name: the upload's name with the export's extension, made safe.

    ``interview (final).mp4`` gives ``interview (final).srt``. Folders, control and
    direction marks, characters Windows refuses and leading dots are dropped; the stem
    is cut to 100 characters; an empty result falls back to ``transcript``.
    """
    name = unicodedata.normalize("NFC", original_name or "")
    name = re.split(r"[/\\]", name)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    stem = _CONTROL.sub("", stem)
    stem = _UNSAFE_IN_NAMES.sub("_", stem)
    stem = " ".join(stem.split())[:_MAX_NAME_CHARS].strip(" ._-")
    return f"{stem or 'transcript'}.{fmt}"


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
    speaker = clean_text(segment.get("speaker") or "")
    out = []
    if speaker and pieces:  # the label opens the segment's first cue: "[Left] He began…"
        out.append(_Word(f"[{speaker}]"[:max_chars], pieces[0][1], pieces[0][1], glued=False,
                         segment=index, speaker=speaker))
    for word, ws, we in pieces:
        for part in word.split(" "):
            if not part:
                continue
            chunks = [part[i:i + max_chars] for i in range(0, len(part), max_chars)]
            for j, chunk in enumerate(chunks):
                out.append(_Word(chunk, ws, we, glued=j > 0, segment=index, speaker=speaker))
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


# Words a line or cue should not end on (it would split a phrase), and words a new one
# may start with (a conjunction or preposition opens a phrase).
_CLINGING = frozenset("a an the my your his her its our their this that these those to of "
                      "and or but no not very".split())
_OPENING = frozenset("and but or nor so yet because although though while whereas if unless "
                     "until when where which who whom whose that than then as to of in on at "
                     "for with from by about into onto over under after before between "
                     "through without within during".split())
_SENTENCE_END = (".", "?", "!", "…", "。", "？", "！")
_CLAUSE_END = (",", ";", ":", "—", "–", "-", "，", "、")


def _break_cost(before: _Word, after: _Word) -> float:
    """How badly a break between two words splits a phrase (0: not at all)."""
    if before.glued or after.glued:
        return 5.0  # inside a word that was split because it is longer than a line
    if before.segment != after.segment or before.text.endswith(_SENTENCE_END):
        return 0.0
    if before.text.endswith(_CLAUSE_END):
        return 0.3
    word = before.text.lower().strip("\"'“”‘’()[]")
    if word in _CLINGING:
        return 2.5
    following = after.text.strip("\"'“”‘’()[]")
    if following[:1].isupper() and following.split("'")[0] != "I":
        return 2.0  # a name inside a sentence ends its phrase ("my fellow | Americans")
    if following.lower() in _OPENING:
        return 0.6
    return 1.5


def _balanced(words: list[_Word], limits: ReadabilityLimits) -> list[str]:
    """The fewest lines; for two, the split that best keeps phrases whole and lines even."""
    greedy = _wrap(words, limits.max_chars_per_line)
    if len(greedy) != 2:
        return _even(words, greedy, limits)
    best, best_score = greedy, math.inf
    for k in range(1, len(words)):
        top, bottom = _wrap(words[:k], 10**9), _wrap(words[k:], 10**9)
        if not top or not bottom or max(len(top[0]), len(bottom[0])) > limits.max_chars_per_line:
            continue
        unevenness = abs(len(top[0]) - len(bottom[0])) / limits.max_chars_per_line
        score = _break_cost(words[k - 1], words[k]) + 2 * unevenness
        if score < best_score:
            best, best_score = [top[0], bottom[0]], score
    return best


def _even(words: list[_Word], greedy: list[str], limits: ReadabilityLimits) -> list[str]:
    """The most even line lengths with the same number of lines as the greedy wrap."""
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


# A pause this long between two words always ends a cue: the next words would
# otherwise be on screen before they are said.
_PAUSE_SECONDS = 1.5
# What a cue costs: one per cue (fewer, fuller cues), more for a cue of one or two
# words, which its neighbours should take when they can.
_CUE_COST = 1.0
_ORPHAN_COST = 3.0
# A cue that holds the end of one segment and the start of the next: worth it only to
# save an orphan, and only when no more than _JOIN_GAP_SECONDS lie between them.
_CROSSING_COST = 2.5
_JOIN_GAP_SECONDS = 0.3


def _groups(words: list[_Word], limits: ReadabilityLimits) -> list[list[_Word]]:
    """Words cut into cues by the cheapest path over every feasible cue."""
    n = len(words)
    best = [0.0] + [math.inf] * n  # best[j]: cheapest cost of cutting words[:j]
    back = [0] * (n + 1)
    width, max_lines = limits.max_chars_per_line, limits.max_lines_per_cue
    max_chars, max_ms = limits.max_chars_per_cue, limits.max_cue_ms
    breaks = [_break_cost(words[k], words[k + 1]) for k in range(n - 1)]
    for i in range(n):
        if best[i] == math.inf:
            continue
        crossings = lines = line = chars = 0
        for j in range(i + 1, n + 1):
            b = words[j - 1]
            # The cue words[i:j] wrapped greedily, one word at a time (as ``_fits``).
            gap = 0 if b.glued or not lines else 1
            if lines and line + gap + len(b.text) > width:
                lines, line, chars = lines + 1, len(b.text), chars + len(b.text)
            else:
                lines, line, chars = max(lines, 1), line + gap + len(b.text),\
                    chars + gap + len(b.text)
            if j - i > 1:
                a = words[j - 2]
                if (lines > max_lines or chars + lines - 1 > max_chars
                        or (b.end - words[i].start) * 1000 > max_ms
                        or b.start - a.end > _PAUSE_SECONDS):
                    break
                if b.segment != a.segment:
                    # Two segments share a cue only when one follows the other closely,
                    # and a speaker's words never share one with another's.
                    if b.speaker != a.speaker or not 0 <= b.start - a.end <= _JOIN_GAP_SECONDS:
                        break
                    crossings += 1
            cost = best[i] + _CUE_COST + _CROSSING_COST * crossings
            if j < n:
                cost += breaks[j - 1]
            if j - i <= 2 and n > 2:
                cost += _ORPHAN_COST
            if cost < best[j]:
                best[j], back[j] = cost, i
    groups, j = [], n
    while j > 0:
        groups.append(words[back[j]:j])
        j = back[j]
    return groups[::-1]


def transcript_cues(segments: list[dict], limits: ReadabilityLimits | None = None,
                    duration_seconds: float | None = None) -> list[Cue]:
    """Cut timed segments into readable, non-overlapping subtitle cues, all ending by
    ``duration_seconds`` when it is given."""
    limits = limits or ReadabilityLimits()
    words: list[_Word] = []
    for i, segment in enumerate(segments):
        # A word longer than a line (or than a cue can show) is split over lines.
        words.extend(_segment_words(i, segment, min(limits.max_chars_per_line,
                                                    limits.max_chars_per_cue)))
    cues: list[Cue] = []
    spoken: list[int] = []
    previous_end = 0
    for group in _groups(words, limits):
        lines = _balanced(group, limits)
        chars = sum(len(line) for line in lines) + len(lines) - 1
        spoken_start = max(0, math.floor(group[0].start * 1000))
        spoken_end = math.ceil(group[-1].end * 1000)
        needed = max(limits.min_cue_ms, math.ceil(chars * 1000 / limits.max_chars_per_second))
        start = max(spoken_start, previous_end)
        end = min(max(spoken_end, start + needed), start + limits.max_cue_ms)
        cues.append(Cue(start_ms=start, end_ms=end, lines=lines))
        spoken.append(spoken_start)
        previous_end = end
    if duration_seconds is not None and cues:
        _end_with_the_media(cues, spoken, math.floor(duration_seconds * 1000))
    return cues


def _end_with_the_media(cues: list[Cue], spoken: list[int], limit: int) -> None:
    """Fit the cues that run past the media's end back inside it.

    The overrun comes from the last run of back-to-back cues that the reading speed
    pushed later than their words. That run, from the first cue of it shown when its
    words are spoken, is compressed in proportion onto the time left before the end:
    order and relative lengths are kept, nothing overlaps, every cue shortens a little
    rather than the last ones vanish.
    """
    if not cues or cues[-1].end_ms <= limit:
        return
    k = len(cues) - 1
    while k > 0 and cues[k].start_ms > spoken[k] and cues[k - 1].end_ms == cues[k].start_ms:
        k -= 1
    while k > 0 and cues[k].start_ms >= limit:
        k -= 1
    origin = min(cues[k].start_ms, max(0, limit - 1))
    span, room = cues[-1].end_ms - origin, max(1, limit - origin)
    previous_end = cues[k - 1].end_ms if k else 0
    for cue in cues[k:]:
        cue.start_ms = max(previous_end, origin + (cue.start_ms - origin) * room // span)
        cue.end_ms = max(cue.start_ms + 1, origin + (cue.end_ms - origin) * room // span)
        previous_end = cue.end_ms


def _clock(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def transcript_to_srt(segments: list[dict], limits: ReadabilityLimits | None = None,
                      duration_seconds: float | None = None) -> str:
    blocks = []
    for n, cue in enumerate(transcript_cues(segments, limits, duration_seconds), start=1):
        blocks.append(f"{n}\n{_clock(cue.start_ms, ',')} --> {_clock(cue.end_ms, ',')}\n"
                      + "\n".join(cue.lines) + "\n")
    return "\n".join(blocks)


def transcript_to_vtt(segments: list[dict], limits: ReadabilityLimits | None = None,
                      duration_seconds: float | None = None) -> str:
    blocks = ["WEBVTT\n"]
    for cue in transcript_cues(segments, limits, duration_seconds):
        # Cue text is markup in WebVTT: &, < and > must be escaped.
        text = "\n".join(html.escape(line, quote=False) for line in cue.lines)
        blocks.append(f"{_clock(cue.start_ms, '.')} --> {_clock(cue.end_ms, '.')}\n{text}\n")
    return "\n".join(blocks)


def _spoken(segment: dict) -> str:
    """A segment's text, after its speaker's label when it has one: "Left: Hello"."""
    text = str(segment.get("text", "")).strip()
    speaker = clean_text(segment.get("speaker") or "")
    return f"{speaker}: {text}" if speaker and text else text


def transcript_to_txt(segments: list[dict]) -> str:
    """The words only, one paragraph (a line per turn when speakers are labelled): the
    same text as the transcript's ``text``."""
    separator = "\n" if any(s.get("speaker") for s in segments) else " "
    return separator.join(t for s in segments if (t := _spoken(s))) + "\n"


def transcript_to_tsv(segments: list[dict]) -> str:
    """Whisper's TSV layout: start and end in integer milliseconds, then the text."""
    rows = ["start\tend\ttext"]
    for s in segments:
        text = clean_text(_spoken(s))
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
