"""Word error rate, measured the way Whisper's own evaluations do.

Both texts go through Whisper's English normaliser (numbers, spelling variants,
punctuation and case), then a Levenshtein alignment counts substitutions, deletions
and insertions. The benchmark (``bench/stt.py``) and the tests share these functions,
and read the reference texts from the media folder's ``MANIFEST.md``.
"""

from __future__ import annotations

import os
import re

import numpy as np


def normalised_words(text: str) -> list[str]:
    from whisper.normalizers import EnglishTextNormalizer

    return EnglishTextNormalizer()(text).split()


def word_alignment(reference: list[str], hypothesis: list[str]) -> list[str]:
    """Levenshtein alignment as operations: 'ok', 'sub', 'del' (a reference word
    missing) and 'ins' (a word the reference does not have)."""
    rows, cols = len(reference) + 1, len(hypothesis) + 1
    cost = np.zeros((rows, cols), dtype=np.int32)
    cost[:, 0], cost[0, :] = np.arange(rows), np.arange(cols)
    hyp = np.array(hypothesis, dtype=object)
    for i in range(1, rows):
        # One row at a time: substitutions and deletions vectorised, insertions in a scan.
        differs = (hyp != reference[i - 1]).astype(np.int32) if cols > 1 else np.zeros(0)
        row = np.minimum(cost[i - 1, 1:] + 1, cost[i - 1, :-1] + differs)
        cost[i, 0] = i
        for j in range(1, cols):
            cost[i, j] = min(row[j - 1], cost[i, j - 1] + 1)
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


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level edit distance: substitutions, deletions and insertions."""
    return sum(op != "ok" for op in word_alignment(reference, hypothesis))


def word_error_rate(reference_text: str, hypothesis_text: str) -> float:
    reference = normalised_words(reference_text)
    if not reference:
        raise ValueError("the reference text has no words")
    return word_errors(reference, normalised_words(hypothesis_text)) / len(reference)


def longest_missing_run(reference: list[str], hypothesis: list[str]) -> int:
    """The most reference words in a row that the hypothesis leaves out (by alignment)."""
    longest = run = 0
    for op in word_alignment(reference, hypothesis):
        if op == "ins":
            continue
        run = run + 1 if op == "del" else 0
        longest = max(longest, run)
    return longest


_ROW = re.compile(r"^\|\s*([^|]+?)\s*\|.*\|\s*([^|]*?)\s*\|\s*$")


def reference_texts(media_folder: str) -> dict[str, str]:
    """File name → reference text, for the single-speaker clips of the media folder's
    MANIFEST.md table (rows whose last column is a transcript, not "none" or a
    per-channel text)."""
    texts = {}
    with open(os.path.join(media_folder, "MANIFEST.md"), encoding="utf-8") as manifest:
        for line in manifest:
            match = _ROW.match(line.strip())
            if not match:
                continue
            name, text = match.groups()
            if (not os.path.isfile(os.path.join(media_folder, name)) or text in ("", "none")
                    or text.startswith("left:") or set(text) <= set("-| ")):
                continue
            texts[name] = text
    return texts
