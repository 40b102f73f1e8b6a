"""The README's run command, started with a clean environment, serves the product.

It runs ``scripts/run.sh`` exactly as a new developer would (SQLite, local files, a
filesystem broker and a local worker) and drives it over HTTP: sign up, verify,
log in, upload, and wait for the job to reach a final state.
"""

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import assert_customer_text

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a-long-and-unusual-passphrase-42"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def running_product(tmp_path, request):
    port = free_port()
    # HOME stays: it holds the user's pip configuration, as on a developer's machine.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path)),
           "PORT": str(port),
           "CAPTIONS_VAR_DIR": str(tmp_path / "var"), "METRICS_BEARER_TOKEN": "scrape",
           **request.param}
    log = open(tmp_path / "run.log", "w")
    proc = subprocess.Popen(["bash", "scripts/run.sh"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()
            time.sleep(0.5)
        yield base, tmp_path / "var"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def post_form(session, url, data, files=None):
    page = session.get(url, timeout=10)
    assert page.status_code == 200, page.text[:500]
    data = {**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    return session.post(url, data=data, files=files, timeout=30, allow_redirects=True)


@pytest.mark.parametrize(
    ("running_product", "expected"),
    [
        # No internet: the default model (base) comes from the installed packages.
        ({"WHISPER_ALLOW_DOWNLOAD": "false"}, "done"),
        # A model nothing on the machine has: the job says how to configure one.
        ({"WHISPER_ALLOW_DOWNLOAD": "false", "WHISPER_MODEL": "small"}, "failed"),
    ],
    indirect=["running_product"],
)
def test_run_command_serves_dashboard_and_takes_an_upload_to_a_final_state(
    running_product, expected, shared_media
):
    base, var = running_product
    run_log = (var.parent / "run.log").read_text()
    assert f"running at {base}/" in run_log

    s = requests.Session()
    email = "first.user@example.com"
    post_form(s, base + "/accounts/signup/",
              {"email": email, "password1": PASSWORD, "password2": PASSWORD})
    mails = "".join(p.read_text() for p in (var / "outbox").iterdir())
    confirm = re.search(r"http://[^\s]+/accounts/confirm-email/[^\s/]+/", mails).group(0)
    confirm = base + "/" + confirm.split("/", 3)[3]
    post_form(s, confirm, {})
    post_form(s, base + "/accounts/login/", {"login": email, "password": PASSWORD})
    dashboard = s.get(base + "/", timeout=10)
    assert dashboard.status_code == 200 and "Your jobs" in dashboard.text

    with open(shared_media / "jfk.flac", "rb") as fh:
        response = post_form(
            s, base + "/jobs/new/",
            {"tone": "casual", "length": "short", "platform": "x", "variant_count": "1"},
            files={"file": ("jfk.flac", fh, "audio/flac")},
        )
    match = re.search(r"/jobs/([0-9a-f-]{36})/$", response.url)
    assert match, response.text[:1000]
    deadline = time.monotonic() + 180
    while True:
        status = s.get(f"{base}/jobs/{match.group(1)}/status.json", timeout=10).json()
        if status["is_final"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status["status"] == expected, status
    if expected == "failed":
        # The customer reads what to do, with no setting, path or error text in it ...
        assert_customer_text(status["error_message"])
        assert "retry" in status["error_message"].lower()
    else:
        page = s.get(f"{base}/jobs/{match.group(1)}/", timeout=10).text
        assert "ask not what your country can do for you" in page.lower(), page[:3000]
    assert (var / "db.sqlite3").is_file()
    assert list((var / "media" / "media").rglob("*.flac"))
    job_id = match.group(1)

    # The worker's process counted the job; the web's /metrics shows it (multiprocess).
    metrics = requests.get(base + "/metrics", headers={"Authorization": "Bearer scrape"},
                           timeout=10).text
    finished = [line for line in metrics.splitlines()
                if line.startswith("caption_jobs_finished_total{")
                and f'outcome="{expected}"' in line]
    assert finished and float(finished[0].rsplit(" ", 1)[1]) == 1.0, metrics[:3000]
    # The worker's JSON line about the job carries the upload's request id.
    upload_request_id = response.history[0].headers["X-Request-ID"]
    lines = [json.loads(line) for line in (var / "log" / "worker.log").read_text().splitlines()
             if line.startswith("{")]
    about_job = [line for line in lines if line.get("job_id") == job_id
                 and line["message"].startswith("caption job")]
    assert about_job, lines[-20:]
    assert all(line["request_id"] == upload_request_id for line in about_job)
    if expected == "failed":
        # ... and the operator reads how to configure a model in the failure's log line.
        [failure] = [line for line in about_job
                     if line["message"].startswith("caption job failed")]
        assert "WHISPER_MODEL" in failure["error_detail"]
        assert "checkpoint" in failure["error_detail"]
        assert failure["error_message"] == status["error_message"]
