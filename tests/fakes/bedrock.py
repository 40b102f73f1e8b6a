"""A local Bedrock Runtime server speaking the real wire format, for the caption writer.

It checks what real Bedrock checks before it would bill anyone: the path
``/model/<model-id>/invoke``, a SigV4 ``Authorization`` header that it verifies itself
(service ``bedrock``, the region, the secret key), ``anthropic_version`` and a valid
Messages body, image blocks that really decode as the media type they claim. It answers
like Claude does when a tool is forced: a ``tool_use`` block and ``usage``, with
captions it writes from a small phrasebook in the requested language and length.

Tests can script the next answers: ``fake.script("429", "500", "invalid_json", "hang",
"bad_captions", "ok")``; an empty script means "ok". It also answers the Anthropic API's
``/v1/messages`` (API key auth) so the direct backend runs the same checks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import quote, unquote, urlsplit

from PIL import Image

from tests.fakes.loopback import ScriptedLoopbackServer

BEDROCK_VERSION = "bedrock-2023-05-31"
IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)

PHRASEBOOK = {
    "en": "morning light over fresh coffee and a quiet desk before the busy day begins with "
          "big plans small steps and a warm cup shared between friends who listen",
    "es": "la luz de la mañana sobre un café recién hecho y una mesa tranquila antes de que "
          "empiece el día con grandes planes pequeños pasos y una taza caliente entre amigos",
    "fr": "la lumière du matin sur un café frais et un bureau calme avant que la journée "
          "commence avec de grands projets des petits pas et une tasse chaude entre amis",
    "de": "das morgenlicht über frischem kaffee und ein ruhiger tisch bevor der tag beginnt "
          "mit großen plänen kleinen schritten und einer warmen tasse unter guten freunden",
}


class ScriptError(AssertionError):
    """A request that real Bedrock would have refused; the test fails with this."""


class AccessDenied(ScriptError):
    """Answered with 403, as Bedrock answers a bad signature or unknown key."""


@dataclass
class Seen:
    path: str
    headers: dict
    body: dict


@dataclass
class FakeBedrock(ScriptedLoopbackServer):
    model_id: str
    region: str = "us-east-1"
    access_key: str = "testing"
    secret_key: str = "testing"
    api_key: str = "test-anthropic-key"
    requests: list[Seen] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.release = threading.Event()
        self._serve(_handler(self))

    def stop(self) -> None:
        self.release.set()  # a request held open ("hang") lets go before the server stops
        super().stop()

    def tool_calls(self) -> list[Seen]:
        return [r for r in self.requests if r.body.get("tool_choice")]


# --- Request checks --------------------------------------------------------------------------


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def verify_sigv4(fake, method: str, raw_path: str, headers, body: bytes, *,
                 service: str = "bedrock") -> None:
    """Recompute the SigV4 signature the way AWS does and compare.

    ``fake`` needs ``region``, ``access_key`` and ``secret_key``; ``service`` is the
    credential scope's service (``bedrock``, ``transcribe``).
    """
    auth = AUTH.match(headers.get("Authorization", ""))
    if not auth:
        raise AccessDenied(f"no SigV4 Authorization header: {headers.get('Authorization')!r}")
    if auth["service"] != service or auth["region"] != fake.region:
        raise ScriptError(f"credential scope is {auth['region']}/{auth['service']}")
    if auth["key"] != fake.access_key:
        raise AccessDenied(f"unknown access key {auth['key']}")
    amz_date = headers.get("X-Amz-Date", "")
    if not amz_date.startswith(auth["date"]):
        raise ScriptError("X-Amz-Date does not match the credential date")
    signed = auth["signed"].split(";")
    for required in ("host", "x-amz-date"):
        if required not in signed:
            raise ScriptError(f"{required} is not signed")
    payload_hash = hashlib.sha256(body).hexdigest()
    parts = urlsplit(raw_path)
    canonical = "\n".join([
        method,
        # Services other than S3 encode the already-encoded path once more.
        quote(parts.path, safe="/~"),
        "&".join(sorted(parts.query.split("&"))) if parts.query else "",
        "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed),
        auth["signed"],
        payload_hash,
    ])
    scope = f"{auth['date']}/{auth['region']}/{auth['service']}/aws4_request"
    to_sign = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()
    ])
    key = _sign(("AWS4" + fake.secret_key).encode(), auth["date"])
    for part in (auth["region"], auth["service"], "aws4_request"):
        key = _sign(key, part)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, auth["signature"]):
        raise AccessDenied("SigV4 signature does not match")


def verify_messages_body(body: dict, *, bedrock: bool) -> None:
    if bedrock:
        if body.get("anthropic_version") != BEDROCK_VERSION:
            raise ScriptError(f"anthropic_version is {body.get('anthropic_version')!r}")
        if "model" in body or "stream" in body:
            raise ScriptError("model and stream belong in the path on Bedrock, not the body")
    elif not isinstance(body.get("model"), str):
        raise ScriptError("the Messages API needs a model")
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        raise ScriptError("max_tokens must be a positive integer")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ScriptError("messages must be a non-empty list")
    tool_ids: set[str] = set()
    for number, message in enumerate(messages):
        expected_role = "user" if number % 2 == 0 else "assistant"
        if message.get("role") != expected_role:
            raise ScriptError(f"message {number} should be from {expected_role}")
        content = message.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list) or not content:
            raise ScriptError(f"message {number} has no content")
        for block in content:
            _verify_block(block, tool_ids)
    tools = body.get("tools") or []
    names = set()
    for tool in tools:
        if not tool.get("name") or tool.get("input_schema", {}).get("type") != "object":
            raise ScriptError("each tool needs a name and an object input_schema")
        names.add(tool["name"])
    choice = body.get("tool_choice")
    if choice and choice.get("type") == "tool" and choice.get("name") not in names:
        raise ScriptError("tool_choice names a tool that was not given")
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        raise ScriptError("system must be text or a list of blocks")


def _verify_block(block: dict, tool_ids: set[str]) -> None:
    kind = block.get("type")
    if kind == "text":
        if not isinstance(block.get("text"), str) or not block["text"]:
            raise ScriptError("text blocks need non-empty text")
    elif kind == "image":
        source = block.get("source") or {}
        if source.get("type") != "base64" or source.get("media_type") not in IMAGE_TYPES:
            raise ScriptError(f"bad image source {source.get('type')} {source.get('media_type')}")
        data = base64.b64decode(source.get("data", ""), validate=True)
        if len(data) > 3_750_000:
            raise ScriptError("image over Bedrock's 3.75 MB limit")
        with Image.open(io.BytesIO(data)) as img:
            if img.format != IMAGE_TYPES[source["media_type"]]:
                raise ScriptError(f"image says {source['media_type']} but is {img.format}")
            if max(img.size) > 8000:
                raise ScriptError("image over 8000 px")
            img.load()
    elif kind == "tool_use":
        tool_ids.add(block["id"])
        if not isinstance(block.get("input"), dict):
            raise ScriptError("tool_use input must be an object")
    elif kind == "tool_result":
        if block.get("tool_use_id") not in tool_ids:
            raise ScriptError("tool_result answers no earlier tool_use")
    else:
        raise ScriptError(f"unknown content block type {kind!r}")


# --- Answers ----------------------------------------------------------------------------------


def _all_text(body: dict) -> str:
    parts = [body.get("system") if isinstance(body.get("system"), str) else ""]
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, str):
            parts.append(content)
            continue
        for block in content:
            if block.get("type") == "text":
                parts.append(block["text"])
            elif block.get("type") == "tool_result":
                parts.append(str(block.get("content")))
    return "\n".join(parts)


def write_captions(body: dict, *, broken: bool = False) -> dict:
    """What a well-behaved model returns, read off the prompt and the tool schema."""
    text = _all_text(body)
    tool = body["tools"][0]["input_schema"]["properties"]
    count = tool["captions"]["minItems"]
    tags_schema = tool["captions"]["items"]["properties"]["hashtags"]
    language = re.search(r"language code: ([a-z]{2,3})\)", text).group(1)
    low, high = map(int, re.search(r"between (\d+) and (\d+) words", text).groups())
    words = PHRASEBOOK.get(language, PHRASEBOOK["en"]).split()
    captions = []
    for index in range(count):
        size = (low + high) // 2 + index
        if broken:
            size = high + 10  # a model ignoring the length it was asked for
        body_words = [words[(index * 3 + i) % len(words)] for i in range(size)]
        caption = " ".join(body_words).capitalize() + "."
        tags = []
        if tags_schema.get("maxItems", 0) > 0:
            tags = [f"#{w}" for w in words[index: index + tags_schema["minItems"]]]
        captions.append({"text": caption, "hashtags": tags})
    return {"language": language, "captions": captions}


def write_outline(body: dict) -> dict:
    lines = re.findall(r"^\[(\d+)s\] (.+)$", _all_text(body), re.M)
    if not lines:
        lines = [("0", "the recording")]
    step = max(1, len(lines) // 3)
    chapters, last = [], -1.0
    for start, words in lines[::step][:3]:
        if float(start) > last:
            chapters.append({"start_seconds": float(start),
                             "title": " ".join(words.split()[:5]) or "Part"})
            last = float(start)
    summary = " ".join(words for _, words in lines)[:300] or "A short recording."
    return {"summary": f"The recording covers: {summary}", "chapters": chapters}


def answer(body: dict, *, broken: bool = False) -> dict:
    tool_name = (body.get("tool_choice") or {}).get("name")
    if tool_name == "submit_captions":
        tool_input = write_captions(body, broken=broken)
    elif tool_name == "submit_outline":
        tool_input = write_outline(body)
    elif tool_name == "submit_summary":
        tool_input = {"summary": "A combined summary of every part of the recording."}
    else:
        raise ScriptError(f"unexpected tool_choice {body.get('tool_choice')!r}")
    images = sum(
        1 for m in body["messages"] if isinstance(m["content"], list)
        for b in m["content"] if b.get("type") == "image"
    )
    # Roughly how Claude counts: about four characters a token, ~1,600 per large image.
    text_chars = len(json.dumps({k: v for k, v in body.items() if k != "messages"})) + len(
        _all_text(body))
    return {
        "id": f"msg_bdrk_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [{"type": "tool_use", "id": f"toolu_bdrk_{uuid.uuid4().hex[:24]}",
                     "name": tool_name, "input": tool_input}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": text_chars // 4 + 1600 * images,
                  "output_tokens": len(json.dumps(tool_input)) // 4 + 20},
    }


def _handler(fake: FakeBedrock):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep the test output quiet
            pass

        def _send(self, status: int, payload: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def _error(self, status: int, kind: str, message: str) -> None:
            self._send(status, json.dumps({"message": message}).encode(),
                       {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/"})

        def do_POST(self):  # noqa: N802 - http.server's naming
            body_bytes = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                bedrock = self._check(body_bytes)
                body = json.loads(body_bytes)
                verify_messages_body(body, bedrock=bedrock)
            except AccessDenied as exc:
                fake.errors.append(f"{exc.__class__.__name__}: {exc}")
                self._error(403, "AccessDeniedException", str(exc))
                return
            except (ScriptError, ValueError, KeyError, OSError) as exc:
                fake.errors.append(f"{exc.__class__.__name__}: {exc}")
                self._error(400, "ValidationException", str(exc))
                return
            fake.requests.append(Seen(self.path, dict(self.headers), body))
            behaviour = fake.next_behaviour()
            if behaviour == "429":
                self._error(429, "ThrottlingException",
                            "Too many requests, please wait before trying again.")
            elif behaviour == "500":
                self._error(500, "InternalServerException", "The server encountered an error.")
            elif behaviour == "hang":
                fake.release.wait(timeout=10)
                self.close_connection = True
            elif behaviour == "invalid_json":
                self._send(200, b'{"id": "msg_bdrk_1", "type": "message", "content": [')
            else:
                self._send(200, json.dumps(answer(body, broken=behaviour == "bad_captions"))
                           .encode())

        def _check(self, body_bytes: bytes) -> bool:
            if self.path == "/v1/messages":
                # SDK 2.x sends the key as a bearer token; older ones as x-api-key.
                keys = {self.headers.get("x-api-key"),
                        self.headers.get("Authorization", "").removeprefix("Bearer ")}
                if fake.api_key not in keys:
                    raise AccessDenied("missing or wrong API key")
                if not self.headers.get("anthropic-version"):
                    raise ScriptError("missing anthropic-version header")
                return False
            match = re.fullmatch(r"/model/(?P<model>[^/]+)/invoke", self.path)
            if not match:
                raise ScriptError(f"unexpected path {self.path}")
            if unquote(match["model"]) != fake.model_id:
                raise ScriptError(f"model {unquote(match['model'])} is not {fake.model_id}")
            verify_sigv4(fake, "POST", self.path, self.headers, body_bytes)
            return True

    return Handler
