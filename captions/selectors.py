
from django.db.models import Count, QuerySet, Sum
from django.shortcuts import get_object_or_404

from . import exports
from .models import CaptionJob, CaptionVariant, JobStatus, Transcript


def caption_jobs_for_owner(*, owner) -> QuerySet[CaptionJob]:
    return CaptionJob.objects.filter(owner=owner).select_related("asset")


def caption_job_get_for_owner(*, owner, job_id) -> CaptionJob:
    """The owner's job, or Http404: another user's id looks exactly like a missing one."""
    return get_object_or_404(caption_jobs_for_owner(owner=owner), pk=job_id)


STATUS_FIELDS = ("id", "owner_id", "status", "stage", "progress", "error_message")


def caption_job_status_for_owner(*, owner, job_id) -> CaptionJob:
    """The few fields a page's status poll shows, or Http404 (as ``caption_job_get_for_owner``)."""
    return get_object_or_404(
        CaptionJob.objects.filter(owner=owner).only(*STATUS_FIELDS), pk=job_id)


def caption_job_transcript(*, job: CaptionJob) -> Transcript | None:
    return Transcript.objects.filter(job=job).first()


def caption_jobs_filter(
    *, owner, status: str | None = None, created_after=None, created_before=None
) -> QuerySet[CaptionJob]:
    """The owner's jobs, narrowed by status and a creation time range (inclusive start)."""
    jobs = caption_jobs_for_owner(owner=owner)
    if status:
        jobs = jobs.filter(status=status)
    if created_after is not None:
        jobs = jobs.filter(created_at__gte=created_after)
    if created_before is not None:
        jobs = jobs.filter(created_at__lt=created_before)
    return jobs


def caption_job_captions(*, job: CaptionJob) -> QuerySet[CaptionVariant]:
    return CaptionVariant.objects.filter(job=job)


def usage_for_owner(*, owner, since, until) -> dict:
    """Jobs and processed audio in [since, until): what the usage endpoint reports."""
    jobs = CaptionJob.objects.filter(owner=owner, created_at__gte=since, created_at__lt=until)
    counts = dict(jobs.values_list("status").annotate(n=Count("id")).order_by())
    seconds = Transcript.objects.filter(
        job__owner=owner, job__status=JobStatus.DONE,
        job__finished_at__gte=since, job__finished_at__lt=until,
    ).aggregate(total=Sum("duration_seconds"))["total"]
    return {
        "jobs_submitted": sum(counts.values()),
        "jobs_completed": counts.get(JobStatus.DONE, 0),
        "jobs_failed": counts.get(JobStatus.FAILED, 0),
        "audio_seconds": round(seconds or 0.0, 3),
    }


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
