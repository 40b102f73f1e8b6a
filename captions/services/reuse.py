"""The result cache: the same file with the same options from the same user, answered again.

A submission whose file (by its content's sha256, recorded on every asset) and caption
options match a finished job of the same owner is answered with a new job that is done
at once: it copies that job's transcript and captions, points at it (``reused_from``,
shown on the job's page and in the API) and shares its stored media (the bytes are the
same, so they are not stored twice). Nothing is charged: no quota admission, no usage
record, no cost. A submission with ``fresh`` set always runs, and is charged as usual.

Not reused: jobs that failed, were cancelled, or whose results were deleted by
retention; direct uploads (their bytes are read only when the job is created, inside its
transaction) always run.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from ..models import CaptionJob, CaptionVariant, JobEvent, JobStage, JobStatus, Transcript
from ..options import OPTION_NAMES


def caption_job_reusable(*, owner, sha256: str, clean: dict) -> CaptionJob | None:
    """The owner's latest finished job for this content with exactly these options.

    Asked on every submission and answered "none" by most: the match is looked up by id
    alone (one column), and only a match is read whole, with its asset and origin (the
    whole read's SQL, three tables' columns, took most of this check's time)."""
    reusable = CaptionJob.objects.filter(owner=owner, status=JobStatus.DONE,
                                         results_purged_at__isnull=True)
    pk = (reusable.filter(asset__sha256=sha256, **clean).order_by("-finished_at")
          .values_list("pk", flat=True).first())
    if pk is None:
        return None
    # Still reusable: retention may have purged its results between the two reads.
    return reusable.select_related("asset", "reused_from").filter(pk=pk).first()


def caption_job_reuse(*, owner, source: CaptionJob, original_name: str = "") -> CaptionJob:
    """A new, finished job answering from ``source``'s results, at no charge.

    Call inside the transaction that also publishes its ``job.completed`` event."""
    origin = source.reused_from or source
    now = timezone.now()
    fields = {name: getattr(source, name)
              for name in (*OPTION_NAMES, "engine_versions", "prompt_id", "prompt_version")}
    with transaction.atomic():
        job = CaptionJob.objects.create(
            id=uuid.uuid4(), owner=owner, asset=source.asset, status=JobStatus.DONE,
            stage=JobStage.FINISHED, progress=100, reused_from=origin, started_at=now,
            finished_at=now, **fields,
        )
        transcript = Transcript.objects.filter(job=source).first()
        if transcript is not None:
            Transcript.objects.create(
                job=job, language=transcript.language, text=transcript.text,
                segments=transcript.segments, duration_seconds=transcript.duration_seconds,
                summary=transcript.summary, chapters=transcript.chapters,
            )
        CaptionVariant.objects.bulk_create(
            CaptionVariant(job=job, position=v.position, text=v.text, writer=v.writer,
                           language=v.language)
            for v in CaptionVariant.objects.filter(job=source).order_by("position")
        )
        JobEvent.objects.create(
            job=job, to_status=JobStatus.DONE, stage=job.stage, actor=owner,
            message=(f"Reused the result of job {origin.pk} (same file and options); "
                     "not charged" + (f". Uploaded as {original_name}" if original_name
                                      else "")),
        )
    return job
