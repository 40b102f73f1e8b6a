from django import forms

from .exports import LIMIT_RANGES, ReadabilityLimits
from .languages import LANGUAGE_CHOICES
from .models import CUSTOM_INSTRUCTION_MAX_CHARS, Length, Platform, Tone


class CaptionJobForm(forms.Form):
    # Subtitle fields are optional: left empty, the defaults of ReadabilityLimits apply.
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
    word_timestamps = forms.BooleanField(
        required=False, label="Time each word",
        help_text="Subtitles follow speech more closely; transcription takes a little longer.",
    )
    subtitle_max_chars_per_line = forms.IntegerField(
        required=False,
        min_value=LIMIT_RANGES["max_chars_per_line"][0],
        max_value=LIMIT_RANGES["max_chars_per_line"][1],
        initial=ReadabilityLimits.max_chars_per_line, label="Subtitle characters per line",
    )
    subtitle_max_lines = forms.IntegerField(
        required=False,
        min_value=LIMIT_RANGES["max_lines_per_cue"][0],
        max_value=LIMIT_RANGES["max_lines_per_cue"][1],
        initial=ReadabilityLimits.max_lines_per_cue, label="Subtitle lines",
    )
    subtitle_max_chars_per_second = forms.IntegerField(
        required=False,
        min_value=LIMIT_RANGES["max_chars_per_second"][0],
        max_value=LIMIT_RANGES["max_chars_per_second"][1],
        initial=ReadabilityLimits.max_chars_per_second,
        label="Subtitle reading speed (characters per second)",
    )
    subtitle_min_cue_ms = forms.IntegerField(
        required=False,
        min_value=LIMIT_RANGES["min_cue_ms"][0], max_value=LIMIT_RANGES["min_cue_ms"][1],
        initial=ReadabilityLimits.min_cue_ms, label="Shortest subtitle (ms)",
    )
    subtitle_max_cue_ms = forms.IntegerField(
        required=False,
        min_value=LIMIT_RANGES["max_cue_ms"][0], max_value=LIMIT_RANGES["max_cue_ms"][1],
        initial=ReadabilityLimits.max_cue_ms, label="Longest subtitle (ms)",
    )
