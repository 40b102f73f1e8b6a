"""Caption options are declared once: the page and the API take the same options and
refuse the same bad values with the same messages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from captions.models import CaptionJob
from captions.options import OPTIONS
from tests.helpers import wav_bytes

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parent.parent.parent / "README.md"

CHOSEN = {
    "tone": "funny", "length": "short", "platform": "tiktok", "language": "de",
    "variant_count": 4, "hashtags": False, "emoji": False,
    "custom_instruction": "Mention the spring sale.", "word_timestamps": True,
    "split_channels": True,
    "subtitle_max_chars_per_line": 32, "subtitle_max_lines": 1,
    "subtitle_max_chars_per_second": 20, "subtitle_min_cue_ms": 900,
    "subtitle_max_cue_ms": 5000,
}


def api_submit(api, **options):
    data = {"file": SimpleUploadedFile("clip.wav", wav_bytes()), **options}
    return api.post("/api/v1/jobs/", data, format="multipart")


def page_submit(client, **options):
    data = {"file": SimpleUploadedFile("clip.wav", wav_bytes()), **options}
    return client.post("/jobs/new/", data, HTTP_X_REQUESTED_WITH="XMLHttpRequest")


def test_every_option_the_readme_lists_is_one_the_service_knows():
    line = next(line for line in README.read_text().splitlines() if "`POST /jobs/`" in line)
    listed = set(re.findall(r"`([a-z_]+)`", line)) - {"file"}
    assert listed <= {o.name for o in OPTIONS}
    assert "subtitle limits" in line and {o.name for o in OPTIONS if o.subtitle} == {
        n for n in CHOSEN if n.startswith("subtitle_")}


def test_the_api_accepts_and_applies_every_option(api, user):
    assert set(CHOSEN) == {o.name for o in OPTIONS}
    response = api_submit(api, **{k: str(v).lower() if isinstance(v, bool) else v
                                  for k, v in CHOSEN.items()})
    assert response.status_code == 201, response.content
    job = CaptionJob.objects.get(owner=user)
    assert {name: getattr(job, name) for name in CHOSEN} == CHOSEN
    assert response.json()["options"] == CHOSEN
    assert job.subtitle_limits.max_chars_per_line == 32


def test_the_page_accepts_and_applies_every_option(user_client, user, api_plan):
    form = {k: v for k, v in CHOSEN.items() if not isinstance(v, bool)}
    form["word_timestamps"] = "on"  # a ticked box; unticked boxes are not sent at all
    form["split_channels"] = "on"
    response = page_submit(user_client, **form)
    assert response.status_code == 201, response.content
    job = CaptionJob.objects.get(owner=user)
    assert {name: getattr(job, name) for name in CHOSEN} == CHOSEN


BAD = [
    ("tone", "sarcastic"), ("length", "epic"), ("platform", "myspace"), ("language", "xx"),
    ("variant_count", "99"), ("variant_count", "-1"), ("variant_count", "three"),
    ("custom_instruction", "x" * 5000), ("subtitle_max_chars_per_line", "5"),
    ("subtitle_max_lines", "9"), ("subtitle_max_chars_per_second", "fast"),
    ("subtitle_min_cue_ms", "10"), ("subtitle_max_cue_ms", "100000"),
]


@pytest.mark.parametrize(("field", "value"), BAD)
def test_the_page_and_the_api_refuse_a_bad_value_with_the_same_message(
    api, user_client, field, value
):
    from_api = api_submit(api, **{field: value})
    assert from_api.status_code == 400, from_api.content
    from_page = page_submit(user_client, **{field: value})
    assert from_page.status_code == 400, from_page.content
    api_messages = from_api.json()["details"][field]
    page_messages = from_page.json()["errors"][field]
    assert api_messages == page_messages and api_messages[0]
    assert not CaptionJob.objects.exists()


def test_cross_field_rules_read_the_same_on_the_page_and_in_the_api(api, user_client):
    bad = {"platform": "x", "length": "long", "subtitle_min_cue_ms": "3000",
           "subtitle_max_cue_ms": "2000"}
    api_errors = api_submit(api, **bad).json()["details"]
    page_errors = page_submit(user_client, **bad).json()["errors"]
    assert api_errors["length"] == page_errors["length"] == [
        "Posts on X hold 280 characters; choose a short or medium length."]
    assert api_errors["subtitle_min_cue_ms"] == page_errors["subtitle_min_cue_ms"]
