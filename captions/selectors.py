import threading
from collections import OrderedDict

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


# --- The API's job list: DRF's cursor pages, each shape compiled once per process --------

_CREATED = CaptionJob._meta.get_field("created_at")
_PAGE_FIELDS = {"status": CaptionJob._meta.get_field("status"),
                "created_after": _CREATED, "created_before": _CREATED}
_PAGE_POSITIONS = ("created_at__lt", "created_at__gt")
# The shapes used most lately, at most 64: a cursor's offset and the page size are the
# client's to choose, so the shapes kept are bounded, and odd ones do not crowd out the
# common ones for good.
_page_reads: OrderedDict[tuple, CompiledRead] = OrderedDict()
_page_reads_lock = threading.Lock()
_PAGE_SHAPES_KEPT = 64


def _page_read(shape: tuple) -> CompiledRead:
    given, ordering, position_lookup, start, stop = shape

    def build(owner, position=None, **filters):
        jobs = caption_jobs_filter(owner=owner, **filters).order_by(*ordering)
        if position_lookup:
            jobs = jobs.filter(**{position_lookup: position})
        return jobs[start:stop]

    fields = {"owner": _OWNER, **{name: _PAGE_FIELDS[name] for name in given}}
    if position_lookup:
        fields["position"] = _CREATED
    return CompiledRead(CaptionJob, build, **fields)


class CaptionJobPages:
    """``caption_jobs_filter``'s jobs as DRF's ``CursorPagination`` reads a page of them:
    ordered, after the cursor's position when it has one, then one slice; the same rows
    and objects the QuerySet gives. Each shape of that read (the filters given, the
    order, the cursor's direction, the slice) is compiled once per process
    (``CompiledRead``): building and compiling the QuerySet again for each request was
    about a quarter of a job list's CPU."""

    def __init__(self, *, owner, filters: dict, ordering: tuple = (), position=None):
        self.owner, self.filters = owner, filters
        self.ordering, self.position = ordering, position

    def order_by(self, *ordering: str) -> "CaptionJobPages":
        return CaptionJobPages(owner=self.owner, filters=self.filters, ordering=ordering,
                               position=self.position)

    def filter(self, **lookup) -> "CaptionJobPages":
        [(name, value)] = lookup.items()
        if name not in _PAGE_POSITIONS or self.position is not None:
            raise ValueError(f"a job page is not filtered by {name}")
        return CaptionJobPages(owner=self.owner, filters=self.filters,
                               ordering=self.ordering, position=(name, value))

    def __getitem__(self, window: slice) -> list[CaptionJob]:
        given = tuple(name for name in _PAGE_FIELDS if self.filters.get(name))
        position_lookup, position = self.position or (None, None)
        shape = (given, self.ordering, position_lookup, window.start, window.stop)
        with _page_reads_lock:
            read = _page_reads.get(shape)
            if read is not None:
                _page_reads.move_to_end(shape)
        if read is None:
            read = _page_read(shape)
            with _page_reads_lock:
                _page_reads[shape] = read
                if len(_page_reads) > _PAGE_SHAPES_KEPT:
                    _page_reads.popitem(last=False)
        values = {name: self.filters[name] for name in given}
        if position_lookup:
            values["position"] = position
        return read(owner=self.owner.pk, **values)


def caption_job_pages(*, owner, status: str | None = None, created_after=None,
                      created_before=None) -> "CaptionJobPages":
    """``caption_jobs_filter``'s jobs, for ``api.pagination.CreatedCursorPagination``."""
    return CaptionJobPages(owner=owner, filters={
        "status": status, "created_after": created_after, "created_before": created_before})


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

