"""The managed engine's own work per job: mapping a Transcribe result to our segments.

A managed job spends minutes at Transcribe but only moments on our worker: the start
call, a few polls, and reading the result. This measures the last part, the only one
that grows with the recording, against a baseline measured in the same run: parsing
the same result document with ``json.loads`` (what reading any result costs). The
document is Transcribe's format (``results.items`` with pronunciation and punctuation
items, times and confidences as strings), for ``--minutes`` of speech at 150 words a
minute with a sentence every 12 words.

    python bench/managed_stt.py --minutes 60 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engines.stt import amazon_transcribe  # noqa: E402

WORDS = ("the quick brown fox jumps over a lazy dog while seven bright "
         "students learn new captions every morning").split()


def result_document(minutes: float) -> str:
    count = int(minutes * 150)
    step = 60 / 150
    items = []
    for index in range(count):
        start = index * step
        items.append({"type": "pronunciation", "start_time": f"{start:.3f}",
                      "end_time": f"{start + step * 0.8:.3f}",
                      "alternatives": [{"confidence": "0.9876",
                                        "content": WORDS[index % len(WORDS)]}]})
        if index % 12 == 11:
            items.append({"type": "punctuation",
                          "alternatives": [{"confidence": "0.0", "content": "."}]})
    return json.dumps({"jobName": "bench", "status": "COMPLETED",
                       "results": {"language_code": "en-US", "items": items,
                                   "transcripts": [{"transcript": "…"}]}})


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - began)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    text = result_document(args.minutes)
    parse = timed(lambda: json.loads(text), args.repeat)
    mapped = timed(lambda: amazon_transcribe.result_to_transcript(json.loads(text)),
                   args.repeat)
    result = amazon_transcribe.result_to_transcript(json.loads(text))
    words = sum(len(s.words) for s in result.segments)
    print(f"{args.minutes:g} min of speech: {words} words, {len(result.segments)} segments, "
          f"{len(text) / 1e6:.1f} MB of result JSON")
    print(f"baseline json.loads:           {parse * 1000:8.1f} ms")
    print(f"json.loads + map to segments:  {mapped * 1000:8.1f} ms "
          f"({mapped / parse:.1f}x the baseline)")
    print(f"RESULT minutes={args.minutes:g} words={words} parse_ms={parse * 1000:.1f} "
          f"map_ms={mapped * 1000:.1f} ratio={mapped / parse:.2f}")


if __name__ == "__main__":
    main()
