"""Burned-in captions settings: MP4 exports with the subtitles in the picture (issue 16).

Part of the shared settings: config/settings/base.py imports it.
"""

from .env import env

# The font libass draws with (fontconfig's name) and, optionally, a folder of font files
# shipped with the deployment; the Debian ffmpeg package brings DejaVu through fontconfig.
BURN_IN_FONT = env("BURN_IN_FONT", default="DejaVu Sans")
BURN_IN_FONTS_DIR = env("BURN_IN_FONTS_DIR", default="")
# Longest a rendering may run (ffmpeg is killed past it), and the longest side of the
# picture it writes (a 4K upload comes out at 1920 on its long side).
BURN_IN_TIMEOUT_SECONDS = env.int("BURN_IN_TIMEOUT_SECONDS", default=1800)
BURN_IN_MAX_LONG_SIDE = env.int("BURN_IN_MAX_LONG_SIDE", default=1920)
BURN_IN_X264_PRESET = env("BURN_IN_X264_PRESET", default="veryfast")
# A rendering worker renews its lease this often (with its progress); a redelivered task
# takes over only after the lease ran out. After this many attempts the export fails.
BURN_IN_LEASE_SECONDS = env.int("BURN_IN_LEASE_SECONDS", default=120)
BURN_IN_MAX_ATTEMPTS = env.int("BURN_IN_MAX_ATTEMPTS", default=3)
