"""Correcting a transcript: the words change, the timings stay, the downloads follow, and
the earlier version is kept."""

import pytest
import srt
from django.test import Client

from captions.models import Transcript, TranscriptRevision
from tests.factories import CaptionJobFactory, TranscriptFactory, UserFactory

pytestmark = pytest.mark.django_db

SEGMENTS = [
    {"start": 0.0, "end": 2.5, "text": "And so my fellow Americans,",
     "words": [{"start": 0.0, "end": 0.4, "word": "And"},
               {"start": 0.4, "end": 0.7, "word": " so"},
               {"start": 0.7, "end": 1.0, "word": " my"},
               {"start": 1.0, "end": 1.6, "word": " fellow"},
               {"start": 1.6, "end": 2.5, "word": " Americans,"}]},
    {"start": 2.5, "end": 4.04, "text": "ask knot."},
]


@pytest.fixture
def job(user):
    return TranscriptFactory(job__owner=user, job__asset__owner=user, segments=SEGMENTS,
                             text="And so my fellow Americans, ask knot.").job


def srt_cues(client, job):
    body = client.get(f"/jobs/{job.pk}/transcript.srt").content.decode()
    return [(c.start.total_seconds(), c.end.total_seconds(), c.content) for c in srt.parse(body)]


def test_a_corrected_word_reaches_the_srt_with_the_same_timings(user_client, job):
    before = srt_cues(user_client, job)
    page = user_client.get(f"/jobs/{job.pk}/transcript/edit/").content.decode()
    assert '<label for="id_line_1" class="time">0:02</label>' in page

    response = user_client.post(f"/jobs/{job.pk}/transcript/edit/", {
        "line_0": "And so my fellow Americans,", "line_1": "ask not."}, follow=True)

    assert "Your corrections are saved" in response.content.decode()
    after = srt_cues(user_client, job)
    assert [(s, e) for s, e, _ in after] == [(s, e) for s, e, _ in before]
    assert "ask not." in after[-1][2] and "knot" not in " ".join(c for _, _, c in after)
    txt = user_client.get(f"/jobs/{job.pk}/transcript.txt").content.decode()
    assert "ask not." in txt
    [kept] = TranscriptRevision.objects.filter(transcript__job=job)
    assert kept.number == 1 and kept.segments == SEGMENTS
    assert kept.text == "And so my fellow Americans, ask knot."


def test_a_spelling_fix_keeps_each_words_timing(user_client, job):
    user_client.post(f"/jobs/{job.pk}/transcript/edit/", {
        "line_0": "And so, my fellow Americans,", "line_1": "ask knot."})
    words = Transcript.objects.get(job=job).segments[0]["words"]
    assert [(w["start"], w["end"]) for w in words] == [
        (w["start"], w["end"]) for w in SEGMENTS[0]["words"]]
    assert words[1]["word"] == " so,"


def test_each_correction_is_a_new_revision_and_an_unchanged_save_is_none(user_client, job):
    url = f"/jobs/{job.pk}/transcript/edit/"
    user_client.post(url, {"line_0": "And so my fellow Americans,", "line_1": "ask not."})
    user_client.post(url, {"line_0": "And so, my fellow Americans,", "line_1": "ask not."})
    user_client.post(url, {"line_0": "And so, my fellow Americans,", "line_1": "ask not."})
    assert list(TranscriptRevision.objects.filter(transcript__job=job)
                .values_list("number", flat=True)) == [1, 2]


def test_an_empty_line_is_refused_beside_it_and_nothing_changes(user_client, job):
    response = user_client.post(f"/jobs/{job.pk}/transcript/edit/",
                                {"line_0": "  ", "line_1": "ask not."})
    assert response.status_code == 400
    assert "A line cannot be empty" in response.content.decode()
    assert Transcript.objects.get(job=job).segments == SEGMENTS
    assert not TranscriptRevision.objects.exists()


def test_another_customers_transcript_cannot_be_seen_or_corrected(job):
    stranger = Client()
    stranger.force_login(UserFactory())
    url = f"/jobs/{job.pk}/transcript/edit/"
    assert stranger.get(url).status_code == 404
    assert stranger.post(url, {"line_1": "hacked"}).status_code == 404
    assert Transcript.objects.get(job=job).segments == SEGMENTS


def test_a_running_job_has_nothing_to_correct_yet(user_client, user):
    running = CaptionJobFactory(owner=user, status="processing")
    response = user_client.get(f"/jobs/{running.pk}/transcript/edit/", follow=True)
    assert "This job has no transcript to correct." in response.content.decode()
