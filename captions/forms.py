from django import forms

from .languages import LANGUAGE_CHOICES
from .models import CUSTOM_INSTRUCTION_MAX_CHARS, Length, Platform, Tone


class CaptionJobForm(forms.Form):
    file = forms.FileField(
        label="Media file",
        help_text="Audio, video or an image. The type is checked from the file's contents.",
    )
    tone = forms.ChoiceField(choices=Tone.choices, initial=Tone.CASUAL)
    length = forms.ChoiceField(choices=Length.choices, initial=Length.MEDIUM)
    platform = forms.ChoiceField(choices=Platform.choices, initial=Platform.INSTAGRAM)
    language = forms.ChoiceField(
        choices=LANGUAGE_CHOICES, required=False, label="Caption language"
    )
    variant_count = forms.IntegerField(
        min_value=1, max_value=5, initial=3, label="Number of caption variants"
    )
    hashtags = forms.BooleanField(required=False, initial=True, label="Add hashtags")
    emoji = forms.BooleanField(required=False, initial=True, label="Allow emoji")
    custom_instruction = forms.CharField(
        required=False,
        max_length=CUSTOM_INSTRUCTION_MAX_CHARS,
        label="Note for the writer (optional)",
        help_text=f"Up to {CUSTOM_INSTRUCTION_MAX_CHARS} characters, e.g. "
        "'mention our spring sale'.",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": CUSTOM_INSTRUCTION_MAX_CHARS}),
    )
