"""A customer's account page, and their API keys: create (the secret is shown once), list,
revoke."""

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from billing import selectors as billing_selectors
from billing.plans import Feature
from captions.services.closing import account_delete as captions_account_delete
from config.errors import ApplicationError
from config.forms import form_show_error
from webhooks import selectors as webhook_selectors

from . import selectors, services
from .forms import AccountDeleteForm, ApiKeyForm


@never_cache
@login_required
def account(request):
    """Who the customer is, their plan, and the ways into everything they set up."""
    limits = billing_selectors.plan_limits_for_user(user=request.user)
    keys = selectors.api_keys_for_user(user=request.user)
    return render(request, "accounts/account.html", {
        "limits": limits,
        "active_keys": keys.filter(revoked_at__isnull=True).count(),
        "endpoints": webhook_selectors.webhook_endpoints_for_owner(owner=request.user).count(),
        "features": limits.plan.feature_list(),
    })


@never_cache
@login_required
def account_delete(request):
    """Delete the account and all its data, after the password is entered again."""
    form = AccountDeleteForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                captions_account_delete(user=request.user,
                                        password=form.cleaned_data["password"])
            except ApplicationError as exc:
                status = form_show_error(form, exc)
            else:
                logout(request)
                messages.success(request, "Your account and all its data were deleted.")
                return redirect("captions:dashboard")
        else:
            status = 400
    return render(request, "accounts/account_delete.html", {"form": form}, status=status)


def _api_refusal(plan) -> str:
    return (f"API keys work only on plans with API access; the {plan.name} plan does not "
            "include it. Upgrade on the Billing page to create keys.")


@never_cache
@login_required
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    created_secret = None
    status = 200
    # A key the plan cannot use would only fail later with 403: refuse it now, and say why.
    limits = billing_selectors.plan_limits_for_user(user=request.user)
    api_allowed = limits.has(Feature.API)
    if request.method == "POST" and not api_allowed:
        form.add_error(None, _api_refusal(limits.plan))
        status = 403
    elif request.method == "POST":
        if form.is_valid():
            try:
                key, created_secret = services.api_key_create(
                    user=request.user, name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_at=form.cleaned_data["expires_at"],
                )
            except ApplicationError as exc:
                status = form_show_error(form, exc)
            else:
                form = ApiKeyForm()
        else:
            status = 400
    keys = selectors.api_keys_for_user(user=request.user)
    return render(
        request, "accounts/api_keys.html",
        {"form": form, "keys": keys, "created_secret": created_secret, "now": timezone.now(),
         "api_allowed": api_allowed, "plan": limits.plan,
         "api_refusal": "" if api_allowed else _api_refusal(limits.plan)},
        status=status,
    )


@login_required
@require_POST
def api_key_revoke(request, key_id):
    key = selectors.api_key_get_for_user(user=request.user, key_id=key_id)
    services.api_key_revoke(key=key)
    messages.success(request, f"The key {key.prefix}… was revoked; it no longer works.")
    return redirect("accounts:api_keys")
