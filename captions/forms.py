"""The new-job form: the file, and the caption options built from ``captions.options``.

The option fields render the choices, defaults, ranges and labels declared there but
judge nothing themselves: the submission service checks the values with
``caption_options_validate`` and its messages are shown beside each field, exactly as
the API reports them.
"""

from django import forms

from .models import BurnInAspect, BurnInFontSize, BurnInPosition
from .options import OPTIONS, Option


class _AsSent:
    """A form field that passes on what its widget read; the options check judges it."""

    def clean(self, value):
        return value


class _AsSentChoice(_AsSent, forms.ChoiceField):
    pass


class _AsSentInteger(_AsSent, forms.IntegerField):
    pass


class _AsSentBoolean(_AsSent, forms.BooleanField):
    pass


class _AsSentText(_AsSent, forms.CharField):
    pass


def _form_field(option: Option) -> forms.Field:
    common = {"label": option.label, "help_text": option.help, "required": False,
              "initial": option.default}
    if option.kind == "choice":
        return _AsSentChoice(choices=option.choices, **common)
    if option.kind == "int":
        return _AsSentInteger(min_value=option.low, max_value=option.high, **common)
    if option.kind == "bool":
        return _AsSentBoolean(**common)
    return _AsSentText(
        max_length=option.max_chars,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": option.max_chars}), **common,
    )


class CaptionJobForm(forms.Form):
    file = forms.FileField(
        label="Media file",
        help_text="Audio, video or an image. The type is checked from the file's contents.",
    )

    def __init__(self, *args, video_allowed: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        # The browser's file picker offers what the plan takes (a hint: the server checks
        # the contents). The input is hidden inside its drop zone, which is its label.
        file_field = self.fields["file"]
        file_field.widget.attrs.update({
            "class": "visually-hidden",
            "accept": "audio/*,video/*,image/*" if video_allowed else "audio/*,image/*"})
        if not video_allowed:
            file_field.help_text = ("Audio or an image. The type is checked from the file's "
                                    "contents.")
        for option in OPTIONS:
            self.fields[option.name] = _form_field(option)
        # Last on the form: not a caption option, but whether an earlier result may answer.
        self.fields["fresh"] = forms.BooleanField(
            label="Run again even if this file was captioned with these options before",
            help_text="Otherwise the earlier result is shown at once, at no charge.",
            required=False, initial=False,
        )

    def caption_fields(self) -> list:
        return [f for f in self if f.name != "file" and not f.name.startswith("subtitle_")]

    def subtitle_fields(self) -> list:
        """The subtitle timing limits: shown under "Subtitle timing", closed unless wrong."""
        return [f for f in self if f.name.startswith("subtitle_")]

    def options(self) -> dict:
        """The caption options as sent, for the submission service to check."""
        return {o.name: self.cleaned_data.get(o.name) for o in OPTIONS}


class TranscriptEditForm(forms.Form):
    """One text field per transcript line, labelled with its time; the service judges."""

    def __init__(self, *args, segments: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        for index, segment in enumerate(segments):
            start = int(float(segment["start"]))
            self.fields[f"line_{index}"] = _AsSentText(
                label=f"{start // 60}:{start % 60:02d}", required=False,
                initial=segment.get("text", ""),
                widget=forms.Textarea(attrs={"rows": 2}))

    def texts(self) -> dict[int, str]:
        return {int(name.removeprefix("line_")): value or ""
                for name, value in self.cleaned_data.items()}


class BurnInForm(forms.Form):
    """The burn-in style on the job page; ``burn_in_options_validate`` judges the values."""

    font_size = forms.ChoiceField(label="Text size", choices=BurnInFontSize.choices,
                                  initial=BurnInFontSize.MEDIUM, required=False)
    position = forms.ChoiceField(label="Position", choices=BurnInPosition.choices,
                                 initial=BurnInPosition.BOTTOM, required=False)
    aspect = forms.ChoiceField(label="Shape", choices=BurnInAspect.choices, required=False,
                               help_text="Other shapes are letterboxed: the whole picture "
                                         "is kept, never stretched.")
    box = forms.BooleanField(label="Box behind the text", initial=True, required=False)

    def options(self) -> dict:
        data = self.cleaned_data
        return {"font_size": data["font_size"], "position": data["position"],
                "aspect": data["aspect"], "box": bool(data["box"])}
