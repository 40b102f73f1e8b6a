"""Captions from Claude, through the anthropic SDK (Bedrock or the Anthropic API)."""

from __future__ import annotations

import base64
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import LlmMisconfigured, LlmOutputInvalid, LlmUnavailable
from ..images import ModelImage
from . import prompts
from .types import (
    CallGate,
    CallRecord,
    CallRecorder,
    CaptionRequest,
    CaptionResult,
    Chapter,
    LlmConfig,
    TimedText,
    cost_micro_usd,
    input_tokens_ceiling,
    price_for,
)
from .validation import post_text, validate_captions, validate_outline, validate_summary

logger = logging.getLogger(__name__)

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"


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
        variants = [post_text(item) for item in data["captions"]]
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



# --- Helpers --------------------------------------------------------------------------------




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

