from allauth.account.adapter import get_adapter
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.views.decorators.debug import sensitive_variables

from .models import ApiKeyScope


class AccountDeleteForm(forms.Form):
    password = forms.CharField(
        label="Your password", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="To be sure it is you.",
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Which app or person will use the key.")
    scopes = forms.MultipleChoiceField(
        choices=ApiKeyScope.choices,
        initial=[ApiKeyScope.READ, ApiKeyScope.WRITE],
        widget=forms.CheckboxSelectMultiple,
        help_text="Read: list and download. Write: submit, cancel, retry, delete.",
    )
    expires_at = forms.DateTimeField(
        required=False, help_text="Optional, UTC, e.g. 2027-01-31 23:59.",
    )


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login, checked through allauth like the customers' login.

    Staff accounts are the ones most worth guessing: their wrong passwords count against
    the same ``ACCOUNT_RATE_LIMITS["login_failed"]`` buckets (per address, per email) as
    /accounts/login/, so guesses cannot be spread over both doors. A right password gives
    back what its own try consumed, as on the customers' login; the limit is a rate that
    passes with its window, never a lock-out.
    """

    @sensitive_variables()
    def clean(self):
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is not None and password:
            # Raises allauth's "Too many failed login attempts" while the limit holds.
            self.user_cache = get_adapter(self.request).authenticate(
                self.request, email=email, password=password
            )
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
