"""What a customer reads when a job fails or waits: one message per error code, declared once.

The engines and services fail with an error code and an operator's detail (an
environment variable to set, a file path, an upstream service's error). The detail goes
to the job's ``error_detail`` (the admin) and the logs; the customer reads the message
here, on the job page, in ``status.json``, the API and webhooks. Each message says what
happened and what the customer can do: retry, upload another file, or contact support.

A message may have a ``detailed`` form that names facts the service knows are safe to
show (a length and the plan's limit, a number of tries): those facts are numbers and
our own wording, never an exception's text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Failure:
    message: str
    detailed: str = ""  # a str.format template over the facts the service passes
    waiting: str = ""  # while the job waits in the queue under this code, not failed


_RETRY_LATER = "We have been told; please retry the job later, or contact support."
_BROKEN_FILE = ("This file could not be read as audio, video or an image. Check that it "
                "plays on your device, or upload another file.")
_LLM_BUSY = ("The AI caption writer is busy or not answering right now, so no captions were "
             "written. Please retry the job in a few minutes.")
_LLM_SETUP = f"Caption writing is not set up correctly on our side. {_RETRY_LATER}"
_MANAGED_BUSY = ("The speech-to-text service is busy or not answering right now. Your upload "
                 "is kept and nothing was charged for transcription: retry the job in a few "
                 "minutes.")

FAILURES: dict[str, Failure] = {
    # Our side
    "internal_error": Failure(
        "Something went wrong on our side while processing this file. We have been "
        "notified; you can retry the job."),
    "too_many_attempts": Failure(
        "Processing stopped unexpectedly several times, so the job was stopped. Retry it, "
        "and contact support if it fails again.",
        detailed="Processing stopped unexpectedly {attempts} times, so the job was stopped. "
                 "Retry it, and contact support if it fails again."),
    "storage_unavailable": Failure(
        "Our file storage was not answering, so this file could not be processed. Your "
        "upload is kept: retry the job in a few minutes.",
        waiting="Our file storage is not answering right now, so this job is waiting. It "
                "tries again by itself in a moment; there is nothing you need to do."),
    "media_tool_failed": Failure(
        f"We could not process media files on our side just now. {_RETRY_LATER}"),
    "ffmpeg_missing": Failure(
        f"We could not process media files on our side just now. {_RETRY_LATER}"),
    "stt_model_unavailable": Failure(
        "Speech recognition is not available on our side right now, so this file was not "
        f"transcribed. {_RETRY_LATER}"),
    # The account's limits
    "waiting_for_budget": Failure(
        "Your account reached its hourly spending cap. This job is paused and continues "
        "by itself when the cap resets; there is nothing you need to do.",
        detailed="{cap} This job is paused and continues by itself then."),
    "cost_cap_exceeded": Failure(
        "Your account reached its hourly spending cap several times while this job waited, "
        "so it was stopped. Retry it later, or ask us to raise your cap.",
        detailed="{cap} The job waited {waits} times and was stopped; retry it later or ask "
                 "us to raise your cap."),
    "media_too_long": Failure(
        "This media is longer than your plan allows. Trim it or upload a shorter file.",
        detailed="The media is {length} long; the limit is {limit}. Trim it or upload a "
                 "shorter file."),
    # The file
    "media_rejected": Failure(_BROKEN_FILE),
    "media_unreadable": Failure(_BROKEN_FILE),
    "media_format_refused": Failure(
        "This kind of file can point to other files, which we do not accept. Export the "
        "media as a plain audio or video file and upload that."),
    "media_timeout": Failure(
        "Reading this file took too long, so it was stopped. Try a shorter or smaller "
        "file, or retry the job."),
    "no_media_streams": Failure(
        "The file has no audio or video in it. Upload a file with sound or a picture."),
    "no_audio": Failure(
        "The file has no audio stream, so there is nothing to transcribe. Upload a file "
        "with sound."),
    "empty_audio": Failure(
        "The audio track is empty, so there was nothing to transcribe. Upload a recording "
        "with speech."),
    "image_too_large": Failure(
        "The image has too many pixels to process. Resize it to a smaller size and upload "
        "it again.",
        detailed="The image is {width}x{height} pixels; the limit is {limit:,} pixels. "
                 "Resize it to a smaller size and upload it again."),
    "image_unreadable": Failure(
        "The image is damaged or truncated and could not be opened. Save it again from "
        "your editor and upload the new file."),
    # The AI caption writer
    "llm_unavailable": Failure(_LLM_BUSY),
    "llm_throttled": Failure(
        "The AI caption writer is over capacity right now, so no captions were written. "
        "Please retry the job in a few minutes."),
    "llm_server_error": Failure(_LLM_BUSY),
    "llm_timeout": Failure(_LLM_BUSY),
    "llm_connection_error": Failure(_LLM_BUSY),
    "llm_bad_response": Failure(_LLM_BUSY),
    "llm_output_invalid": Failure(
        "The AI caption writer's answer did not pass our checks, even after a second try. "
        "Retry the job, or change the custom instruction."),
    "llm_request_too_large": Failure(
        "This file gave the AI caption writer more material than it accepts. Try a shorter "
        "recording or a smaller image."),
    "llm_rejected": Failure(
        "The AI caption writer refused this request, so no captions were written. Try a "
        "different custom instruction, or retry the job."),
    "llm_misconfigured": Failure(_LLM_SETUP),
    "llm_no_credentials": Failure(_LLM_SETUP),
    "llm_no_price": Failure(_LLM_SETUP),
    "llm_access_denied": Failure(_LLM_SETUP),
    "llm_model_not_found": Failure(_LLM_SETUP),
    # The managed speech-to-text service
    "managed_stt_unavailable": Failure(_MANAGED_BUSY),
    "managed_stt_failed": Failure(
        "The speech-to-text service could not transcribe this recording. Check that it "
        "plays and has speech, or upload another file."),
    "managed_stt_timeout": Failure(
        "The speech-to-text service did not finish this recording in time, so the job was "
        "stopped. Nothing was charged for transcription; retry the job.",
        detailed="The speech-to-text service did not finish this recording within {minutes} "
                 "minutes, so the job was stopped. Nothing was charged for transcription; "
                 "retry the job."),
}

# A code raised without its own entry reads as its family's message (never as its detail).
_FAMILIES = (("llm_", "llm_unavailable"), ("managed_stt_", "managed_stt_failed"),
             ("image_", "image_unreadable"), ("media_", "media_rejected"),
             ("stt_", "stt_model_unavailable"))


def failure_for(code: str) -> Failure:
    if code in FAILURES:
        return FAILURES[code]
    for prefix, family in _FAMILIES:
        if code.startswith(prefix):
            return FAILURES[family]
    return FAILURES["internal_error"]


def failure_message(code: str, facts: Mapping[str, object] | None = None, *,
                    waiting: bool = False) -> str:
    """The customer's message for ``code``; ``facts`` fill its detailed form when given."""
    failure = failure_for(code)
    if waiting and failure.waiting:
        return failure.waiting
    if facts and failure.detailed:
        try:
            return failure.detailed.format_map(dict(facts))
        except (KeyError, IndexError, ValueError):
            pass  # a fact missing: the plain message is still true
    return failure.message


# A burned-in export (captions/services/burn_in.py) fails apart from its job: what the
# customer reads when its rendering fails, by code; ffmpeg's own words go to the log only.
EXPORT_FAILURES = {
    "media_timeout": "Rendering this video took too long and was stopped. Try the original "
                     "aspect ratio, or a shorter video.",
    "burn_in_no_video": "This file has no picture to burn captions into.",
    "upload_gone": "The original video is no longer kept, so captions cannot be burned "
                   "into it. Upload the video again to make a new job.",
    "storage_unavailable": "Our file storage did not answer, so the video was not saved. "
                           "Please try again in a few minutes.",
    "attempts_exhausted": "Rendering this video was interrupted several times on our side. "
                          "Nothing was charged; please try again.",
}
_EXPORT_GENERIC = ("We could not burn the captions into this video. Nothing was charged; "
                    "you can try again, or contact support if it happens again.")


def export_failure_message(code: str) -> str:
    """The customer's message for a burned-in export that failed with ``code``."""
    return EXPORT_FAILURES.get(code, _EXPORT_GENERIC)
