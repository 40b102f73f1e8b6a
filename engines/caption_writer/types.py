"""What a caption writer takes and gives back, what its calls cost, and shared limits."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import LlmMisconfigured
from ..images import ModelImage
from . import prompts

WORD_RANGES = prompts.WORD_RANGES

# Scripts written without spaces between words: about two characters make a word.
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "yue"})
EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U00002b00-\U00002bff"
    "\U00002300-\U000023ff\ufe0f\u200d]"
)
HASHTAG = re.compile(r"^#[^\s#]{1,100}$")
HASHTAG_IN_TEXT = re.compile(r"(?<![\w&])#\w")

# Bedrock and the Anthropic API both prefix cross-region inference profiles like this.
REGION_PREFIX = re.compile(r"^(us|eu|apac|global|jp|au|ca|us-gov)\.")


# --- What goes in and comes out -----------------------------------------------------------


@dataclass(frozen=True)
class TimedText:
    start: float
    end: float
    text: str


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
    language_name: str = ""
    hashtags: bool = True
    emoji: bool = True
    custom_instruction: str = ""
    segments: tuple[TimedText, ...] = ()
    duration_seconds: float = 0.0
    images: tuple[ModelImage, ...] = ()
    # What is known of the upload offline: its name as given, and for a picture its size
    # and main colours. The offline writer builds image drafts from these.
    source_name: str = ""
    picture_size: tuple[int, int] | None = None
    picture_colours: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chapter:
    start: float
    title: str


@dataclass(frozen=True)
class CaptionResult:
    variants: list[str]
    writer: str
    versions: dict
    language: str = ""
    prompt_id: str = ""
    prompt_version: str = ""
    summary: str = ""
    chapters: list[Chapter] = field(default_factory=list)


@dataclass(frozen=True)
class CallRecord:
    """One logical model call, however many HTTP tries it took."""

    call_index: int
    purpose: str
    backend: str
    model: str
    prompt_id: str
    prompt_version: str
    status: str  # "succeeded" or "failed"
    tries: int
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micro_usd: int = 0
    error_code: str = ""
    request_id: str = ""
    duration_ms: int = 0


CallRecorder = Callable[[CallRecord], None]
# Called before each paid call with (call_index, purpose, most the call can cost in
# micro-dollars); it may raise to refuse the call (the hourly cost cap).
CallGate = Callable[[int, str, int], None]


@dataclass(frozen=True)
class LlmConfig:
    backend: str = "bedrock"  # "bedrock" or "anthropic"
    model: str = ""
    region: str = "us-east-1"
    endpoint_url: str | None = None
    api_key: str = ""
    timeout_seconds: float = 60.0
    max_tries: int = 4
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 20.0
    max_output_tokens: int = 2048
    # model id -> (input, output) in micro-dollars per million tokens
    prices: dict = field(default_factory=dict)
    transcript_chunk_chars: int = 24_000
    outline_min_seconds: float = 180.0
    max_chapters: int = 10


def cost_micro_usd(*, input_tokens: int, output_tokens: int, price: tuple[int, int]) -> int:
    """Integer micro-dollars, rounded up so a recorded cost never understates a call."""
    total = input_tokens * int(price[0]) + output_tokens * int(price[1])
    return -(-total // 1_000_000)


def price_for(model: str, prices: dict) -> tuple[int, int]:
    """The price row for a model id, or for the same model behind a regional profile."""
    for key in (model, REGION_PREFIX.sub("", model)):
        if key in prices:
            low, high = prices[key]
            return int(low), int(high)
    raise LlmMisconfigured(
        "Caption writing is not set up correctly on our side (the model has no price). "
        "We have been told; please retry later.",
        code="llm_no_price",
    )


def input_tokens_ceiling(*, system, messages, tool) -> int:
    """An upper bound on a request's input tokens, for reserving its cost before the call.

    Text: one token per two UTF-8 bytes (real tokenizers average three to four bytes a
    token, and one CJK character, three bytes, is at most one or two tokens). Images:
    Claude counts about width x height / 750 tokens; the base64 bytes are not text.
    """
    text_bytes = len(json.dumps(system, ensure_ascii=False).encode())
    text_bytes += len(json.dumps(tool, ensure_ascii=False).encode())
    image_tokens = 0
    for message in messages:
        content = message.get("content")
        blocks = content if isinstance(content, list) else [content]
        for block in blocks:
            if isinstance(block, dict) and block.get("type") == "image":
                image_tokens += _image_tokens(block)
            else:
                text_bytes += len(json.dumps(block, ensure_ascii=False).encode())
    return text_bytes // 2 + image_tokens + 64


def _image_tokens(block: dict) -> int:
    import io

    from PIL import Image

    try:
        data = base64.b64decode(block["source"]["data"])
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except Exception:  # noqa: BLE001 - an unreadable block is priced as the largest image
        width = height = 1568
    return width * height // 750 + 1


def count_words(text: str, language: str) -> int:
    if language in NO_SPACE_LANGUAGES:
        return math.ceil(len(re.findall(r"\w", text)) / 2)
    return sum(1 for token in text.split() if re.search(r"\w", token))


