"""Speech to text with openai-whisper, decoded in batches of 30-second windows.

The model is loaded once per worker process and kept; loading is guarded by a
lock so two threads never load it twice. Nothing here knows about Django: the
caller passes the configuration in.

``whisper.transcribe`` decodes one 30-second window at a time and re-reads the
decoder's weights for every token of every window. Here a recording is cut into
windows up front (at the quietest moment near each 30-second mark, so words are
not split), every window's log-Mel spectrogram goes through the encoder in
batches, and the windows of a batch are decoded together by one greedy loop with
a key-value cache, so each decoder step serves the whole batch. Rows that reached
their end-of-text token leave the batch (and the cache) at once. Whisper's own
logit rules (timestamp pairing, blank and non-speech suppression) are reused
unchanged; temperature fallback re-decodes only the windows that need it, at
most once per configured temperature; windows judged silent are dropped.
"""


from collections.abc import Callable

import numpy as np

from .decoding import engine_versions, plan_windows, transcribe_batched
from .faster import load_faster, transcribe_faster
from .model import (
    ENGINES,
    HOP_LENGTH,
    SAMPLE_RATE,
    LoadedModel,
    Segment,
    SttConfig,
    TranscriptionResult,
    Word,
    half_weights,
    is_loaded,
    load_once,
    load_openai,
)

__all__ = [
    "ENGINES", "HOP_LENGTH", "SAMPLE_RATE", "LoadedModel", "Segment", "SttConfig",
    "TranscriptionResult", "Word", "channel_labels", "engine_versions", "half_weights",
    "is_loaded", "load", "plan_windows", "transcribe", "transcribe_channels",
]


def load(config: SttConfig) -> LoadedModel:
    """Load (once per process) and return the configured engine's model.

    Raises SttModelUnavailable, with a message saying how to configure a model, when
    the model is missing and cannot be fetched.
    """
    return load_once(config, load_faster if config.engine == "faster-whisper" else load_openai)


def transcribe(audio: np.ndarray, config: SttConfig, *, language: str | None = None,
               task: str = "transcribe", word_timestamps: bool = False,
               on_progress: Callable[[float], None] | None = None,
               ) -> tuple[TranscriptionResult, dict]:
    """Transcribe (or translate to English) 16 kHz mono float32 audio with the configured
    engine (``config.engine``).

    Returns the result, whose segments are in time order, inside the audio and never
    overlapping, and the engine versions to store with it. ``on_progress`` is called
    often (every decoding step, or every segment) with the share of the audio done, from
    0 to 1, never decreasing; an exception it raises stops the transcription and
    propagates (that is how a cancelled job stops within seconds). Raises
    SttModelUnavailable when no model can be loaded, ValueError for an unknown task.
    """
    engine = transcribe_faster if config.engine == "faster-whisper" else transcribe_batched
    return engine(audio, config, language=language, task=task,
                  word_timestamps=word_timestamps, on_progress=on_progress)



def channel_labels(count: int) -> list[str]:
    """What each channel is called on the transcript: Left and Right for stereo."""
    return ["Left", "Right"] if count == 2 else [f"Channel {i + 1}" for i in range(count)]


def transcribe_channels(channels: np.ndarray, config: SttConfig, *, language: str | None = None,
                        task: str = "transcribe", word_timestamps: bool = False,
                        on_progress: Callable[[float], None] | None = None,
                        ) -> tuple[TranscriptionResult, dict]:
    """Transcribe each channel of (channels, samples) audio on its own, for recordings
    with one speaker per channel (a downmix garbles both). Segments are labelled with
    their channel (``channel_labels``) and merged in time order; two channels may
    speak at once, so segments of different speakers may overlap in time.

    The language is detected once, on the first channel with speech, and kept for the
    others. Raises what ``transcribe`` raises.
    """
    labels = channel_labels(len(channels))
    segments: list[Segment] = []
    detected = language
    versions: dict = {}
    windows = 0
    for index, audio in enumerate(channels):
        def progress(share: float, index: int = index) -> None:
            if on_progress is not None:
                on_progress((index + share) / len(channels))

        result, versions = transcribe(audio, config, language=detected, task=task,
                                      word_timestamps=word_timestamps, on_progress=progress)
        windows += result.windows
        if result.segments and detected is None:
            detected = result.language
        for segment in result.segments:
            segment.speaker = labels[index]
        segments += result.segments
    segments.sort(key=lambda s: (s.start, s.end))
    versions = {**versions, "channels": len(channels), "windows": windows,
                "audio_seconds": round(channels.shape[1] / SAMPLE_RATE, 3)}
    return TranscriptionResult(language=detected or "", segments=segments,
                               windows=windows), versions
