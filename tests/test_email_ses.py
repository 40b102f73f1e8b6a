"""Production mail goes through SES: checked against a real SES protocol server (moto)."""

import uuid

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from django.core import mail


@pytest.fixture
def ses(settings):
    settings.EMAIL_BACKEND = "config.email_ses.SesEmailBackend"
    settings.AWS_SES_REGION_NAME = "us-east-1"
    settings.AWS_SES_ENDPOINT_URL = settings.AWS_S3_ENDPOINT_URL
    return boto3.client("ses", region_name="us-east-1", endpoint_url=settings.AWS_S3_ENDPOINT_URL)


def _messages_received_by_ses(endpoint: str) -> list[dict]:
    # moto's model dump: what the SES server accepted, as it received it.
    data = requests.get(f"{endpoint}/moto-api/data.json", timeout=5).json()
    return data["ses"]["RawMessage"]


def test_verification_mail_leaves_through_ses_as_django_built_it(ses, settings):
    ses.verify_email_identity(EmailAddress="noreply@captions.example.com")
    subject = f"Confirm your email {uuid.uuid4().hex}"
    count = mail.send_mail(subject, "Click the link.", "noreply@captions.example.com",
                           ["new-user@example.org"])
    assert count == 1
    [sent] = [m for m in _messages_received_by_ses(settings.AWS_SES_ENDPOINT_URL)
              if subject in m["raw_data"]]
    assert sent["source"] == "noreply@captions.example.com"
    assert "new-user@example.org" in sent["destinations"]
    assert "Click the link." in sent["raw_data"]


def test_mail_from_an_unverified_sender_raises_instead_of_vanishing(ses):
    with pytest.raises(ClientError):
        mail.send_mail("Confirm your email", "Click the link.",
                       "nobody@unverified.example", ["new-user@example.org"])
