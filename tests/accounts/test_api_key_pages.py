"""The API keys page: create (secret shown once), list by prefix, revoke."""

import re

import pytest
from django.test import Client

from accounts.models import ApiKey
from tests.helpers import bearer_client

pytestmark = pytest.mark.django_db


def test_key_created_on_the_page_is_shown_once_and_works(user_client, user):
    page = user_client.get("/settings/api-keys/")
    assert page.status_code == 200 and b"No keys yet" in page.content
    response = user_client.post("/settings/api-keys/", {"name": "Zapier", "scopes": ["read"]})
    assert response.status_code == 200
    secret = re.search(rb'data-testid="api-key-secret">([^<]+)<', response.content).group(1)
    secret = secret.decode()
    key = ApiKey.objects.get(user=user)
    assert secret.startswith(key.prefix) and key.scopes == ["read"]
    assert bearer_client(secret).get("/api/v1/jobs/").status_code == 200

    listing = user_client.get("/settings/api-keys/").content.decode()
    assert secret not in listing
    assert f"{key.prefix}…" in listing and "Zapier" in listing and "never" not in listing


def test_revoking_from_the_page_stops_the_key(user_client, user, make_key):
    key, secret = make_key(user)
    response = user_client.post(f"/settings/api-keys/{key.pk}/revoke/")
    assert response.status_code == 302
    assert bearer_client(secret).get("/api/v1/jobs/").status_code == 401
    assert "Revoked" in user_client.get("/settings/api-keys/").content.decode()


def test_another_customers_key_cannot_be_revoked_or_seen(user_client, other_user, make_key):
    key, secret = make_key(other_user)
    assert user_client.post(f"/settings/api-keys/{key.pk}/revoke/").status_code == 404
    assert key.prefix not in user_client.get("/settings/api-keys/").content.decode()
    assert bearer_client(secret).get("/api/v1/jobs/").status_code == 200


def test_a_key_needs_a_name_and_a_scope(user_client):
    response = user_client.post("/settings/api-keys/", {"name": "", "scopes": []})
    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_the_page_needs_a_login_and_is_linked_from_the_account_page_in_the_nav(user_client):
    assert Client().get("/settings/api-keys/").status_code == 302
    assert b'href="/settings/account/"' in user_client.get("/").content
    assert b'href="/settings/api-keys/"' in user_client.get("/settings/account/").content
