"""The engines: plain Python behind small interfaces, knowing nothing of Django or the apps.

- ``media``: ffprobe and a hardened ffmpeg (local files only, time limits);
- ``images``: Pillow, with decompression-bomb limits;
- ``stt``: Whisper speech to text, batched;
- ``caption_writer``: Claude on Bedrock (or the Anthropic API) and an offline writer;
- ``errors``: the failures they raise, each with a message a customer can act on.

Callers pass every setting in; nothing here reads Django's settings.
"""
