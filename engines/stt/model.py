"""Whisper models for speech to text: configuration, results, and loading.

The model is loaded once per worker process and kept; loading is guarded by a lock so
two threads never load it twice. The caller passes the configuration in.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import urllib.error
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from ..errors import SttModelUnavailable
from ..media import file_sha256
from . import ct2

_lock = threading.Lock()
_loaded: dict[tuple, LoadedModel] = {}

SAMPLE_RATE = 16_000
WINDOW_SECONDS = 30
# A window is cut at the quietest tenth of a second in its last CUT_SEARCH_SECONDS:
# wide enough to find a pause between words, narrow enough that windows stay near
# 30 s (at most one window in ten more than fixed 30-s cuts).
CUT_SEARCH_SECONDS = 5
ENERGY_FRAME = SAMPLE_RATE // 10
HOP_LENGTH = 160  # samples per Mel frame; window starts are aligned to it
TASKS = ("transcribe", "translate")
# Speech-to-text engines behind the one interface: our batched decoding on openai-whisper's
# model, and CTranslate2's through faster-whisper (WHISPER_ENGINE).
ENGINES = ("openai-whisper", "faster-whisper")
# How faster-whisper stores and computes the weights (CTranslate2's compute types).
COMPUTE_TYPES = ("default", "auto", "int8", "int8_float32", "int8_float16", "float16",
                 "bfloat16", "float32")


@dataclass(frozen=True)
class SttConfig:
    model: str
    device: str = "cpu"
    engine: str = "openai-whisper"
    # faster-whisper only: CTranslate2's compute type and CPU threads (0: its default).
    compute_type: str = "default"
    cpu_threads: int = 0
    download_root: str | None = None
    allow_download: bool = False
    # Most tokens decoded per 30-second window (whisper's own cap is 224).
    sample_len: int = 224
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6)
    # Windows encoded and decoded together; bounded by memory, not by correctness.
    batch_size: int = 16
    timestamps: bool = True
    compression_ratio_threshold: float = 2.4
    logprob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    # Benchmark only: ignore end-of-text and decode exactly this many tokens per window,
    # because a model with random weights never stops on its own.
    fixed_token_count: int | None = None

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise SttModelUnavailable(
                f"WHISPER_ENGINE='{self.engine}' is not an engine; use one of "
                f"{', '.join(ENGINES)}.")
        if self.compute_type not in COMPUTE_TYPES:
            raise SttModelUnavailable(
                f"WHISPER_COMPUTE_TYPE='{self.compute_type}' is not a compute type; use one "
                f"of {', '.join(COMPUTE_TYPES)}.")

    @property
    def fp16(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def cache_key(self) -> tuple:
        return (self.engine, self.model, self.device, self.compute_type, self.cpu_threads)


@dataclass
class LoadedModel:
    model: object
    name: str
    checkpoint_sha256: str
    device: str


@dataclass
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: list[Word] | None = None
    # Whisper's confidence signals for the window this segment came from.
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    temperature: float | None = None
    # Who spoke, when channels were transcribed apart ("Left", "Right", "Channel 3").
    speaker: str | None = None

    def as_dict(self) -> dict:
        data = {"start": self.start, "end": self.end, "text": self.text}
        if self.speaker:
            data["speaker"] = self.speaker
        for name in ("avg_logprob", "no_speech_prob", "temperature"):
            value = getattr(self, name)
            if value is not None and math.isfinite(value):
                data[name] = round(value, 4)
        if self.words is not None:
            # JSON (and PostgreSQL's jsonb) has no NaN: an unknown probability is null.
            data["words"] = [
                {**asdict(w), "probability": round(w.probability, 4)
                 if math.isfinite(w.probability) else None}
                for w in self.words
            ]
        return data


@dataclass
class TranscriptionResult:
    language: str
    segments: list[Segment] = field(default_factory=list)
    windows: int = 0

    @property
    def text(self) -> str:
        if any(s.speaker for s in self.segments):  # a line per turn, with who said it
            return "\n".join(f"{s.speaker}: {s.text}" for s in self.segments if s.text)
        return " ".join(s.text for s in self.segments if s.text).strip()


def model_root(config: SttConfig) -> str:
    return config.download_root or os.path.join(os.path.expanduser("~"), ".cache", "whisper")


def _checkpoint_path(config: SttConfig) -> str:
    """An openai-whisper checkpoint file for the configured model.

    WHISPER_MODEL may be a checkpoint file (.pt), a CTranslate2 model folder (the
    format faster-whisper uses; converted once), or a model name: a checkpoint already
    downloaded, else the same weights from an installed package that ships them
    (``ct2.PACKAGED_MODELS``, offline), else a download when downloads are allowed.
    """
    import whisper

    root = model_root(config)
    if os.path.isfile(config.model):
        return config.model
    if os.path.isdir(config.model):
        folder = ct2.ct2_model_at(config.model)
        if folder is None:
            raise SttModelUnavailable(
                f"WHISPER_MODEL='{config.model}' is a folder without a CTranslate2 model.bin."
            )
        return ct2.converted_checkpoint(folder, root)
    if config.model not in whisper.available_models():
        raise SttModelUnavailable(
            f"WHISPER_MODEL='{config.model}' is neither a checkpoint file, a CTranslate2 model "
            f"folder nor a known model name ({', '.join(whisper.available_models())}).",
        )
    url = whisper._MODELS[config.model]
    cached = os.path.join(root, os.path.basename(url))
    if os.path.isfile(cached):
        return cached
    packaged = ct2.packaged_model(config.model)
    if packaged is not None:
        return ct2.converted_checkpoint(packaged, root)
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


def load_once(config: SttConfig, build: Callable[[SttConfig], LoadedModel]) -> LoadedModel:
    """The model for ``config``, built by ``build`` the first time in this process."""
    key = config.cache_key
    with _lock:
        if key not in _loaded:
            _loaded[key] = build(config)
        return _loaded[key]


def load_openai(config: SttConfig) -> LoadedModel:
    """openai-whisper's model for our batched engine (use ``load``, which keeps it).

    Raises SttModelUnavailable, with a message saying how to configure a model, when
    the checkpoint is missing and cannot be fetched.
    """
    path = _checkpoint_path(config)
    model = _whisper_model(path, name=config.model, device=config.device)
    model.eval()
    if config.fp16:
        half_weights(model)
    name = (os.path.basename(os.path.normpath(config.model))
            if os.path.exists(config.model) else config.model)
    return LoadedModel(
        model=model, name=name, checkpoint_sha256=file_sha256(path), device=config.device
    )


def _whisper_model(path: str, *, name: str, device: str):
    """``whisper.load_model`` for any checkpoint, with the alignment heads it carries.

    A named model gets OpenAI's alignment heads; a converted CTranslate2 model those of
    its config.json; any other checkpoint Whisper's default (the decoder's second half).
    """
    import torch
    import whisper
    from whisper.model import ModelDimensions, Whisper

    checkpoint = torch.load(path, map_location="cpu")
    dims = ModelDimensions(**checkpoint["dims"])
    model = Whisper(dims)
    model.load_state_dict(checkpoint["model_state_dict"])
    if name in whisper._ALIGNMENT_HEADS:
        model.set_alignment_heads(whisper._ALIGNMENT_HEADS[name])
    elif checkpoint.get("alignment_heads"):
        mask = torch.zeros(dims.n_text_layer, dims.n_text_head, dtype=torch.bool)
        for layer, head in checkpoint["alignment_heads"]:
            mask[layer, head] = True
        model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
    return model.to(device)


def half_weights(model) -> None:
    """Store the matrices in fp16 once, instead of Whisper casting them on every call.

    Whisper's Linear, Conv1d and embedding layers cast their weights to the input's
    dtype each time they run, so with fp16 inputs the casts become no-ops. Layer norms
    keep fp32 weights: Whisper computes them in fp32 and casts the result back.
    """
    import torch

    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Embedding)):
            module.half()


def is_loaded(config: SttConfig) -> bool:
    return config.cache_key in _loaded



def versions_record(loaded: LoadedModel, config: SttConfig, *, engine: str, versions: dict,
                    language, task: str, word_timestamps: bool, audio_seconds: float,
                    windows: int, decoding: dict) -> dict:
    """What support needs to tell which engine, model and settings made a transcript:
    the settings every engine shares, with the engine's own in ``decoding``."""
    return {
        "engine": engine,
        **versions,
        "model": loaded.name,
        "checkpoint_sha256": loaded.checkpoint_sha256,
        "device": loaded.device,
        "decoding": {
            "task": task,
            "language": language or "auto",
            "sample_len": config.sample_len,
            "temperatures": list(config.temperatures),
            "timestamps": config.timestamps,
            "word_timestamps": word_timestamps,
            "compression_ratio_threshold": config.compression_ratio_threshold,
            "logprob_threshold": config.logprob_threshold,
            "no_speech_threshold": config.no_speech_threshold,
            **decoding,
        },
        "audio_seconds": round(audio_seconds, 3),
        "windows": windows,
    }
