"""Burned-in captions settings: MP4 exports with the subtitles in the picture (issue 16).

Part of the shared settings: config/settings/base.py imports it.
"""

from .env import env

# The font libass draws with (fontconfig's name) and, optionally, a folder of font files
# shipped with the deployment; the Debian ffmpeg package brings DejaVu through fontconfig.
BURN_IN_FONT = env("BURN_IN_FONT", default="DejaVu Sans")
BURN_IN_FONTS_DIR = env("BURN_IN_FONTS_DIR", default="")
# How long a rendering may run before ffmpeg is killed: this much, or this many seconds
# per second of video when that is longer (2 shared cores render 1080x1920 at about real
# time: bench/burn_in.py), never past the Celery task's soft time limit. And the
# longest side of the picture it writes (a 4K upload comes out at 1920 on its long side).
BURN_IN_TIMEOUT_SECONDS = env.int("BURN_IN_TIMEOUT_SECONDS", default=1800)
BURN_IN_TIMEOUT_PER_VIDEO_SECOND = env.float("BURN_IN_TIMEOUT_PER_VIDEO_SECOND", default=3.0)
BURN_IN_MAX_LONG_SIDE = env.int("BURN_IN_MAX_LONG_SIDE", default=1920)
BURN_IN_X264_PRESET = env("BURN_IN_X264_PRESET", default="veryfast")
# A rendering worker renews its lease this often (with its progress); a redelivered task
# takes over only after the lease ran out. After this many attempts the export fails.
BURN_IN_LEASE_SECONDS = env.int("BURN_IN_LEASE_SECONDS", default=120)
BURN_IN_MAX_ATTEMPTS = env.int("BURN_IN_MAX_ATTEMPTS", default=3)
