"""The front door: what the product does, a real example, the plans, and a way in."""

import pytest
from django.contrib.staticfiles import finders
from django.core import mail
from django.test import Client

from billing.plans import PLANS

pytestmark = pytest.mark.django_db


def test_a_visitor_sees_what_it_does_an_example_the_prices_and_sign_up():
    response = Client().get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Transcripts, subtitles and captions from one upload" in html
    # The worked example: the transcript, its subtitles as our SRT export renders them,
    # and a caption.
    assert "ask what you can do for your country." in html
    assert "00:00:00,000 --&gt; 00:00:02,100\nAnd so my fellow Americans" in html
    assert "Caption <span class=\"muted\">(LinkedIn, professional)" in html
    for plan in PLANS.values():
        assert f"<h3>{plan.name}</h3>" in html
    assert "$15<span" in html and "$49<span" in html
    assert 'href="/accounts/signup/"' in html and 'href="/accounts/login/"' in html


def test_a_logged_in_customer_still_gets_their_jobs_at_the_root(user_client):
    html = user_client.get("/").content.decode()
    assert "Your jobs" in html and "One recording, three results" not in html


def test_every_page_has_the_favicon_and_the_mark_and_both_files_exist():
    html = Client().get("/accounts/login/").content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in html
    assert 'src="/static/img/mark.svg"' in html
    for name in ("favicon.svg", "img/mark.svg"):
        path = finders.find(name)
        assert path and open(path).read().startswith("<svg")


def test_verification_email_greets_with_the_product_name_and_public_host(settings):
    settings.SITE_URL = "https://captions.example.com"
    response = Client().post("/accounts/signup/", {
        "email": "new@example.com", "password1": "a long enough pass 123",
        "password2": "a long enough pass 123"})
    assert response.status_code == 302, response.content.decode()[:500]
    [message] = mail.outbox
    assert message.subject.startswith("[Caption Generator] ")
    assert "Hello from Caption Generator!" in message.body
    assert "captions.example.com" in message.body
    assert "testserver" not in message.body.split("http")[0]
