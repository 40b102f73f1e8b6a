"""The front page's worked example: real output of the product for a public-domain clip.

The segments are what `manage.py transcribe jfk.flac --model base --format json` printed
for the first 11 seconds of John F. Kennedy's 1961 inaugural address (the clip the test
suite uploads); the subtitles are rendered from them by the same code as every export.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .exports import transcript_cues, transcript_to_srt

SOURCE = "John F. Kennedy, inaugural address, 20 January 1961 (public domain), 11 seconds"
DURATION_SECONDS = 11.0
SEGMENTS: list[dict] = [
    {"start": 0.0, "end": 7.42,
     "text": "And so my fellow Americans ask not what your country can do for you,",
     "words": [
         {"start": 0.0, "end": 0.52, "word": " And"},
         {"start": 0.52, "end": 0.84, "word": " so"},
         {"start": 0.84, "end": 1.18, "word": " my"},
         {"start": 1.18, "end": 1.56, "word": " fellow"},
         {"start": 1.56, "end": 2.1, "word": " Americans"},
         {"start": 2.1, "end": 3.72, "word": " ask"},
         {"start": 3.72, "end": 4.24, "word": " not"},
         {"start": 4.24, "end": 5.52, "word": " what"},
         {"start": 5.52, "end": 5.76, "word": " your"},
         {"start": 5.76, "end": 6.24, "word": " country"},
         {"start": 6.24, "end": 6.62, "word": " can"},
         {"start": 6.62, "end": 6.82, "word": " do"},
         {"start": 6.82, "end": 7.08, "word": " for"},
         {"start": 7.08, "end": 7.42, "word": " you,"},
     ]},
    {"start": 7.42, "end": 10.36, "text": "ask what you can do for your country.",
     "words": [
         {"start": 7.42, "end": 8.46, "word": " ask"},
         {"start": 8.46, "end": 8.76, "word": " what"},
         {"start": 8.76, "end": 9.04, "word": " you"},
         {"start": 9.04, "end": 9.32, "word": " can"},
         {"start": 9.32, "end": 9.56, "word": " do"},
         {"start": 9.56, "end": 9.78, "word": " for"},
         {"start": 9.78, "end": 9.94, "word": " your"},
         {"start": 9.94, "end": 10.36, "word": " country."},
     ]},
]
# A caption the way the product's writer is asked for one (LinkedIn, professional, short).
CAPTION = ("Sixty-odd years on, one line still sets the standard for a call to action: "
           "\u201cask not what your country can do for you \u2014 ask what you can do for "
           "your country.\u201d What is the one thing your team could give this week?")


@dataclass(frozen=True)
class Showcase:
    source: str
    transcript: list[tuple[str, str]]
    srt: str
    cue_count: int
    caption: str


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


@cache
def showcase() -> Showcase:
    return Showcase(
        source=SOURCE,
        transcript=[(_clock(s["start"]), s["text"]) for s in SEGMENTS],
        srt=transcript_to_srt(SEGMENTS, duration_seconds=DURATION_SECONDS),
        cue_count=len(transcript_cues(SEGMENTS, duration_seconds=DURATION_SECONDS)),
        caption=CAPTION,
    )
