"""Pages for a customer's own API keys: create (the secret is shown once), list, revoke."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from config.errors import ApplicationError
from config.forms import form_show_error

from . import selectors, services
from .forms import ApiKeyForm


@never_cache
@login_required
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    created_secret = None
    status = 200
    if request.method == "POST":
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
        {"form": form, "keys": keys, "created_secret": created_secret, "now": timezone.now()},
        status=status,
    )


@login_required
@require_POST
def api_key_revoke(request, key_id):
    key = selectors.api_key_get_for_user(user=request.user, key_id=key_id)
    services.api_key_revoke(key=key)
    messages.success(request, f"The key {key.prefix}… was revoked; it no longer works.")
    return redirect("accounts:api_keys")
