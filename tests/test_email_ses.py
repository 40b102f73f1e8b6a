"""Production mail goes through SES: checked against a real SES protocol server (moto)."""

import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from django.core import mail
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends


@pytest.fixture
def ses(settings):
    assert settings.MOTO_SERVER_PORT, "these tests read the suite's own moto server"
    settings.EMAIL_BACKEND = "config.email_ses.SesEmailBackend"
    settings.AWS_SES_REGION_NAME = "us-east-1"
    settings.AWS_SES_ENDPOINT_URL = settings.AWS_S3_ENDPOINT_URL
    return boto3.client("ses", region_name="us-east-1", endpoint_url=settings.AWS_S3_ENDPOINT_URL)


def _messages_received_by_ses() -> list:
    # What the SES server (moto, running in this process: conftest's ThreadedMotoServer)
    # accepted, as it received it.
    return ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages


def test_verification_mail_leaves_through_ses_as_django_built_it(ses):
    ses.verify_email_identity(EmailAddress="noreply@captions.example.com")
    subject = f"Confirm your email {uuid.uuid4().hex}"
    count = mail.send_mail(subject, "Click the link.", "noreply@captions.example.com",
                           ["new-user@example.org"])
    assert count == 1
    [sent] = [m for m in _messages_received_by_ses() if subject in m.raw_data]
    assert sent.source == "noreply@captions.example.com"
    assert "new-user@example.org" in sent.destinations
    assert "Click the link." in sent.raw_data


def test_mail_from_an_unverified_sender_raises_instead_of_vanishing(ses):
    with pytest.raises(ClientError):
        mail.send_mail("Confirm your email", "Click the link.",
                       "nobody@unverified.example", ["new-user@example.org"])
