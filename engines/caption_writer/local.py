"""The offline caption writer: deterministic drafts from the transcript's own words."""

from __future__ import annotations

import hashlib
import re

from .types import (
    WORD_RANGES,
    CallGate,
    CallRecorder,
    CaptionRequest,
    CaptionResult,
    Chapter,
    LlmConfig,
)

PLATFORM_HASHTAGS = {
    "instagram": ["#instagood", "#reels", "#photooftheday"],
    "tiktok": ["#fyp", "#foryou", "#tiktok"],
    "youtube": ["#youtube", "#shorts", "#subscribe"],
    "linkedin": ["#leadership", "#learning", "#careers"],
    "x": ["#trending"],
}

TONE_OPENERS = {
    "professional": ["Key takeaway:", "In brief:", "Worth knowing:"],
    "casual": ["So,", "Okay, real talk:", "Quick one:"],
    "funny": ["Plot twist:", "Nobody asked, but:", "Hot take:"],
    "inspirational": ["Remember this:", "Let this sink in:", "Here's your sign:"],
    "informative": ["Did you know?", "Here's what matters:", "The facts:"],
}

TONE_CLOSERS = {
    "professional": "What is your view?",
    "casual": "Thoughts?",
    "funny": "You're welcome.",
    "inspirational": "Keep going.",
    "informative": "Save this for later.",
}

FILLER = (
    "Watch until the end and share it with someone who needs to hear it today, "
    "because moments like this are worth remembering and talking about together"
).split()


# --- The offline writer --------------------------------------------------------------------


class LocalCaptionWriter:
    """Builds captions from the transcript's own words with fixed templates."""

    name = "local"
    version = "local-writer/2"
    uses_images = False

    def __init__(self, config: LlmConfig | None = None):
        self.config = config or LlmConfig()

    def write(self, request: CaptionRequest, on_call: CallRecorder | None = None,
              before_call: CallGate | None = None) -> CaptionResult:
        # No paid call is made: nothing to gate or to record.
        low, high = WORD_RANGES[request.length]
        source = request.transcript.strip() or request.image_description.strip()
        words = re.findall(r"\S+", source)
        openers = TONE_OPENERS[request.tone]
        tags = PLATFORM_HASHTAGS[request.platform] if request.hashtags else []
        variants = []
        for index in range(request.variants):
            opener = openers[index % len(openers)]
            # Each variant starts at a different, deterministic place in the transcript.
            seed = int(hashlib.sha256(f"{source}|{index}".encode()).hexdigest(), 16)
            start = seed % len(words) if len(words) > high else 0
            body = (words[start:] + words[:start])[: max(high - 8, low)]
            body_words = [opener, *body]
            if len(body_words) < low:
                body_words += FILLER[: low - len(body_words)]
            sentence = " ".join(body_words).rstrip(",;:") + "."
            closer = TONE_CLOSERS[request.tone]
            text = f"{sentence} {closer}"
            if tags:
                text += " " + " ".join(tags[: 1 + index % len(tags)])
            variants.append(_clip_words(text, high))
        summary, chapters = self._outline(request)
        return CaptionResult(
            variants=variants,
            writer=self.name,
            versions={"writer": self.name, "writer_version": self.version},
            # It reuses the spoken words and cannot translate: it claims no language.
            language="",
            prompt_id="local-template",
            prompt_version="2",
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


