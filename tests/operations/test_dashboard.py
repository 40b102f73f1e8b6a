"""The operations dashboard's figures against a hand calculation, and its page."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from billing.models import CostWindow
from captions.models import CaptionJob, JobStatus
from operations.selectors import operations_report, percentile
from tests.factories import CaptionJobFactory, MediaAssetFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)


def at(hh, mm, base=NOW):
    return base.replace(hour=hh, minute=mm)


def finished_job(status, created, finished, code="", **kwargs):
    job = CaptionJobFactory(status=status, error_code=code, **kwargs)
    CaptionJob.objects.filter(pk=job.pk).update(created_at=created, finished_at=finished)
    return job


@pytest.fixture
def seeded():
    ann, bob = UserFactory(email="ann@example.com"), UserFactory(email="bob@example.com")
    finished_job(JobStatus.DONE, at(10, 0), at(10, 10))             # 600 s
    finished_job(JobStatus.DONE, at(10, 30), at(11, 0))             # 1800 s
    finished_job(JobStatus.DONE, at(11, 0), at(11, 5))              # 300 s
    finished_job(JobStatus.DONE, at(11, 50), at(12, 10))            # 1200 s
    finished_job(JobStatus.FAILED, at(11, 0), at(11, 20), "media_unreadable")
    finished_job(JobStatus.FAILED, at(12, 0), at(12, 5), "media_unreadable")
    finished_job(JobStatus.FAILED, at(12, 0), at(12, 20), "llm_failed")
    finished_job(JobStatus.CANCELLED, at(10, 40), at(10, 45))
    finished_job(JobStatus.DONE, at(9, 0), at(9, 59))               # before the window
    CaptionJobFactory()                                              # waiting, speech
    CaptionJobFactory(asset=MediaAssetFactory(kind="image"))         # waiting, image
    for user, hour, micros in ((ann, 10, 1_500_000), (bob, 11, 250_000), (ann, 12, 300_000),
                               (bob, 9, 9_000_000)):
        CostWindow.objects.create(user=user, window_start=at(hour, 0), settled_micros=micros)


def test_the_report_matches_a_hand_calculation(seeded):
    report = operations_report(now=NOW, hours=3)
    assert (report.since, report.until) == (at(10, 0), at(13, 0))
    assert [(r["done"], r["failed"], r["cancelled"]) for r in report.jobs_per_hour] == [
        (1, 0, 1), (2, 1, 0), (1, 2, 0)]
    assert (report.finished, report.failed, report.failure_rate) == (8, 3, 3 / 8)
    assert report.failure_by_code == [
        {"code": "media_unreadable", "count": 2, "share": 0.25},
        {"code": "llm_failed", "count": 1, "share": 0.125}]
    # Done turnarounds 300, 600, 1200, 1800 s: nearest rank 2 of 4 and 4 of 4.
    assert (report.turnaround_p50, report.turnaround_p95) == (600, 1800)
    assert [r["micros"] for r in report.spend_per_hour] == [1_500_000, 250_000, 300_000]
    assert report.spend_total_micros == 2_050_000
    assert report.top_customers == [{"email": "ann@example.com", "micros": 1_800_000},
                                    {"email": "bob@example.com", "micros": 250_000}]
    assert report.queues["gpu"][0] == 1 and report.queues["default"][0] == 1


def test_nearest_rank_percentile():
    assert percentile([], 50) is None
    assert percentile([5], 95) == 5
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([4, 1, 3, 2], 50) == 2


def test_the_page_shows_the_figures_and_draws_its_charts(admin_client):
    now = timezone.now()
    user = UserFactory(email="top@example.com")
    finished_job(JobStatus.DONE, now - timedelta(minutes=40), now - timedelta(minutes=30))
    finished_job(JobStatus.DONE, now - timedelta(minutes=90), now - timedelta(minutes=30))
    finished_job(JobStatus.FAILED, now - timedelta(minutes=5), now - timedelta(minutes=1),
                 "no_audio")
    CostWindow.objects.create(user=user, settled_micros=12_340_000,
                              window_start=now.replace(minute=0, second=0, microsecond=0))
    response = admin_client.get("/admin/operations/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="finished">3<' in page
    assert 'id="failure-rate">33%<' in page
    assert 'id="turnaround-p50">10.0 min<' in page and 'id="turnaround-p95">60.0 min<' in page
    assert 'id="spend-total">$12.34<' in page
    assert "top@example.com" in page and "no_audio" in page
    assert page.count('<rect class="done"') >= 1 and page.count('<rect class="failed"') >= 1
    assert '<rect class="spend"' in page
    assert "cdn" not in page.lower() and "<script>" not in page


def test_customers_and_staff_without_the_ledger_cannot_open_it(client):
    client.force_login(UserFactory())
    assert client.get("/admin/operations/").status_code == 302  # to the admin's login
    client.force_login(UserFactory(is_staff=True))
    assert client.get("/admin/operations/").status_code == 403
