"""A local Amazon Transcribe speaking the real wire format, for the managed speech engine.

It checks what real Transcribe checks before it would bill anyone: JSON 1.1 requests
(``Content-Type: application/x-amz-json-1.1``) to ``/`` with
``X-Amz-Target: Transcribe.StartTranscriptionJob`` or ``Transcribe.GetTranscriptionJob``,
a SigV4 ``Authorization`` header that it verifies itself (service ``transcribe``, the
region, the secret key), the request's fields (job name pattern, an ``s3://`` media URI,
a MediaFormat Transcribe reads, output bucket and key, a language code or language
identification, a custom vocabulary that exists). A job reads its media from the S3
server (the suite's moto server) and, once asked for its state ``polls_to_complete``
times, writes its result there in Transcribe's result format (``results.transcripts``,
``results.items`` with ``start_time``/``end_time``/``alternatives``/``confidence`` and
``type`` pronunciation or punctuation, ``language_code``), timed over the media's real
duration (ffprobe).

Tests steer it: ``fake.script("throttle", "500", "ok")`` answers the next requests
with a ``ThrottlingException`` (400), an ``InternalFailureException`` (500), or
normally; ``fake.job_outcome = "fail"`` ends the next jobs FAILED with a
``FailureReason``; ``"hang"`` leaves them IN_PROGRESS for ever.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import boto3

from tests.fakes.bedrock import AccessDenied, ScriptError, verify_sigv4
from tests.fakes.loopback import ScriptedLoopbackServer

TARGET_PREFIX = "Transcribe."
JOB_NAME = re.compile(r"^[0-9a-zA-Z._-]{1,200}$")
OUTPUT_KEY = re.compile(r"^[a-zA-Z0-9-_.!*'()/]{1,1024}$")
MEDIA_FORMATS = {"mp3", "mp4", "wav", "flac", "ogg", "amr", "webm", "m4a"}
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")
SPOKEN = ("Welcome back to the channel. Today we are testing captions, subtitles and "
          "timing. Does every word land on time? It should, and the cues stay readable.")


@dataclass
class FakeJob:
    name: str
    request: dict
    media_key: str
    created: float
    status: str = "IN_PROGRESS"
    outcome: str = "complete"
    polls: int = 0
    failure_reason: str = ""
    language_code: str = ""


@dataclass
class Seen:
    target: str
    headers: dict
    body: dict


@dataclass
class FakeTranscribe(ScriptedLoopbackServer):
    s3_endpoint: str
    bucket: str
    region: str = "us-east-1"
    access_key: str = "testing"
    secret_key: str = "testing"
    # Times a job is asked for its state before it completes (the first answer is
    # IN_PROGRESS, as a real job's is).
    polls_to_complete: int = 1
    job_outcome: str = "complete"  # complete | fail | hang
    vocabularies: set = field(default_factory=set)
    spoken: str = SPOKEN
    identified_language: str = "en-US"
    requests: list[Seen] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    jobs: dict[str, FakeJob] = field(default_factory=dict)

    def __post_init__(self):
        self._serve(_handler(self))
        self.s3 = boto3.client("s3", endpoint_url=self.s3_endpoint, region_name=self.region,
                               aws_access_key_id=self.access_key,
                               aws_secret_access_key=self.secret_key)

    def started(self) -> list[Seen]:
        return [r for r in self.requests if r.target == "StartTranscriptionJob"]

    # --- The service ---------------------------------------------------------------------

    def start_job(self, body: dict) -> dict:
        name = body.get("TranscriptionJobName", "")
        if not JOB_NAME.match(name):
            raise ScriptError(f"bad TranscriptionJobName {name!r}")
        if name in self.jobs:
            raise Conflict("The requested job name already exists. Use a different job name.")
        uri = (body.get("Media") or {}).get("MediaFileUri", "")
        match = re.fullmatch(r"s3://(?P<bucket>[^/]+)/(?P<key>.+)", uri)
        if not match:
            raise ScriptError(f"MediaFileUri must be an s3:// URI, got {uri!r}")
        if body.get("MediaFormat") not in MEDIA_FORMATS:
            raise ScriptError(f"Transcribe cannot read MediaFormat {body.get('MediaFormat')!r}")
        if body.get("OutputBucketName") != self.bucket:
            raise ScriptError(f"OutputBucketName {body.get('OutputBucketName')!r} is not ours")
        if not OUTPUT_KEY.match(body.get("OutputKey", "")):
            raise ScriptError(f"bad OutputKey {body.get('OutputKey')!r}")
        identify = bool(body.get("IdentifyLanguage"))
        code = body.get("LanguageCode")
        if identify == bool(code):
            raise ScriptError("give exactly one of LanguageCode and IdentifyLanguage")
        if code and not LANGUAGE_CODE.match(code):
            raise ScriptError(f"bad LanguageCode {code!r}")
        for option in body.get("LanguageOptions") or []:
            if not LANGUAGE_CODE.match(option):
                raise ScriptError(f"bad LanguageOptions entry {option!r}")
        vocabulary = (body.get("Settings") or {}).get("VocabularyName")
        if vocabulary and not code:
            raise ScriptError("Settings.VocabularyName needs LanguageCode; use LanguageIdSettings")
        for settings in (body.get("LanguageIdSettings") or {}).values():
            vocabulary = vocabulary or settings.get("VocabularyName")
        if vocabulary and vocabulary not in self.vocabularies:
            raise ScriptError(f"The requested vocabulary {vocabulary} couldn't be found.")
        job = FakeJob(name=name, request=body, media_key=match["key"], created=time.time(),
                      outcome=self.job_outcome,
                      language_code=code or self.identified_language)
        if match["bucket"] != self.bucket:
            job.status = "FAILED"
            job.failure_reason = "The S3 URI that you provided can't be accessed."
        self.jobs[name] = job
        return {"TranscriptionJob": self._describe(job)}

    def get_job(self, body: dict) -> dict:
        job = self.jobs.get(body.get("TranscriptionJobName", ""))
        if job is None:
            raise BadRequest("The requested job couldn't be found. Check the job name and try "
                             "your request again.")
        job.polls += 1
        if job.status == "IN_PROGRESS" and job.polls >= self.polls_to_complete:
            if job.outcome == "fail":
                job.status = "FAILED"
                job.failure_reason = ("Unsupported audio format: the media file's audio "
                                      "couldn't be decoded.")
            elif job.outcome == "complete":
                self._complete(job)
        return {"TranscriptionJob": self._describe(job)}

    def _complete(self, job: FakeJob) -> None:
        try:
            with tempfile.NamedTemporaryFile() as media:
                self.s3.download_fileobj(self.bucket, job.media_key, media)
                media.flush()
                duration = _duration(media.name)
        except Exception as exc:  # noqa: BLE001 - a real job fails the same way
            job.status = "FAILED"
            job.failure_reason = f"The media file couldn't be read: {type(exc).__name__}"
            return
        document = transcribe_result(job.name, self.spoken, duration=duration,
                                     language_code=job.language_code,
                                     identified=bool(job.request.get("IdentifyLanguage")))
        self.s3.put_object(Bucket=self.bucket, Key=job.request["OutputKey"],
                           Body=json.dumps(document).encode(),
                           ContentType="application/json")
        job.status = "COMPLETED"

    def _describe(self, job: FakeJob) -> dict:
        request = job.request
        data = {
            "TranscriptionJobName": job.name,
            "TranscriptionJobStatus": job.status,
            "MediaFormat": request["MediaFormat"],
            "Media": request["Media"],
            "CreationTime": job.created,
            "StartTime": job.created,
        }
        if request.get("LanguageCode") or job.status == "COMPLETED":
            data["LanguageCode"] = job.language_code
        if request.get("IdentifyLanguage"):
            data["IdentifyLanguage"] = True
        if job.status == "COMPLETED":
            data["CompletionTime"] = time.time()
            data["Transcript"] = {"TranscriptFileUri": (
                f"https://s3.{self.region}.amazonaws.com/{self.bucket}/"
                f"{request['OutputKey']}")}
        if job.status == "FAILED":
            data["FailureReason"] = job.failure_reason
            data["CompletionTime"] = time.time()
        return data


class BadRequest(Exception):
    error_type = "BadRequestException"


class Conflict(Exception):
    error_type = "ConflictException"


def _duration(path: str) -> float:
    out = subprocess.run(  # noqa: S603 - a fixed command on a temporary file
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", path],
        capture_output=True, check=True, timeout=30,
    )
    return float(json.loads(out.stdout)["format"]["duration"])


def transcribe_result(name: str, spoken: str, *, duration: float, language_code: str,
                      identified: bool) -> dict:
    """The document a Transcribe job writes: ``spoken`` read out evenly over ``duration``."""
    tokens = re.findall(r"[\w']+|[.,?!]", spoken)
    words = [t for t in tokens if t not in ".,?!"]
    step = max(duration - 0.2, 0.5) / max(len(words), 1)
    items, clock = [], 0.1
    for index, token in enumerate(tokens):
        if token in ".,?!":
            items.append({"id": index, "type": "punctuation",
                          "alternatives": [{"confidence": "0.0", "content": token}]})
            continue
        start, end = clock, clock + step * 0.8
        clock += step
        items.append({"id": index, "type": "pronunciation", "start_time": f"{start:.3f}",
                      "end_time": f"{end:.3f}",
                      "alternatives": [{"confidence": f"{0.9 + (index % 10) / 100:.4f}",
                                        "content": token}]})
    results = {"language_code": language_code, "transcripts": [{"transcript": spoken}],
               "items": items}
    if identified:
        results["language_identification"] = [{"code": language_code, "score": "0.9876"}]
    return {"jobName": name, "accountId": "123456789012", "status": "COMPLETED",
            "results": results}


def _handler(fake: FakeTranscribe):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep the test output quiet
            pass

        def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, kind: str, message: str) -> None:
            self._send(status, {"__type": kind, "Message": message},
                       {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/"})

        def do_POST(self):  # noqa: N802 - http.server's naming
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            target = self.headers.get("X-Amz-Target", "")
            try:
                if self.path != "/":
                    raise ScriptError(f"JSON 1.1 requests go to /, not {self.path}")
                if self.headers.get("Content-Type") != "application/x-amz-json-1.1":
                    raise ScriptError(f"Content-Type is {self.headers.get('Content-Type')!r}")
                if not target.startswith(TARGET_PREFIX):
                    raise ScriptError(f"X-Amz-Target is {target!r}")
                verify_sigv4(fake, "POST", self.path, self.headers, raw, service="transcribe")
                signed = re.search(r"SignedHeaders=([^,]+)", self.headers["Authorization"])[1]
                if "x-amz-target" not in signed.split(";"):
                    raise ScriptError("X-Amz-Target is not signed")
                body = json.loads(raw)
            except AccessDenied as exc:
                fake.errors.append(f"AccessDenied: {exc}")
                self._error(403, "AccessDeniedException", str(exc))
                return
            except (ScriptError, ValueError) as exc:
                fake.errors.append(f"{type(exc).__name__}: {exc}")
                self._error(400, "SerializationException", str(exc))
                return
            operation = target.removeprefix(TARGET_PREFIX)
            fake.requests.append(Seen(operation, dict(self.headers), body))
            behaviour = fake.next_behaviour()
            if behaviour == "throttle":
                self._error(400, "ThrottlingException", "Rate exceeded")
                return
            if behaviour == "limit":
                self._error(400, "LimitExceededException",
                            "You have exceeded your limit. Try your request again later.")
                return
            if behaviour == "500":
                self._error(500, "InternalFailureException",
                            "There was an internal error. Try your request again.")
                return
            try:
                with fake._lock:
                    if operation == "StartTranscriptionJob":
                        answer = fake.start_job(body)
                    elif operation == "GetTranscriptionJob":
                        answer = fake.get_job(body)
                    else:
                        raise ScriptError(f"unexpected operation {operation}")
            except (BadRequest, Conflict) as exc:
                self._error(400, exc.error_type, str(exc))
                return
            except (ScriptError, KeyError, TypeError) as exc:
                fake.errors.append(f"{type(exc).__name__}: {exc}")
                self._error(400, "BadRequestException", str(exc))
                return
            self._send(200, answer)

    return Handler
