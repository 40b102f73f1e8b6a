"""Caption options, declared once: their kinds, defaults, limits, labels and messages.

``OPTIONS`` is the one list. ``caption_options_validate`` is the one check, with the
messages a person reads, used by the services whatever the request came from; the web
form's fields (``CaptionJobForm``) and the API's input serializer
(``CaptionOptionsSerializer``) are both built from ``OPTIONS`` and leave judging the
values to that check, so a bad value gets the same message on the page and in the API.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from config.errors import ApplicationError

from .exports import LIMIT_RANGES, ReadabilityLimits
from .languages import LANGUAGE_CHOICES
from .models import CUSTOM_INSTRUCTION_MAX_CHARS, Length, Platform, Tone

MAX_VARIANTS = 5
_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"0", "false", "off", "no"})


@dataclass(frozen=True)
class Option:
    """One caption option. ``kind`` is 'choice', 'int', 'bool' or 'text'."""

    name: str
    kind: str
    default: object
    label: str
    help: str = ""
    choices: tuple = ()
    low: int | None = None
    high: int | None = None
    max_chars: int | None = None
    # Shown on the form under "Subtitle timing", not with the caption options.
    subtitle: bool = False
    # The message for a value outside the choices or range.
    message: str = ""

    @property
    def values(self) -> tuple:
        return tuple(value for value, _ in self.choices)


def _choice(name, enum, default, label, help_text=""):
    return Option(name, "choice", default, label, help_text, choices=tuple(enum.choices),
                  message=f"Choose one of: {', '.join(enum.values)}.")


def _subtitle(name, limit, label, what):
    low, high = LIMIT_RANGES[limit]
    return Option(name, "int", getattr(ReadabilityLimits, limit), label, low=low, high=high,
                  subtitle=True, message=f"Choose between {low} and {high} {what}.")


OPTIONS: tuple[Option, ...] = (
    _choice("tone", Tone, Tone.CASUAL, "Tone"),
    _choice("length", Length, Length.MEDIUM, "Length"),
    _choice("platform", Platform, Platform.INSTAGRAM, "Platform"),
    Option("language", "choice", "", "Caption language",
           "Two-letter code for the captions; empty = as spoken.",
           choices=tuple(LANGUAGE_CHOICES),
           message="Unsupported language code; use a two-letter code such as 'en'."),
    Option("variant_count", "int", 3, "Number of caption variants", low=1, high=MAX_VARIANTS,
           message=f"Ask for between 1 and {MAX_VARIANTS} caption variants."),
    Option("hashtags", "bool", True, "Add hashtags"),
    Option("emoji", "bool", True, "Allow emoji"),
    Option("custom_instruction", "text", "", "Note for the writer (optional)",
           f"Up to {CUSTOM_INSTRUCTION_MAX_CHARS} characters, e.g. 'mention our spring sale'.",
           max_chars=CUSTOM_INSTRUCTION_MAX_CHARS),
    Option("word_timestamps", "bool", False, "Time each word",
           "Subtitles follow speech more closely; transcription takes a little longer."),
    Option("split_channels", "bool", False, "One speaker per channel",
           "For stereo recordings with a speaker on each side (two microphones, a call): each "
           "channel is transcribed on its own and labelled Left or Right. Each channel is "
           "charged as audio."),
    _subtitle("subtitle_max_chars_per_line", "max_chars_per_line",
              "Subtitle characters per line", "characters per line"),
    _subtitle("subtitle_max_lines", "max_lines_per_cue", "Subtitle lines", "lines per subtitle"),
    _subtitle("subtitle_max_chars_per_second", "max_chars_per_second",
              "Subtitle reading speed (characters per second)", "characters per second"),
    _subtitle("subtitle_min_cue_ms", "min_cue_ms", "Shortest subtitle (ms)",
              "milliseconds on screen at least"),
    _subtitle("subtitle_max_cue_ms", "max_cue_ms", "Longest subtitle (ms)",
              "milliseconds on screen at most"),
)
OPTION_NAMES = frozenset(option.name for option in OPTIONS)


def _clean_bool(value):
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if value in (0, 1) and not isinstance(value, float):
        return bool(value)
    return value if isinstance(value, bool) else None


def _clean_text(option: Option, value, errors: dict) -> str:
    if not isinstance(value, str):
        errors[option.name] = "Give the instruction as text."
        return ""
    # Control and invisible formatting characters (right-to-left overrides included) only
    # serve to hide text from the person reading the job page.
    value = "".join(
        ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in value
    ).strip()
    if option.max_chars is not None and len(value) > option.max_chars:
        errors[option.name] = (
            f"Keep the instruction to {option.max_chars} characters; it has {len(value):,}."
        )
    return value


def caption_options_validate(options) -> dict:
    """Return every caption option, clean, or raise ApplicationError(400) naming each bad one.

    ``options`` maps names to what the client sent (strings from a form, JSON values from
    the API); an option left out or empty takes its default.
    """
    errors: dict[str, str] = {}
    clean: dict = {}
    for option in OPTIONS:
        value = options.get(option.name)
        if value is None or (value == "" and option.kind != "text"):
            clean[option.name] = option.default
            continue
        if option.kind == "choice":
            if value not in option.values:
                errors[option.name] = option.message
            clean[option.name] = value
        elif option.kind == "int":
            try:
                if isinstance(value, bool | float):
                    raise TypeError
                clean[option.name] = int(value)
                if not option.low <= clean[option.name] <= option.high:
                    raise ValueError
            except (TypeError, ValueError):
                errors[option.name] = option.message
        elif option.kind == "bool":
            clean[option.name] = _clean_bool(value)
            if clean[option.name] is None:
                errors[option.name] = "Use true or false."
        else:
            clean[option.name] = _clean_text(option, value, errors)
    if clean["platform"] == Platform.X and clean["length"] == Length.LONG:
        # 50+ words and hashtags do not fit in X's 280 characters.
        errors.setdefault("length",
                          "Posts on X hold 280 characters; choose a short or medium length.")
    if ("subtitle_min_cue_ms" not in errors and "subtitle_max_cue_ms" not in errors
            and clean["subtitle_min_cue_ms"] > clean["subtitle_max_cue_ms"]):
        errors["subtitle_min_cue_ms"] = (
            "The shortest time on screen cannot be longer than the longest."
        )
    if errors:
        raise ApplicationError(
            "Some caption options are not valid.", code="invalid_options", details=errors
        )
    return clean

