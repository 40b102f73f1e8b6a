from django import forms

from .models import ApiKeyScope


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
