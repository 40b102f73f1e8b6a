"""A stereo recording with one speaker per channel, transcribed channel by channel.

The downmix garbles both speakers; with ``split_channels`` each channel is transcribed
on its own with the real tiny.en weights, labelled Left and Right, and the subtitles say
who speaks. The reference texts are the MANIFEST's.
"""

from __future__ import annotations

import pytest
import srt
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.models import CostReservation
from captions import services
from captions.models import JobStatus
from captions.services.results import stt_cost_micros
from engines.stt.evaluation import normalised_words, word_errors

pytestmark = pytest.mark.django_db

STEREO = "faster_whisper_stereo_diarization.wav"
LEFT = ("He began a confused complaint against the wizard, who had vanished behind the "
        "curtain on the left.")
RIGHT = "The horizon seems extremely distant."


@pytest.fixture
def real_model(settings, tmp_path):
    settings.WHISPER_MODEL = "tiny.en"
    settings.WHISPER_ENGINE = "faster-whisper"
    settings.WHISPER_SAMPLE_LEN = 224
    settings.WHISPER_DOWNLOAD_ROOT = str(tmp_path / "whisper")


def run_job(user, shared_media, **options):
    upload = SimpleUploadedFile(STEREO, (shared_media / STEREO).read_bytes())
    job = services.caption_job_submit(owner=user, upload=upload,
                                      options={"variant_count": 1, **options})
    services.caption_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error_message
    return job


def wer(reference: str, hypothesis: str) -> float:
    ref = normalised_words(reference)
    return word_errors(ref, normalised_words(hypothesis)) / len(ref)


def test_each_channel_is_transcribed_apart_and_labelled(
    user, user_client, shared_media, real_model
):
    job = run_job(user, shared_media, split_channels=True)
    segments = job.transcript.segments
    said = {side: " ".join(s["text"] for s in segments if s["speaker"] == side)
            for side in ("Left", "Right")}
    assert wer(LEFT, said["Left"]) <= 0.1, said["Left"]
    assert wer(RIGHT, said["Right"]) <= 0.1, said["Right"]
    assert job.engine_versions["stt"]["channels"] == 2
    # Both channels were transcription work, and were charged as such.
    hold = CostReservation.objects.get(job_id=job.pk, kind="stt")
    assert hold.settled_micros == stt_cost_micros(job.transcript.duration_seconds * 2)

    body = user_client.get(f"/jobs/{job.pk}/transcript.srt").content.decode()
    cues = list(srt.parse(body))
    assert any(c.content.startswith("[Left]") for c in cues)
    assert any(c.content.startswith("[Right]") for c in cues)
    assert cues[-1].end.total_seconds() <= job.transcript.duration_seconds
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:], strict=False))
    text = user_client.get(f"/jobs/{job.pk}/transcript.txt").content.decode()
    assert {line.split(":")[0] for line in text.splitlines()} == {"Left", "Right"}


def test_the_downmix_garbles_what_the_channels_say_apart(user, shared_media, real_model):
    mixed = run_job(user, shared_media).transcript
    assert all("speaker" not in s for s in mixed.segments)
    # The two speakers talk over each other: the mix loses one or mangles both.
    both = LEFT + " " + RIGHT
    assert wer(both, mixed.text) > 0.2, mixed.text
