"""The webhooks pages: add an endpoint (secret once), see every attempt, ping, delete."""

import re

import pytest
from django.test import Client

from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def test_add_ping_and_see_the_attempts_then_delete(user_client, user, receiver):
    response = user_client.post("/settings/webhooks/",
                                {"url": receiver.url, "events": ["job.completed"]})
    assert response.status_code == 200
    secret = re.search(rb'data-testid="webhook-secret">([^<]+)<', response.content).group(1)
    endpoint = WebhookEndpoint.objects.get(owner=user)
    assert secret.decode() == endpoint.secret
    listing = user_client.get("/settings/webhooks/").content.decode()
    assert endpoint.secret not in listing and "job.completed" in listing

    receiver.statuses = [503]
    response = user_client.post(f"/settings/webhooks/{endpoint.pk}/ping/", follow=True)
    page = response.content.decode()
    assert "The test event failed" in page and "The endpoint answered HTTP 503." in page
    assert "503" in page and "ping" in page

    response = user_client.post(f"/settings/webhooks/{endpoint.pk}/delete/")
    assert response.status_code == 302
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


def test_an_internal_url_is_refused_on_the_page(user_client, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    response = user_client.post("/settings/webhooks/", {"url": "http://10.0.0.1/hook",
                                                         "events": ["job.failed"]})
    assert response.status_code == 400
    assert "private address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_another_customers_endpoint_is_404_on_every_page(user_client, other_user):
    endpoint = WebhookEndpoint.objects.create(owner=other_user, url="http://127.0.0.1:9/",
                                              events=["job.failed"], secret="whsec_b")
    assert user_client.get(f"/settings/webhooks/{endpoint.pk}/").status_code == 404
    assert user_client.post(f"/settings/webhooks/{endpoint.pk}/ping/").status_code == 404
    assert user_client.post(f"/settings/webhooks/{endpoint.pk}/delete/").status_code == 404
    assert endpoint.url not in user_client.get("/settings/webhooks/").content.decode()
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookDelivery.objects.exists()
    assert Client().get("/settings/webhooks/").status_code == 302
