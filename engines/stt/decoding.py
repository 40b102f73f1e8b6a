"""Batched decoding of 30-second windows (see ``engines.stt`` for the design)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .model import (
    CUT_SEARCH_SECONDS,
    ENERGY_FRAME,
    HOP_LENGTH,
    SAMPLE_RATE,
    TASKS,
    WINDOW_SECONDS,
    LoadedModel,
    Segment,
    SttConfig,
    TranscriptionResult,
    Word,
    load_once,
    load_openai,
    versions_record,
)
from .segments import in_time_order, is_speech

# A tail shorter than this after a window's last closed segment is not decoded again.
MIN_TAIL_SECONDS = 1.0
# Tails of tails: bounded, so a model that keeps closing early cannot loop.
MAX_TAIL_DEPTH = 3

# --- Windows -------------------------------------------------------------------------


def plan_windows(n_samples: int, audio: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Cut ``n_samples`` into consecutive windows of at most 30 seconds.

    With ``audio`` given, each cut falls at the quietest tenth of a second in the
    last five seconds of the window, so a word is rarely split between two windows.
    Windows start on Mel-frame boundaries, cover every sample once, and never overlap.
    """
    limit = WINDOW_SECONDS * SAMPLE_RATE
    search = CUT_SEARCH_SECONDS * SAMPLE_RATE
    energy = None
    if audio is not None and n_samples > limit:
        frames = n_samples // ENERGY_FRAME
        squared = np.square(audio[: frames * ENERGY_FRAME].astype(np.float32, copy=False))
        energy = squared.reshape(frames, ENERGY_FRAME).mean(axis=1)
    windows = []
    start = 0
    while n_samples - start > limit:
        end = start + limit
        if energy is not None:
            first = -(-(end - search) // ENERGY_FRAME)  # first whole frame in the search zone
            last = end // ENERGY_FRAME  # frames [first, last) end at or before ``end``
            if last > first:
                zone = energy[first:last]
                # The latest of the quietest frames keeps windows long.
                quietest = first + len(zone) - 1 - int(np.argmin(zone[::-1]))
                end = (quietest * ENERGY_FRAME + ENERGY_FRAME // 2) // HOP_LENGTH * HOP_LENGTH
        windows.append((start, end))
        start = end
    if n_samples > start:
        windows.append((start, n_samples))
    return windows


def _window_mels(audio: np.ndarray, windows, n_mels: int, device: str):
    import torch
    import whisper
    from whisper.audio import N_FRAMES, N_SAMPLES

    mels = []
    for start, end in windows:
        chunk = torch.from_numpy(np.ascontiguousarray(audio[start:end], dtype=np.float32))
        # As whisper.transcribe does: the log-Mel of the audio followed by 30 s of silence
        # (which sets the normalisation's floor), then the window's own frames padded to
        # 30 s in the Mel domain. Padding the audio instead makes a short quiet window
        # look like speech to the model ("you" on ten seconds of digital silence).
        mel = whisper.log_mel_spectrogram(chunk, n_mels=n_mels, padding=N_SAMPLES,
                                          device=device)
        mels.append(whisper.pad_or_trim(mel[:, : mel.shape[-1] - N_FRAMES], N_FRAMES))
    return torch.stack(mels)


# --- Batched decoding ------------------------------------------------------------------


@dataclass
class _Decoded:
    tokens: list[int]
    text: str
    avg_logprob: float
    no_speech_prob: float
    temperature: float
    compression_ratio: float


def _decoding_task(model, config: SttConfig, *, language: str, task: str):
    """Whisper's own DecodingTask, used for its tokenizer, prompt and logit rules."""
    from whisper.decoding import DecodingOptions, DecodingTask

    options = DecodingOptions(
        task=task,
        language=language,
        sample_len=_sample_len(model, config),
        without_timestamps=not config.timestamps,
        fp16=config.fp16,
    )
    return DecodingTask(model, options)


def _sample_len(model, config: SttConfig) -> int:
    wanted = config.fixed_token_count or config.sample_len
    return max(1, min(wanted, model.dims.n_text_ctx // 2))


class _BatchDecoder:
    """Whisper's text decoder, run one step at a time over a batch of windows.

    It calls the model's own layers (so weights, dtype casts and layer norms are
    exactly Whisper's) but keeps the caches laid out the way attention reads them:
    cross-attention keys and values are projected once per window and stored
    head-major and contiguous, and self-attention keys and values grow by one
    position per step. ``keep`` drops finished windows from every cache.
    """

    def __init__(self, model, audio_features):
        self.decoder = model.decoder
        self.n_head = self.decoder.blocks[0].attn.n_head
        self.dtype = audio_features.dtype
        self.offset = 0
        self.cross = [
            (self._heads(b.cross_attn.key(audio_features)),
             self._heads(b.cross_attn.value(audio_features)))
            for b in self.decoder.blocks
        ]
        self.self_kv: list[tuple] = [()] * len(self.decoder.blocks)

    def _heads(self, x):
        n, t, c = x.shape
        return x.view(n, t, self.n_head, c // self.n_head).transpose(1, 2).contiguous()

    def _attend(self, attn, q, k, v, causal: bool):
        import torch
        import torch.nn.functional as F  # noqa: N812 - torch's own convention

        q = self._heads(q)
        if q.device.type == "cpu" and q.dtype == torch.float32 and q.shape[2] == 1:
            # One query per row on a CPU: two batched matrix products beat the flash
            # kernel, which is built for blocks of queries. Same formula, same scale.
            weights = (q @ k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
            out = weights.float().softmax(dim=-1).to(v.dtype) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return attn.out(out.transpose(1, 2).flatten(start_dim=2))

    def step(self, tokens, logit_positions: list[int]):
        """Feed ``tokens`` (n, L); return float logits at ``logit_positions`` (n, P, vocab)."""
        import torch

        dec = self.decoder
        length = tokens.shape[-1]
        x = dec.token_embedding(tokens) + dec.positional_embedding[
            self.offset:self.offset + length]
        x = x.to(self.dtype)
        for i, block in enumerate(dec.blocks):
            h = block.attn_ln(x)
            k, v = self._heads(block.attn.key(h)), self._heads(block.attn.value(h))
            if self.self_kv[i]:
                k = torch.cat([self.self_kv[i][0], k], dim=2)
                v = torch.cat([self.self_kv[i][1], v], dim=2)
            self.self_kv[i] = (k, v)
            # Causal only while the whole prompt is fed at once; later a step is one token.
            x = x + self._attend(block.attn, block.attn.query(h), k, v, causal=length > 1)
            h = block.cross_attn_ln(x)
            ck, cv = self.cross[i]
            x = x + self._attend(block.cross_attn, block.cross_attn.query(h), ck, cv,
                                 causal=False)
            x = x + block.mlp(block.mlp_ln(x))
        self.offset += length
        x = dec.ln(x[:, logit_positions])
        return (x @ torch.transpose(dec.token_embedding.weight.to(x.dtype), 0, 1)).float()

    def keep(self, rows) -> None:
        self.cross = [(k[rows], v[rows]) for k, v in self.cross]
        self.self_kv = [(k[rows], v[rows]) for k, v in self.self_kv]


def _greedy_batch(model, dtask, audio_features, *, temperature: float, sample_len: int,
                  fixed: bool, on_step: Callable[[float], None] | None = None,
                  ) -> list[_Decoded]:
    """Decode a batch of windows together, one token per window per step.

    ``on_step`` is called after each step with the share of ``sample_len`` done, so a
    caller can report progress or stop the decoding (by raising) within one step.
    """
    import torch
    import torch.nn.functional as F  # noqa: N812 - torch's own convention
    from whisper.decoding import SuppressTokens
    from whisper.utils import compression_ratio

    tokenizer = dtask.tokenizer
    eot = tokenizer.eot
    device = audio_features.device
    n = audio_features.shape[0]
    begin = dtask.sample_begin
    tokens = torch.tensor([list(dtask.initial_tokens)], device=device).repeat(n, 1)
    sum_logprobs = torch.zeros(n, device=device)
    rows = list(range(n))  # window index of each live row
    no_speech = [math.nan] * n
    finished: dict[int, tuple[list[int], float]] = {}
    filters = list(dtask.logit_filters)
    if fixed:
        filters.append(SuppressTokens([eot]))
    decoder = _BatchDecoder(model, audio_features)
    for step in range(sample_len):
        if on_step is not None:
            on_step(step / sample_len)
        if step == 0:
            logits = decoder.step(tokens, [dtask.sot_index, tokens.shape[-1] - 1])
            if tokenizer.no_speech is not None:
                probs = logits[:, 0].softmax(dim=-1)
                no_speech = probs[:, tokenizer.no_speech].tolist()
            logits = logits[:, -1]
        else:
            logits = decoder.step(tokens[:, -1:], [0])[:, 0]
        for logit_filter in filters:
            logit_filter.apply(logits, tokens)
        if temperature == 0:
            next_tokens = logits.argmax(dim=-1)
        else:
            next_tokens = torch.distributions.Categorical(logits=logits / temperature).sample()
        logprobs = F.log_softmax(logits, dim=-1)
        sum_logprobs += logprobs[torch.arange(len(rows), device=device), next_tokens]
        tokens = torch.cat([tokens, next_tokens[:, None]], dim=-1)
        if step == sample_len - 1:
            break
        done = next_tokens == eot
        if bool(done.any()):
            totals = sum_logprobs.tolist()
            for i, is_done in enumerate(done.tolist()):
                if is_done:
                    finished[rows[i]] = (tokens[i, begin:-1].tolist(), totals[i])
            keep = (~done).nonzero().flatten()
            if keep.numel() == 0:
                break
            # Finished windows leave the batch: later steps cost only the live rows.
            rows = [rows[i] for i in keep.tolist()]
            tokens, sum_logprobs = tokens[keep], sum_logprobs[keep]
            decoder.keep(keep)
    totals = sum_logprobs.tolist()
    for i, row in enumerate(rows):
        if row not in finished:
            seq = tokens[i, begin:].tolist()
            finished[row] = ([t for t in seq if t != eot], totals[i])
    results = []
    for row in range(n):
        seq, total = finished[row]
        text = tokenizer.decode([t for t in seq if t < eot]).strip()
        results.append(_Decoded(
            tokens=seq, text=text, avg_logprob=total / (len(seq) + 1),
            no_speech_prob=no_speech[row], temperature=temperature,
            compression_ratio=compression_ratio(text) if text else 0.0,
        ))
    return results


def _confidence(result: _Decoded) -> float:
    # A log-probability that is not a number (every candidate suppressed) is no
    # confidence at all; NaN would otherwise compare False against every threshold.
    return result.avg_logprob if math.isfinite(result.avg_logprob) else -math.inf


def _needs_fallback(result: _Decoded, config: SttConfig) -> bool:
    if _is_silent(result, config):
        return False
    return (result.compression_ratio > config.compression_ratio_threshold
            or _confidence(result) < config.logprob_threshold)


def _is_silent(result: _Decoded, config: SttConfig) -> bool:
    return (result.no_speech_prob > config.no_speech_threshold
            and _confidence(result) < config.logprob_threshold)


def _decode_windows(model, dtask, features, config: SttConfig,
                    on_step: Callable[[float], None] | None = None) -> list[_Decoded]:
    """Greedy decoding with bounded temperature fallback for the windows that need it."""
    fixed = config.fixed_token_count is not None
    sample_len = _sample_len(model, config)
    temperatures = list(config.temperatures) or [0.0]
    results = _greedy_batch(model, dtask, features, temperature=temperatures[0],
                            sample_len=sample_len, fixed=fixed, on_step=on_step)
    if fixed:
        return results
    for temperature in temperatures[1:]:
        retry = [i for i, r in enumerate(results) if _needs_fallback(r, config)]
        if not retry:
            break
        again = _greedy_batch(model, dtask, features[retry], temperature=temperature,
                              sample_len=sample_len, fixed=False,
                              on_step=(lambda _: on_step(1.0)) if on_step else None)
        for i, result in zip(retry, again, strict=True):
            results[i] = result
    return results


def _window_segments(result: _Decoded, tokenizer, start_s: float, end_s: float) -> list[dict]:
    """Split one window's tokens at timestamp pairs, as whisper.transcribe does."""
    begin = tokenizer.timestamp_begin
    precision = 0.02
    seq = result.tokens
    pieces: list[tuple[float, float, list[int]]] = []
    is_ts = [t >= begin for t in seq]
    cuts = [i + 1 for i in range(len(seq) - 1) if is_ts[i] and is_ts[i + 1]]
    if cuts:
        if is_ts[-1] and (len(seq) < 2 or not is_ts[-2]):
            cuts.append(len(seq))
        last = 0
        for cut in cuts:
            part = seq[last:cut]
            pieces.append((start_s + (part[0] - begin) * precision,
                           start_s + (part[-1] - begin) * precision, part))
            last = cut
        if last < len(seq):
            # Text after the last closed segment runs to the end of the window.
            part = seq[last:]
            first = part[0] - begin if part[0] >= begin else 0
            pieces.append((start_s + first * precision, end_s, part))
    else:
        stamps = [t - begin for t in seq if t >= begin]
        stop = end_s
        if stamps and stamps[-1] > 0:
            stop = start_s + stamps[-1] * precision
        pieces.append((start_s, stop, seq))
    segments = []
    for s, e, part in pieces:
        text = tokenizer.decode([t for t in part if t < tokenizer.eot]).strip()
        segments.append({"start": s, "end": e, "tokens": part, "text": text})
    return segments


def _detect_language(model, features, tokenizer) -> str:
    """The language most probable over the given windows, not just the first one."""
    _, probs = model.detect_language(features, tokenizer)
    totals: dict[str, float] = {}
    for window in probs:
        for code, p in window.items():
            totals[code] = totals.get(code, 0.0) + p
    return max(totals, key=totals.get)


class _Progress:
    """The share of the audio decoded, from windows done and the current batch's steps."""

    def __init__(self, total_samples: int, report: Callable[[float], None] | None):
        self.total = max(1, total_samples)
        self.done = 0
        self.report = report
        self.last = 0.0

    def batch_step(self, samples: int) -> Callable[[float], None] | None:
        if self.report is None:
            return None

        def step(share: float) -> None:
            # A batch usually ends well before sample_len steps: count at most 90% of it
            # until it is done, so the figure never runs ahead and then stands still.
            self._send((self.done + samples * min(share, 0.9)) / self.total)
        return step

    def batch_done(self, samples: int) -> None:
        self.done = min(self.total, self.done + samples)
        self._send(self.done / self.total)

    def _send(self, share: float) -> None:
        if self.report is not None:
            self.last = max(self.last, min(1.0, share))
            self.report(self.last)


def transcribe_batched(audio: np.ndarray, config: SttConfig, *, language: str | None = None,
                       task: str = "transcribe", word_timestamps: bool = False,
                       on_progress: Callable[[float], None] | None = None,
                       ) -> tuple[TranscriptionResult, dict]:
    """Transcribe (or translate to English) 16 kHz mono float32 audio with our batched
    windows on openai-whisper's model.

    Returns the result, whose segments are in time order, inside the audio and never
    overlapping, and the engine versions to store with it. ``on_progress`` is called
    often (at least once per decoding step or segment) with the share of the audio done,
    from 0 to 1, never decreasing; an exception it raises stops the transcription and
    propagates (that is how a cancelled job stops within seconds). Raises
    SttModelUnavailable when no model can be loaded, ValueError for an unknown task.
    """
    import torch
    from whisper.tokenizer import get_tokenizer

    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}")
    loaded = load_once(config, load_openai)
    model = loaded.model
    audio = np.asarray(audio, dtype=np.float32)
    duration = len(audio) / SAMPLE_RATE
    windows = plan_windows(len(audio), audio)
    dtype = torch.float16 if config.fp16 else torch.float32
    batch = max(1, config.batch_size)
    detected = language or None
    dtask = None
    # (start sample, end sample, how many tails deep): the planned windows, then the tails
    # of windows whose decoding closed its last segment before the window's end.
    pending = [(start, end, 0) for start, end in windows]
    candidates: list[tuple[Segment, float]] = []
    decoded = 0
    progress = _Progress(len(audio), on_progress)
    with torch.no_grad():
        while pending:
            group, pending = pending[:batch], pending[batch:]
            decoded += len(group)
            # Tails re-decode audio already counted; only planned windows move progress.
            new_samples = sum(end - start for start, end, depth in group if depth == 0)
            spans = [(start, end) for start, end, _ in group]
            mels = _window_mels(audio, spans, model.dims.n_mels, loaded.device)
            features = model.embed_audio(mels.to(dtype))
            if dtask is None:
                if detected is None:
                    if model.is_multilingual:
                        probe = get_tokenizer(True, num_languages=model.num_languages)
                        detected = _detect_language(model, features, probe)
                    else:
                        detected = "en"
                dtask = _decoding_task(model, config, language=detected, task=task)
            results = _decode_windows(model, dtask, features, config,
                                      on_step=progress.batch_step(new_samples))
            tails = []
            for (start, end, depth), result, mel in zip(group, results, mels, strict=True):
                if _is_silent(result, config) and config.fixed_token_count is None:
                    continue
                start_s, end_s = start / SAMPLE_RATE, end / SAMPLE_RATE
                pieces = _window_segments(result, dtask.tokenizer, start_s, end_s)
                tail = _undecoded_tail(result, dtask.tokenizer, start, end)
                if tail is not None and depth < MAX_TAIL_DEPTH and config.fixed_token_count is None:
                    tails.append((tail, end, depth + 1))
                if word_timestamps and config.timestamps:
                    _add_words(model, dtask.tokenizer, pieces, mel, start, end, start_s)
                candidates += [(segment, end_s) for segment in
                               _window_candidates(pieces, result, start_s, end_s)]
            pending = sorted(pending + tails)
            progress.batch_done(new_samples)
    segments = in_time_order(candidates)
    result = TranscriptionResult(language=detected or "", segments=segments, windows=decoded)
    return result, engine_versions(loaded, config, language=language, task=task,
                                   word_timestamps=word_timestamps,
                                   audio_seconds=duration, windows=decoded)


def _undecoded_tail(result: _Decoded, tokenizer, start: int, end: int) -> int | None:
    """Where undecoded audio starts, when the window's last segment closed before its end.

    A window whose tokens end with a closed timestamp pair left the audio after that
    timestamp undecoded (whisper.transcribe seeks there for its next window); a window
    ending with a single timestamp, or with text, has nothing left. Returns the sample
    the tail starts at, or None.
    """
    seq = result.tokens
    begin = tokenizer.timestamp_begin
    if len(seq) < 2 or seq[-1] < begin or seq[-2] < begin:
        return None
    tail = start + (seq[-1] - begin) * 320  # a timestamp step is 0.02 s: 320 samples
    tail = tail // HOP_LENGTH * HOP_LENGTH
    if end - tail < MIN_TAIL_SECONDS * SAMPLE_RATE:
        return None
    return max(tail, start + HOP_LENGTH)


def _window_candidates(pieces: list[dict], result: _Decoded, start_s: float,
                       end_s: float) -> list[Segment]:
    """The window's segments, clamped into it; punctuation alone is not speech."""
    out = []
    for piece in pieces:
        if not is_speech(piece["text"]):
            continue
        s = min(max(piece["start"], start_s), end_s)
        e = min(max(piece["end"], s), end_s)
        words = None
        if "words" in piece:
            words = [Word(start=float(w["start"]), end=float(w["end"]), word=w["word"],
                          probability=round(float(w["probability"]), 4))
                     for w in piece["words"]]
        out.append(Segment(start=s, end=e, text=piece["text"], words=words,
                           avg_logprob=result.avg_logprob, no_speech_prob=result.no_speech_prob,
                           temperature=result.temperature))
    return out


def _add_words(model, tokenizer, pieces, mel, start: int, end: int, last_end: float) -> None:
    from whisper.timing import add_word_timestamps

    for piece in pieces:
        piece["seek"] = start // HOP_LENGTH
    add_word_timestamps(
        segments=pieces, model=model, tokenizer=tokenizer, mel=mel,
        num_frames=(end - start) // HOP_LENGTH, last_speech_timestamp=last_end,
    )


def engine_versions(loaded: LoadedModel, config: SttConfig, *, language, task: str,
                    word_timestamps: bool, audio_seconds: float, windows: int) -> dict:
    """What support needs to tell which model and settings produced a transcript."""
    import whisper

    return versions_record(
        loaded, config, engine="openai-whisper, batched windows",
        versions={"engine_version": whisper.__version__},
        language=language, task=task, word_timestamps=word_timestamps,
        audio_seconds=audio_seconds, windows=windows,
        decoding={"fp16": config.fp16, "fixed_token_count": config.fixed_token_count,
                  "batch_size": config.batch_size, "window_seconds": WINDOW_SECONDS},
    )
