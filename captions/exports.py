"""Transcripts as subtitle and data files: SRT, WebVTT and TSV.

Each writer takes the transcript's segments (``[{"start", "end", "text"}]``, seconds)
and returns text that standard parsers read back to the same cues.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXPORT_FORMATS = ("srt", "vtt", "tsv")

_BLANK_LINES = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    text: str


def _cues(segments: list[dict]) -> list[Cue]:
    """Segments as cues with whole-millisecond times; empty segments are dropped.

    A blank line ends a cue in SRT and VTT, so text never contains one.
    """
    cues = []
    for seg in segments:
        text = _BLANK_LINES.sub("\n", str(seg.get("text", "")).replace("\r", "")).strip()
        if not text:
            continue
        start = max(0, round(float(seg.get("start", 0)) * 1000))
        end = max(start, round(float(seg.get("end", 0)) * 1000))
        cues.append(Cue(start, end, text))
    return cues


def _clock(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def transcript_to_srt(segments: list[dict]) -> str:
    blocks = [
        f"{i}\n{_clock(c.start_ms, ',')} --> {_clock(c.end_ms, ',')}\n{c.text}\n"
        for i, c in enumerate(_cues(segments), start=1)
    ]
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    # "-->" would end the cue text early; &, < and > are markup in WebVTT.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def transcript_to_vtt(segments: list[dict]) -> str:
    blocks = [
        f"{_clock(c.start_ms, '.')} --> {_clock(c.end_ms, '.')}\n{_vtt_escape(c.text)}\n"
        for c in _cues(segments)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def transcript_to_tsv(segments: list[dict]) -> str:
    """Tab-separated ``start``, ``end`` (milliseconds) and ``text``, one cue a line."""
    lines = ["start\tend\ttext"]
    for c in _cues(segments):
        text = " ".join(c.text.replace("\t", " ").split())
        lines.append(f"{c.start_ms}\t{c.end_ms}\t{text}")
    return "\n".join(lines) + "\n"


def transcript_export(*, segments: list[dict], fmt: str) -> tuple[str, str]:
    """The file's text and its content type, for ``fmt`` in EXPORT_FORMATS."""
    if fmt == "srt":
        return transcript_to_srt(segments), "application/x-subrip; charset=utf-8"
    if fmt == "vtt":
        return transcript_to_vtt(segments), "text/vtt; charset=utf-8"
    if fmt == "tsv":
        return transcript_to_tsv(segments), "text/tab-separated-values; charset=utf-8"
    raise ValueError(f"unknown export format {fmt!r}")
