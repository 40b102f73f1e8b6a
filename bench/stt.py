"""Speech-to-text throughput: plain ``whisper.transcribe`` against our batched engine.

Both sides get the same audio, the same model weights (random, in the real checkpoint
format, with the dimensions of a named model), the same language and task, greedy
decoding at temperature 0 only, and the same number of decoded tokens per 30-second
window: a model with random weights never emits end-of-text on its own, so both sides
suppress it and decode exactly ``--tokens`` tokens per window (about what real speech
gives). Timestamp tokens are off on both sides, because with timestamps
``whisper.transcribe`` moves its next window to the last decoded timestamp, which
with random weights would make it decode a different number of windows; our engine
with timestamps on is printed as a third figure. Prints audio-seconds per wall-second
for each and the ratio.

    python bench/stt.py --size tiny --device cpu
    python bench/stt.py --size large-v3 --device cuda --seconds 3600 --batch-size 64
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny", choices=sorted(DIMENSIONS))
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--seconds", type=float, default=300.0, help="audio length")
    parser.add_argument("--tokens", type=int, default=100, help="tokens per 30-s window")
    parser.add_argument("--batch-size", type=int, default=16, help="windows per batch")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="alternate the runs this many times and keep each side's best, "
                             "so a busy shared machine hurts both sides alike")
    parser.add_argument("--skip-timestamps", action="store_true",
                        help="do not run the third figure (engine with timestamp rules)")
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
