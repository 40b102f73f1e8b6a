"""What a plan's features promise is what the product does: the catalogue decides."""

import pytest

from accounts import services as account_services
from tests.factories import SubscriptionFactory, UserFactory
from tests.helpers import bearer_client

pytestmark = pytest.mark.django_db


def key_client(user):
    return bearer_client(account_services.api_key_create(
        user=user, name="integration", scopes=["read", "write"])[1])


def test_api_key_on_free_gets_403_naming_the_plan_and_works_once_upgraded():
    user = UserFactory()
    api = key_client(user)
    response = api.get("/api/v1/jobs/")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "plan_feature_missing"
    assert "API access is not part of the Free plan" in body["message"]
    SubscriptionFactory(user=user, plan_code="studio")
    assert api.get("/api/v1/jobs/").status_code == 200


def test_creator_plan_has_no_api_access_but_its_web_pages_work(client):
    user = UserFactory()
    SubscriptionFactory(user=user, plan_code="creator")
    assert key_client(user).get("/api/v1/usage/").status_code == 403
    client.force_login(user)
    assert client.get("/api/v1/usage/").status_code == 200  # the web pages' own calls


def test_webhook_endpoint_on_a_plan_without_webhooks_is_refused(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/x"},
                           content_type="application/json")
    assert response.status_code == 403
    assert "Webhooks are not part of the Free plan" in response.json()["message"]


def test_choosing_the_caption_language_on_free_is_refused_before_anything_is_stored(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from captions.models import CaptionJob
    from tests.conftest import s3_keys

    user = UserFactory()
    client.force_login(user)
    before = s3_keys()
    response = client.post("/jobs/new/", {
        "file": SimpleUploadedFile("a.png", _png()), "tone": "casual", "length": "short",
        "platform": "x", "variant_count": 1, "language": "fr"})
    assert response.status_code == 403
    assert "Choosing the caption language is not part of the Free plan" in (
        response.content.decode())
    assert s3_keys() == before and not CaptionJob.objects.exists()
    SubscriptionFactory(user=user, plan_code="creator")
    response = client.post("/jobs/new/", {
        "file": SimpleUploadedFile("a.png", _png()), "tone": "casual", "length": "short",
        "platform": "x", "variant_count": 1, "language": "fr"})
    assert response.status_code == 302


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "PNG")
    return buf.getvalue()
