"""Caption writer settings: Claude on Amazon Bedrock or the Anthropic API.

Part of the shared settings: config/settings/base.py imports it.
"""

from .env import env

# --- Caption writer: Claude on Amazon Bedrock or the Anthropic API (issue 4) ------------
# CAPTION_WRITER (above) picks the backend: "local" (offline drafts, the default),
# "bedrock" (production) or "anthropic" (direct API key). Bedrock signs requests with
# the usual AWS credential chain (environment, profile or instance role).
BEDROCK_REGION = env("BEDROCK_REGION", default="us-east-1")
BEDROCK_MODEL_ID = env("BEDROCK_MODEL_ID", default="us.anthropic.claude-haiku-4-5-20251001-v1:0")
# Only for a private endpoint or a local fake; empty means bedrock-runtime.<region>.
BEDROCK_ENDPOINT_URL = env("BEDROCK_ENDPOINT_URL", default="")
ANTHROPIC_API_KEY = env("ANTHROPIC_API_KEY", default="")
ANTHROPIC_MODEL = env("ANTHROPIC_MODEL", default="claude-haiku-4-5-20251001")
ANTHROPIC_BASE_URL = env("ANTHROPIC_BASE_URL", default="")
# One HTTP try's limit, and how many tries one call gets on 429, 5xx, timeouts and
# unreadable answers, waiting base * 2^n seconds (with jitter, at most the maximum).
LLM_TIMEOUT_SECONDS = env.float("LLM_TIMEOUT_SECONDS", default=60.0)
LLM_MAX_TRIES = env.int("LLM_MAX_TRIES", default=4)
LLM_BACKOFF_BASE_SECONDS = env.float("LLM_BACKOFF_BASE_SECONDS", default=1.0)
LLM_BACKOFF_MAX_SECONDS = env.float("LLM_BACKOFF_MAX_SECONDS", default=20.0)
LLM_MAX_OUTPUT_TOKENS = env.int("LLM_MAX_OUTPUT_TOKENS", default=2048)
# Transcripts longer than this (characters) are outlined in chunks and the captions are
# written from the summary; recordings at least this long get a summary and chapters.
LLM_TRANSCRIPT_CHUNK_CHARS = env.int("LLM_TRANSCRIPT_CHUNK_CHARS", default=24_000)
LLM_OUTLINE_MIN_SECONDS = env.float("LLM_OUTLINE_MIN_SECONDS", default=180.0)
LLM_MAX_CHAPTERS = env.int("LLM_MAX_CHAPTERS", default=10)
# Pictures sent to the model: the long side is shrunk to this; videos send this many
# key frames (0 = transcript only).
LLM_IMAGE_MAX_SIDE = env.int("LLM_IMAGE_MAX_SIDE", default=1568)
LLM_VIDEO_FRAMES = env.int("LLM_VIDEO_FRAMES", default=4)
# Price per model id, integer micro-dollars per million tokens: [input, output].
# A regional inference profile ("us.", "eu.", ...) uses its base model's row.
# Override with a JSON object in LLM_PRICES_JSON. A model with no row is never called.
LLM_PRICES = {
    "anthropic.claude-haiku-4-5-20251001-v1:0": [1_000_000, 5_000_000],
    "anthropic.claude-sonnet-4-5-20250929-v1:0": [3_000_000, 15_000_000],
    "anthropic.claude-3-5-haiku-20241022-v1:0": [800_000, 4_000_000],
    "claude-haiku-4-5-20251001": [1_000_000, 5_000_000],
    "claude-sonnet-4-5-20250929": [3_000_000, 15_000_000],
    **env.json("LLM_PRICES_JSON", default={}),
}
