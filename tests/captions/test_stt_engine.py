"""The batched Whisper engine, against openai-whisper itself (random-weight micro model)."""

import numpy as np
import pytest
import torch
import whisper

from engines import media, stt
from engines.stt import decoding

SR = stt.SAMPLE_RATE


@pytest.fixture
def config(whisper_checkpoint):
    return stt.SttConfig(model=whisper_checkpoint, sample_len=24, temperatures=(0.0,))


@pytest.fixture
def speech(shared_media) -> np.ndarray:
    return media.decode_audio(str(shared_media / "auto_editor_example.mp4"))


def test_windows_cover_every_sample_once_and_cut_at_silence():
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.3, 95 * SR).astype(np.float32)
    audio[int(26.0 * SR):int(26.5 * SR)] = 0  # a pause inside the first cut's search zone
    windows = stt.plan_windows(len(audio), audio)
    assert windows[0][0] == 0 and windows[-1][1] == len(audio)
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))
    assert all(0 < end - start <= 30 * SR for start, end in windows)
    assert all(start % stt.HOP_LENGTH == 0 for start, _ in windows)
    assert 26.0 <= windows[0][1] / SR <= 26.5


def test_short_audio_is_one_window():
    assert stt.plan_windows(5 * SR) == [(0, 5 * SR)]
    assert stt.plan_windows(0) == []


@pytest.mark.parametrize("timestamps", [True, False])
def test_batched_decoding_gives_the_tokens_whisper_decode_gives(config, speech, timestamps):
    config = stt.SttConfig(**{**config.__dict__, "timestamps": timestamps})
    model = stt.load(config).model
    task = decoding._decoding_task(model, config, language="en", task="transcribe")
    windows = [(0, 30 * SR), (30 * SR, len(speech))]
    with torch.no_grad():
        mels = decoding._window_mels(speech, windows, model.dims.n_mels, "cpu")
        ours = decoding._greedy_batch(model, task, model.embed_audio(mels), temperature=0.0,
                                 sample_len=24, fixed=False)
        reference = whisper.decode(model, mels, whisper.DecodingOptions(
            language="en", sample_len=24, without_timestamps=not timestamps, fp16=False))
    for mine, theirs in zip(ours, reference, strict=True):
        assert mine.tokens == theirs.tokens
        # Random weights can suppress every candidate: then both sides say NaN.
        assert mine.avg_logprob == pytest.approx(theirs.avg_logprob, abs=1e-4, nan_ok=True)
        assert mine.no_speech_prob == pytest.approx(theirs.no_speech_prob, abs=1e-6,
                                                    nan_ok=True)


def test_fixed_token_mode_decodes_exactly_k_tokens_per_window(config, speech):
    fixed = stt.SttConfig(**{**config.__dict__, "fixed_token_count": 30})
    model = stt.load(fixed).model
    task = decoding._decoding_task(model, fixed, language="en", task="transcribe")
    with torch.no_grad():
        mels = decoding._window_mels(speech, stt.plan_windows(len(speech), speech),
                                model.dims.n_mels, "cpu")
        results = decoding._decode_windows(model, task, model.embed_audio(mels), fixed)
    assert [len(r.tokens) for r in results] == [30, 30]
    assert all(task.tokenizer.eot not in r.tokens for r in results)


def test_transcript_segments_are_ordered_inside_the_audio_and_versions_recorded(config,
                                                                                speech):
    long = np.concatenate([speech, speech])  # 85 s: three windows in one batch
    result, versions = stt.transcribe(long, config)
    duration = len(long) / SR
    assert result.windows == 3
    assert result.segments
    previous = 0.0
    for segment in result.segments:
        assert previous <= segment.start <= segment.end <= duration
        previous = segment.end
    assert result.language in whisper.tokenizer.LANGUAGES
    assert versions["checkpoint_sha256"] == stt.load(config).checkpoint_sha256
    assert versions["decoding"]["temperatures"] == [0.0]
    assert versions["windows"] == 3


def test_batch_size_does_not_change_the_transcript(config, speech):
    long = np.concatenate([speech, speech])
    together, _ = stt.transcribe(long, config, language="en")
    one_by_one, _ = stt.transcribe(long, stt.SttConfig(**{**config.__dict__, "batch_size": 1}),
                                   language="en")
    assert [s.as_dict() for s in together.segments] == [s.as_dict() for s in one_by_one.segments]


def test_temperature_fallback_is_bounded(config, speech):
    # A random model's confidence is below every threshold, so each window falls back.
    fallback = stt.SttConfig(**{**config.__dict__, "temperatures": (0.0, 0.5, 1.0)})
    result, versions = stt.transcribe(speech, fallback, language="en")
    assert {s.temperature for s in result.segments} <= {0.0, 0.5, 1.0}
    assert versions["decoding"]["temperatures"] == [0.0, 0.5, 1.0]


def test_translate_and_word_timestamps(config, speech):
    result, versions = stt.transcribe(speech, config, language="de", task="translate",
                                      word_timestamps=True)
    assert versions["decoding"]["task"] == "translate"
    assert versions["decoding"]["word_timestamps"] is True
    assert result.language == "de"
    for segment in result.segments:
        assert segment.words is not None
        for word in segment.words:
            assert segment.start <= word.start <= word.end <= segment.end


def test_silent_windows_are_dropped(whisper_checkpoint):
    # Whatever a random model thinks, a window judged silent (by the thresholds) yields
    # no segment: with a threshold of 0 every window counts as silent.
    config = stt.SttConfig(model=whisper_checkpoint, sample_len=8, temperatures=(0.0,),
                           no_speech_threshold=0.0, logprob_threshold=10.0)
    result, _ = stt.transcribe(np.zeros(5 * SR, np.float32), config, language="en")
    assert result.segments == []


def test_unknown_task_is_refused(config):
    with pytest.raises(ValueError):
        stt.transcribe(np.zeros(SR, np.float32), config, task="summarise")


def test_fp16_decoding_gives_the_tokens_whisper_decode_gives(whisper_checkpoint, speech,
                                                             monkeypatch):
    """The CUDA path (fp16 weights and activations, SDPA), run on the CPU."""
    model = whisper.load_model(whisper_checkpoint, device="cpu")
    stt.half_weights(model)
    monkeypatch.setattr(stt.SttConfig, "fp16", property(lambda self: True))
    config = stt.SttConfig(model=whisper_checkpoint, sample_len=16, temperatures=(0.0,))
    task = decoding._decoding_task(model, config, language="en", task="transcribe")
    windows = [(0, 30 * SR), (30 * SR, len(speech))]
    with torch.no_grad():
        mels = decoding._window_mels(speech, windows, model.dims.n_mels, "cpu")
        features = model.embed_audio(mels.half())
        assert features.dtype == torch.float16
        ours = decoding._greedy_batch(model, task, features, temperature=0.0, sample_len=16,
                                 fixed=False)
        reference = whisper.decode(model, mels, whisper.DecodingOptions(
            language="en", sample_len=16, fp16=True))
    assert [r.tokens for r in ours] == [r.tokens for r in reference]


def test_a_window_whose_confidence_is_not_a_number_counts_as_unconfident():
    config = stt.SttConfig(model="unused")
    nan = float("nan")
    quiet = decoding._Decoded(tokens=[], text="", avg_logprob=nan, no_speech_prob=0.99,
                         temperature=0.0, compression_ratio=0.0)
    assert decoding._is_silent(quiet, config)
    loud = decoding._Decoded(tokens=[1], text="x", avg_logprob=nan, no_speech_prob=0.01,
                        temperature=0.0, compression_ratio=1.0)
    assert decoding._needs_fallback(loud, config)


def test_segments_with_unknown_probabilities_are_stored_as_valid_json():
    import json
    import math

    segment = stt.Segment(start=0.0, end=1.0, text="a", avg_logprob=math.nan,
                          words=[stt.Word(start=0.0, end=1.0, word="a", probability=math.nan)])
    data = segment.as_dict()
    assert "avg_logprob" not in data and data["words"][0]["probability"] is None
    json.dumps(data, allow_nan=False)  # what PostgreSQL's jsonb accepts


def test_random_checkpoints_are_finite_and_the_same_for_the_same_seed(tmp_path):
    from engines.whisper_checkpoint import build_random_checkpoint

    first = torch.load(build_random_checkpoint(str(tmp_path / "a.pt")), weights_only=True)
    second = torch.load(build_random_checkpoint(str(tmp_path / "b.pt")), weights_only=True)
    for name, tensor in first["model_state_dict"].items():
        if tensor.is_floating_point() and name != "decoder.mask":
            assert torch.isfinite(tensor).all(), name
        assert torch.equal(tensor, second["model_state_dict"][name]), name
