"""Correcting a transcript: the customer fixes words, the timings stay, history is kept."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max

from config.errors import ApplicationError

from .. import exports
from ..models import CaptionJob, JobStatus, Transcript, TranscriptRevision

MAX_LINE_CHARS = 2000


def _corrected(segment: dict, text: str) -> dict:
    """The segment with new words at the same start and end. Word timings are kept when
    the correction keeps the number of words (a spelling fix), else shared out again."""
    fixed = {**segment, "text": text}
    words = segment.get("words") or []
    new_words = text.split(" ")
    if words and len(words) == len(new_words):
        fixed["words"] = [{**w, "word": (" " if i else "") + new}
                          for i, (w, new) in enumerate(zip(words, new_words, strict=True))]
    else:
        fixed.pop("words", None)
    return fixed


def transcript_correct(*, job: CaptionJob, texts: dict[int, str], actor) -> Transcript:
    """Replace the text of the segments numbered in ``texts`` (0-based), keeping timings.

    The transcript as it was is kept as a ``TranscriptRevision``; the SRT, VTT, TXT, JSON
    and TSV downloads read the corrected one. Nothing changes when no line differs.
    Raises ApplicationError: 409 unless the job is done with a transcript; 400 for an
    unknown line or an empty or over-long one (``details`` names the line's field).
    """
    errors: dict[str, str] = {}
    cleaned: dict[int, str] = {}
    with transaction.atomic():
        transcript = Transcript.objects.select_for_update().filter(job=job).first()
        if job.status != JobStatus.DONE or transcript is None or job.results_purged_at:
            raise ApplicationError("Only a finished job's transcript can be corrected.",
                                   code="transcript_not_editable", status=409)
        segments = transcript.segments
        for index, raw in texts.items():
            field = f"line_{index}"
            if not 0 <= index < len(segments):
                errors[field] = "This line is not in the transcript."
                continue
            text = exports.clean_text(raw or "")
            if not text:
                errors[field] = "A line cannot be empty; it keeps its time in the subtitles."
            elif len(text) > MAX_LINE_CHARS:
                errors[field] = f"A line can hold at most {MAX_LINE_CHARS} characters."
            else:
                cleaned[index] = text
        if errors:
            raise ApplicationError("Some lines need a change before they can be saved.",
                                   code="invalid_correction", details=errors)
        changed = {i: t for i, t in cleaned.items()
                   if t != exports.clean_text(segments[i].get("text", ""))}
        if not changed:
            return transcript
        last = transcript.revisions.aggregate(n=Max("number"))["n"] or 0
        TranscriptRevision.objects.create(transcript=transcript, number=last + 1,
                                          text=transcript.text, segments=segments,
                                          replaced_by=actor)
        transcript.segments = [_corrected(s, changed[i]) if i in changed else s
                               for i, s in enumerate(segments)]
        transcript.text = " ".join(exports.clean_text(s.get("text", ""))
                                   for s in transcript.segments)
        transcript.save(update_fields=["segments", "text"])
    return transcript

