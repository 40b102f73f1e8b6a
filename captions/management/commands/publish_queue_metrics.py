"""``manage.py publish_queue_metrics``: queue depth per queue to CloudWatch, for scaling.

Runs beside celery beat in the beat task (infra/terraform/modules/compute/ecs.tf),
once a minute with ``--every=60``; without it, one round and exit.
"""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from captions.queue_metrics import queue_metrics_publish

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Publish each Celery queue's waiting and in-flight counts to CloudWatch."

    def add_arguments(self, parser):
        parser.add_argument("--namespace", default="CaptionGenerator")
        parser.add_argument("--environment", required=True,
                            help="the Environment dimension (dev, staging, prod)")
        parser.add_argument("--queue", action="append", dest="queues",
                            help="a queue to measure (default: the STT and default queues)")
        parser.add_argument("--every", type=float, default=0,
                            help="seconds between rounds; 0 publishes once and exits")
        parser.add_argument("--endpoint-url", default=None,
                            help="another CloudWatch endpoint (a local fake)")

    def handle(self, *args, **options):
        queues = options["queues"] or [settings.CAPTIONS_STT_QUEUE,
                                       settings.CAPTIONS_DEFAULT_QUEUE]
        while True:
            started = time.monotonic()
            try:
                data = queue_metrics_publish(
                    namespace=options["namespace"], environment=options["environment"],
                    queues=queues, endpoint_url=options["endpoint_url"],
                )
            except Exception as exc:
                if not options["every"]:
                    raise CommandError(f"queue metrics not published: {exc}") from exc
                # Next round tries again; the "queue metrics silent" alarm watches for gaps.
                logger.exception("queue metrics not published")
            else:
                summary = ", ".join(f"{d['Dimensions'][-1]['Value']}.{d['MetricName']}="
                                    f"{d['Value']:g}" for d in data if len(d["Dimensions"]) > 1)
                self.stdout.write(f"published {len(data)} metrics: {summary}")
            if not options["every"]:
                return
            time.sleep(max(0.0, options["every"] - (time.monotonic() - started)))
