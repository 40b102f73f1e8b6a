"""Burned-in captions: a finished video job's subtitles rendered into an MP4.

Real ffmpeg (libass, libx264), the real task, S3 through the moto server, Postgres for
the quota ledger. The source is a 3-second cut of a real video from the shared media.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile

from billing import services as billing_services
from billing.models import AdmissionStatus, JobAdmission, UsageRecord
from captions import exports, services
from captions.models import BurnInExport, BurnInStatus, Transcript
from captions.services.editing import transcript_correct
from captions.tasks import burn_in_export_process
from config.errors import ApplicationError
from engines import burn_in as burn_engine
from tests.factories import CaptionJobFactory, MediaAssetFactory

pytestmark = pytest.mark.django_db

SEGMENTS = [{"start": 0.6, "end": 1.4, "text": "Ask not what"}]


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """3 s of a real H.264/AAC video, brought down to 320x180 so rendering is quick."""
    from tests.conftest import SHARED_MEDIA

    source = SHARED_MEDIA / "auto_editor_example.mp4"
    if not source.exists():
        pytest.skip(f"shared media {source} is absent")
    out = tmp_path_factory.mktemp("burn") / "clip.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-ss", "5", "-t", "3",
                    "-i", str(source), "-vf", "scale=320:180", "-c:v", "libx264",
                    "-preset", "ultrafast", "-c:a", "aac", str(out)], check=True, timeout=60)
    return out


def video_job(user, clip: Path, *, segments=SEGMENTS, kind="video", platform="youtube"):
    asset = MediaAssetFactory(
        owner=user, file=ContentFile(clip.read_bytes(), name="clip.mp4"), kind=kind,
        original_name="interview.mp4", content_type="video/mp4",
        size_bytes=clip.stat().st_size, duration_seconds=3.0)
    job = CaptionJobFactory(owner=user, asset=asset, status="done", stage="finished",
                            progress=100, platform=platform)
    Transcript.objects.create(job=job, language="en", text=" ".join(s["text"] for s in segments),
                              segments=segments, duration_seconds=3.0)
    return job


def request_and_render(job, django_capture_on_commit_callbacks, **options):
    """Ask for the export as the page and the API do, then run its task as a worker would."""
    with django_capture_on_commit_callbacks(execute=False) as sent:
        export, created = services.burn_in_export_request(job=job, actor=job.owner,
                                                          options=options)
    assert created == bool(sent), "a new export is queued through the outbox, once"
    if created:
        burn_in_export_process.apply(args=[str(export.pk)]).get()
    export.refresh_from_db()
    return export, created


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of",
                          "json", str(path)], check=True, capture_output=True, timeout=30)
    return json.loads(out.stdout)


def frame(path: Path, seconds: float, size: tuple[int, int]) -> np.ndarray:
    """The picture at ``seconds`` as RGB, decoded exactly there (seek after the input)."""
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-ss", f"{seconds:.3f}",
         "-frames:v", "1", "-vf", f"scale={size[0]}:{size[1]}", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "pipe:1"], check=True, capture_output=True, timeout=30)
    return np.frombuffer(out.stdout, np.uint8).reshape(size[1], size[0], 3).astype(np.int16)


def downloaded(export: BurnInExport, tmp_path: Path) -> Path:
    from captions import storage

    path = tmp_path / f"{export.pk}.mp4"
    storage.file_download(export.output_key, str(path))
    return path


@pytest.fixture
def render(django_capture_on_commit_callbacks):
    return lambda job, **options: request_and_render(job, django_capture_on_commit_callbacks,
                                                     **options)


def test_burned_video_is_a_playable_mp4_with_the_subtitle_in_the_picture_only_during_its_cue(
    user, video_plan, clip, render, tmp_path
):
    job = video_job(user, clip)
    export, created = render(job, aspect="original", box=True, position="bottom")
    assert created and export.status == BurnInStatus.DONE, export.error_message
    assert export.progress == 100 and (export.width, export.height) == (320, 180)
    out = downloaded(export, tmp_path)
    info = ffprobe(out)
    assert "mp4" in info["format"]["format_name"]
    assert abs(float(info["format"]["duration"]) - 3.0) < 0.15
    codecs = {s["codec_type"]: s["codec_name"] for s in info["streams"]}
    assert codecs == {"video": "h264", "audio": "aac"}
    # +faststart: the index (moov) comes before the media data (mdat).
    head = out.read_bytes()[:4096]
    assert 0 <= head.find(b"moov") < (head.find(b"mdat") if b"mdat" in head else 4096)

    (cue,) = exports.transcript_cues(SEGMENTS, job.subtitle_limits, 3.0)
    during = (cue.start_ms + cue.end_ms) / 2000
    after = cue.end_ms / 1000 + 0.5
    assert after < 2.9
    lower = slice(120, 180)  # the bottom third, where the subtitle sits
    upper = slice(0, 90)
    burned, original = frame(out, during, (320, 180)), frame(clip, during, (320, 180))
    # Share of pixels changed by more than encoding noise (x264 at crf 20 stays far below).
    changed = np.abs(burned - original).max(axis=2) > 48
    assert changed[lower].mean() > 0.05, "the subtitle's text and box are in the bottom third"
    assert changed[upper].mean() < 0.002, "the rest of the picture is the source's"
    clean = np.abs(frame(out, after, (320, 180)) - frame(clip, after, (320, 180))).max(axis=2)
    assert (clean > 48).mean() < 0.002, "outside any cue the picture is the source's"


def test_platform_aspect_is_letterboxed_never_stretched(user, video_plan, clip, render,
                                                       tmp_path):
    job = video_job(user, clip, platform="tiktok")
    export, _ = render(job)  # no aspect given: the job's platform's, 9:16 for TikTok
    assert export.aspect == "9:16" and export.status == BurnInStatus.DONE, export.error_message
    out = downloaded(export, tmp_path)
    video = next(s for s in ffprobe(out)["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (324, 576)
    assert video["width"] * 16 == video["height"] * 9
    picture = frame(out, 2.8, (324, 576))
    # 320x180 scaled to 324 wide is 182 high: black bars above and below, none on the sides.
    assert picture[:150].max() < 30 and picture[430:].max() < 30
    assert picture[250:330].mean() > 60


def test_a_correction_to_the_transcript_is_what_gets_burned_in(user, video_plan, clip, render,
                                                               monkeypatch):
    job = video_job(user, clip)
    first, _ = render(job, aspect="original")
    transcript_correct(job=job, texts={0: "Ask NOT what"}, actor=user)
    rendered_cues = []
    real = burn_engine.burn_in

    def observe(*args, **kwargs):
        rendered_cues.extend(kwargs["cues"])
        return real(*args, **kwargs)

    monkeypatch.setattr(burn_engine, "burn_in", observe)
    second, created = render(job, aspect="original")
    assert created and second.pk != first.pk and second.transcript_version == 2
    assert [c.lines for c in rendered_cues] == [("Ask NOT what",)]
    assert second.status == BurnInStatus.DONE


def test_same_style_twice_returns_the_same_export_and_charges_once(user, video_plan, clip,
                                                                   render):
    job = video_job(user, clip)
    export, created = render(job, aspect="1:1", font_size="large", box=False)
    again, created_again = render(job, aspect="1:1", font_size="large", box="false")
    assert created and not created_again and again.pk == export.pk
    assert UsageRecord.objects.get(job_id=export.pk).audio_seconds == 3
    assert list(JobAdmission.objects.filter(job_id=export.pk).values_list("status", flat=True)
                ) == [AdmissionStatus.SETTLED]
    other, created_other = render(job, aspect="1:1", font_size="small", box=False)
    assert created_other and other.pk != export.pk


def test_a_failed_export_tells_the_customer_releases_its_minutes_and_can_be_retried(
    user, video_plan, clip, render
):
    job = video_job(user, clip)
    good = job.asset.file.name
    # The stored upload is not a video any more: ffprobe refuses it.
    job.asset.file.save("broken.mp4", ContentFile(b"<html>not a video</html>"), save=True)
    failed, _ = render(job)
    assert failed.status == BurnInStatus.FAILED
    assert "could not burn the captions" in failed.error_message
    assert "ffprobe" not in failed.error_message and "/" not in failed.error_message
    assert not UsageRecord.objects.filter(job_id=failed.pk).exists()
    assert JobAdmission.objects.get(job_id=failed.pk).status == AdmissionStatus.RELEASED

    job.asset.file.name = good
    job.asset.save()
    retried, created = render(job)
    assert created and retried.pk == failed.pk and retried.status == BurnInStatus.DONE
    assert retried.error_message == "" and retried.progress == 100
    assert UsageRecord.objects.filter(job_id=retried.pk).count() == 1
    assert sorted(JobAdmission.objects.filter(job_id=retried.pk)
                  .values_list("status", flat=True)) == ["released", "settled"]


def test_over_the_plans_minutes_the_burn_in_is_refused_and_nothing_is_queued(
    user, video_plan, clip, render
):
    job = video_job(user, clip)
    billing_services.usage_record_job(user=user, job_id=uuid.uuid4(), audio_seconds=600 * 60)
    with pytest.raises(ApplicationError) as refused:
        render(job)
    assert refused.value.status == 429 and refused.value.code == "audio_minutes_exhausted"
    assert "audio minutes" in refused.value.message
    assert not BurnInExport.objects.exists()


def test_plan_without_video_cannot_burn_in(user, clip, render):
    job = video_job(user, clip)  # the Free plan: no video
    with pytest.raises(ApplicationError) as refused:
        render(job)
    assert refused.value.status == 403 and "Upgrade" in refused.value.message
    assert not BurnInExport.objects.exists() and not JobAdmission.objects.filter(
        job_id__in=BurnInExport.objects.values("pk")).exists()


def test_an_audio_job_is_refused_with_a_clear_message(user, video_plan, clip, render):
    job = video_job(user, clip, kind="audio")
    with pytest.raises(ApplicationError) as refused:
        render(job)
    assert refused.value.code == "burn_in_needs_video"
    assert "only into a video" in refused.value.message and ".srt" in refused.value.message


def test_unknown_style_values_are_named(user, video_plan, clip, render):
    job = video_job(user, clip)
    with pytest.raises(ApplicationError) as refused:
        render(job, font_size="huge", aspect="3:2", box="maybe")
    assert set(refused.value.details) == {"font_size", "aspect", "box"}


def test_a_second_delivery_while_rendering_does_nothing(user, video_plan, clip,
                                                        django_capture_on_commit_callbacks):
    job = video_job(user, clip)
    with django_capture_on_commit_callbacks(execute=False):
        export, _ = services.burn_in_export_request(job=job, actor=user, options={})
    BurnInExport.objects.filter(pk=export.pk).update(status=BurnInStatus.RUNNING, attempts=1,
                                                     lease_expires_at="2999-01-01T00:00Z")
    assert services.burn_in_export_run(export_id=export.pk) is None
    export.refresh_from_db()
    assert export.status == BurnInStatus.RUNNING and export.attempts == 1


# --- The engine on its own --------------------------------------------------------------


def test_ass_text_keeps_braces_and_backslashes_as_written():
    text = burn_engine.ass_text("a {\\pos(0,0)} b \\N c\nd")
    assert "{" not in text.replace("\\{", "") and "}" not in text.replace("\\}", "")
    assert "\\N" not in text and "\n" not in text


@pytest.mark.parametrize(("source", "aspect", "expected"), [
    ((1280, 720), "9:16", (1080, 1920)),
    ((1280, 720), "1:1", (1280, 1280)),
    ((1280, 720), "16:9", (1280, 720)),
    ((720, 1280), "16:9", (1920, 1080)),
    ((3840, 2160), "original", (1920, 1080)),
    ((321, 181), "original", (320, 180)),
])
def test_output_sizes_hold_the_whole_picture_at_the_exact_ratio(source, aspect, expected):
    assert burn_engine.output_size(*source, aspect) == expected


def test_progress_lines_become_the_share_done():
    assert burn_engine.progress_fraction("out_time_us=1500000", 3.0) == 0.5
    assert burn_engine.progress_fraction("out_time_us=N/A", 3.0) is None
    assert burn_engine.progress_fraction("progress=end", 3.0) == 1.0
    assert burn_engine.progress_fraction("frame=12", 3.0) is None


def test_deleting_the_job_deletes_its_burned_video(user, video_plan, clip, render,
                                                    django_capture_on_commit_callbacks):
    from tests.conftest import s3_keys

    job = video_job(user, clip)
    export, _ = render(job)
    assert export.output_key in s3_keys()
    with django_capture_on_commit_callbacks(execute=True):
        services.caption_job_delete(job=job, actor=user)
    assert not BurnInExport.objects.exists()
    assert export.output_key not in s3_keys()


def test_retention_takes_the_burned_video_with_the_upload(user, video_plan, clip, render,
                                                          django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from captions.models import MediaAsset
    from tests.conftest import s3_keys

    job = video_job(user, clip)
    export, _ = render(job)
    MediaAsset.objects.filter(pk=job.asset_id).update(
        created_at=timezone.now() - timedelta(days=400))
    with django_capture_on_commit_callbacks(execute=True):
        services.caption_retention_purge()
    assert not BurnInExport.objects.exists()
    assert export.output_key not in s3_keys()


def test_progress_is_reported_as_ffmpeg_renders_and_other_audio_is_made_aac(tmp_path):
    """A clip with Vorbis sound (which MP4 players do not take): several progress reports
    in order up to 1.0, and the sound encoded as AAC rather than copied."""
    from engines import media

    source = tmp_path / "talk.webm"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=duration=6:size=320x180:rate=25", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=6", "-c:v", "libvpx", "-b:v", "300k",
                    "-c:a", "libvorbis", str(source)], check=True, timeout=120)
    info = media.probe(str(source))
    assert info.audio_codec == "vorbis"
    seen: list[float] = []
    out = tmp_path / "out.mp4"
    result = burn_engine.burn_in(
        str(source), str(out), cues=[burn_engine.BurnCue(1000, 3000, ("Hello",))],
        style=burn_engine.BurnInStyle(aspect="9:16"), info=info, workdir=str(tmp_path),
        on_progress=seen.append, progress_period=0.05)
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert len([f for f in seen if 0 < f < 1]) >= 2, seen
    codecs = {s["codec_type"]: s["codec_name"] for s in ffprobe(out)["streams"]}
    assert codecs == {"video": "h264", "audio": "aac"}
    assert (result.width, result.height) == (324, 576)


def test_ffmpeg_past_its_time_limit_is_stopped_with_a_timeout(tmp_path, clip):
    """An ffmpeg that stalls (a hung network mount, a pathological file) writes no
    progress line; the deadline still stops it. The stall is made certain with an
    "ffmpeg" that only sleeps: a real encode racing a short deadline finishes first on a
    fast machine."""
    from engines import media
    from engines.errors import MediaToolFailed

    stalled = tmp_path / "ffmpeg"
    stalled.write_text("#!/bin/sh\nexec sleep 600\n")
    stalled.chmod(0o755)
    with pytest.raises(MediaToolFailed) as stopped:
        burn_engine.burn_in(str(clip), str(tmp_path / "o.mp4"), cues=[],
                            style=burn_engine.BurnInStyle(), info=media.probe(str(clip)),
                            workdir=str(tmp_path), ffmpeg=str(stalled), timeout=0.5)
    assert stopped.value.code == "media_timeout"
    assert "stopped" in str(stopped.value)


def test_a_phone_video_stored_sideways_is_burned_upright(user, video_plan, clip, render,
                                                         tmp_path):
    """Phones keep portrait video as landscape plus a rotation: the export is portrait,
    filled edge to edge, not a sideways picture letterboxed."""
    rotated = tmp_path / "portrait.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip),
                    "-c", "copy", "-metadata:s:v", "rotate=90", str(rotated)],
                   check=True, timeout=60)
    job = video_job(user, rotated)
    export, _ = render(job, aspect="original")
    assert (export.width, export.height) == (180, 320), export.error_message
    picture = frame(downloaded(export, tmp_path), 2.8, (180, 320))
    assert picture[:20].mean() > 60 and picture[:, :20].mean() > 60, "no black bars"


def test_a_worker_that_died_is_replaced_then_given_up_after_the_attempts(
    user, video_plan, clip, settings, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    job = video_job(user, clip)
    with django_capture_on_commit_callbacks(execute=False):
        export, _ = services.burn_in_export_request(job=job, actor=user, options={})
    # The worker rendering attempt 1 died: its lease ran out without a word.
    expired = timezone.now() - timedelta(seconds=1)
    BurnInExport.objects.filter(pk=export.pk).update(status=BurnInStatus.RUNNING, attempts=1,
                                                     lease_expires_at=expired)
    resent = services.burn_in_exports_pending(cutoff=timezone.now(), now=timezone.now())
    assert [m.args for m in resent] == [(str(export.pk),)]
    burn_in_export_process.apply(args=[str(export.pk)]).get()
    export.refresh_from_db()
    assert (export.status, export.attempts) == (BurnInStatus.DONE, 2)

    other, _ = services.burn_in_export_request(job=job, actor=user, options={"box": False})
    BurnInExport.objects.filter(pk=other.pk).update(
        status=BurnInStatus.RUNNING, attempts=settings.BURN_IN_MAX_ATTEMPTS,
        lease_expires_at=expired)
    assert services.burn_in_export_run(export_id=other.pk) is None
    other.refresh_from_db()
    assert other.status == BurnInStatus.FAILED and "interrupted" in other.error_message
    assert JobAdmission.objects.get(job_id=other.pk).status == AdmissionStatus.RELEASED


def test_a_long_video_gets_a_longer_time_limit_within_the_tasks(settings):
    from captions.services.burn_in import _time_limit

    settings.BURN_IN_TIMEOUT_SECONDS, settings.BURN_IN_TIMEOUT_PER_VIDEO_SECOND = 1800, 3.0
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 4 * 3600 - 60
    assert _time_limit(60) == 1800
    assert _time_limit(3600) == 3 * 3600
    assert _time_limit(3 * 3600) == 4 * 3600 - 180


def test_a_video_without_sound_is_burned_without_a_sound_track(tmp_path):
    from engines import media

    source = tmp_path / "silent.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=duration=2:size=160x120:rate=10", "-pix_fmt", "yuv420p",
                    str(source)], check=True, timeout=60)
    out = tmp_path / "out.mp4"
    burn_engine.burn_in(str(source), str(out), cues=[burn_engine.BurnCue(0, 1000, ("Hi",))],
                        style=burn_engine.BurnInStyle(aspect="1:1"),
                        info=media.probe(str(source)), workdir=str(tmp_path))
    streams = ffprobe(out)["streams"]
    assert [(s["codec_type"], s["width"], s["height"]) for s in streams] == [
        ("video", 160, 160)]
