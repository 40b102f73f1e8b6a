from django import forms

from .models import SUBSCRIBABLE_EVENTS, OutboundEventType

EVENT_CHOICES = [(e.value, OutboundEventType(e).label) for e in SUBSCRIBABLE_EVENTS]


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(max_length=2000, label="URL", assume_scheme="https",
                         help_text="A public http(s) address; redirects are not followed.")
    events = forms.MultipleChoiceField(choices=EVENT_CHOICES, initial=list(SUBSCRIBABLE_EVENTS),
                                       widget=forms.CheckboxSelectMultiple)
    description = forms.CharField(max_length=200, required=False)
