"""Speech to text with faster-whisper: CTranslate2's Whisper, behind the same interface.

faster-whisper reads CTranslate2 model folders, the format the packaged weights come in
(``ct2.PACKAGED_MODELS``), so nothing is converted: a split model is joined once into a
folder. Its compute type (``int8``, ``float32``, ``float16`` …) is CTranslate2's. It
decodes like ``whisper.transcribe`` (each window after the last decoded timestamp,
conditioned on the previous text, with temperature fallback), greedily, as our own
engine does. Results are mapped to our segments and words, clamped into the audio and
in time order, and punctuation alone is dropped, exactly as for our engine.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from ..errors import SttModelUnavailable
from ..media import file_sha256
from . import ct2
from .model import (
    SAMPLE_RATE,
    TASKS,
    LoadedModel,
    Segment,
    SttConfig,
    TranscriptionResult,
    Word,
    load_once,
    model_root,
    versions_record,
)
from .segments import in_time_order, is_speech


def model_folder(config: SttConfig) -> str:
    """The CTranslate2 folder for WHISPER_MODEL: a folder, a packaged model, or a name.

    Raises SttModelUnavailable, saying what to configure, for a checkpoint file (this
    engine reads CTranslate2 folders only) or a model that is neither here nor allowed
    to be downloaded.
    """
    root = model_root(config)
    if os.path.isdir(config.model):
        found = ct2.ct2_model_at(config.model)
        if found is None:
            raise SttModelUnavailable(
                f"WHISPER_MODEL='{config.model}' is a folder without a CTranslate2 model.bin.")
        return ct2.model_folder(found, root)
    if os.path.isfile(config.model):
        raise SttModelUnavailable(
            f"WHISPER_MODEL='{config.model}' is a checkpoint file; the faster-whisper engine "
            "reads CTranslate2 model folders. Point WHISPER_MODEL at such a folder or a model "
            "name, or set WHISPER_ENGINE=openai-whisper.")
    packaged = ct2.packaged_model(config.model)
    if packaged is not None:
        return ct2.model_folder(packaged, root)
    from faster_whisper.utils import available_models

    if config.model not in available_models():
        raise SttModelUnavailable(
            f"WHISPER_MODEL='{config.model}' is neither a CTranslate2 model folder nor a known "
            f"model name ({', '.join(available_models())}).")
    return config.model  # a name: faster-whisper finds it in its cache or downloads it


def load_faster(config: SttConfig) -> LoadedModel:
    """faster-whisper's model (use ``engines.stt.load``, which keeps it)."""
    from faster_whisper import WhisperModel

    where = model_folder(config)
    try:
        model = WhisperModel(
            where, device=config.device.split(":")[0],
            device_index=int(config.device.split(":")[1]) if ":" in config.device else 0,
            compute_type=config.compute_type, cpu_threads=config.cpu_threads,
            download_root=model_root(config), local_files_only=not config.allow_download,
        )
    except Exception as exc:  # huggingface_hub's and CTranslate2's errors have no common base
        if os.path.isdir(where):
            raise SttModelUnavailable(
                f"The CTranslate2 model in '{where}' could not be loaded ({exc}).") from exc
        raise SttModelUnavailable(
            f"The Whisper model '{config.model}' is not on this machine for faster-whisper "
            f"and could not be fetched ({type(exc).__name__}). Set WHISPER_MODEL to a "
            "CTranslate2 model folder (or, with WHISPER_ENGINE=openai-whisper, to a Whisper "
            "checkpoint file), or allow downloads (WHISPER_ALLOW_DOWNLOAD=true) on a machine "
            "with internet access.") from exc
    name = (os.path.basename(os.path.normpath(config.model))
            if os.path.exists(config.model) else config.model)
    weights = os.path.join(where, "model.bin")
    digest = file_sha256(weights) if os.path.isfile(weights) else ""
    return LoadedModel(model=model, name=name, checkpoint_sha256=digest, device=config.device)


def transcribe_faster(audio: np.ndarray, config: SttConfig, *, language: str | None = None,
                      task: str = "transcribe", word_timestamps: bool = False,
                      on_progress: Callable[[float], None] | None = None,
                      ) -> tuple[TranscriptionResult, dict]:
    """Transcribe with faster-whisper; the same contract as ``engines.stt.transcribe``."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}")
    loaded = load_once(config, load_faster)
    audio = np.asarray(audio, dtype=np.float32)
    duration = len(audio) / SAMPLE_RATE
    pieces, info = loaded.model.transcribe(
        audio, language=language or None, task=task, beam_size=1, best_of=1,
        temperature=list(config.temperatures) or [0.0],
        compression_ratio_threshold=config.compression_ratio_threshold,
        log_prob_threshold=config.logprob_threshold,
        no_speech_threshold=config.no_speech_threshold,
        without_timestamps=not config.timestamps, word_timestamps=word_timestamps,
        # The previous text's prompt takes up to half of the 448-token context: a cap
        # below Whisper's own 224 is passed on, Whisper's own is CTranslate2's default.
        max_new_tokens=min(config.sample_len, 220) if config.sample_len < 224 else None,
        vad_filter=False,
    )
    candidates: list[tuple[Segment, float]] = []
    windows = set()
    for piece in pieces:  # a generator: each window is decoded as it is asked for
        windows.add(piece.seek)
        if on_progress is not None and duration:
            on_progress(min(1.0, piece.end / duration))
        text = piece.text.strip()
        if not is_speech(text):
            continue
        words = None
        if piece.words is not None:
            words = [Word(start=float(w.start), end=float(w.end), word=w.word,
                          probability=round(float(w.probability), 4)) for w in piece.words]
        candidates.append((Segment(
            start=float(piece.start), end=float(piece.end), text=text, words=words,
            avg_logprob=piece.avg_logprob, no_speech_prob=piece.no_speech_prob,
            temperature=piece.temperature), duration))
    if on_progress is not None:
        on_progress(1.0)
    result = TranscriptionResult(language=info.language or language or "",
                                 segments=in_time_order(candidates), windows=len(windows))
    return result, faster_versions(loaded, config, language=language, task=task,
                                   word_timestamps=word_timestamps, audio_seconds=duration,
                                   windows=len(windows))


def faster_versions(loaded: LoadedModel, config: SttConfig, *, language, task: str,
                    word_timestamps: bool, audio_seconds: float, windows: int) -> dict:
    """What support needs to tell which model and settings produced a transcript."""
    import ctranslate2
    import faster_whisper

    return versions_record(
        loaded, config, engine="faster-whisper",
        versions={"engine_version": faster_whisper.__version__,
                  "ctranslate2_version": ctranslate2.__version__},
        language=language, task=task, word_timestamps=word_timestamps,
        audio_seconds=audio_seconds, windows=windows,
        decoding={"compute_type": config.compute_type, "beam_size": 1,
                  "condition_on_previous_text": True},
    )
