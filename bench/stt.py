"""Speech-to-text engines on real weights and real speech: speed and word error rate.

Real weights (the default): OpenAI's Whisper weights as the packaged CTranslate2 models
ship them (``tiny.en``, ``base``; ``engines/stt/ct2.py``), on the reference clips of
``../shared/media`` joined into one recording (``--rounds`` times, 0.2 s apart, so window
boundaries fall mid-sentence). In one process, on the same weights and audio, with greedy
decoding and the same temperature fallback: plain ``whisper.transcribe`` (the baseline),
our batched engine, and faster-whisper at float32, int8 and batched (batch 8). Each
configuration runs ``--repeats`` times, alternating, and keeps its best time; WER uses
Whisper's English normaliser against the MANIFEST's reference texts. Figures are written
to ``bench/results/stt-<model>-<device>.json`` (the capacity planner reads them).

    python bench/stt.py --model base
    python bench/stt.py --model tiny.en --quick

Random weights (``--random-weights``): the dimensions of any named model (``large-v3``
on a GPU), a fixed number of tokens per window because a random model never stops;
``whisper.transcribe`` against our engine only (faster-whisper reads CTranslate2 models).

    python bench/stt.py --random-weights --size large-v3 --device cuda --seconds 1800
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engines import media, stt  # noqa: E402
from engines.stt import evaluation  # noqa: E402
from engines.whisper_checkpoint import DIMENSIONS, build_random_checkpoint  # noqa: E402

SHARED_MEDIA = ROOT.parent / "shared" / "media"
CLIPS = [
    "jfk.flac", "librispeech_1089-134686-0001.wav", "librispeech_1221-135766-0001.wav",
    "librispeech_1221-135766-0002.wav", "librispeech_1272-141231-0002.flac",
    "picovoice_leopard_test_1272-128104-0000.wav", "auto_editor_example.mp4",
]


def bench_audio(seconds: float) -> np.ndarray:
    """Real speech from the shared media clips, repeated to the requested length."""
    pieces = [media.decode_audio(str(SHARED_MEDIA / name)) for name in CLIPS
              if (SHARED_MEDIA / name).is_file()]
    if not pieces:
        raise SystemExit(f"no audio clips found in {SHARED_MEDIA}")
    one_round = np.concatenate(pieces)
    repeats = int(np.ceil(seconds * stt.SAMPLE_RATE / len(one_round)))
    return np.tile(one_round, repeats)[: int(seconds * stt.SAMPLE_RATE)]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def run_baseline(model, audio: np.ndarray, tokens: int, fp16: bool) -> dict:
    import whisper
    from whisper.tokenizer import get_tokenizer

    eot = get_tokenizer(model.is_multilingual, num_languages=model.num_languages).eot
    return whisper.transcribe(
        model, audio, language="en", task="transcribe", temperature=(0.0,),
        condition_on_previous_text=False, without_timestamps=True, sample_len=tokens,
        # "-1" keeps whisper's default non-speech suppression; EOT is added to it.
        suppress_tokens=f"-1,{eot}", fp16=fp16, verbose=None,
    )


def timed(fn, device: str) -> float:
    sync(device)
    began = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - began


def random_weights_main(args) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    audio = bench_audio(args.seconds)
    audio_seconds = len(audio) / stt.SAMPLE_RATE
    with tempfile.TemporaryDirectory() as tmp:
        path = build_random_checkpoint(os.path.join(tmp, f"{args.size}.pt"), args.size)
        config = stt.SttConfig(
            model=path, device=args.device, sample_len=args.tokens, temperatures=(0.0,),
            batch_size=args.batch_size, timestamps=False, fixed_token_count=args.tokens,
        )
        loaded = stt.load(config)
    model = loaded.model
    with_ts = stt.SttConfig(**{**config.__dict__, "timestamps": True})

    def ours(cfg=config, clip=audio):
        return stt.transcribe(clip, cfg, language="en")

    # Warm up both paths once (allocator, kernels, tokenizer) on one window.
    warm = audio[: 30 * stt.SAMPLE_RATE]
    run_baseline(model, warm, args.tokens, config.fp16)
    ours(clip=warm)

    runs: dict[str, list[float]] = {"base": [], "ours": [], "ts": []}
    for _ in range(max(1, args.repeats)):
        runs["base"].append(
            timed(lambda: run_baseline(model, audio, args.tokens, config.fp16), args.device))
        runs["ours"].append(timed(ours, args.device))
        if not args.skip_timestamps:
            runs["ts"].append(timed(lambda: ours(cfg=with_ts), args.device))
    t_base, t_ours = min(runs["base"]), min(runs["ours"])
    t_ts = min(runs["ts"]) if runs["ts"] else None

    result, versions = ours()
    base_rate, our_rate = audio_seconds / t_base, audio_seconds / t_ours
    device_name = platform.processor() or platform.machine()
    if args.device.startswith("cuda"):
        device_name = torch.cuda.get_device_name(torch.device(args.device))
    print(f"hardware: {device_name}; torch {torch.__version__}; "
          f"threads {torch.get_num_threads()}; os.cpu_count {os.cpu_count()}")
    print(f"model: random weights, {args.size} dimensions, device {args.device}, "
          f"fp16 {config.fp16}; audio {audio_seconds:.1f} s ({versions['windows']} windows "
          f"ours, {int(np.ceil(audio_seconds / 30))} baseline); {args.tokens} tokens/window; "
          f"batch {args.batch_size}")
    print(f"baseline whisper.transcribe : {base_rate:9.1f} audio-s/s  ({t_base:.2f} s)")
    print(f"batched engine              : {our_rate:9.1f} audio-s/s  ({t_ours:.2f} s)")
    if t_ts is not None:
        print(f"batched engine + timestamps : {audio_seconds / t_ts:9.1f} audio-s/s  "
              f"({t_ts:.2f} s)")
    print(f"ratio (engine / baseline)   : {our_rate / base_rate:9.2f}x")
    print("all runs, seconds: " + "; ".join(
        f"{k} " + ", ".join(f"{t:.2f}" for t in v) for k, v in runs.items() if v))
    print(f"RESULT mode=random size={args.size} device={args.device} "
          f"baseline_aps={base_rate:.1f} ours_aps={our_rate:.1f} "
          f"ratio={our_rate / base_rate:.2f}")



# --- Real weights --------------------------------------------------------------------

RESULTS = ROOT / "bench" / "results"


def reference_recording(rounds: int) -> tuple[np.ndarray, str]:
    """The reference clips joined ``rounds`` times, 0.2 s apart, and their text."""
    texts = evaluation.reference_texts(str(SHARED_MEDIA))
    if not texts:
        raise SystemExit(f"no reference clips found in {SHARED_MEDIA}")
    gap = np.zeros(stt.SAMPLE_RATE // 5, dtype=np.float32)
    pieces, words = [], []
    for _ in range(rounds):
        for name, text in sorted(texts.items()):
            pieces += [media.decode_audio(str(SHARED_MEDIA / name)), gap]
            words.append(text)
    return np.concatenate(pieces), " ".join(words)


def engine_runs(model: str, device: str, threads: int) -> dict:
    """name → (description, a function transcribing audio to text)."""
    import whisper

    temperatures = stt.SttConfig(model=model).temperatures
    base = dict(model=model, device=device, download_root=str(ROOT / "var" / "whisper"),
                allow_download=False, cpu_threads=threads)
    ours = stt.SttConfig(**base, engine="openai-whisper")
    fw32 = stt.SttConfig(**base, engine="faster-whisper", compute_type="float32")
    fw8 = stt.SttConfig(**base, engine="faster-whisper", compute_type="int8")
    openai_model = stt.load(ours).model

    def baseline(audio):
        return whisper.transcribe(openai_model, audio, language="en", fp16=device != "cpu",
                                  temperature=temperatures, verbose=None)["text"]

    def engine(config):
        stt.load(config)
        return lambda audio: stt.transcribe(audio, config, language="en")[0].text

    def batched(audio):
        from faster_whisper import BatchedInferencePipeline

        pipeline = BatchedInferencePipeline(stt.load(fw32).model)
        pieces, _ = pipeline.transcribe(audio, language="en", batch_size=8, beam_size=1,
                                        temperature=list(temperatures))
        return " ".join(p.text.strip() for p in pieces)

    return {
        "whisper.transcribe": ("openai-whisper's own loop, fp32", baseline),
        "ours": ("our batched windows (WHISPER_ENGINE=openai-whisper)", engine(ours)),
        "faster-whisper float32": ("WHISPER_ENGINE=faster-whisper, float32", engine(fw32)),
        "faster-whisper int8": ("WHISPER_ENGINE=faster-whisper, int8", engine(fw8)),
        "faster-whisper batched 8": ("BatchedInferencePipeline, batch 8, float32 (VAD)",
                                     batched),
    }


def real_weights_main(args) -> None:
    import torch

    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    audio, reference_text = reference_recording(args.rounds)
    audio_seconds = len(audio) / stt.SAMPLE_RATE
    reference = evaluation.normalised_words(reference_text)
    runs = engine_runs(args.model, args.device, threads)
    warm = audio[: 10 * stt.SAMPLE_RATE]
    for _, run in runs.values():
        run(warm)
    times: dict[str, list[float]] = {name: [] for name in runs}
    texts: dict[str, str] = {}
    for _ in range(max(1, args.repeats)):
        for name, (_, run) in runs.items():
            began = time.perf_counter()
            texts[name] = run(audio)
            sync(args.device)
            times[name].append(time.perf_counter() - began)
    rows = []
    base_rate = audio_seconds / min(times["whisper.transcribe"])
    for name, (description, _) in runs.items():
        hypothesis = evaluation.normalised_words(texts[name])
        rate = audio_seconds / min(times[name])
        rows.append({
            "engine": name, "description": description, "model": args.model,
            "device": args.device, "audio_seconds_per_second": round(rate, 2),
            "ratio_to_whisper_transcribe": round(rate / base_rate, 3),
            "wer": round(evaluation.word_errors(reference, hypothesis) / len(reference), 4),
            "longest_missing_run": evaluation.longest_missing_run(reference, hypothesis),
            "seconds": [round(t, 2) for t in times[name]],
        })
    machine = device_description(args.device, threads)
    print(f"hardware: {machine}")
    print(f"model: {args.model} (real weights); audio {audio_seconds:.1f} s, "
          f"{len(reference)} reference words; best of {max(1, args.repeats)} alternating runs")
    print(f"{'engine':26} {'audio-s/s':>10} {'vs baseline':>12} {'WER':>7} {'max gap':>8}")
    for row in rows:
        print(f"{row['engine']:26} {row['audio_seconds_per_second']:10.1f} "
              f"{row['ratio_to_whisper_transcribe']:11.2f}x {row['wer']:7.1%} "
              f"{row['longest_missing_run']:8d}")
    baseline_wer = rows[0]["wer"]
    accurate = [r for r in rows if r["wer"] <= baseline_wer + 0.005]
    fastest = max(accurate, key=lambda r: r["audio_seconds_per_second"])
    print(f"fastest within 0.5 points of whisper.transcribe's WER: {fastest['engine']}")
    RESULTS.mkdir(exist_ok=True)
    record = {"measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "machine": machine, "threads": threads, "audio_seconds": round(audio_seconds, 1),
              "command": "python bench/stt.py " + " ".join(sys.argv[1:]), "runs": rows}
    out = RESULTS / f"stt-{args.model}-{args.device.split(':')[0]}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written: {out.relative_to(ROOT)}")
    short = {"whisper.transcribe": "baseline", "ours": "ours",
             "faster-whisper float32": "fw32", "faster-whisper int8": "fw8",
             "faster-whisper batched 8": "fwbatch"}
    print("RESULT " + f"model={args.model} device={args.device} audio_s={audio_seconds:.0f} "
          + " ".join(f"{short[r['engine']]}_ratio={r['ratio_to_whisper_transcribe']:.2f} "
                     f"{short[r['engine']]}_wer={r['wer']:.4f}" for r in rows)
          + f" fastest_accurate={short[fastest['engine']]}")


def device_description(device: str, threads: int) -> str:
    import torch

    name = platform.processor() or platform.machine()
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(device))
    return f"{name}; torch {torch.__version__}; {threads} threads; cpu_count {os.cpu_count()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="base", help="real weights: tiny.en or base")
    parser.add_argument("--rounds", type=int, default=5,
                        help="real weights: how many times the reference clips are joined")
    parser.add_argument("--quick", action="store_true",
                        help="real weights: the clips once, one run each")
    parser.add_argument("--random-weights", action="store_true",
                        help="random weights with a named model's dimensions (GPU sizing)")
    parser.add_argument("--size", default="tiny", choices=sorted(DIMENSIONS))
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--seconds", type=float, default=300.0, help="random: audio length")
    parser.add_argument("--tokens", type=int, default=100, help="random: tokens per window")
    parser.add_argument("--batch-size", type=int, default=16, help="random: windows per batch")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: all)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="alternate the runs this many times and keep each side's best, "
                             "so a busy shared machine hurts both sides alike")
    parser.add_argument("--skip-timestamps", action="store_true",
                        help="random: do not run the engine with timestamp rules")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.repeats = 1, 1
    if args.random_weights:
        random_weights_main(args)
    else:
        real_weights_main(args)


if __name__ == "__main__":
    main()
