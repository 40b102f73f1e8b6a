"""Burned-in captions: what rendering the subtitles costs over a plain re-encode.

    python bench/burn_in.py [VIDEO] [--rounds 3] [--aspect original]

Encodes VIDEO (default: ../shared/media/auto_editor_example.mp4, 42.5 s of 1280x720
H.264/AAC) twice per round, alternating: the baseline is the same ffmpeg command
``engines.burn_in`` runs (scale, pad, libx264 at the same preset and CRF, sound copied,
faststart) without the ``ass`` filter; the measured run is ``engines.burn_in.burn_in``
itself with a cue every 2.5 s. Prints each run's wall time and speed (seconds of video
per second), the medians, and ``RESULT burn_s=… baseline_s=… ratio=… speed=…x``.
No Django: the engine alone.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engines import burn_in, media  # noqa: E402

DEFAULT_VIDEO = ROOT.parent / "shared" / "media" / "auto_editor_example.mp4"


def baseline(video: str, out: str, info: media.MediaInfo, aspect: str) -> float:
    width, height = burn_in.output_size(info.width, info.height, aspect)
    started = time.perf_counter()
    subprocess.run([
        "ffmpeg", "-nostdin", "-loglevel", "error", "-i", video, "-map", "0:v:0",
        "-map", "0:a:0?", "-vf",
        f"scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-profile:v", "high",
        "-c:a", "copy", "-movflags", "+faststart", "-y", out,
    ], check=True, timeout=1800)
    return time.perf_counter() - started


def burned(video: str, out: str, info: media.MediaInfo, aspect: str, workdir: str) -> float:
    cues = [burn_in.BurnCue(int(t * 1000), int(t * 1000) + 2300,
                            ("A subtitle line of about forty characters", "and its second line"))
            for t in [i * 2.5 for i in range(int(info.duration_seconds / 2.5))]]
    started = time.perf_counter()
    burn_in.burn_in(video, out, cues=cues, style=burn_in.BurnInStyle(aspect=aspect),
                    info=info, workdir=workdir)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", default=str(DEFAULT_VIDEO))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--aspect", default="original", choices=burn_in.ASPECTS)
    args = parser.parse_args()
    info = media.probe(args.video)
    print(f"video {args.video}: {info.width}x{info.height}, {info.duration_seconds:.1f} s, "
          f"aspect {args.aspect}")
    base_times, burn_times = [], []
    with tempfile.TemporaryDirectory() as workdir:
        for round_ in range(1, args.rounds + 1):
            base_times.append(baseline(args.video, f"{workdir}/base.mp4", info, args.aspect))
            burn_times.append(burned(args.video, f"{workdir}/burn.mp4", info, args.aspect,
                                     workdir))
            print(f"round {round_}: baseline {base_times[-1]:.2f} s, burn-in "
                  f"{burn_times[-1]:.2f} s, ratio {burn_times[-1] / base_times[-1]:.2f}")
    burn, base = statistics.median(burn_times), statistics.median(base_times)
    print(f"RESULT burn_s={burn:.2f} baseline_s={base:.2f} ratio={burn / base:.2f} "
          f"speed={info.duration_seconds / burn:.1f}x")


if __name__ == "__main__":
    main()
