"""Server-rendered pages. They validate input and call services; nothing more."""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from billing import selectors as billing_selectors
from billing.plans import PLANS, Feature
from config.errors import ApplicationError
from config.forms import form_show_error
from config.humanize import format_time_left

from . import playback, selectors, services, storage
from .forms import BurnInForm, CaptionJobForm, TranscriptEditForm
from .services.assets import video_refusal_message
from .services.editing import transcript_correct
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
    rows = [(job, playback.media_asset_preview_url(asset=job.asset)) for job in jobs]
    response = render(request, "captions/dashboard.html", {"jobs": jobs, "rows": rows})
    origins = sorted({playback.url_origin(url) for _, url in rows} - {""})
    if origins:  # previews load from the bucket's presigned URLs
        response._csp_update = {"img-src": ["'self'", *origins]}
    return response


@login_required
def job_new(request):
    limits = billing_selectors.plan_limits_for_user(user=request.user)
    video_allowed = limits.has(Feature.VIDEO)
    form = CaptionJobForm(request.POST or None, request.FILES or None,
                          video_allowed=video_allowed)
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
    response = render(request, "captions/job_new.html", {
        "form": form, "limits": limits, "video_allowed": video_allowed,
        "video_refusal": video_refusal_message(plan_name=limits.plan.name),
    }, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


@login_required
def job_detail(request, job_id):
    job = selectors.caption_job_get_for_owner(owner=request.user, job_id=job_id)
    transcript = selectors.caption_job_transcript(job=job)
    media = playback.caption_job_playback(job=job)
    response = render(request, "captions/job_detail.html",
                      {"job": job, "transcript": transcript, "media": media,
                       **_burn_in_context(job, transcript)})
    if media and media.other_origin:
        # The player and the image preview load from the bucket's presigned URL.
        response._csp_update = {"media-src": ["'self'", media.other_origin],
                                "img-src": ["'self'", media.other_origin]}
    return response


@never_cache
@login_required
def transcript_edit(request, job_id):
    """Correct the transcript's words line by line; the timings and the history are kept."""
    job = selectors.caption_job_get_for_owner(owner=request.user, job_id=job_id)
    transcript = selectors.caption_job_transcript(job=job)
    if transcript is None or job.results_purged_at:
        messages.error(request, "This job has no transcript to correct.")
        return redirect("captions:job_detail", job_id=job.pk)
    form = TranscriptEditForm(request.POST or None, segments=transcript.segments)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            transcript_correct(job=job, texts=form.texts(), actor=request.user)
        except ApplicationError as exc:
            status = form_show_error(form, exc)
        else:
            messages.success(request, "Your corrections are saved; the downloads use them. "
                                      "The earlier version is kept.")
            return redirect("captions:job_detail", job_id=job.pk)
    return render(request, "captions/transcript_edit.html",
                  {"job": job, "form": form, "revisions": transcript.revisions.count()},
                  status=status)


_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
_CHUNK = 1 << 16


def _chunks(fileobj, start: int, length: int):
    with fileobj:
        fileobj.seek(start)
        while length > 0:
            chunk = fileobj.read(min(_CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


@never_cache
@login_required
@require_GET
def media_playback(request, token):
    """The upload, for the player, where media is on local disk (S3 serves its own):
    only to its owner, only while the signed URL is fresh, with byte ranges for seeking."""
    key, content_type = playback.media_for_playback(owner=request.user, token=token)
    fileobj = storage.file_open(key)
    size = fileobj.size
    start, end, status = 0, size - 1, 200
    match = _RANGE.match(request.headers.get("Range", ""))
    if match and (match[1] or match[2]):
        if match[1]:
            start, end = int(match[1]), min(int(match[2] or size - 1), size - 1)
        else:
            start = max(0, size - int(match[2]))
        if start > end:
            fileobj.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        status = 206
    response = StreamingHttpResponse(_chunks(fileobj, start, end - start + 1), status=status,
                                     content_type=content_type)
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Disposition"] = "inline"
    return response


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
    response["Content-Disposition"] = content_disposition_header(
        True, playback.transcript_export_filename(job=job, fmt=fmt))
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


# --- Burned-in captions ----------------------------------------------------------------------


def _burn_in_context(job, transcript, form: BurnInForm | None = None) -> dict:
    """The "Burn captions into video" section: only for a finished video with subtitles."""
    if (job.asset.kind != "video" or job.status != "done" or transcript is None
            or not transcript.segments or job.results_purged_at or job.asset.purged_at):
        return {}
    if form is None:
        form = BurnInForm(initial={"aspect": services.burn_in.burn_in_default_aspect(job=job)})
    limits = billing_selectors.plan_limits_for_user(user=job.owner)
    return {"burn_in": {"form": form, "allowed": limits.has(Feature.VIDEO),
                        "plan_name": limits.plan.name,
                        "exports": list(selectors.burn_in_exports_for_job(job=job)[:10])}}


@login_required
@require_POST
def burn_in_request(request, job_id):
    job = selectors.caption_job_get_for_owner(owner=request.user, job_id=job_id)
    form = BurnInForm(request.POST)
    url = reverse("captions:job_detail", args=[job.pk]) + "#burn-in"
    try:
        if not form.is_valid():
            raise ApplicationError("Choose a text size, a position and a shape.",
                                   code="invalid_options")
        export, created = services.burn_in_export_request(job=job, actor=request.user,
                                                          options=form.options())
    except ApplicationError as exc:
        if _wants_json(request):
            return JsonResponse({"message": exc.message, "details": exc.details},
                                status=exc.status, headers=exc.headers)
        messages.error(request, exc.message)
        return redirect(url)
    if _wants_json(request):
        return JsonResponse(_burn_in_data(export), status=202 if created else 200)
    messages.success(request, "Burning the captions into your video: it will be ready here "
                     "in a moment." if created else "That version is already here.")
    return redirect(url)


def _burn_in_data(export) -> dict:
    done = export.status == "done"
    return {"id": str(export.pk), "status": export.status,
            "status_display": export.get_status_display(), "progress": export.progress,
            "is_final": export.is_final, "error_message": export.error_message,
            "download_url": reverse("captions:burn_in_download",
                                    args=[export.job_id, export.pk]) if done else None}


@never_cache
@login_required
@require_GET
def burn_in_status(request, job_id, export_id):
    export = selectors.burn_in_export_get_for_owner(owner=request.user, job_id=job_id,
                                                    export_id=export_id)
    return JsonResponse(_burn_in_data(export))


@never_cache
@login_required
@require_GET
def burn_in_download(request, job_id, export_id):
    """The MP4, only to its owner, as an attachment named after the upload."""
    export = selectors.burn_in_export_get_for_owner(owner=request.user, job_id=job_id,
                                                    export_id=export_id)
    return playback.burn_in_download_response(export=export)

