"""Hostile transcript text through the SRT, WebVTT and TSV writers the API serves.

Segments with markup, arrows, tabs, blank text and times out of order still give files
that standard parsers read back, in time order, with the text made harmless.
"""

import io

import srt
import webvtt

from captions.exports import transcript_to_srt, transcript_to_tsv, transcript_to_vtt

SEGMENTS = [
    {"start": 0.0, "end": 1.2346, "text": " Hello <b>world</b> & friends --> "},
    {"start": 1.2346, "end": 2.0, "text": "   "},
    {"start": 3661.5, "end": 3662.0, "text": "first line\n\n\nsecond line"},
    {"start": 5.0, "end": 4.0, "text": "end before start\twith a tab"},
]


def test_srt_parses_back_in_order_without_overlap_or_blank_cues():
    cues = list(srt.parse(transcript_to_srt(SEGMENTS)))
    assert [c.content for c in cues] == [
        "Hello <b>world</b> & friends ->", "first line second line",
        "end before start with a tab",
    ]
    assert all(c.start < c.end for c in cues)
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:], strict=False))
    assert cues[0].start.total_seconds() == 0.0
    assert cues[1].start.total_seconds() == 3661.5


def test_vtt_parses_back_with_markup_escaped_and_no_arrow_in_cue_text():
    text = transcript_to_vtt(SEGMENTS)
    assert text.startswith("WEBVTT\n\n")
    cues = list(webvtt.from_buffer(io.StringIO(text)))
    assert len(cues) == 3
    assert "&lt;b&gt;world&lt;/b&gt; &amp; friends -&gt;" in cues[0].raw_text
    assert all("-->" not in c.raw_text for c in cues)


def test_tsv_has_a_header_one_line_per_spoken_segment_and_no_negative_spans():
    assert transcript_to_tsv(SEGMENTS).splitlines() == [
        "start\tend\ttext",
        "0\t1235\tHello <b>world</b> & friends ->",
        "3661500\t3662000\tfirst line second line",
        "5000\t5000\tend before start with a tab",
    ]


def test_empty_transcript_gives_valid_empty_files():
    assert list(srt.parse(transcript_to_srt([]))) == []
    assert list(webvtt.from_buffer(io.StringIO(transcript_to_vtt([])))) == []
    assert transcript_to_tsv([]) == "start\tend\ttext\n"
