"""A customer deletes their account with its data: jobs, files, keys, webhooks, billing rows."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.test import Client

from accounts.models import ApiKey
from billing.grants import plan_grant
from captions.models import CaptionJob, MediaAsset
from tests.conftest import s3_keys
from tests.factories import MediaAssetFactory, SubscriptionFactory, TranscriptFactory, UserFactory
from tests.helpers import bearer_client
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery staple"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_deleting_the_account_removes_its_jobs_files_keys_and_webhooks(make_key):
    user = UserFactory()
    other = TranscriptFactory().job  # someone else's job stays
    asset = MediaAssetFactory(owner=user, file=ContentFile(b"ID3" + b"\0" * 64, name="a.mp3"))
    job = TranscriptFactory(job__owner=user, job__asset=asset).job
    key = asset.file.name
    assert key in s3_keys()
    _, secret = make_key(user)
    WebhookEndpoint.objects.create(owner=user, url="https://hooks.example.com/x",
                                   events=["job.failed"], secret="whsec_x")
    client = logged_in(user)
    assert 'href="/settings/account/delete/"' in client.get("/settings/account/").content.decode()

    response = client.post("/settings/account/delete/", {"password": PASSWORD}, follow=True)

    assert "Your account and all its data were deleted." in response.content.decode()
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert not CaptionJob.objects.filter(pk=job.pk).exists()
    assert not MediaAsset.objects.filter(owner_id=user.pk).exists()
    assert not ApiKey.objects.filter(user_id=user.pk).exists()
    assert not WebhookEndpoint.objects.filter(owner_id=user.pk).exists()
    assert key not in s3_keys()
    assert bearer_client(secret).get("/api/v1/jobs/").status_code == 401
    assert CaptionJob.objects.filter(pk=other.pk).exists()
    assert client.get("/settings/account/").status_code == 302  # logged out


def test_a_wrong_password_deletes_nothing_and_says_so_beside_the_field():
    user = UserFactory()
    TranscriptFactory(job__owner=user, job__asset__owner=user)
    response = logged_in(user).post("/settings/account/delete/", {"password": "guess"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Your password was not right, so nothing was deleted." in html
    assert "Enter your current password." in html
    assert CaptionJob.objects.filter(owner=user).exists()


def test_a_renewing_stripe_subscription_must_be_cancelled_first():
    user = UserFactory()
    SubscriptionFactory(user=user, plan_code="creator")
    response = logged_in(user).post("/settings/account/delete/", {"password": PASSWORD})
    assert response.status_code == 409
    assert "Cancel it under Manage billing" in response.content.decode()
    assert get_user_model().objects.filter(pk=user.pk).exists()


def test_a_granted_or_cancelled_plan_does_not_block_deletion():
    granted = UserFactory()
    plan_grant(user=granted, plan_code="studio", days=30, actor_label="test")
    cancelled = UserFactory()
    SubscriptionFactory(user=cancelled, plan_code="creator", cancel_at_period_end=True)
    for user in (granted, cancelled):
        response = logged_in(user).post("/settings/account/delete/", {"password": PASSWORD})
        assert response.status_code == 302
        assert not get_user_model().objects.filter(pk=user.pk).exists()
