"""The API docs work without internet: every script, style and icon comes from us."""

import re
import urllib.request

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

# src= and href= of the page's elements (the schema URL Redoc reads is spec-url=).
REFERENCE = re.compile(r'\s(?:src|href|spec-url)="([^"]+)"')


def references(html: str) -> list[str]:
    return [url.replace("&amp;", "&") for url in REFERENCE.findall(html)]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_reference_only_our_own_urls_and_each_is_served(live_server, path):
    with urllib.request.urlopen(f"{live_server.url}{path}", timeout=10) as response:  # noqa: S310
        html = response.read().decode()
    urls = references(html)
    assert urls, "the docs page references no viewer at all"
    # Our own paths only: no scheme, no protocol-relative //host, so no CDN.
    assert [u for u in urls if not u.startswith("/") or u.startswith("//")] == []
    assert "cdn.jsdelivr.net" not in html and "fonts.googleapis.com" not in html
    viewer_files = [u for u in urls if u.startswith("/static/drf_spectacular_sidecar/")]
    assert any(u.endswith(".js") for u in viewer_files)
    for url in urls:
        with urllib.request.urlopen(f"{live_server.url}{url}", timeout=10) as served:  # noqa: S310
            body = served.read()
            assert served.status == 200, url
            assert body, url
            if url.endswith(".js"):
                assert "javascript" in served.headers["Content-Type"], url
