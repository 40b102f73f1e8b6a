"""Subtitles burned into a video: an ASS file we write, rendered by ffmpeg's libass filter.

The customer's words never reach a command line or a filter graph: they go into the ASS
file, escaped for ASS (``ass_text``); the filter graph names only that file, in a folder
we made. The picture is scaled to fit the chosen aspect ratio and padded (letterboxed),
never stretched; the video is encoded as H.264 (libx264) with ``+faststart`` so it plays
while it downloads; the sound is copied when MP4 can hold it, otherwise encoded as AAC.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

from .errors import MediaToolFailed
from .media import FORMAT_WHITELIST, PROTOCOL_WHITELIST, MediaInfo, _run_with_progress

FONT_SIZES = ("small", "medium", "large")
POSITIONS = ("bottom", "middle", "top")
ASPECTS = ("original", "9:16", "1:1", "4:5", "16:9")
# Text height as a share of the picture's shorter side: readable on a phone at "small".
_FONT_SHARE = {"small": 0.05, "medium": 0.065, "large": 0.085}
# ASS numpad alignment: 2 bottom centre, 5 middle centre, 8 top centre.
_ALIGNMENT = {"bottom": 2, "middle": 5, "top": 8}
# Audio codecs an MP4 holds that players everywhere play: copied as they are.
MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "ac3", "eac3", "alac"})


@dataclass(frozen=True)
class BurnInStyle:
    font_size: str = "medium"
    position: str = "bottom"
    box: bool = True
    aspect: str = "original"

    def __post_init__(self):
        if (self.font_size not in FONT_SIZES or self.position not in POSITIONS
                or self.aspect not in ASPECTS):
            raise ValueError(f"unknown burn-in style {self}")


@dataclass(frozen=True)
class BurnCue:
    """One subtitle on screen: from ``start_ms`` to ``end_ms``, its lines top to bottom."""

    start_ms: int
    end_ms: int
    lines: tuple[str, ...]


@dataclass(frozen=True)
class BurnInResult:
    width: int
    height: int
    duration_seconds: float


def output_size(width: int, height: int, aspect: str, *, max_long_side: int = 1920
                ) -> tuple[int, int]:
    """The picture's size: the source's (even) for "original", else the smallest frame of
    exactly that ratio holding the whole source, brought down to ``max_long_side``."""
    if aspect == "original":
        scale = min(1.0, max_long_side / max(width, height))
        return (max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))
    a, b = (int(part) for part in aspect.split(":"))
    # Steps of (2a, 2b) keep both sides even and the ratio exact.
    k = max(math.ceil(width / (2 * a)), math.ceil(height / (2 * b)), 1)
    k = min(k, max(1, max_long_side // (2 * max(a, b))))
    return 2 * a * k, 2 * b * k


def ass_text(line: str) -> str:
    """One line of the customer's text, safe inside an ASS Dialogue: shown as written.

    ``{`` and ``}`` would open and close an override block (hiding text, or running
    commands such as ``\\pos``), and a backslash starts ``\\N``, ``\\h`` and the like; a
    word joiner after each backslash and each brace's backslash escape keep them literal.
    Line breaks and other control characters become spaces.
    """
    cleaned = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in line)
    cleaned = cleaned.replace("\\", "\\\u2060")
    return cleaned.replace("{", "\\{").replace("}", "\\}")


def _ass_time(ms: int) -> str:
    cs = max(0, ms) // 10
    hours, rest = divmod(cs, 360_000)
    minutes, rest = divmod(rest, 6000)
    seconds, cs = divmod(rest, 100)
    return f"{hours}:{minutes:02d}:{seconds:02d}.{cs:02d}"


def ass_document(cues: list[BurnCue], style: BurnInStyle, *, width: int, height: int,
                 font: str = "DejaVu Sans") -> str:
    """The ASS file for ``cues`` on a ``width`` x ``height`` picture in ``style``."""
    size = max(12, round(min(width, height) * _FONT_SHARE[style.font_size]))
    margin_v = round(height * 0.06)
    margin_h = round(width * 0.05)
    if style.box:
        # BorderStyle 3: an opaque box behind each line, in the outline colour (libass);
        # &HAABBGGRR, so &H60000000 is black at about 60% opacity.
        border_style, outline, shadow = 3, max(2, round(size / 6)), 0
        outline_colour = back_colour = "&H60000000"
    else:
        # A black outline and a soft shadow keep white text readable on any picture.
        border_style, outline, shadow = 1, max(1, round(size / 14)), max(1, round(size / 24))
        outline_colour, back_colour = "&H00000000", "&H80000000"
    header = "\n".join([
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 0",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: TV.709",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
        "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
        "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        f"Style: Caption,{font.replace(',', ' ')},{size},&H00FFFFFF,&H00FFFFFF,"
        f"{outline_colour},{back_colour},-1,0,0,0,100,100,0,0,{border_style},{outline},"
        f"{shadow},{_ALIGNMENT[style.position]},{margin_h},{margin_h},{margin_v},1",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ])
    events = [
        f"Dialogue: 0,{_ass_time(cue.start_ms)},{_ass_time(cue.end_ms)},Caption,,0,0,0,,"
        + "\\N".join(ass_text(line) for line in cue.lines)
        for cue in cues if cue.end_ms > cue.start_ms and any(line.strip() for line in cue.lines)
    ]
    return header + "\n" + "\n".join(events) + "\n"


def _filter_path(path: str) -> str:
    """A path as one value inside an ffmpeg filter graph (its own escaping rules)."""
    for ch in ("\\", ":", "'", "[", "]", ",", ";"):
        path = path.replace(ch, "\\" + ch)
    return path


def progress_fraction(line: str, duration_seconds: float) -> float | None:
    """From one ``-progress`` line, how much of the video is done (0..1), or None."""
    key, _, value = line.partition("=")
    if key == "progress" and value == "end":
        return 1.0
    if key not in ("out_time_us", "out_time_ms") or not duration_seconds:
        return None
    try:
        # ffmpeg writes microseconds under both names.
        done = int(value) / 1_000_000
    except ValueError:
        return None
    return min(1.0, max(0.0, done / duration_seconds))


def burn_in(
    source: str, output: str, *, cues: list[BurnCue], style: BurnInStyle, info: MediaInfo,
    workdir: str, ffmpeg: str = "ffmpeg", timeout: float = 1800, font: str = "DejaVu Sans",
    fonts_dir: str = "", max_long_side: int = 1920, preset: str = "veryfast",
    max_seconds: float | None = None, on_progress: Callable[[float], None] | None = None,
    progress_period: float = 0.5,
) -> BurnInResult:
    """Write ``output``: ``source`` with ``cues`` rendered into the picture, as an MP4.

    ``info`` is the source's probe (a video stream is required). ``on_progress`` gets the
    share done (0..1) as ffmpeg reports it, every ``progress_period`` seconds; an
    exception it raises stops ffmpeg.
    Raises MediaToolFailed when ffmpeg fails or runs past ``timeout``.
    """
    if not info.has_video or not info.width or not info.height:
        raise MediaToolFailed("This file has no picture to burn captions into.",
                              code="burn_in_no_video")
    width, height = output_size(info.width, info.height, style.aspect,
                                max_long_side=max_long_side)
    ass_path = os.path.join(workdir, "captions.ass")
    with open(ass_path, "w", encoding="utf-8") as fh:
        fh.write(ass_document(cues, style, width=width, height=height, font=font))
    ass = f"ass=filename={_filter_path(ass_path)}"
    if fonts_dir:
        ass += f":fontsdir={_filter_path(fonts_dir)}"
    video_filter = ",".join([
        f"scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2",
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black",
        "setsar=1",
        ass,
        "format=yuv420p",
    ])
    copy_audio = info.audio_codec in MP4_AUDIO_CODECS
    args = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-nostats",
        "-protocol_whitelist", PROTOCOL_WHITELIST, "-format_whitelist", FORMAT_WHITELIST,
        "-i", "file:" + source,
        "-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn", "-map_metadata", "-1",
        "-vf", video_filter,
        "-c:v", "libx264", "-preset", preset, "-crf", "20", "-profile:v", "high",
        *(["-c:a", "copy"] if copy_audio else ["-c:a", "aac", "-b:a", "160k"]),
    ]
    if max_seconds:
        args += ["-t", f"{max_seconds:.3f}"]
    args += ["-movflags", "+faststart", "-progress", "pipe:1",
             "-stats_period", f"{progress_period:g}", "-f", "mp4", "-y",
             "file:" + output]
    duration = min(info.duration_seconds, max_seconds or info.duration_seconds)

    def on_line(line: str) -> None:
        fraction = progress_fraction(line, duration)
        if fraction is not None and on_progress is not None:
            on_progress(fraction)

    _run_with_progress(args, timeout=timeout, on_line=on_line)
    return BurnInResult(width=width, height=height, duration_seconds=duration)
