from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from . import exports
from .models import CaptionJob, Transcript


def caption_jobs_for_owner(*, owner) -> QuerySet[CaptionJob]:
    return CaptionJob.objects.filter(owner=owner).select_related("asset")


def caption_job_get_for_owner(*, owner, job_id) -> CaptionJob:
    """The owner's job, or Http404: another user's id looks exactly like a missing one."""
    return get_object_or_404(caption_jobs_for_owner(owner=owner), pk=job_id)


def caption_job_transcript(*, job: CaptionJob) -> Transcript | None:
    return Transcript.objects.filter(job=job).first()


# Export format -> (content type, file extension).
TRANSCRIPT_FORMATS = {
    "txt": ("text/plain; charset=utf-8", "txt"),
    "srt": ("application/x-subrip; charset=utf-8", "srt"),
    "vtt": ("text/vtt; charset=utf-8", "vtt"),
    "json": ("application/json; charset=utf-8", "json"),
    "tsv": ("text/tab-separated-values; charset=utf-8", "tsv"),
}


def transcript_export(*, job: CaptionJob, transcript: Transcript, fmt: str) -> tuple[str, str]:
    """The transcript rendered as ``fmt``, with its content type.

    Subtitles follow the job's readability limits. Raises KeyError for an unknown format.
    """
    content_type, _ = TRANSCRIPT_FORMATS[fmt]
    segments = transcript.segments
    if fmt == "srt":
        body = exports.transcript_to_srt(segments, job.subtitle_limits)
    elif fmt == "vtt":
        body = exports.transcript_to_vtt(segments, job.subtitle_limits)
    elif fmt == "json":
        body = exports.transcript_to_json(
            language=transcript.language, duration_seconds=transcript.duration_seconds,
            segments=segments, engine=(job.engine_versions or {}).get("stt"),
        )
    elif fmt == "tsv":
        body = exports.transcript_to_tsv(segments)
    else:
        body = exports.transcript_to_txt(segments)
    return body, content_type
