"""PostgreSQL stopped under the web and under a worker (quality bar 24).

The app runs as it is deployed, in its own processes (gunicorn, a Celery worker) pointed
at a PostgreSQL cluster of the test's own, which the test stops as a restart would:
connections cut, new ones refused.
"""

from __future__ import annotations

import json
import re
import sys
import time

import requests

from tests.conftest import s3_keys
from tests.faults.servers import AppProcess, app_env, free_port, run_python, wait_for
from tests.helpers import png_bytes


def start_web(env: dict, tmp_path) -> tuple[AppProcess, str]:
    port = free_port()
    web = AppProcess(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--threads", "4", "--timeout", "30",
         "--access-logfile", "-"],
        env=env, log=tmp_path / "web.log",
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            # The port opens before the worker has loaded the app: a first answer can wait.
            return requests.get(f"{url}/healthz", timeout=30).status_code == 200
        except requests.ConnectionError:
            assert web.process.poll() is None, web.output()[-3000:]
            return False

    try:
        wait_for(answers, 60, "gunicorn to answer")
    except BaseException:
        web.stop()  # never leave a server behind a failed start
        raise
    return web, url


def test_requests_answer_503_with_retry_after_while_postgres_is_down_then_recover(
    postgres, app_database, settings, tmp_path
):
    """Quality bar 24: Postgres restarted under load: requests fail briefly with 503
    (never 500) and Retry-After, in the API's error shape and as a page, then recover."""
    # Connections kept between requests, as in production, so recovery also covers
    # connections the restart cut.
    env = app_env(DATABASE_URL=postgres.url(app_database, conn_max_age=60),
                  REDIS_URL=settings.REDIS_URL)
    seeded = json.loads(run_python("-m", "tests.faults.seed", env=env))
    web, url = start_web(env, tmp_path)
    try:
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {seeded['api_key']}"
        browser = requests.Session()
        browser.cookies.set(settings.SESSION_COOKIE_NAME, seeded["session"])

        def get_page(path):
            return browser.get(f"{url}{path}", timeout=15, allow_redirects=False)

        assert api.get(f"{url}/api/v1/jobs/", timeout=15).status_code == 200
        assert get_page("/").status_code == 200

        keys_before = s3_keys()
        postgres.stop()
        answers = {
            "api read": api.get(f"{url}/api/v1/jobs/", timeout=15),
            "api write": api.post(f"{url}/api/v1/jobs/", timeout=15, files={
                "file": ("photo.png", png_bytes(), "image/png")}),
            "page": get_page("/"),
            # Answered by a middleware (allauth's, reading the user), not a view.
            "page from a middleware": get_page("/accounts/"),
        }
        for what, response in answers.items():
            assert response.status_code == 503, (what, response.status_code, response.text[:300])
            assert response.headers["Retry-After"] == "30", what
        for what in ("api read", "api write"):
            assert answers[what].json() == {
                "code": "service_unavailable",
                "message": "We are having a brief problem on our side: a service we depend "
                           "on is not answering. Please try again in a minute.",
                "details": {"retry_after": 30},
            }
        for what in ("page", "page from a middleware"):
            assert answers[what].headers["Content-Type"].startswith("text/html")
            assert "Back in a moment" in answers[what].text
        assert s3_keys() == keys_before, "nothing was stored for the refused upload"

        postgres.start()
        wait_for(lambda: api.get(f"{url}/api/v1/jobs/", timeout=15).status_code == 200, 15,
                 "the API to answer again")
        assert get_page("/").status_code == 200
        assert get_page("/accounts/").status_code == 302
    finally:
        web.stop()
    statuses = re.findall(r'" (\d{3}) ', web.output())
    assert statuses and "500" not in statuses, web.output()[-3000:]


def test_job_running_when_postgres_stops_is_retried_and_finishes_once_it_returns(
    postgres, app_database, own_redis, fake_bedrock, tmp_path
):
    """Quality bar 24: Postgres restarted under load: no task is acknowledged while it
    could not run. The attempt the outage broke is retried with backoff, the retries that
    find the database gone are retried again, and once it is back the job finishes at once
    (its crashed attempt's lease, 120 s, is taken over; no sweep runs), charged once and
    with no orphaned reservation."""
    env = app_env(
        DATABASE_URL=postgres.url(app_database), REDIS_URL=own_redis.url,
        CAPTION_WRITER="bedrock", BEDROCK_ENDPOINT_URL=fake_bedrock.url,
        CAPTION_JOB_LEASE_SECONDS="120", OUTBOX_RESEND_AFTER_SECONDS="600",
        TASK_RETRY_BACKOFF_BASE_SECONDS="0.3", TASK_RETRY_BACKOFF_MAX_SECONDS="1",
    )
    # The caption writer's first request waits until the test lets it go: the attempt is
    # mid-job, holding its lease, when the database goes away.
    fake_bedrock.script("hang")
    worker = AppProcess(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
         "--queues=default,gpu", "--loglevel=INFO", "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        env=env, log=tmp_path / "worker.log",
    )

    def job_row():
        return postgres.sql(
            "SELECT status, attempts, error_code FROM captions_captionjob WHERE id = %s::uuid",
            (job_id,), database=app_database)[0]

    try:
        job_id = json.loads(run_python("-m", "tests.faults.seed", "--image-job", env=env))["job"]
        wait_for(lambda: fake_bedrock.requests, 60, "the job to reach the caption writer")
        assert job_row()[:2] == ("processing", 1)

        postgres.stop()
        fake_bedrock.release.set()  # the writer's answer arrives with the database gone
        # The broken attempt and at least one retry that found the database gone.
        wait_for(lambda: worker.output().count("the database is not answering") >= 2, 30,
                 "the worker to retry while the database is down")
        postgres.start()
        back = time.monotonic()
        wait_for(lambda: job_row()[0] in ("done", "failed"), 60, "the job to finish")
        finished_in = time.monotonic() - back
    finally:
        worker.stop()

    status, attempts, error_code = job_row()
    assert (status, error_code) == ("done", ""), worker.output()[-3000:]
    assert attempts == 2
    assert finished_in < 30, "the retry took over without waiting for the lease or a sweep"
    events = postgres.sql("SELECT to_status FROM captions_jobevent WHERE job_id = %s::uuid "
                          "ORDER BY created_at, id", (job_id,), database=app_database)
    assert [e[0] for e in events] == ["queued", "processing", "processing", "done"]
    assert postgres.sql("SELECT count(*) FROM captions_captionvariant WHERE job_id = %s::uuid",
                        (job_id,), database=app_database) == [(1,)]
    # One reservation for the caption call, settled once by the attempt that finished.
    assert postgres.sql("SELECT status FROM billing_costreservation WHERE job_id = %s::uuid",
                        (job_id,), database=app_database) == [("settled",)]
