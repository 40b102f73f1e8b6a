"""Caption writers: Claude on Amazon Bedrock (or the Anthropic API), and an offline one.

``ClaudeCaptionWriter`` asks Claude for captions through the ``anthropic`` SDK
(``AnthropicBedrock`` in production) and gets them back through a forced tool call,
validated strictly here, with one repair round at most. Every model call is reported
to the caller's ``on_call`` as a ``CallRecord`` (tokens and integer micro-dollar cost
for calls that returned; none for calls that failed), so the caller can store it.

``LocalCaptionWriter`` is deterministic and needs no network: the product runs end to
end on a laptop and in tests. Its captions are offline drafts and are labelled as
such wherever a customer sees them.

Engines know nothing of Django: everything comes in through ``LlmConfig`` and
``CaptionRequest``.
"""

from .claude import ClaudeCaptionWriter
from .local import LocalCaptionWriter
from .types import (
    CallRecord,
    CaptionRequest,
    CaptionResult,
    Chapter,
    LlmConfig,
    TimedText,
    cost_micro_usd,
    count_words,
    price_for,
)
from .validation import validate_captions, validate_outline, validate_summary

__all__ = [
    "CallRecord", "CaptionRequest", "CaptionResult", "Chapter", "ClaudeCaptionWriter",
    "LlmConfig", "LocalCaptionWriter", "TimedText", "cost_micro_usd", "count_words",
    "get_writer", "price_for", "validate_captions", "validate_outline", "validate_summary",
]


def get_writer(name: str, config: LlmConfig | None = None):
    """The writer named by CAPTION_WRITER: 'local', 'bedrock' or 'anthropic'."""
    if name == "local":
        return LocalCaptionWriter(config)
    if name in ("bedrock", "anthropic"):
        if config is None or config.backend != name:
            raise ValueError(f"CAPTION_WRITER '{name}' needs its LlmConfig.")
        return ClaudeCaptionWriter(config)
    raise ValueError(f"Unknown CAPTION_WRITER '{name}'. Available: local, bedrock, anthropic.")

