"""Every failure a customer can see is written for them; the operator's detail is kept apart."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from captions import failures
from captions.failures import (
    EXPORT_FAILURES,
    FAILURES,
    export_failure_message,
    failure_for,
    failure_message,
)
from tests.helpers import assert_customer_text

ROOT = Path(__file__).resolve().parents[2]
# Calls that fail a job, or raise what fails one, and the keyword naming the code.
FAILING_CALLS = {"caption_job_fail", "PipelineError", "MediaRejected", "MediaToolFailed",
                 "SttModelUnavailable", "LlmUnavailable", "LlmOutputInvalid",
                 "LlmMisconfigured", "ManagedSttUnavailable", "ManagedSttFailed", "_transition",
                 "_fail_locked"}
FACTS = {"attempts": 3, "cap": "Hourly API cost cap reached ($1.00); it resets at 11:00 UTC.",
         "waits": 6, "length": "11.0 seconds", "limit": 5, "minutes": 60, "width": 9000,
         "height": 9000}


BURN_IN_SOURCES = ("engines/burn_in.py", "captions/services/burn_in.py")


def _codes_raised_in_source(paths=None) -> set[str]:
    """Every error code the engines and the caption services can fail a job with.

    A burned-in export fails apart from its job: its own sources are read apart.
    """
    found: set[str] = set()
    if paths is None:
        paths = [path for folder in ("engines", "captions/services")
                 for path in (ROOT / folder).rglob("*.py")
                 if str(path.relative_to(ROOT)) not in BURN_IN_SOURCES]
    for path in paths:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            # code = "..." on an error class, or code = "a" if ... else "b"
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and getattr(node.targets[0], "id", "") == "code"
                    and isinstance(node.value, ast.Constant | ast.IfExp)):
                value = node.value
                is_choice = isinstance(value, ast.IfExp)
                branches = [value.body, value.orelse] if is_choice else [value]
                found.update(b.value for b in branches
                             if isinstance(b, ast.Constant) and isinstance(b.value, str))
            if isinstance(node, ast.FunctionDef) and node.name.endswith("error_code"):
                found.update(r.value.value for r in ast.walk(node)
                             if isinstance(r, ast.Return) and isinstance(r.value, ast.Constant))
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "_Retryable" and isinstance(node.args[0], ast.Constant):
                found.add(node.args[0].value)
            if name not in FAILING_CALLS:
                continue
            for keyword in node.keywords:
                if (keyword.arg in ("code", "error_code")
                        and isinstance(keyword.value, ast.Constant) and keyword.value.value):
                    found.add(keyword.value.value)
    return found


def test_every_code_a_job_can_fail_with_has_its_own_customer_message():
    raised = _codes_raised_in_source()
    assert {"stt_model_unavailable", "llm_throttled", "media_too_long",
            "storage_unavailable"} <= raised, "the scan finds the codes"
    assert sorted(raised - FAILURES.keys() - {"pipeline_error"}) == []


@pytest.mark.parametrize("code", sorted(FAILURES))
def test_each_customer_message_has_no_operator_detail(code):
    failure = FAILURES[code]
    assert_customer_text(failure.message)
    if failure.waiting:
        assert_customer_text(failure.waiting)
    if failure.detailed:
        filled = failure_message(code, FACTS)
        assert filled != failure.message, "the facts fill the detailed form"
        assert_customer_text(filled)
    words = failure.message.lower()
    assert any(hint in words for hint in ("retry", "upload", "support", "try", "nothing you",
                                          "resize", "trim", "export", "continues")), (
        "the message says what the customer can do")


def test_an_unknown_code_reads_as_its_family_never_as_its_detail():
    assert failure_for("llm_new_kind") == FAILURES["llm_unavailable"]
    assert failure_for("image_new_kind") == FAILURES["image_unreadable"]
    assert failure_for("whatever") == FAILURES["internal_error"]


def test_a_missing_fact_falls_back_to_the_plain_message():
    assert failure_message("media_too_long", {"length": "9 s"}) == (
        FAILURES["media_too_long"].message)


def test_the_checker_catches_operator_text():
    for operator_text in (
        "Set WHISPER_MODEL to the path of a checkpoint.",
        "The file could not be read (/tmp/tmpa1b2/upload.bin: Invalid data).",
        "Could not download (URLError: <urlopen error [Errno -3]>).",
        "Traceback (most recent call last).",
    ):
        with pytest.raises(AssertionError):
            assert_customer_text(operator_text)
    assert failures.__doc__


OPERATOR_DETAIL = ("WHISPER_MODEL='small' is not on this machine; put the checkpoint in "
                   "/srv/cache/whisper (URLError: <urlopen error [Errno -3]>)")


@pytest.mark.django_db
def test_the_detail_shows_in_the_admin_and_the_log_never_on_the_page_or_in_the_api(
    user, api, admin_client, client, caplog, django_capture_on_commit_callbacks
):
    from captions import services
    from tests.factories import CaptionJobFactory

    job = CaptionJobFactory(owner=user, status="processing")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.caption_job_fail(job_id=job.pk, code="stt_model_unavailable",
                                        detail=OPERATOR_DETAIL)
    assert (job.error_detail, job.error_message) == (
        OPERATOR_DETAIL, FAILURES["stt_model_unavailable"].message)
    [logged] = [r for r in caplog.records if r.getMessage().startswith("caption job failed")]
    assert logged.error_detail == OPERATOR_DETAIL

    admin_page = admin_client.get(f"/admin/captions/captionjob/{job.pk}/change/")
    assert "WHISPER_MODEL" in admin_page.content.decode()

    client.force_login(user)
    customer_views = {
        "page": client.get(f"/jobs/{job.pk}/").content.decode(),
        "status.json": client.get(f"/jobs/{job.pk}/status.json").content.decode(),
        "api": api.get(f"/api/v1/jobs/{job.pk}/").content.decode(),
        "webhook": str(services.caption_job_event_data(job=job)),
    }
    for where, text in customer_views.items():
        assert FAILURES["stt_model_unavailable"].message[:40] in text, where
        for leak in ("WHISPER_MODEL", "/srv/cache", "urlopen", "Errno"):
            assert leak not in text, (where, leak)


@pytest.mark.parametrize("code", [*sorted(EXPORT_FAILURES), "a_code_with_no_entry"])
def test_each_burn_in_failure_message_has_no_operator_detail(code):
    message = export_failure_message(code)
    assert_customer_text(message)
    assert any(hint in message.lower() for hint in ("try", "upload", "support")) or (
        code == "burn_in_no_video"), "the message says what the customer can do"


def test_every_code_a_burn_in_can_fail_with_has_its_own_customer_message():
    raised = _codes_raised_in_source([ROOT / path for path in BURN_IN_SOURCES])
    assert {"burn_in_no_video", "attempts_exhausted"} <= raised, "the scan finds the codes"
    assert sorted(raised - EXPORT_FAILURES.keys()) == []
