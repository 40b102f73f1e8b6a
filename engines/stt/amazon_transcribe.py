"""Amazon Transcribe: the managed speech-to-text engine, behind the same result types.

A batch Transcribe job reads the recording from our bucket and writes its result JSON
back into it; the caller starts the job, asks for its state now and then (never
blocking a worker while it runs), and maps the result to the ``Segment``/``Word`` types
the self-hosted engine returns, so exports, subtitle rules and the caption writer do
not know which engine ran. Nothing here knows about Django: the caller passes the
configuration in, and reads the result object through its own storage gateway.

Every call goes through boto3 (its own retries off) with our bounded retries:
throttling (``ThrottlingException``, ``LimitExceededException``), 5xx answers and
connection failures are tried again with exponential backoff and full jitter, up to
``max_tries``; then ``ManagedSttUnavailable`` says so in words a customer can read.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import PipelineError
from .model import Segment, TranscriptionResult, Word

ENGINE_NAME = "aws-transcribe"
# The Transcribe API version our requests and the result mapping follow.
API_VERSION = "2017-10-26"
# Containers a batch job accepts as they are (its MediaFormat values).
MEDIA_FORMATS = frozenset({"mp3", "mp4", "wav", "flac", "ogg", "amr", "webm", "m4a"})
# Transcribe bills per second with a minimum of 15 seconds per job
# (https://aws.amazon.com/transcribe/pricing/).
MIN_BILLED_SECONDS = 15
RUNNING = frozenset({"QUEUED", "IN_PROGRESS"})
_RETRYABLE_CODES = frozenset({
    "ThrottlingException", "LimitExceededException", "InternalFailureException",
    "ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException",
    "TooManyRequestsException",
})
_THROTTLING_CODES = frozenset({"ThrottlingException", "LimitExceededException",
                               "TooManyRequestsException"})
# A new segment starts after sentence-ending punctuation, a pause this long, or this many
# words or seconds: subtitle cues never span two segments, so segments stay sentence-sized.
SENTENCE_END = re.compile(r"[.?!。？！]$")
PAUSE_SECONDS = 1.5
MAX_SEGMENT_WORDS = 40
MAX_SEGMENT_SECONDS = 20.0


class ManagedSttUnavailable(PipelineError):
    """Transcribe did not answer usefully (throttled, 5xx, unreachable) after the retries."""

    code = "managed_stt_unavailable"


class ManagedSttFailed(PipelineError):
    """Transcribe refused the request or could not transcribe the recording."""

    code = "managed_stt_failed"


@dataclass(frozen=True)
class TranscribeConfig:
    region: str
    bucket: str
    endpoint_url: str | None = None
    # A Transcribe language code ("en-US"); empty means "identify the language".
    language_code: str = ""
    # Candidates for language identification (Transcribe codes); empty lets it choose.
    language_options: tuple[str, ...] = ()
    vocabulary_name: str = ""
    max_tries: int = 5
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 20.0
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class ManagedJob:
    """What Transcribe says about one of its jobs."""

    name: str
    status: str  # QUEUED | IN_PROGRESS | FAILED | COMPLETED
    failure_reason: str = ""
    transcript_uri: str = ""
    language_code: str = ""
    media_format: str = ""

    @property
    def running(self) -> bool:
        return self.status in RUNNING


_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def _client(config: TranscribeConfig):
    key = (config.region, config.endpoint_url, config.timeout_seconds)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = boto3.client(
                "transcribe", region_name=config.region, endpoint_url=config.endpoint_url,
                config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                              connect_timeout=min(config.timeout_seconds, 10),
                              read_timeout=config.timeout_seconds),
            )
        return _clients[key]


def backoff_seconds(tries: int, *, base: float, cap: float) -> float:
    """Full jitter: a random wait up to base * 2^(tries-1), at most ``cap``."""
    return random.uniform(0, min(cap, base * 2 ** max(tries - 1, 0)))  # noqa: S311 - jitter


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500 or exc.response.get("Error", {}).get("Code") in _RETRYABLE_CODES
    return isinstance(exc, BotoCoreError)


def _call(config: TranscribeConfig, operation: str, **params) -> dict:
    method = getattr(_client(config), operation)
    tries = 0
    while True:
        tries += 1
        try:
            return method(**params)
        except (ClientError, BotoCoreError) as exc:
            if not _retryable(exc):
                raise
            if tries >= config.max_tries:
                code = exc.response.get("Error", {}).get("Code") if isinstance(
                    exc, ClientError) else type(exc).__name__
                why = ("is over capacity and asked us to slow down" if code in _THROTTLING_CODES
                       else "is not answering")
                raise ManagedSttUnavailable(
                    f"The managed speech-to-text service {why} ({tries} tries). Your upload "
                    "is kept and nothing was charged for transcription: retry the job in a "
                    "few minutes."
                ) from exc
            time.sleep(backoff_seconds(tries, base=config.backoff_base_seconds,
                                       cap=config.backoff_max_seconds))


def _job_of(data: dict) -> ManagedJob:
    job = data["TranscriptionJob"]
    return ManagedJob(
        name=job["TranscriptionJobName"],
        status=job["TranscriptionJobStatus"],
        failure_reason=job.get("FailureReason", ""),
        transcript_uri=(job.get("Transcript") or {}).get("TranscriptFileUri", ""),
        language_code=job.get("LanguageCode", ""),
        media_format=job.get("MediaFormat", ""),
    )


def job_start(config: TranscribeConfig, *, name: str, media_key: str, media_format: str,
              output_key: str) -> ManagedJob:
    """Start a Transcribe job on ``media_key`` in the bucket, writing to ``output_key``.

    Starting a name that already exists (a redelivered task) returns that job's state
    instead of a second job, so one recording is never transcribed and billed twice.
    Raises ManagedSttUnavailable after the retries, ManagedSttFailed when refused.
    """
    if media_format not in MEDIA_FORMATS:
        raise ValueError(f"Transcribe cannot read {media_format!r}")
    params: dict = {
        "TranscriptionJobName": name,
        "Media": {"MediaFileUri": f"s3://{config.bucket}/{media_key}"},
        "MediaFormat": media_format,
        "OutputBucketName": config.bucket,
        "OutputKey": output_key,
    }
    if config.language_code:
        params["LanguageCode"] = config.language_code
        if config.vocabulary_name:
            params["Settings"] = {"VocabularyName": config.vocabulary_name}
    else:
        params["IdentifyLanguage"] = True
        if config.language_options:
            params["LanguageOptions"] = list(config.language_options)
        if config.vocabulary_name and config.language_options:
            # With identification, a vocabulary is given per candidate language.
            params["LanguageIdSettings"] = {
                code: {"VocabularyName": config.vocabulary_name}
                for code in config.language_options
            }
    try:
        return _job_of(_call(config, "start_transcription_job", **params))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ConflictException":
            return job_get(config, name=name)
        raise ManagedSttFailed(
            "The managed speech-to-text service refused this recording "
            f"({error.get('Code')}: {error.get('Message', '')[:200]})."
        ) from exc


def job_get(config: TranscribeConfig, *, name: str) -> ManagedJob:
    """The job's state. Raises ManagedSttUnavailable after the retries."""
    try:
        return _job_of(_call(config, "get_transcription_job", TranscriptionJobName=name))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ManagedSttFailed(
            "The managed speech-to-text service lost track of this recording "
            f"({error.get('Code')}: {error.get('Message', '')[:200]})."
        ) from exc


def billable_seconds(duration_seconds: float) -> int:
    return max(MIN_BILLED_SECONDS, math.ceil(duration_seconds))


def language_of(code: str) -> str:
    """Our (Whisper's) language code from a Transcribe one: "en-US" -> "en"."""
    return code.split("-")[0].lower() if code else ""


def _float(value, default: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def result_to_transcript(data: dict, *, language_code: str = "") -> TranscriptionResult:
    """Map a Transcribe result document to our segments and words.

    Words keep Transcribe's times and confidence; punctuation items join the word
    before them (as Whisper's words carry theirs). Raises ManagedSttFailed for a
    document that is not a Transcribe result.
    """
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict) or not isinstance(results.get("items"), list):
        raise ManagedSttFailed("The managed speech-to-text service returned an unreadable "
                               "result; retry the job.")
    segments: list[Segment] = []
    words: list[Word] = []

    def close() -> None:
        if words:
            text = "".join(w.word for w in words).strip()
            segments.append(Segment(start=words[0].start, end=words[-1].end, text=text,
                                    words=list(words)))
            words.clear()

    last_end = 0.0
    for item in results["items"]:
        alternatives = item.get("alternatives") or [{}]
        content = str(alternatives[0].get("content", "")).strip()
        if not content:
            continue
        if item.get("type") == "punctuation":
            if words:
                words[-1].word += content
                if SENTENCE_END.search(content):
                    close()
            continue
        start = max(_float(item.get("start_time"), last_end), last_end)
        end = max(_float(item.get("end_time"), start), start)
        if words and (start - words[-1].end > PAUSE_SECONDS
                      or len(words) >= MAX_SEGMENT_WORDS
                      or end - words[0].start > MAX_SEGMENT_SECONDS):
            close()
        words.append(Word(start=round(start, 3), end=round(end, 3), word=" " + content,
                          probability=_float(alternatives[0].get("confidence"), math.nan)))
        last_end = end
    close()
    code = results.get("language_code") or language_code
    return TranscriptionResult(language=language_of(code), segments=segments)


def engine_versions(config: TranscribeConfig, job: ManagedJob) -> dict:
    """What the job records about the engine that transcribed it."""
    return {
        "engine": ENGINE_NAME,
        "api_version": API_VERSION,
        "region": config.region,
        "job_name": job.name,
        "language_code": job.language_code or config.language_code,
        "identify_language": not config.language_code,
        "vocabulary_name": config.vocabulary_name,
        "media_format": job.media_format,
    }
