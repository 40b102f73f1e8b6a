"""Strict checks of what Claude returned, in words the model can fix."""

from __future__ import annotations

from . import prompts
from .types import EMOJI, HASHTAG, HASHTAG_IN_TEXT, WORD_RANGES, count_words

# --- Validation -----------------------------------------------------------------------------


def validate_captions(data, brief: prompts.CaptionBrief) -> list[str]:
    """Every way the answer breaks the customer's options, in words the model can fix."""
    if not isinstance(data, dict):
        return ["the tool input is not an object"]
    problems = [f"unexpected field '{k}'" for k in data if k not in ("language", "captions")]
    language = data.get("language")
    if not isinstance(language, str) or language.strip().lower() != brief.language:
        problems.append(f"language must be '{brief.language}', got {language!r}")
    captions = data.get("captions")
    if not isinstance(captions, list):
        return [*problems, "captions must be a list"]
    if len(captions) != brief.variants:
        problems.append(f"exactly {brief.variants} captions are needed, got {len(captions)}")
    low, high = WORD_RANGES[brief.length]
    tag_low, tag_high = prompts.PLATFORM_HASHTAG_RANGES[brief.platform]
    limit = prompts.PLATFORM_CHAR_LIMITS[brief.platform]
    seen = set()
    for number, item in enumerate(captions, 1):
        where = f"caption {number}"
        if not isinstance(item, dict) or set(item) != {"text", "hashtags"}:
            problems.append(f"{where} must have exactly the fields text and hashtags")
            continue
        text, tags = item["text"], item["hashtags"]
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where} has no text")
            continue
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            problems.append(f"{where}: hashtags must be a list of strings")
            continue
        words = count_words(text, brief.language)
        if not low <= words <= high:
            problems.append(f"{where} has {words} words; it needs {low} to {high}")
        if brief.hashtags:
            if not tag_low <= len(tags) <= tag_high:
                problems.append(f"{where} has {len(tags)} hashtags; it needs {tag_low} to "
                                f"{tag_high}")
            bad = [t for t in tags if not HASHTAG.match(t)]
            if bad:
                problems.append(f"{where}: {bad[0]!r} is not a hashtag like #word")
        elif tags:
            problems.append(f"{where} has hashtags, but hashtags are turned off")
        if HASHTAG_IN_TEXT.search(text):
            problems.append(f"{where} has a hashtag inside its text")
        if not brief.emoji and (EMOJI.search(text) or any(EMOJI.search(t) for t in tags)):
            problems.append(f"{where} uses emoji, but emoji are turned off")
        if len(post_text(item)) > limit:
            problems.append(f"{where} is longer than {limit} characters with its hashtags")
        key = " ".join(text.lower().split())
        if key in seen:
            problems.append(f"{where} repeats an earlier caption")
        seen.add(key)
    return problems


def validate_outline(data, *, span: tuple[float, float], duration: float) -> list[str]:
    if not isinstance(data, dict) or set(data) != {"summary", "chapters"}:
        return ["the tool input must have exactly the fields summary and chapters"]
    problems = validate_summary({"summary": data["summary"]})
    chapters = data["chapters"]
    if not isinstance(chapters, list) or not chapters:
        return [*problems, "chapters must be a non-empty list"]
    previous = -1.0
    # Timestamps come from the transcript lines; allow rounding of a second either side.
    first, last = max(0.0, span[0] - 1), min(duration or span[1], span[1]) + 1
    for number, chapter in enumerate(chapters, 1):
        where = f"chapter {number}"
        if not isinstance(chapter, dict) or set(chapter) != {"start_seconds", "title"}:
            problems.append(f"{where} must have exactly start_seconds and title")
            continue
        start, title = chapter["start_seconds"], chapter["title"]
        if isinstance(start, bool) or not isinstance(start, int | float):
            problems.append(f"{where}: start_seconds must be a number")
            continue
        if not first <= start <= last:
            problems.append(f"{where} starts at {start}s, outside {first:.0f}s to {last:.0f}s")
        if start <= previous:
            problems.append(f"{where} does not start after the chapter before it")
        previous = start
        if not isinstance(title, str) or not title.strip() or len(title) > 100:
            problems.append(f"{where} needs a title of 1 to 100 characters")
    return problems


def validate_summary(data) -> list[str]:
    summary = data.get("summary") if isinstance(data, dict) else None
    if not isinstance(summary, str) or not summary.strip():
        return ["summary must be non-empty text"]
    if len(summary) > 3000:
        return ["summary must be at most 3000 characters"]
    return []

def post_text(item: dict) -> str:
    text = item["text"].strip()
    return f"{text}\n\n{' '.join(item['hashtags'])}" if item["hashtags"] else text
