"""Billing pages and the Stripe webhook endpoint. They call services; nothing more."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.errors import ApplicationError

from . import quotas, selectors, services, stripe_gateway
from .models import StripeEventStatus
from .plans import PLANS

logger = logging.getLogger(__name__)


@never_cache
@login_required
def overview(request):
    outcome = request.GET.get("checkout")
    if outcome == "success":
        messages.success(
            request,
            "Thank you! Your new plan applies as soon as Stripe confirms the payment, "
            "usually within seconds.",
        )
    elif outcome == "cancelled":
        messages.info(request, "Checkout was cancelled; nothing was charged.")
    data = selectors.billing_overview(user=request.user)
    return render(request, "billing/overview.html", {
        "overview": data,
        "quota": quotas.quota_usage(user=request.user),
        "plans": list(PLANS.values()),
        "stripe_configured": stripe_gateway.is_configured(),
    })


def _redirect_or_error(request, start):
    try:
        url = start()
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("billing:overview")
    # 303: the browser follows with a GET to Stripe's hosted page.
    response = redirect(url)
    response.status_code = 303
    return response


@login_required
@require_POST
def checkout(request):
    plan_code = request.POST.get("plan", "")
    return _redirect_or_error(
        request, lambda: services.billing_checkout_start(user=request.user, plan_code=plan_code)
    )


@login_required
@require_POST
def portal(request):
    return _redirect_or_error(request, lambda: services.billing_portal_start(user=request.user))


@csrf_exempt
@transaction.non_atomic_requests
@require_POST
def stripe_webhook(request):
    """Stripe's deliveries. The signature is the only authentication.

    2xx tells Stripe to stop: for a handled, ignored or duplicate event. A handler
    failure answers 500 so Stripe delivers the event again later.
    """
    try:
        event = services.stripe_webhook_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
    except ApplicationError as exc:
        return JsonResponse({"error": exc.message, "code": exc.code}, status=exc.status)
    body = {"id": event.stripe_event_id, "status": event.status}
    if event.status == StripeEventStatus.FAILED:
        return JsonResponse({**body, "error": "handler failed; retry later"}, status=500)
    return JsonResponse(body)
