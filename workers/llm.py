"""Caption writers.

``LocalCaptionWriter`` is deterministic and needs no network: the product runs
end to end on a laptop and in tests. Its captions are offline drafts and are
labelled as such wherever a customer sees them. The Bedrock writer plugs in
behind the same ``write`` interface.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

WORD_RANGES = {"short": (5, 20), "medium": (20, 50), "long": (50, 120)}

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


@dataclass(frozen=True)
class CaptionRequest:
    media_kind: str
    transcript: str
    tone: str
    length: str
    platform: str
    language: str
    variants: int = 3
    image_description: str = ""


@dataclass(frozen=True)
class CaptionResult:
    variants: list[str]
    writer: str
    versions: dict


class LocalCaptionWriter:
    """Builds captions from the transcript's own words with fixed templates."""

    name = "local"
    version = "local-writer/1"

    def write(self, request: CaptionRequest) -> CaptionResult:
        low, high = WORD_RANGES[request.length]
        source = request.transcript.strip() or request.image_description.strip()
        words = re.findall(r"\S+", source)
        openers = TONE_OPENERS[request.tone]
        tags = PLATFORM_HASHTAGS[request.platform]
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
            text = f"{sentence} {closer} {' '.join(tags[: 1 + index % len(tags)])}"
            variants.append(_clip_words(text, high))
        return CaptionResult(
            variants=variants,
            writer=self.name,
            versions={"writer": self.name, "writer_version": self.version},
        )


def _clip_words(text: str, limit: int) -> str:
    words = text.split()
    return " ".join(words[:limit])


def get_writer(name: str) -> LocalCaptionWriter:
    if name == "local":
        return LocalCaptionWriter()
    raise ValueError(f"Unknown CAPTION_WRITER '{name}'. Available: local.")
