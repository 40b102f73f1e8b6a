"""SRT, WebVTT and TSV writers: standard parsers read back the same cues."""

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


def test_srt_parses_back_to_the_same_cues():
    cues = list(srt.parse(transcript_to_srt(SEGMENTS)))
    assert [(c.index, c.start.total_seconds(), c.end.total_seconds(), c.content)
            for c in cues] == [
        (1, 0.0, 1.235, "Hello <b>world</b> & friends -->"),
        (2, 3661.5, 3662.0, "first line\nsecond line"),
        (3, 5.0, 5.0, "end before start\twith a tab"),
    ]


def test_vtt_parses_back_with_markup_escaped():
    text = transcript_to_vtt(SEGMENTS)
    assert text.startswith("WEBVTT\n\n")
    assert "-->" not in text.split("\n", 3)[3].split("\n")[0]  # not inside cue text
    cues = list(webvtt.from_buffer(io.StringIO(text)))
    assert [(c.start, c.end) for c in cues] == [
        ("00:00:00.000", "00:00:01.235"), ("01:01:01.500", "01:01:02.000"),
        ("00:00:05.000", "00:00:05.000"),
    ]
    assert "&lt;b&gt;world&lt;/b&gt; &amp; friends --&gt;" in cues[0].raw_text


def test_tsv_has_a_header_and_one_line_per_cue_in_milliseconds():
    assert transcript_to_tsv(SEGMENTS).splitlines() == [
        "start\tend\ttext",
        "0\t1235\tHello <b>world</b> & friends -->",
        "3661500\t3662000\tfirst line second line",
        "5000\t5000\tend before start with a tab",
    ]


def test_empty_transcript_gives_valid_empty_files():
    assert list(srt.parse(transcript_to_srt([]))) == []
    assert list(webvtt.from_buffer(io.StringIO(transcript_to_vtt([])))) == []
    assert transcript_to_tsv([]) == "start\tend\ttext\n"
