"""The account page (linked from the navigation), and API keys only where the plan has the API."""

import pytest
from django.test import Client

from accounts.models import ApiKey
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_account_page_shows_email_plan_and_the_ways_to_keys_webhooks_and_password(
        user_client, user):
    home = user_client.get("/").content.decode()
    assert 'href="/settings/account/"' in home
    page = user_client.get("/settings/account/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-testid="account-email" class="break">{user.email}<' in html
    assert 'data-testid="account-plan">Studio<' in html  # the api_plan fixture's plan
    for href in ("/settings/api-keys/", "/settings/webhooks/", "/accounts/password/change/",
                 "/accounts/email/", "/billing/"):
        assert f'href="{href}' in html, href


def test_account_page_needs_a_login():
    response = Client().get("/settings/account/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_free_customer_is_told_keys_need_the_api_plan_and_cannot_create_one():
    free = UserFactory()
    client = Client()
    client.force_login(free)
    page = client.get("/settings/api-keys/").content.decode()
    assert "the Free plan does not include it" in page
    assert "Create key" not in page  # no form that could only make a useless key
    response = client.post("/settings/api-keys/", {"name": "Zapier", "scopes": ["read"]})
    assert response.status_code == 403
    assert "Upgrade on the Billing page to create keys" in response.content.decode()
    assert not ApiKey.objects.filter(user=free).exists()
