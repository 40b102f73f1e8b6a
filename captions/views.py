"""Server-rendered pages. They validate input and call services; nothing more."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from billing.plans import PLANS
from config.errors import ApplicationError
from config.forms import form_show_error
from config.humanize import format_time_left

from . import selectors, services
from .forms import CaptionJobForm
from .showcase import showcase


def _wants_json(request) -> bool:
    return request.headers.get("x-requested-with") == "XMLHttpRequest"


def dashboard(request):
    """The customer's jobs; for a visitor, the front page: what it does, a worked example,
    the plans, and the way in."""
    if not request.user.is_authenticated:
        return render(request, "landing.html",
                      {"example": showcase(), "plans": list(PLANS.values())})
    jobs = selectors.caption_jobs_for_owner(owner=request.user)[:100]
    return render(request, "captions/dashboard.html", {"jobs": jobs})


@login_required
def job_new(request):
    form = CaptionJobForm(request.POST or None, request.FILES or None)
    status = 200
    headers: dict = {}
    if request.method == "POST":
        if form.is_valid():
            try:
                job = services.caption_job_submit(
                    owner=request.user, upload=form.cleaned_data["file"],
                    options=form.options(), fresh=form.cleaned_data["fresh"],
                )
            except ApplicationError as exc:
                status = form_show_error(form, exc)
                headers = exc.headers
            else:
                url = reverse("captions:job_detail", args=[job.pk])
                if _wants_json(request):
                    return JsonResponse({"id": str(job.pk), "redirect": url}, status=201)
                return redirect(url)
        else:
            status = 400
        if _wants_json(request):
            errors = {k: [str(e) for e in v] for k, v in form.errors.items()}
            return JsonResponse({"errors": errors}, status=status, headers=headers)
    response = render(request, "captions/job_new.html", {"form": form}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


@login_required
def job_detail(request, job_id):
    job = selectors.caption_job_get_for_owner(owner=request.user, job_id=job_id)
    transcript = selectors.caption_job_transcript(job=job)
    return render(request, "captions/job_detail.html", {"job": job, "transcript": transcript})


@never_cache
@login_required
@require_GET
def job_status(request, job_id):
    job = selectors.caption_job_status_for_owner(owner=request.user, job_id=job_id)
    return JsonResponse(
        {
            "id": str(job.pk),
            "status": job.status,
            "status_display": job.get_status_display(),
            "stage": job.stage,
            "stage_display": job.get_stage_display(),
            "progress": job.progress,
            "seconds_left": None if (left := job.seconds_left) is None else round(left),
            "time_left_display": format_time_left(left),
            "error_message": job.error_message,
            "is_final": job.is_final,
        }
    )


@login_required
@require_GET
def transcript_download(request, job_id, fmt="txt"):
    """A transcript export, always as a download: never rendered by the browser."""
    job = selectors.caption_job_get_for_owner(owner=request.user, job_id=job_id)
    transcript = selectors.caption_job_transcript(job=job)
    if transcript is None:
        return HttpResponse(
            "This job has no transcript yet.", status=404, content_type="text/plain"
        )
    body, content_type = selectors.transcript_export(job=job, transcript=transcript, fmt=fmt)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="transcript-{job.pk}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _job_action(request, job_id, action, done_message):
    job = selectors.caption_job_get_for_owner(owner=request.user, job_id=job_id)
    try:
        action(job=job, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done_message)
    return redirect("captions:job_detail", job_id=job.pk)


@login_required
@require_POST
def job_cancel(request, job_id):
    return _job_action(request, job_id, services.caption_job_cancel, "The job was cancelled.")


@login_required
@require_POST
def job_retry(request, job_id):
    return _job_action(request, job_id, services.caption_job_retry, "The job was queued again.")
