"""Django email backend for Amazon SES (API v2), signed by the task's IAM role.

The one gateway to SES: no SMTP password to create, store or rotate. Messages are sent
as raw MIME, so what Django builds (headers, alternatives, attachments) is what leaves.
"""

import logging

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger(__name__)


class SesEmailBackend(BaseEmailBackend):
    """Sends each message with SESv2 ``SendEmail``; returns how many were accepted.

    A refused or unreachable SES raises (``fail_silently`` off) after botocore's bounded
    retries, so the caller (allauth's sign-up) shows an error rather than a user waiting
    for mail that was never sent.
    """

    def __init__(self, fail_silently=False, **kwargs):
        super().__init__(fail_silently=fail_silently, **kwargs)
        self._client = None

    def open(self):
        if self._client is None:
            self._client = boto3.client(
                "sesv2",
                region_name=settings.AWS_SES_REGION_NAME,
                endpoint_url=getattr(settings, "AWS_SES_ENDPOINT_URL", None) or None,
                config=Config(connect_timeout=5, read_timeout=15,
                              retries={"max_attempts": 3, "mode": "standard"}),
            )
        return True

    def close(self):
        self._client = None

    def send_messages(self, email_messages):
        if not email_messages:
            return 0
        self.open()
        sent = 0
        for message in email_messages:
            recipients = message.recipients()
            if not recipients:
                continue
            try:
                self._client.send_email(
                    FromEmailAddress=message.from_email,
                    Destination={"ToAddresses": recipients},
                    Content={"Raw": {"Data": message.message().as_bytes(linesep="\r\n")}},
                )
            except (BotoCoreError, ClientError):
                logger.exception("SES refused a message to %d recipient(s)", len(recipients))
                if not self.fail_silently:
                    raise
                continue
            sent += 1
        return sent
