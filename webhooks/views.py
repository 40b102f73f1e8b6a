"""Pages for a customer's webhook endpoints and their delivery log."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from config.errors import ApplicationError
from config.forms import form_show_error

from . import selectors, services
from .forms import WebhookEndpointForm

DELIVERIES_SHOWN = 50


@never_cache
@login_required
def endpoints(request):
    form = WebhookEndpointForm(request.POST or None)
    created = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created = services.webhook_endpoint_create(owner=request.user, **form.cleaned_data)
            except ApplicationError as exc:
                status = form_show_error(form, exc)
            else:
                form = WebhookEndpointForm()
        else:
            status = 400
    return render(
        request, "webhooks/endpoints.html",
        {"form": form, "created": created,
         "endpoints": selectors.webhook_endpoints_for_owner(owner=request.user)},
        status=status,
    )


@never_cache
@login_required
def endpoint_detail(request, endpoint_id):
    endpoint = selectors.webhook_endpoint_get_for_owner(owner=request.user,
                                                       endpoint_id=endpoint_id)
    deliveries = selectors.webhook_deliveries_for_endpoint(endpoint=endpoint)[:DELIVERIES_SHOWN]
    return render(request, "webhooks/endpoint_detail.html",
                  {"endpoint": endpoint, "deliveries": deliveries})


@login_required
@require_POST
def endpoint_ping(request, endpoint_id):
    endpoint = selectors.webhook_endpoint_get_for_owner(owner=request.user,
                                                       endpoint_id=endpoint_id)
    delivery = services.webhook_ping(endpoint=endpoint)
    if delivery.status == "succeeded":
        messages.success(request, "The test event was delivered.")
    else:
        attempt = delivery.attempts.last()
        messages.error(request, f"The test event failed: {attempt.error if attempt else ''}")
    return redirect("webhooks:endpoint_detail", endpoint_id=endpoint.pk)


@login_required
@require_POST
def endpoint_delete(request, endpoint_id):
    endpoint = selectors.webhook_endpoint_get_for_owner(owner=request.user,
                                                       endpoint_id=endpoint_id)
    services.webhook_endpoint_delete(endpoint=endpoint)
    messages.success(request, "The endpoint was deleted; no more events will be sent to it.")
    return redirect("webhooks:endpoints")
