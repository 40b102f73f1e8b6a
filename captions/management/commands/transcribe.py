"""``manage.py transcribe FILE``: a transcript printed, as the ``whisper`` command prints one."""

from django.core.management.base import BaseCommand, CommandError

from captions import exports, services
from engines.errors import PipelineError

FORMATS = ("txt", "srt", "vtt", "json")


class Command(BaseCommand):
    help = "Transcribe a media file with the configured Whisper model and print the result."

    def add_arguments(self, parser):
        parser.add_argument("file", help="an audio or video file")
        parser.add_argument("--model", default="",
                            help="a model name, a .pt checkpoint or a CTranslate2 folder "
                                 "(default: WHISPER_MODEL)")
        parser.add_argument("--format", choices=FORMATS, default="txt")
        parser.add_argument("--language", default="",
                            help="the spoken language's code, e.g. en (default: detected)")

    def handle(self, *args, **options):
        try:
            result, duration = services.file_transcribe(
                path=options["file"], model=options["model"], language=options["language"],
                word_timestamps=options["format"] == "json",
            )
        except PipelineError as exc:
            raise CommandError(exc.detail) from exc
        segments = [s.as_dict() for s in result.segments]
        fmt = options["format"]
        if fmt == "srt":
            body = exports.transcript_to_srt(segments, duration_seconds=duration)
        elif fmt == "vtt":
            body = exports.transcript_to_vtt(segments, duration_seconds=duration)
        elif fmt == "json":
            body = exports.transcript_to_json(language=result.language,
                                              duration_seconds=duration, segments=segments)
        else:
            body = exports.transcript_to_txt(segments)
        self.stdout.write(body)
