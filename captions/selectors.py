
from django.conf import settings
from django.db.models import Count, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from config.compiled_reads import CompiledRead

from . import exports
from .models import (
    BurnInExport,
    CaptionJob,
    CaptionVariant,
    JobStatus,
    MediaKind,
    SttEngine,
    Transcript,
)


def caption_jobs_for_owner(*, owner) -> QuerySet[CaptionJob]:
    return CaptionJob.objects.filter(owner=owner).select_related("asset")


# The two reads every job page, poll and API call makes: compiled once per process.
_OWNER, _PK = CaptionJob._meta.get_field("owner"), CaptionJob._meta.pk
_job_for_owner = CompiledRead(
    CaptionJob, lambda owner, pk: caption_jobs_for_owner(owner=owner).filter(pk=pk),
    owner=_OWNER, pk=_PK)

STATUS_FIELDS = ("id", "owner_id", "status", "stage", "progress", "progress_eta_at",
                 "error_message")
_job_status_for_owner = CompiledRead(
    CaptionJob, lambda owner, pk: CaptionJob.objects.filter(owner=owner, pk=pk)
    .only(*STATUS_FIELDS), owner=_OWNER, pk=_PK)


def _one_or_404(rows: list[CaptionJob]) -> CaptionJob:
    if not rows:
        raise Http404("No job matches the given query.")
    return rows[0]


def caption_job_get_for_owner(*, owner, job_id) -> CaptionJob:
    """The owner's job with its asset, or Http404: another user's id looks exactly like
    a missing one."""
    return _one_or_404(_job_for_owner(owner=owner.pk, pk=job_id))


def caption_job_status_for_owner(*, owner, job_id) -> CaptionJob:
    """The few fields a page's status poll shows, or Http404 (as ``caption_job_get_for_owner``)."""
    return _one_or_404(_job_status_for_owner(owner=owner.pk, pk=job_id))


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
        "audio_seconds_by_engine": {
            engine: row["audio_seconds"]
            for engine, row in stt_engine_split(since=since, until=until, owner=owner).items()
        },
    }


def stt_engine_split(*, since, until, owner=None) -> dict[str, dict]:
    """Finished jobs with sound and their audio in [since, until), per speech-to-text engine.

    ``{"self_hosted": {"jobs": n, "audio_seconds": s}, "managed": {...}}``: the real split
    the capacity planner's crossover needs, for one owner or (``owner=None``) everyone.
    A job made before routing existed ran on the GPU queue and counts as self-hosted.
    """
    done = Transcript.objects.filter(job__status=JobStatus.DONE, job__finished_at__gte=since,
                                     job__finished_at__lt=until)
    if owner is not None:
        done = done.filter(job__owner=owner)
    split = {engine: {"jobs": 0, "audio_seconds": 0.0} for engine in SttEngine.values}
    rows = done.values("job__stt_engine").annotate(n=Count("id"), s=Sum("duration_seconds"))
    for row in rows.order_by():
        bucket = split[row["job__stt_engine"] or SttEngine.SELF_HOSTED]
        bucket["jobs"] += row["n"]
        bucket["audio_seconds"] = round(bucket["audio_seconds"] + (row["s"] or 0.0), 3)
    return split


def caption_job_speech_to_text(*, job: CaptionJob) -> dict:
    """Which engine transcribes (or transcribed) the job, why, and what it cost us."""
    return {
        "engine": job.stt_engine,
        "reason": job.stt_route_reason,
        "cost_micro_usd": job.stt_cost_micro_usd,
        "cost_kind": {SttEngine.MANAGED: "stt_managed",
                      SttEngine.SELF_HOSTED: "stt"}.get(job.stt_engine, ""),
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

    Subtitles follow the job's readability limits and end with the media. Raises
    KeyError for an unknown format.
    """
    content_type, _ = TRANSCRIPT_FORMATS[fmt]
    segments = transcript.segments
    if fmt == "srt":
        body = exports.transcript_to_srt(segments, job.subtitle_limits,
                                         transcript.duration_seconds)
    elif fmt == "vtt":
        body = exports.transcript_to_vtt(segments, job.subtitle_limits,
                                         transcript.duration_seconds)
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


def queue_for_media_kind(kind: str, stt_engine: str = "") -> str:
    """Jobs with sound go to the speech-to-text queue that GPU workers serve; images do
    not, nor do jobs for the managed engine (a CPU worker starts Transcribe and polls)."""
    if kind == MediaKind.IMAGE or stt_engine == SttEngine.MANAGED:
        return settings.CAPTIONS_DEFAULT_QUEUE
    return settings.CAPTIONS_STT_QUEUE


def caption_jobs_waiting_by_queue(*, now=None) -> dict[str, tuple[int, float]]:
    """{queue: (jobs waiting, seconds the longest-waiting one has waited)} for every queue.

    A job waits since it last became queued (submitted, retried, or put back to wait for
    its cost cap or for storage): ``queued_at``.
    """
    now = now or timezone.now()
    waiting = {settings.CAPTIONS_DEFAULT_QUEUE: [0, 0.0], settings.CAPTIONS_STT_QUEUE: [0, 0.0]}
    rows = (CaptionJob.objects.filter(status=JobStatus.QUEUED)
            .values_list("asset__kind", "stt_engine", "queued_at", "created_at"))
    for kind, engine, entered_at, created_at in rows.iterator():
        queue = queue_for_media_kind(kind, engine)
        waited = max(0.0, (now - (entered_at or created_at)).total_seconds())
        waiting[queue][0] += 1
        waiting[queue][1] = max(waiting[queue][1], waited)
    return {queue: (count, round(age, 3)) for queue, (count, age) in waiting.items()}


def caption_jobs_finished_between(*, since, until) -> list[tuple[str, str, object, object]]:
    """(status, error_code, created_at, finished_at) of every job finished in [since, until)."""
    return list(CaptionJob.objects.filter(finished_at__gte=since, finished_at__lt=until)
                .values_list("status", "error_code", "created_at", "finished_at"))


def burn_in_exports_for_job(*, job: CaptionJob) -> QuerySet[BurnInExport]:
    """The job's burned-in exports, newest first."""
    return BurnInExport.objects.filter(job=job).order_by("-created_at")


def burn_in_export_get_for_owner(*, owner, job_id, export_id) -> BurnInExport:
    """One of the owner's exports; Http404 for another user's or an unknown one, alike."""
    export = (BurnInExport.objects.select_related("job__asset")
              .filter(pk=export_id, job_id=job_id, job__owner=owner).first())
    if export is None:
        raise Http404("No such export.")
    return export

