"""Transcript exports: subtitles people can read, that standard parsers read back."""

import html
import json
import random

import pytest
import srt
import webvtt

from captions.exports import (
    ReadabilityLimits,
    transcript_cues,
    transcript_to_json,
    transcript_to_srt,
    transcript_to_tsv,
    transcript_to_txt,
    transcript_to_vtt,
)


def vtt_seconds(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def parsed_srt(text: str) -> list[tuple[float, float, list[str]]]:
    return [(s.start.total_seconds(), s.end.total_seconds(), s.content.split("\n"))
            for s in srt.parse(text)]


def parsed_vtt(text: str) -> list[tuple[float, float, list[str]]]:
    return [(vtt_seconds(c.start), vtt_seconds(c.end), [html.unescape(x) for x in c.lines])
            for c in webvtt.from_string(text)]


def assert_readable(cues, limits: ReadabilityLimits):
    """Every cue respects every limit, and cues are in order without overlap."""
    assert cues
    previous_end = 0.0
    for start, end, lines in cues:
        assert start >= previous_end - 1e-9, (start, previous_end)
        assert end > start
        duration_ms = round((end - start) * 1000)
        assert limits.min_cue_ms <= duration_ms <= limits.max_cue_ms, (start, end, lines)
        assert 1 <= len(lines) <= limits.max_lines_per_cue, lines
        assert all(0 < len(line) <= limits.max_chars_per_line for line in lines), lines
        chars = len(" ".join(lines))
        assert chars / (duration_ms / 1000) <= limits.max_chars_per_second + 1e-9, (
            chars, duration_ms)
        previous_end = end


SPEECH = [
    {"start": 0.0, "end": 4.2, "text": " And so, my fellow Americans, ask not what your country"
                                       " can do for you,"},
    {"start": 4.2, "end": 10.9, "text": " ask what you can do for your country."},
    {"start": 12.0, "end": 13.0, "text": " Fast words crammed into one short second here"},
    {"start": 13.0, "end": 30.0, "text": " A long slow segment that lasts seventeen seconds and"
                                         " should be split into several cues of at most seven"
                                         " seconds each."},
]


@pytest.mark.parametrize("limits", [
    ReadabilityLimits(),
    ReadabilityLimits(max_chars_per_line=16, max_lines_per_cue=1, max_chars_per_second=8,
                      min_cue_ms=1500, max_cue_ms=3000),
    ReadabilityLimits(max_chars_per_line=80, max_lines_per_cue=3, max_chars_per_second=40,
                      min_cue_ms=300, max_cue_ms=20000),
])
def test_srt_and_vtt_parse_back_and_respect_the_limits(limits):
    srt_cues = parsed_srt(transcript_to_srt(SPEECH, limits))
    vtt_cues = parsed_vtt(transcript_to_vtt(SPEECH, limits))
    assert_readable(srt_cues, limits)
    assert_readable(vtt_cues, limits)
    assert srt_cues == vtt_cues
    # Every word is in the subtitles, in order; nothing is dropped to meet a limit.
    words = " ".join(" ".join(lines) for _, _, lines in srt_cues).split()
    assert words == " ".join(s["text"] for s in SPEECH).split()


def test_cues_follow_speech_and_break_at_segments():
    cues = transcript_cues(SPEECH)
    assert cues[0].start_ms == 0
    # The third segment starts after a pause; its cue starts with it, not before.
    fast = next(c for c in cues if c.text.startswith("Fast"))
    assert fast.start_ms >= 12_000
    # Too fast to read in one second: it stays up long enough to be read at 17 cps.
    assert fast.end_ms - fast.start_ms >= len(fast.text) * 1000 / 17
    # The 17-second segment is split into cues of at most 7 seconds.
    assert all(c.end_ms - c.start_ms <= 7000 for c in cues)


def test_two_line_cues_are_balanced():
    segment = [{"start": 0, "end": 6, "text": "one two three four five six seven eight nine ten"
                                              " eleven twelve"}]
    cue = transcript_cues(segment, ReadabilityLimits(max_chars_per_line=42))[0]
    assert len(cue.lines) == 2
    assert abs(len(cue.lines[0]) - len(cue.lines[1])) <= 8, cue.lines


def test_word_timings_are_used_when_present():
    segment = [{"start": 0.0, "end": 20.0, "text": " early late", "words": [
        {"word": " early", "start": 0.0, "end": 0.5, "probability": 0.9},
        {"word": " late", "start": 18.0, "end": 18.6, "probability": 0.9},
    ]}]
    cues = transcript_cues(segment)
    assert [c.text for c in cues] == ["early", "late"]
    assert cues[1].start_ms == 18_000


def test_hostile_text_cannot_break_the_subtitle_files():
    segments = [
        {"start": 0, "end": 2, "text": "line one\n\nline two --> 00:00:09,000 <script>&amp;"},
        {"start": 2, "end": 4, "text": "\u202eevil\u202c name\x00 with a " + "x" * 120},
    ]
    limits = ReadabilityLimits()
    srt_text = transcript_to_srt(segments, limits)
    vtt_text = transcript_to_vtt(segments, limits)
    assert_readable(parsed_srt(srt_text), limits)
    assert_readable(parsed_vtt(vtt_text), limits)
    assert "\u202e" not in srt_text and "\x00" not in srt_text
    assert "<script>" not in vtt_text
    assert "&lt;script&gt;" in vtt_text
    assert srt_text.count("-->") == len(list(srt.parse(srt_text)))


def test_random_transcripts_always_give_readable_subtitles():
    rng = random.Random(7)
    alphabet = "abcdefghij klmnop qrstuv wxyz ,.?!éßж漢字"
    for _ in range(30):
        t, segments = 0.0, []
        for _ in range(rng.randint(1, 12)):
            t += rng.choice([0, 0, 0.3, 2.0])
            length = rng.choice([0.0, 0.2, 1.0, 5.0, 12.0])
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 160)))
            segments.append({"start": t, "end": t + length, "text": text})
            t += length
        limits = ReadabilityLimits(
            max_chars_per_line=rng.randint(16, 80), max_lines_per_cue=rng.randint(1, 3),
            max_chars_per_second=rng.randint(8, 40), min_cue_ms=rng.randint(300, 3000),
            max_cue_ms=rng.randint(3000, 20000),
        )
        if not any(s["text"].strip() for s in segments):
            continue
        assert_readable(parsed_srt(transcript_to_srt(segments, limits)), limits)
        assert_readable(parsed_vtt(transcript_to_vtt(segments, limits)), limits)


def test_txt_tsv_and_json_exports():
    assert transcript_to_txt(SPEECH).startswith("And so, my fellow Americans")
    assert transcript_to_txt(SPEECH).endswith("each.\n")
    rows = transcript_to_tsv(SPEECH).splitlines()
    assert rows[0] == "start\tend\ttext"
    assert rows[1].split("\t")[:2] == ["0", "4200"]
    assert len(rows) == len(SPEECH) + 1
    document = json.loads(transcript_to_json(language="en", duration_seconds=30.0,
                                             segments=SPEECH, engine={"model": "m"}))
    assert document["segments"] == SPEECH
    assert document["engine"] == {"model": "m"}
    assert document["text"] == transcript_to_txt(SPEECH).strip()


def test_empty_transcript_gives_valid_empty_files():
    assert list(srt.parse(transcript_to_srt([]))) == []
    assert list(webvtt.from_string(transcript_to_vtt([]))) == []


def test_no_cue_ends_after_the_media_even_when_the_last_words_come_fast():
    segments = [
        {"start": 0.0, "end": 1.0, "text": " Hello."},
        {"start": 1.0, "end": 2.4, "text": " This sentence is spoken far too quickly to be read "
                                           "at seventeen characters a second before the end."},
    ]
    for limits in (ReadabilityLimits(), ReadabilityLimits(max_chars_per_line=16,
                                                          max_lines_per_cue=1)):
        for cues in (parsed_srt(transcript_to_srt(segments, limits, 2.5)),
                     parsed_vtt(transcript_to_vtt(segments, limits, 2.5))):
            assert cues[-1][1] <= 2.5
            assert all(a[1] <= b[0] and b[0] < b[1] for a, b in zip(cues, cues[1:], strict=False))
            words = " ".join(" ".join(lines) for *_, lines in cues).split()
            assert words == " ".join(s["text"] for s in segments).split()  # nothing dropped
    # Without the duration the same cues run on past it, to be read at 17 cps.
    assert transcript_cues(segments)[-1].end_ms > 2500


def test_cues_and_lines_break_after_clauses_and_before_phrases():
    segment = [{"start": 0.0, "end": 10.9, "text": " And so my fellow Americans, ask not what "
                "your country can do for you, ask what you can do for your country."}]
    one_line = transcript_cues(segment, ReadabilityLimits(max_lines_per_cue=1))
    assert [c.text for c in one_line] == [
        "And so my fellow Americans,", "ask not what your country can do for you,",
        "ask what you can do for your country."]
    two_lines = transcript_cues(segment)
    assert two_lines[0].lines[0] == "And so my fellow Americans,"
    for cue in two_lines:
        for line in cue.lines:  # no line ends on a word that belongs to the next one
            assert line.split()[-1].lower() not in {"the", "a", "your", "my", "of", "to"}


def test_a_one_or_two_word_cue_joins_its_neighbour_when_the_limits_allow():
    segments = [
        {"start": 0.0, "end": 4.5, "text": " Mister Quilter is the apostle of the middle "
                                           "classes and we are glad to welcome his"},
        {"start": 4.5, "end": 5.3, "text": " gospel."},
    ]
    cues = transcript_cues(segments)
    assert cues[-1].text.endswith("welcome his gospel.")
    assert all(len(c.text.split()) > 2 for c in cues), [c.text for c in cues]
    # A word said alone after a long pause stays on its own: it is a separate moment.
    apart = [segments[0], {"start": 9.0, "end": 9.8, "text": " gospel."}]
    assert transcript_cues(apart)[-1].text == "gospel."


def test_random_transcripts_end_with_their_media():
    rng = random.Random(11)
    for _ in range(30):
        t, segments = 0.0, []
        for _ in range(rng.randint(1, 10)):
            t += rng.choice([0, 0.1, 1.0])
            length = rng.choice([0.1, 0.5, 2.0, 6.0])
            text = " ".join("".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 9)))
                            for _ in range(rng.randint(1, 30)))
            segments.append({"start": t, "end": t + length, "text": text})
            t += length
        cues = parsed_srt(transcript_to_srt(segments, ReadabilityLimits(), t))
        assert cues[-1][1] <= t + 1e-9
        assert all(a[1] <= b[0] and b[0] < b[1] for a, b in zip(cues, cues[1:], strict=False))
        assert " ".join(" ".join(lines) for *_, lines in cues).split() == (
            " ".join(s["text"] for s in segments).split())


def test_a_name_is_not_cut_from_the_words_before_it():
    from captions.showcase import DURATION_SECONDS, SEGMENTS

    cues = transcript_cues(SEGMENTS, duration_seconds=DURATION_SECONDS)
    assert cues[0].text == "And so my fellow Americans", [c.text for c in cues]
    assert cues[-1].end_ms <= DURATION_SECONDS * 1000
