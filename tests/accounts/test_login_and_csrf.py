"""Browsers' protections: CSRF on every form, and a login that slows down guessers."""

import pytest
from allauth.account.models import EmailAddress
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from captions.models import CaptionJob
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_cross_site_post_without_a_csrf_token_is_refused(user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = browser.post("/jobs/new/", {
        "file": SimpleUploadedFile("a.wav", b"RIFF0000WAVEfmt "), "tone": "casual",
        "length": "short", "platform": "x", "variant_count": 1})
    assert response.status_code == 403
    assert not CaptionJob.objects.exists()


def test_many_wrong_passwords_are_slowed_down_and_the_owner_can_still_log_in_later(client):
    user = UserFactory(email="owner@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": user.email, "password": "wrong"})
        assert response.status_code == 200 and "_auth_user_id" not in client.session
    # Now even the right password is refused for a while: guessing stops paying off.
    response = client.post("/accounts/login/", {
        "login": user.email, "password": "correct horse battery staple"})
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # The limit is a rate, not a lock-out: once the window has passed, the owner gets in.
    from django.core.cache import cache

    cache.clear()  # stands for the 5-minute window passing
    response = client.post("/accounts/login/", {
        "login": user.email, "password": "correct horse battery staple"})
    assert response.status_code == 302
