"""Speech to text with openai-whisper.

The model is loaded once per worker process and kept; loading is guarded by a
lock so two threads never load it twice. Nothing here knows about Django: the
caller passes the configuration in.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import urllib.error
from dataclasses import dataclass, field

import numpy as np

from .errors import SttModelUnavailable

_lock = threading.Lock()
_loaded: dict[tuple[str, str], LoadedModel] = {}


@dataclass(frozen=True)
class SttConfig:
    model: str
    device: str = "cpu"
    download_root: str | None = None
    allow_download: bool = False
    sample_len: int = 224
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6)


@dataclass
class LoadedModel:
    model: object
    name: str
    checkpoint_sha256: str
    device: str


@dataclass
class Segment:
    start: float
    end: float
    text: str


@dataclass
class TranscriptionResult:
    language: str
    segments: list[Segment] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text).strip()


def _sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _checkpoint_path(config: SttConfig) -> str:
    import whisper

    if os.path.isfile(config.model):
        return config.model
    if config.model not in whisper.available_models():
        raise SttModelUnavailable(
            f"WHISPER_MODEL='{config.model}' is neither a checkpoint file nor a known model "
            f"name ({', '.join(whisper.available_models())}).",
        )
    root = config.download_root or os.path.join(os.path.expanduser("~"), ".cache", "whisper")
    url = whisper._MODELS[config.model]
    cached = os.path.join(root, os.path.basename(url))
    if os.path.isfile(cached):
        return cached
    if not config.allow_download:
        raise SttModelUnavailable(
            f"The Whisper model '{config.model}' is not on this machine and downloads are off. "
            "Set WHISPER_MODEL to the path of a Whisper checkpoint (.pt), or put the file in "
            f"{root}, or set WHISPER_ALLOW_DOWNLOAD=true on a machine with internet access."
        )
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(60)
    try:
        whisper._download(url, root, in_memory=False)
    except (urllib.error.URLError, OSError, RuntimeError) as exc:
        raise SttModelUnavailable(
            f"The Whisper model '{config.model}' could not be downloaded ({exc}). "
            "Set WHISPER_MODEL to the path of a Whisper checkpoint (.pt) on this machine, "
            f"or put the file in {root}."
        ) from exc
    finally:
        socket.setdefaulttimeout(previous)
    return cached


def load(config: SttConfig) -> LoadedModel:
    """Load (once per process) and return the configured model.

    Raises SttModelUnavailable, with a message saying how to configure a model,
    when the checkpoint is missing and cannot be fetched.
    """
    key = (config.model, config.device)
    with _lock:
        if key in _loaded:
            return _loaded[key]
        import whisper

        path = _checkpoint_path(config)
        model = whisper.load_model(path, device=config.device)
        model.eval()
        name = config.model if not os.path.isfile(config.model) else os.path.basename(path)
        loaded = LoadedModel(
            model=model, name=name, checkpoint_sha256=_sha256_of(path), device=config.device
        )
        _loaded[key] = loaded
        return loaded


def is_loaded(config: SttConfig) -> bool:
    return (config.model, config.device) in _loaded


def transcribe(
    audio: np.ndarray, config: SttConfig, *, language: str | None = None, task: str = "transcribe"
) -> tuple[TranscriptionResult, dict]:
    """Transcribe 16 kHz mono float32 audio. Returns the result and the engine versions."""
    import whisper

    loaded = load(config)
    decode_options = {
        "task": task,
        "language": language or None,
        "fp16": config.device.startswith("cuda"),
        "sample_len": config.sample_len,
    }
    result = whisper.transcribe(
        loaded.model,
        audio.astype(np.float32, copy=False),
        temperature=config.temperatures,
        condition_on_previous_text=False,
        verbose=None,
        **decode_options,
    )
    duration = len(audio) / 16_000
    segments: list[Segment] = []
    last_end = 0.0
    for seg in result.get("segments", []):
        # Keep segments in order, inside the audio and never overlapping.
        start = min(max(float(seg["start"]), last_end), duration)
        end = min(max(float(seg["end"]), start), duration)
        text = str(seg.get("text", "")).strip()
        if end <= start and not text:
            continue
        segments.append(Segment(start=round(start, 3), end=round(end, 3), text=text))
        last_end = end
    versions = {
        "engine": "openai-whisper",
        "engine_version": whisper.__version__,
        "model": loaded.name,
        "checkpoint_sha256": loaded.checkpoint_sha256,
        "device": loaded.device,
        "decoding": {
            "task": task,
            "language": language or "auto",
            "fp16": decode_options["fp16"],
            "sample_len": config.sample_len,
            "temperatures": list(config.temperatures),
        },
    }
    return TranscriptionResult(
        language=str(result.get("language") or ""), segments=segments
    ), versions
