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


from .decoding import engine_versions, plan_windows, transcribe
from .model import (
    HOP_LENGTH,
    SAMPLE_RATE,
    LoadedModel,
    Segment,
    SttConfig,
    TranscriptionResult,
    Word,
    half_weights,
    is_loaded,
    load,
)

__all__ = [
    "HOP_LENGTH", "SAMPLE_RATE", "LoadedModel", "Segment", "SttConfig", "TranscriptionResult",
    "Word", "engine_versions", "half_weights", "is_loaded", "load", "plan_windows", "transcribe",
]
