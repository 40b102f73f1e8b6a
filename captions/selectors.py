from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import CaptionJob, Transcript


def caption_jobs_for_owner(*, owner) -> QuerySet[CaptionJob]:
    return CaptionJob.objects.filter(owner=owner).select_related("asset")


def caption_job_get_for_owner(*, owner, job_id) -> CaptionJob:
    """The owner's job, or Http404: another user's id looks exactly like a missing one."""
    return get_object_or_404(caption_jobs_for_owner(owner=owner), pk=job_id)


def caption_job_transcript(*, job: CaptionJob) -> Transcript | None:
    return Transcript.objects.filter(job=job).first()
