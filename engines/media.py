"""ffprobe and ffmpeg, run as hardened subprocesses.

Every call forces the local ``file`` (and ``pipe``) protocols only, so a playlist
or a ``concat:`` reference inside an upload cannot make ffmpeg open other files
or URLs; every call has a wall-clock timeout; no shell is involved.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import struct
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import MediaRejected, MediaToolFailed

SAMPLE_RATE = 16_000
PROTOCOL_WHITELIST = "file,pipe"
# The only demuxers ffmpeg may use on an upload: plain audio and video containers.
# A playlist (HLS, DASH), a concat script or an image sequence is refused by ffmpeg
# itself before it opens anything the file refers to; the protocol whitelist alone
# would still let such a file open other local files.
FORMAT_WHITELIST = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mp3,wav,flac,ogg,aac"
# Containers that can reference other files or URLs; never accepted as input.
REFUSED_FORMATS = frozenset({"hls", "concat", "ffconcat", "dash", "rtsp", "sdp", "tee", "image2"})


@dataclass(frozen=True)
class MediaInfo:
    format_name: str
    duration_seconds: float
    has_audio: bool
    has_video: bool
    # The picture as it is shown: a rotation stored with the video is applied.
    width: int | None = None
    height: int | None = None
    # Channels of the first audio stream (0 when there is none).
    audio_channels: int = 0
    # The first audio stream's codec ("aac", "vorbis", ...; "" when there is none).
    audio_codec: str = ""


def _run(args: list[str], *, timeout: float, stdout_limit: int | None = None) -> bytes:
    try:
        completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
            args, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise MediaToolFailed(
            f"Reading the media took longer than {timeout:.0f} seconds and was stopped.",
            code="media_timeout",
        ) from exc
    except FileNotFoundError as exc:
        raise MediaToolFailed(
            f"{args[0]} is not installed on the worker; install ffmpeg.", code="ffmpeg_missing"
        ) from exc
    if completed.returncode != 0:
        detail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise MediaRejected(
            f"The file could not be read as audio, video or an image ({detail[0][:200]}).",
            code="media_unreadable",
        )
    return completed.stdout


def _run_with_progress(args: list[str], *, timeout: float,
                       on_line: Callable[[str], None]) -> None:
    """``_run`` for a long ffmpeg run that reports as it goes: ``on_line`` gets each line
    ffmpeg writes to stdout (``-progress pipe:1``). Same protections and errors as
    ``_run``: no shell, no stdin, killed at the deadline; only the last lines of stderr
    are kept, so a chatty run cannot fill memory."""
    try:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError as exc:
        raise MediaToolFailed(
            f"{args[0]} is not installed on the worker; install ffmpeg.", code="ffmpeg_missing"
        ) from exc
    stderr_tail: deque[bytes] = deque(maxlen=20)
    drain = threading.Thread(target=lambda: stderr_tail.extend(proc.stderr), daemon=True)
    drain.start()
    # The deadline is enforced from outside the reading loop: a stalled ffmpeg writes no line.
    # Whether it struck is what the timer says, not a comparison of clocks read elsewhere.
    struck = threading.Event()

    def stop() -> None:
        struck.set()
        proc.kill()

    timer = threading.Timer(timeout, stop)
    timer.start()
    try:
        for raw in proc.stdout:
            on_line(raw.decode("utf-8", "replace").strip())
        returncode = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        timer.cancel()
        drain.join(timeout=5)
    if returncode != 0 and struck.is_set():
        raise MediaToolFailed(
            f"Processing the media took longer than {timeout:.0f} seconds and was stopped.",
            code="media_timeout",
        )
    if returncode != 0:
        detail = b"".join(stderr_tail).decode("utf-8", "replace").strip().splitlines()[-1:]
        raise MediaToolFailed(
            f"ffmpeg stopped with status {returncode} ({(detail or [''])[0][:300]}).",
            code="media_tool_failed",
        )


def _quarter_turned(stream: dict) -> bool:
    """Whether the stream is shown turned by 90 or 270 degrees (display matrix or tag)."""
    rotations = [side.get("rotation") for side in stream.get("side_data_list") or []]
    rotations.append((stream.get("tags") or {}).get("rotate"))
    for rotation in rotations:
        try:
            if rotation is not None and round(float(rotation)) % 180 == 90:
                return True
        except (TypeError, ValueError):
            continue
    return False


def probe(path: str, *, ffprobe: str = "ffprobe", timeout: float = 60) -> MediaInfo:
    """Inspect a local file. Raises MediaRejected for anything that is not plain media."""
    out = _run(
        [
            ffprobe, "-v", "error", "-protocol_whitelist", PROTOCOL_WHITELIST,
            "-format_whitelist", FORMAT_WHITELIST,
            "-probesize", "50M", "-analyzeduration", "100M",
            "-show_format", "-show_streams", "-of", "json", "file:" + path,
        ],
        timeout=timeout,
    )
    try:
        data = json.loads(out or b"{}")
    except json.JSONDecodeError as exc:
        raise MediaRejected("The file's media headers are unreadable.") from exc
    fmt = data.get("format") or {}
    format_name = str(fmt.get("format_name", ""))
    if set(format_name.split(",")) & REFUSED_FORMATS:
        raise MediaRejected(
            f"Files of type '{format_name}' can refer to other files and are not accepted.",
            code="media_format_refused",
        )
    streams = data.get("streams") or []
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    video = [
        s for s in streams
        if s.get("codec_type") == "video"
        and not (s.get("disposition") or {}).get("attached_pic")
    ]
    try:
        duration = float(fmt.get("duration") or 0.0)
    except ValueError:
        duration = 0.0
    width = height = None
    if video:
        width, height = video[0].get("width"), video[0].get("height")
        if _quarter_turned(video[0]):
            # Phones store portrait video as landscape plus a rotation; ffmpeg applies it
            # when decoding, so the picture as shown is the other way round.
            width, height = height, width
    return MediaInfo(
        format_name=format_name,
        duration_seconds=max(duration, 0.0),
        has_audio=bool(audio),
        has_video=bool(video),
        width=width,
        height=height,
        audio_channels=int((audio[0].get("channels") or 0) if audio else 0),
        audio_codec=str(audio[0].get("codec_name") or "") if audio else "",
    )


# PCM (1) and IEEE float (3) samples: what a plain WAV holds. Anything else (compressed
# codecs, WAVE_FORMAT_EXTENSIBLE's sub-formats) is left to ffprobe.
_WAV_PLAIN_FORMATS = (1, 3)


def wav_header_probe(head: bytes, *, size: int) -> MediaInfo | None:
    """A plain WAV's length from its header alone, without starting ffprobe (a process,
    tens of milliseconds of CPU per upload).

    Only for the plainest case: a RIFF/WAVE file whose first bytes (``head``) hold a
    PCM or float ``fmt `` chunk with sane values and the start of a non-empty ``data``
    chunk that runs to the end of the file (``size`` bytes), so the length it gives is
    the length of the bytes themselves. Anything else returns None: ffprobe decides.
    The worker still probes and decodes the file with ffmpeg's safeguards.
    """
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    fmt = None
    pos = 12
    while pos + 8 <= len(head):
        chunk, length = head[pos:pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        body = pos + 8
        if chunk == b"fmt ":
            if length < 16 or body + 16 > len(head):
                return None
            fmt = struct.unpack_from("<HHIIHH", head, body)
        elif chunk == b"data":
            if fmt is None:
                return None
            tag, channels, rate, byte_rate, align, bits = fmt
            if (tag not in _WAV_PLAIN_FORMATS or not 1 <= channels <= 8
                    or not 8_000 <= rate <= 384_000 or bits not in (8, 16, 24, 32, 64)
                    or align != channels * bits // 8 or byte_rate != rate * align
                    or length == 0 or length % align or size - (body + length) not in (0, 1)):
                return None
            return MediaInfo(format_name="wav", duration_seconds=length / byte_rate,
                             has_audio=True, has_video=False, audio_channels=channels)
        pos = body + length + (length & 1)  # chunks are padded to an even length
    return None


def decode_audio(
    path: str, *, ffmpeg: str = "ffmpeg", timeout: float = 600, max_seconds: float | None = None,
    channels: int = 1,
) -> np.ndarray:
    """Decode the first audio stream to 16 kHz float32 in [-1, 1]: mono (one dimension)
    by default, or its first ``channels`` channels apart, shaped (channels, samples)."""
    args = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
        "-protocol_whitelist", PROTOCOL_WHITELIST, "-format_whitelist", FORMAT_WHITELIST,
        "-threads", "0",
        "-i", "file:" + path, "-vn", "-sn", "-dn", "-map", "0:a:0",
    ]
    if max_seconds:
        # The container may lie about its duration; never decode past the limit.
        args += ["-t", f"{max_seconds:.3f}"]
    args += ["-f", "s16le", "-ac", str(channels), "-ar", str(SAMPLE_RATE),
             "-acodec", "pcm_s16le", "pipe:1"]
    raw = _run(args, timeout=timeout)
    samples = np.frombuffer(raw, np.int16).astype(np.float32) / 32768.0
    if channels == 1:
        return samples
    # Interleaved frames: one row per channel after the transpose.
    frames = len(samples) // channels
    return np.ascontiguousarray(samples[: frames * channels].reshape(frames, channels).T)


def extract_key_frames(
    path: str, out_dir: str, *, count: int, duration_seconds: float, ffmpeg: str = "ffmpeg",
    timeout: float = 120, max_seconds: float | None = None,
) -> list[str]:
    """Write up to ``count`` key frames, spread over the video, as JPEG files in ``out_dir``.

    Only key frames are decoded (``-skip_frame nokey``), which is fast and picks frames
    the encoder itself judged to be scene starts; ``select`` keeps one at most every
    duration/count seconds. A video whose key frames yield nothing falls back to its
    first frame. Returns the file paths in time order.
    """
    interval = max(duration_seconds / max(count, 1), 0.5) if duration_seconds else 1.0
    pattern = os.path.join(out_dir, "frame-%02d.jpg")
    base = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
        "-protocol_whitelist", PROTOCOL_WHITELIST,
    ]
    tail = ["-map", "0:v:0", "-an", "-sn", "-dn"]
    if max_seconds:
        tail += ["-t", f"{max_seconds:.3f}"]
    _run(
        [
            *base, "-skip_frame", "nokey", "-i", "file:" + path, *tail,
            "-vf", f"select=isnan(prev_selected_t)+gte(t-prev_selected_t\\,{interval:.3f})",
            "-fps_mode", "vfr", "-frames:v", str(count), "-q:v", "3", "-y", pattern,
        ],
        timeout=timeout,
    )
    frames = sorted(glob.glob(os.path.join(out_dir, "frame-*.jpg")))
    if not frames:
        _run([*base, "-i", "file:" + path, *tail, "-frames:v", "1", "-q:v", "3", "-y", pattern],
             timeout=timeout)
        frames = sorted(glob.glob(os.path.join(out_dir, "frame-*.jpg")))
    return frames[:count]


def file_sha256(*paths: str) -> str:
    """The sha256 of the files' bytes, read in order in 1 MiB chunks (one file, or parts)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
