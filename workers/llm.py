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

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import prompts
from .errors import LlmMisconfigured, LlmOutputInvalid, LlmUnavailable
from .images import ModelImage

logger = logging.getLogger(__name__)

WORD_RANGES = prompts.WORD_RANGES

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

# Scripts written without spaces between words: about two characters make a word.
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "yue"})
EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U00002b00-\U00002bff"
    "\U00002300-\U000023ff\ufe0f\u200d]"
)
HASHTAG = re.compile(r"^#[^\s#]{1,100}$")
HASHTAG_IN_TEXT = re.compile(r"(?<![\w&])#\w")
BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
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


# --- Claude -------------------------------------------------------------------------------


class _Retryable(Exception):
    def __init__(self, code: str, retry_after: float | None = None):
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after


@dataclass
class _Session:
    on_call: CallRecorder | None
    before_call: CallGate | None = None
    calls: int = 0

    def next_index(self) -> int:
        index = self.calls
        self.calls += 1
        return index


class ClaudeCaptionWriter:
    """Captions from Claude, through the SDK's Bedrock client or the Anthropic API client.

    The SDK's own retries are off (``max_retries=0``): this class retries throttling,
    server errors, timeouts and unreadable responses itself, a bounded number of times
    with exponential backoff and jitter, so that one logical call is recorded once
    however many tries it took.
    """

    version = "claude-writer/1"
    uses_images = True

    def __init__(self, config: LlmConfig, *, client=None,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] = random.random):
        if config.backend not in ("bedrock", "anthropic"):
            raise ValueError(f"Unknown Claude backend '{config.backend}'.")
        self.config = config
        self.name = config.backend
        self._client = client
        self._sleep = sleep
        self._rng = rng
        self._price = price_for(config.model, config.prices)
        # Bedrock documents one Messages version for InvokeModel; SDK 2.x would otherwise
        # send the first-party API's date, which Bedrock does not list.
        bedrock = config.backend == "bedrock"
        self._extra_body = {"anthropic_version": BEDROCK_ANTHROPIC_VERSION} if bedrock else None

    @property
    def client(self):
        if self._client is None:
            self._client = self._build_client()
        return self._client

    def _build_client(self):
        import anthropic

        common = {"max_retries": 0, "timeout": self.config.timeout_seconds}
        if self.config.backend == "bedrock":
            return anthropic.AnthropicBedrock(
                aws_region=self.config.region,
                base_url=self.config.endpoint_url or None,
                **common,
            )
        if not self.config.api_key:
            raise LlmMisconfigured(
                "Caption writing is not set up correctly on our side (no API key). "
                "We have been told; please retry later.",
                code="llm_no_credentials",
            )
        return anthropic.Anthropic(
            api_key=self.config.api_key, base_url=self.config.endpoint_url or None, **common
        )

    # -- the job's captions --

    def write(self, request: CaptionRequest, on_call: CallRecorder | None = None,
              before_call: CallGate | None = None) -> CaptionResult:
        session = _Session(on_call=on_call, before_call=before_call)
        language = request.language or "en"
        language_name = request.language_name or language
        summary, chapters = "", []
        material = request.transcript.strip()
        too_long = len(material) > self.config.transcript_chunk_chars
        segments = [s for s in request.segments if s.text.strip()]
        if segments and (request.duration_seconds >= self.config.outline_min_seconds or too_long):
            summary, chapters = self._outline(session, segments, language, language_name,
                                              request.duration_seconds)
        if too_long:
            # The captions need the gist, not every word: the outline's summary carries it.
            material = summary or material[: self.config.transcript_chunk_chars]
        brief = prompts.CaptionBrief(
            media_kind=request.media_kind,
            tone=request.tone,
            length=request.length,
            platform=request.platform,
            language=language,
            language_name=language_name,
            variants=request.variants,
            hashtags=request.hashtags,
            emoji=request.emoji,
            custom_instruction=request.custom_instruction,
            transcript=material,
            transcript_is_summary=too_long and bool(summary),
            image_count=len(request.images),
            image_note=_image_note(request),
        )
        content = [_image_block(image) for image in request.images]
        content.append({"type": "text", "text": prompts.captions_user_text(brief)})
        data = self._structured_call(
            session,
            purpose="captions",
            prompt=prompts.CAPTIONS_PROMPT,
            system=prompts.captions_system(brief),
            content=content,
            tool=prompts.captions_tool(brief),
            validate=lambda data: validate_captions(data, brief),
            failure=(
                "The AI writer's captions did not follow the options you chose, even after "
                "one correction ({problems}). No captions were saved; retry the job, or "
                "loosen the options (for example a different length)."
            ),
        )
        variants = [_post_text(item) for item in data["captions"]]
        prompt_id, prompt_version = prompts.CAPTIONS_PROMPT
        return CaptionResult(
            variants=variants,
            writer=self.name,
            versions={
                "writer": self.name,
                "writer_version": self.version,
                "model": self.config.model,
                "prompt": f"{prompt_id}/{prompt_version}",
            },
            language=language,
            prompt_id=prompt_id,
            prompt_version=prompt_version,
            summary=summary,
            chapters=chapters,
        )

    # -- summary and chapters --

    def _outline(self, session, segments: list[TimedText], language: str, language_name: str,
                 duration: float) -> tuple[str, list[Chapter]]:
        chunks = _chunk_segments(segments, self.config.transcript_chunk_chars)
        summaries: list[str] = []
        chapters: list[Chapter] = []
        max_chapters = self.config.max_chapters
        per_chunk = max(2, max_chapters // len(chunks))
        for number, chunk in enumerate(chunks, 1):
            span = (chunk[0].start, chunk[-1].end)
            data = self._structured_call(
                session,
                purpose="outline",
                prompt=prompts.OUTLINE_PROMPT,
                system=prompts.outline_system(language_name=language_name, language=language,
                                              max_chapters=per_chunk),
                content=[{"type": "text", "text": prompts.outline_user_text(
                    _timed_lines(chunk), part=number, parts=len(chunks))}],
                tool=prompts.outline_tool(max_chapters=per_chunk),
                validate=lambda data, span=span: validate_outline(data, span=span,
                                                                  duration=duration),
                failure=(
                    "The AI writer's summary and chapters were not usable, even after one "
                    "correction ({problems}). No captions were saved; retry the job."
                ),
            )
            summaries.append(data["summary"].strip())
            chapters += [Chapter(round(float(c["start_seconds"]), 1), c["title"].strip())
                         for c in data["chapters"]]
        # Neighbouring chunks may both claim the boundary second: keep time order, no twins.
        ordered: list[Chapter] = []
        for chapter in sorted(chapters, key=lambda c: c.start):
            if not ordered or chapter.start > ordered[-1].start:
                ordered.append(chapter)
        chapters = ordered[:max_chapters]
        if len(summaries) == 1:
            return summaries[0], chapters
        data = self._structured_call(
            session,
            purpose="summary",
            prompt=prompts.SUMMARY_PROMPT,
            system=prompts.summary_system(language_name=language_name, language=language),
            content=[{"type": "text", "text": prompts.summary_user_text(summaries)}],
            tool=prompts.summary_tool(),
            validate=validate_summary,
            failure=(
                "The AI writer's summary was not usable, even after one correction "
                "({problems}). No captions were saved; retry the job."
            ),
        )
        return data["summary"].strip(), chapters

    # -- one validated answer: a call, and one repair call at most --

    def _structured_call(self, session, *, purpose, prompt, system, content, tool, validate,
                         failure) -> dict:
        messages = [{"role": "user", "content": content}]
        message = self._call(session, purpose=purpose, prompt=prompt, system=system,
                             messages=messages, tool=tool)
        block = _tool_use(message, tool["name"])
        problems = validate(block.input) if block else [f"no call to {tool['name']}"]
        if not problems:
            return block.input
        logger.info("%s answer invalid, asking once for a repair: %s", purpose, problems[:5])
        repair_text = prompts.repair_text(problems, tool_name=tool["name"])
        if block is not None:
            follow_up = [{"type": "tool_result", "tool_use_id": block.id, "is_error": True,
                          "content": repair_text}]
        else:
            follow_up = [{"type": "text", "text": repair_text}]
        messages = [
            *messages,
            {"role": "assistant", "content": _assistant_content(message)},
            {"role": "user", "content": follow_up},
        ]
        message = self._call(session, purpose=f"{purpose}_repair", prompt=prompt, system=system,
                             messages=messages, tool=tool)
        block = _tool_use(message, tool["name"])
        problems = validate(block.input) if block else [f"no call to {tool['name']}"]
        if problems:
            raise LlmOutputInvalid(failure.format(problems="; ".join(problems[:3])[:400]))
        return block.input

    # -- one logical call: bounded retries, one record --

    def _call(self, session, *, purpose, prompt, system, messages, tool):
        import anthropic
        from anthropic.types import Message

        index = session.next_index()
        began = time.monotonic()
        tries = 0
        record = {
            "call_index": index, "purpose": purpose, "backend": self.name,
            "model": self.config.model, "prompt_id": prompt[0], "prompt_version": prompt[1],
        }
        if session.before_call is not None:
            session.before_call(index, purpose, cost_micro_usd(
                input_tokens=input_tokens_ceiling(system=system, messages=messages, tool=tool),
                output_tokens=self.config.max_output_tokens, price=self._price,
            ))
        while True:
            tries += 1
            try:
                try:
                    response = self.client.messages.with_raw_response.create(
                        model=self.config.model,
                        max_tokens=self.config.max_output_tokens,
                        system=system,
                        messages=messages,
                        tools=[tool],
                        tool_choice={"type": "tool", "name": tool["name"]},
                        extra_body=self._extra_body,
                    )
                    message = response.parse()
                except (anthropic.RateLimitError, anthropic.InternalServerError,
                        anthropic.RequestTimeoutError) as exc:
                    code = "llm_throttled" if exc.status_code == 429 else "llm_server_error"
                    raise _Retryable(code, _retry_after(exc.response)) from exc
                except anthropic.APITimeoutError as exc:
                    raise _Retryable("llm_timeout") from exc
                except anthropic.APIConnectionError as exc:
                    raise _Retryable("llm_connection_error") from exc
                except (anthropic.APIResponseValidationError, ValueError) as exc:
                    # Includes a body that is not JSON (json.JSONDecodeError is a ValueError).
                    raise _Retryable("llm_bad_response") from exc
                if not isinstance(message, Message) or message.usage is None:
                    raise _Retryable("llm_bad_response")
            except _Retryable as exc:
                if tries >= self.config.max_tries:
                    self._record(session, CallRecord(
                        **record, status="failed", tries=tries, error_code=exc.code,
                        duration_ms=_ms_since(began)))
                    raise LlmUnavailable(_give_up_message(exc.code, tries, self.config),
                                         code=exc.code) from exc
                delay = self._backoff(tries, exc.retry_after)
                logger.warning("%s call %s: %s, try %s of %s, waiting %.2fs", purpose, index,
                               exc.code, tries, self.config.max_tries, delay)
                self._sleep(delay)
                continue
            except anthropic.APIStatusError as exc:
                code = _status_error_code(exc.status_code)
                self._record(session, CallRecord(
                    **record, status="failed", tries=tries, error_code=code,
                    request_id=str(getattr(exc, "request_id", "") or "")[:100],
                    duration_ms=_ms_since(began)))
                logger.error("%s call refused with HTTP %s: %s", purpose, exc.status_code,
                             str(exc)[:500])
                raise _status_error(code, exc) from exc
            except RuntimeError as exc:
                if "credentials" not in str(exc).lower():
                    raise
                raise LlmMisconfigured(
                    "Caption writing is not set up correctly on our side (no cloud "
                    "credentials). We have been told; please retry later.",
                    code="llm_no_credentials",
                ) from exc
            usage = message.usage
            input_tokens = int(usage.input_tokens or 0) + int(
                getattr(usage, "cache_creation_input_tokens", 0) or 0
            ) + int(getattr(usage, "cache_read_input_tokens", 0) or 0)
            output_tokens = int(usage.output_tokens or 0)
            self._record(session, CallRecord(
                **record, status="succeeded", tries=tries, input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost_micro_usd=cost_micro_usd(input_tokens=input_tokens,
                                              output_tokens=output_tokens, price=self._price),
                request_id=str(response.headers.get("x-amzn-requestid")
                               or response.headers.get("request-id") or "")[:100],
                duration_ms=_ms_since(began),
            ))
            return message

    def _backoff(self, tries: int, retry_after: float | None) -> float:
        ceiling = self.config.backoff_max_seconds
        delay = min(ceiling, self.config.backoff_base_seconds * 2 ** (tries - 1))
        # Equal jitter: never less than half the step, so retries spread but still back off.
        delay = delay * (0.5 + self._rng() / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, ceiling))
        return delay

    @staticmethod
    def _record(session, record: CallRecord) -> None:
        if session.on_call is not None:
            session.on_call(record)


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
        if len(_post_text(item)) > limit:
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


# --- Helpers --------------------------------------------------------------------------------


def _post_text(item: dict) -> str:
    text = item["text"].strip()
    return f"{text}\n\n{' '.join(item['hashtags'])}" if item["hashtags"] else text


def _tool_use(message, name: str):
    for block in message.content or []:
        if getattr(block, "type", None) == "tool_use" and block.name == name:
            return block
    return None


def _assistant_content(message) -> list[dict]:
    content = []
    for block in message.content or []:
        if block.type == "text":
            content.append({"type": "text", "text": block.text})
        elif block.type == "tool_use":
            content.append({"type": "tool_use", "id": block.id, "name": block.name,
                            "input": block.input})
    return content or [{"type": "text", "text": "(no answer)"}]


def _image_block(image: ModelImage) -> dict:
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": image.media_type,
                   "data": base64.b64encode(image.data).decode("ascii")},
    }


def _image_note(request: CaptionRequest) -> str:
    if request.media_kind == "image" and request.images:
        image = request.images[0]
        return f"It is {image.width}x{image.height} pixels as sent."
    if request.images:
        return "They were taken from key frames spread across the video, in order."
    return request.image_description


def _timed_lines(segments: list[TimedText]) -> str:
    return "\n".join(f"[{s.start:.0f}s] {s.text.strip()}" for s in segments)


def _chunk_segments(segments: list[TimedText], max_chars: int) -> list[list[TimedText]]:
    chunks: list[list[TimedText]] = [[]]
    size = 0
    for segment in segments:
        line = len(segment.text) + 10
        if chunks[-1] and size + line > max_chars:
            chunks.append([])
            size = 0
        chunks[-1].append(segment)
        size += line
    return chunks


def _retry_after(response) -> float | None:
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _ms_since(began: float) -> int:
    return int((time.monotonic() - began) * 1000)


def _give_up_message(code: str, tries: int, config: LlmConfig) -> str:
    what = {
        "llm_throttled": "is over capacity and asked us to slow down",
        "llm_server_error": "had a server error",
        "llm_timeout": f"did not answer within {config.timeout_seconds:g} seconds",
        "llm_connection_error": "could not be reached",
        "llm_bad_response": "sent back an unreadable answer",
    }.get(code, "failed")
    return (
        f"The AI caption writer {what} ({tries} tries). No captions were written; "
        "please retry the job in a few minutes."
    )


def _status_error_code(status: int) -> str:
    if status in (401, 403):
        return "llm_access_denied"
    if status == 404:
        return "llm_model_not_found"
    if status == 413:
        return "llm_request_too_large"
    return "llm_rejected"


def _status_error(code: str, exc) -> Exception:
    if code in ("llm_access_denied", "llm_model_not_found"):
        return LlmMisconfigured(
            "Caption writing is not set up correctly on our side (the model service refused "
            "our account or model). We have been told; please retry later.",
            code=code,
        )
    if code == "llm_request_too_large":
        return LlmUnavailable(
            "This file gave the AI writer more material than it accepts. Try a shorter "
            "recording or a smaller image.",
            code=code,
        )
    return LlmUnavailable(
        f"The AI caption writer refused the request (HTTP {exc.status_code}). No captions "
        "were written; try a different custom instruction or retry the job.",
        code=code,
    )


def get_writer(name: str, config: LlmConfig | None = None):
    """The writer named by CAPTION_WRITER: 'local', 'bedrock' or 'anthropic'."""
    if name == "local":
        return LocalCaptionWriter(config)
    if name in ("bedrock", "anthropic"):
        if config is None or config.backend != name:
            raise ValueError(f"CAPTION_WRITER '{name}' needs its LlmConfig.")
        return ClaudeCaptionWriter(config)
    raise ValueError(f"Unknown CAPTION_WRITER '{name}'. Available: local, bedrock, anthropic.")
