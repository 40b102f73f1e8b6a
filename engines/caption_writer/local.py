"""The offline caption writer: deterministic drafts that read as if a person wrote them.

A recording's or video's drafts quote its own sentences; a picture's are built from what
is known without a model: words in its file name, its frame and its main colours. Each
draft keeps to the options' words, hashtags and the platform's characters, checked by the
same rules as the model's answers (``validation.validate_captions``).
"""

from __future__ import annotations

import hashlib
import os
import re

from . import phrases, prompts
from .types import (
    WORD_RANGES,
    CallGate,
    CallRecorder,
    CaptionRequest,
    CaptionResult,
    Chapter,
    LlmConfig,
    count_words,
)

SENTENCE = re.compile(r"[^.!?…]+[.!?…]*")
MAX_REWRITES = 4


def _key(draft: str) -> str:
    return " ".join(draft.partition("\n\n")[0].lower().split())


# --- The offline writer --------------------------------------------------------------------


class LocalCaptionWriter:
    """Builds captions from the upload's own words and facts with written templates."""

    name = "local"
    version = "local-writer/3"
    uses_images = False

    def __init__(self, config: LlmConfig | None = None):
        self.config = config or LlmConfig()

    def write(self, request: CaptionRequest, on_call: CallRecorder | None = None,
              before_call: CallGate | None = None) -> CaptionResult:
        # No paid call is made: nothing to gate or to record.
        quotes = _sentences(request.transcript)
        subject = name_subject(request.source_name)
        tags = _hashtags(request, subject)
        variants: list[str] = []
        for index in range(request.variants):
            # A draft equal to an earlier one is written again from the next sentences,
            # then with one sentence more: the variants always differ.
            for attempt in range(2 * MAX_REWRITES):
                turn = index + attempt % MAX_REWRITES * request.variants
                if quotes:
                    opener, optional = _spoken_sentences(request, quotes, turn)
                else:
                    opener, optional = _picture_sentences(request, subject, turn)
                draft = _assemble(request, opener, _rotate(optional, attempt),
                                  tags, extra=attempt // MAX_REWRITES)
                if _key(draft) not in {_key(v) for v in variants}:
                    break
            variants.append(draft)
        summary, chapters = self._outline(request)
        return CaptionResult(
            variants=variants,
            writer=self.name,
            versions={"writer": self.name, "writer_version": self.version},
            # It reuses the spoken words and cannot translate: it claims no language.
            language="",
            prompt_id="local-template",
            prompt_version="3",
            summary=summary,
            chapters=chapters,
        )

    def _outline(self, request: CaptionRequest) -> tuple[str, list[Chapter]]:
        """An extractive outline: the opening lines, and a chapter per equal stretch."""
        segments = [s for s in request.segments if s.text.strip()]
        if not segments or request.duration_seconds < self.config.outline_min_seconds:
            return "", []
        summary = _clip_words(" ".join(s.text.strip() for s in segments[:3]), 60)
        parts = min(self.config.max_chapters, max(2, int(request.duration_seconds // 300) + 1))
        step = request.duration_seconds / parts
        chapters: list[Chapter] = []
        for part in range(parts):
            first = next((s for s in segments if s.start >= part * step), None)
            if first and (not chapters or first.start > chapters[-1].start):
                chapters.append(Chapter(round(first.start, 1), _clip_words(first.text, 8)))
        return summary, chapters


def _clip_words(text: str, limit: int) -> str:
    words = text.split()
    return " ".join(words[:limit])


# --- Drafts --------------------------------------------------------------------------------


def name_subject(source_name: str) -> str:
    """What an upload's file name says it shows, in lower case ("golden hour beach"), or "".

    Camera and editor words (IMG, DSC, final, copy), numbers and dates are left out.
    """
    stem = os.path.splitext(os.path.basename(source_name or ""))[0]
    stem = re.sub(r"([a-z])([A-Z])", r"\1 \2", stem)  # goldenHour -> golden Hour
    words = [w.lower() for w in re.split(r"[^A-Za-z]+", stem) if len(w) > 1]
    words = [w for w in words if w not in phrases.NAME_NOISE]
    unique = list(dict.fromkeys(words))
    return " ".join(unique[:5])


def _sentences(transcript: str) -> list[str]:
    """The transcript's sentences, each starting with a capital and ending with a stop."""
    found = []
    for raw in SENTENCE.findall(" ".join(transcript.split())):
        text = raw.strip(" ,;:-")
        if count_words(text, "en") < 3:
            continue
        if text[-1] not in ".!?…":
            text += "."
        found.append(text[0].upper() + text[1:])
    return found


def _pick(options: list, index: int, salt: str) -> object:
    seed = int(hashlib.sha256(f"{salt}|{index}".encode()).hexdigest(), 16)
    return options[(seed + index) % len(options)]


def _quoted(sentence: str, words: int, chars: int = 10_000) -> str:
    """The sentence in quotes, cut to ``words`` words and ``chars`` characters with "…"."""
    kept = sentence.split()[:words]
    while len(kept) > 3 and len(" ".join(kept)) > chars:
        kept.pop()
    clipped = " ".join(kept)
    if clipped != sentence:
        clipped = clipped.rstrip(",;:.") + "…"
    return f"“{clipped}”"


def _spoken_sentences(request: CaptionRequest, quotes: list[str], index: int):
    low, high = WORD_RANGES[request.length]
    media = "video" if request.media_kind == "video" else "recording"
    template = phrases.SPOKEN_OPENERS[request.tone][index % 3]
    # Room for the opener's words and the closer: the quote is cut to what is left.
    room = max(high - count_words(template, "en") - 4, 3)
    tags = " ".join(_hashtags(request, ""))
    chars = (prompts.PLATFORM_CHAR_LIMITS[request.platform] - len(template) - len(tags)
             - len(phrases.TONE_CLOSERS[request.tone]) - 8)
    first = quotes[index % len(quotes)]
    opener = template.format(quote=_quoted(first, room, chars))
    extras = [e.format(media=media) for e in phrases.SPOKEN_EXTRAS[request.tone]]
    optional = [*_rotate(extras, index), phrases.MEDIA_ASKS.get(request.media_kind, ""),
                *phrases.SPOKEN_ASKS[request.platform]]
    others = [q for q in quotes if q != first]
    if others:
        more = phrases.SPOKEN_MORE.format(quote=_quoted(others[index % len(others)], 25))
        optional.insert(1, more)
    return opener, [o for o in optional if o]


def _picture_sentences(request: CaptionRequest, subject: str, index: int):
    width, height = request.picture_size or (0, 0)
    frame = ("wide" if width > height * 1.15 else "tall" if height > width * 1.15
             else "square")
    colours = list(request.picture_colours[:2])
    kind = "video" if request.media_kind == "video" else "picture"
    facts = {
        "subject": subject or f"this {kind}", "kind": kind, "frame": frame, "width": width,
        "height": height, "fit": phrases.FRAME_FITS[frame],
        "colour": colours[0] if colours else "",
        "colours": " and ".join(colours),
    }
    # A sentence naming what is not known (no colours, no size) is left out.
    unknown = ([] if colours else ["{colour"]) + ([] if width else ["{frame}", "{fit}",
                                                                    "{width}"])

    def known(template: str) -> bool:
        return not any(u in template for u in unknown)

    openers = [t for t, needs in phrases.PICTURE_OPENERS[request.tone]
               if (subject or not needs) and known(t)]
    opener = openers[index % len(openers)].format(**facts)
    details = [d for d in phrases.PICTURE_DETAILS[request.tone] if known(d)]
    extras = [e for e in phrases.PICTURE_EXTRAS[request.tone] if known(e)]
    optional = [*_rotate(details, index), *_rotate(extras, index),
                *phrases.PLATFORM_ASKS[request.platform]]
    return opener, [o.format(**facts) for o in optional]


def _rotate(items: list, index: int) -> list:
    if not items:
        return []
    shift = index % len(items)
    return items[shift:] + items[:shift]


def _hashtags(request: CaptionRequest, subject: str) -> list[str]:
    if not request.hashtags:
        return []
    low, high = prompts.PLATFORM_HASHTAG_RANGES[request.platform]
    tags = list(phrases.PLATFORM_HASHTAGS[request.platform])
    own = "#" + subject.replace(" ", "")
    if subject and len(own) <= 30 and own not in tags:
        tags.insert(0, own)
    return tags[:high]


def _capitalized(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _assemble(request: CaptionRequest, opener: str, optional: list[str],
              tags: list[str], extra: int = 0) -> str:
    """The opener, then optional sentences while the draft is short, then the closer;
    within the length's words and the platform's characters, hashtags on their own line."""
    low, high = WORD_RANGES[request.length]
    limit = prompts.PLATFORM_CHAR_LIMITS[request.platform]
    closer = phrases.TONE_CLOSERS[request.tone]
    tag_line = " ".join(tags)
    target = low + (high - low) // 3

    def draft(sentences: list[str]) -> str:
        text = " ".join(_capitalized(s) for s in [*sentences, closer])
        return f"{text}\n\n{tag_line}" if tag_line else text

    def words(sentences: list[str]) -> int:
        return count_words(" ".join([*sentences, closer]), "en")

    chosen = [opener]
    for sentence in optional:
        if words(chosen) >= target and extra <= 0:
            break
        if words(chosen) >= target:
            extra -= 1
        longer = [*chosen, sentence]
        if words(longer) <= high and len(draft(longer)) <= limit:
            chosen = longer
    return draft(chosen)


