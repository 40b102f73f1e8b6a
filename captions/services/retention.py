"""Retention: what the owners' plans no longer keep is deleted (celery beat, idempotent)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from billing import selectors as billing_selectors
from billing.plans import PLANS

from .. import storage
from ..models import (
    FINAL_STATUSES,
    BurnInExport,
    CaptionJob,
    CaptionVariant,
    JobStatus,
    MediaAsset,
    SttEngine,
    Transcript,
)
from .burn_in import burn_in_exports_delete


def caption_retention_purge(*, now: datetime | None = None, batch: int = 500) -> dict:
    """Delete what the owners' plans no longer keep. Run by celery beat; idempotent.

    Uploads older than the plan's ``upload_retention_days`` lose their stored file (the
    row stays, marked purged, so the job page can say what happened); transcripts and
    captions of jobs finished more than ``result_retention_days`` ago are deleted.
    Jobs still queued or running are never touched.
    """
    now = now or timezone.now()
    shortest = min((p.upload_retention_days for p in PLANS.values()), default=1)
    limits_by_owner: dict = {}

    def limits_for(owner):
        if owner.pk not in limits_by_owner:
            limits_by_owner[owner.pk] = billing_selectors.plan_limits_for_user(user=owner, now=now)
        return limits_by_owner[owner.pk]

    media = 0
    assets = (MediaAsset.objects.filter(purged_at__isnull=True,
                                        created_at__lt=now - timedelta(days=shortest))
              .exclude(jobs__status__in=[JobStatus.QUEUED, JobStatus.PROCESSING])
              .select_related("owner")[:batch])
    for asset in assets:
        if asset.created_at >= now - timedelta(days=limits_for(asset.owner).upload_retention_days):
            continue
        with transaction.atomic():
            MediaAsset.objects.filter(pk=asset.pk).update(purged_at=now)
            # A burned-in MP4 is the upload's picture: it goes with the upload.
            burn_in_exports_delete(exports_=BurnInExport.objects.filter(job__asset=asset))
        for key in asset.stored_keys:  # the upload and its preview
            storage.file_delete(key)
        media += 1
    shortest = min((p.result_retention_days for p in PLANS.values()), default=1)
    results = 0
    jobs = (CaptionJob.objects.filter(status__in=FINAL_STATUSES, results_purged_at__isnull=True,
                                      finished_at__lt=now - timedelta(days=shortest))
            .select_related("owner")[:batch])
    for job in jobs:
        kept = timedelta(days=limits_for(job.owner).result_retention_days)
        if job.finished_at >= now - kept:
            continue
        with transaction.atomic():
            Transcript.objects.filter(job=job).delete()
            CaptionVariant.objects.filter(job=job).delete()
            burn_in_exports_delete(exports_=BurnInExport.objects.filter(job=job))
            CaptionJob.objects.filter(pk=job.pk).update(results_purged_at=now)
        if job.stt_engine == SttEngine.MANAGED:
            # Transcribe's own copy of the transcript goes with ours.
            storage.prefix_delete(storage.transcribe_files_prefix(job_id=job.pk))
        results += 1
    return {"media": media, "results": results}
