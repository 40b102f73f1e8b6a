"""The API's input for caption options, built from ``captions.options.OPTIONS``.

Its fields describe each option in the OpenAPI schema (type, choices, range, default);
the values themselves are judged by ``caption_options_validate``, the check the
submission service makes, so the API and the web form refuse a bad value with the
same message. Errors keep the API's shape: code ``invalid``, a list of messages per field.
"""

from collections.abc import Mapping

from rest_framework import serializers

from captions.options import OPTION_NAMES, OPTIONS, Option, caption_options_validate
from config.errors import ApplicationError


def _schema_field(option: Option) -> serializers.Field:
    common = {"required": False, "help_text": option.help or option.label,
              "default": option.default}
    if option.kind == "choice":
        return serializers.ChoiceField(choices=option.choices, allow_blank=True, **common)
    if option.kind == "int":
        return serializers.IntegerField(min_value=option.low, max_value=option.high, **common)
    if option.kind == "bool":
        return serializers.BooleanField(**common)
    return serializers.CharField(max_length=option.max_chars, allow_blank=True, **common)


class CaptionOptionsSerializer(serializers.Serializer):
    """Every caption option; an option left out takes its default."""

    def get_fields(self):
        fields = {option.name: _schema_field(option) for option in OPTIONS}
        fields.update(super().get_fields())
        return fields

    def to_internal_value(self, data):
        """``{"options": clean options, **the other fields}``, or every error at once."""
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": ["Send the fields as an object of names and values."]})
        own = {name: field for name, field in self.fields.items() if name not in OPTION_NAMES}
        values, errors = {}, {}
        try:
            values["options"] = caption_options_validate(
                {name: data[name] for name in OPTION_NAMES if name in data})
        except ApplicationError as exc:
            errors.update({name: [message] for name, message in exc.details.items()})
        for name, field in own.items():
            try:
                values[name] = field.run_validation(field.get_value(data))
            except serializers.ValidationError as exc:
                errors[name] = exc.detail
            except serializers.SkipField:
                pass
        if errors:
            raise serializers.ValidationError(errors)
        return values


def _output_field(option: Option) -> serializers.Field:
    if option.kind == "choice":
        return serializers.ChoiceField(choices=option.choices, help_text=option.label)
    if option.kind == "int":
        return serializers.IntegerField(help_text=option.label)
    if option.kind == "bool":
        return serializers.BooleanField(help_text=option.label)
    return serializers.CharField(allow_blank=True, help_text=option.label)


class CaptionOptionsOutputSerializer(serializers.Serializer):
    """A job's caption options as they were applied, defaults included."""

    def get_fields(self):
        return {option.name: _output_field(option) for option in OPTIONS}


# One field instance per option, built once: what the serializer above renders, without
# building a serializer (and deep-copying its fields) for every job on a page.
_OPTION_OUTPUT_FIELDS = tuple((option.name, _output_field(option)) for option in OPTIONS)


def caption_options_output(job) -> dict:
    """``CaptionOptionsOutputSerializer(job).data``, as a plain dict and without the build."""
    out = {}
    for name, field in _OPTION_OUTPUT_FIELDS:
        value = getattr(job, name)
        out[name] = None if value is None else field.to_representation(value)
    return out
