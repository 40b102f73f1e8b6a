"""A compiled read gives what its QuerySet gives, compiled once (``config/compiled_reads.py``)."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from captions import selectors
from captions.models import CaptionJob, JobStatus, MediaAsset
from config.compiled_reads import CompiledRead
from tests.factories import CaptionJobFactory, MediaAssetFactory

pytestmark = pytest.mark.django_db

OWNER, PK = CaptionJob._meta.get_field("owner"), CaptionJob._meta.pk


def _state(obj) -> dict:
    """Every loaded column of a model instance, and those of what select_related cached."""
    values = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields
              if f.attname in obj.__dict__}
    values["_cached"] = {name: _state(rel) if rel is not None else None
                         for name, rel in obj._state.fields_cache.items()}
    return values


@pytest.fixture
def jobs(user):
    return [
        CaptionJobFactory(owner=user, stage_seconds={"transcribing": 2.5}, tone="funny",
                          engine_versions={"model": "base", "sha": "abc"}),
        CaptionJobFactory(owner=user, status=JobStatus.FAILED, error_code="media_unreadable",
                          error_message="The file could not be decoded.",
                          asset=MediaAssetFactory(owner=user, duration_seconds=None)),
    ]


def test_the_job_read_gives_the_querysets_objects_with_their_asset(user, jobs):
    for job in jobs:
        expected = CaptionJob.objects.select_related("asset").get(pk=job.pk)
        got = selectors.caption_job_get_for_owner(owner=user, job_id=job.pk)
        assert _state(got) == _state(expected)
        assert isinstance(got.asset, MediaAsset) and got.stage_seconds == expected.stage_seconds
        assert got._state.adding is False and got._state.db == "default"


def test_the_status_read_loads_only_the_polled_fields(user, jobs):
    got = selectors.caption_job_status_for_owner(owner=user, job_id=jobs[1].pk)
    assert set(got.__dict__) - {"_state"} == set(selectors.STATUS_FIELDS)
    assert got.error_message == "The file could not be decoded."
    assert got.get_deferred_fields() >= {"tone", "asset_id"}


def test_each_call_is_one_query_with_its_own_values(user, other_user, jobs):
    selectors.caption_job_get_for_owner(owner=user, job_id=jobs[0].pk)  # compiled
    with CaptureQueriesContext(connection) as captured:
        first = selectors.caption_job_get_for_owner(owner=user, job_id=jobs[0].pk)
        second = selectors.caption_job_get_for_owner(owner=user, job_id=str(jobs[1].pk))
        with pytest.raises(Http404):
            selectors.caption_job_get_for_owner(owner=other_user, job_id=jobs[0].pk)
        with pytest.raises(Http404):
            selectors.caption_job_status_for_owner(owner=user, job_id=uuid.uuid4())
    assert (first.pk, second.pk) == (jobs[0].pk, jobs[1].pk)
    assert len(captured.captured_queries) == 4
    assert captured.captured_queries[0]["sql"].count('"captions_mediaasset"."kind"') == 1


def test_a_value_that_is_not_an_id_is_refused_as_by_the_orm(user):
    with pytest.raises(ValidationError):
        selectors.caption_job_get_for_owner(owner=user, job_id="not-a-uuid")


def test_reads_that_are_not_plain_are_refused_when_compiled(user):
    locking = CompiledRead(CaptionJob, lambda pk: CaptionJob.objects.select_for_update()
                           .filter(pk=pk), pk=PK)
    values = CompiledRead(CaptionJob, lambda pk: CaptionJob.objects.filter(pk=pk).values("id"),
                          pk=PK)
    unused = CompiledRead(CaptionJob, lambda pk: CaptionJob.objects.all(), pk=PK)
    for read in (locking, values, unused):
        with pytest.raises(ValueError):
            read(pk=uuid.uuid4())


def test_annotations_come_back_as_attributes(user, jobs):
    from django.db.models import F

    read = CompiledRead(CaptionJob, lambda owner: CaptionJob.objects.filter(owner=owner)
                        .annotate(twice=F("progress") * 2).order_by("created_at"), owner=OWNER)
    got = read(owner=user.pk)
    assert [j.pk for j in got] == [j.pk for j in jobs]
    assert all(j.twice == 2 * j.progress for j in got)


def test_the_session_users_read_is_the_querysets_user(user, other_user):
    """``User.objects.get(pk=…)`` (session authentication's read) takes the compiled read."""
    from accounts.models import User

    User.objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as captured:
        got = User.objects.get(pk=user.pk)
        with pytest.raises(User.DoesNotExist):
            User.objects.get(pk=other_user.pk + 1000)
    assert _state(got) == _state(User.objects.filter(pk=user.pk).first())
    assert got.check_password("x") is False and got.get_session_auth_hash()
    assert len(captured.captured_queries) == 2
    # Any other get is the QuerySet's.
    assert User.objects.get(email=other_user.email) == other_user
    assert User.objects.get(pk=user.pk, is_active=True) == user


def test_a_page_after_a_password_change_logs_the_old_session_out(user_client, user):
    assert user_client.get("/").status_code == 200
    user.set_password("a new and long passphrase")
    user.save()
    response = user_client.get("/jobs/new/")
    assert response.status_code == 302 and "/login" in response["Location"]


def test_an_id_the_column_cannot_hold_matches_nothing_and_a_word_raises_as_the_orm(user):
    """allauth's reset link decodes a base36 user id and expects DoesNotExist or
    ValueError, never an overflow from the database driver."""
    from accounts.models import User

    for compiled in (True, False):
        manager = User.objects if compiled else User.objects.db_manager("default")
        with pytest.raises(User.DoesNotExist):
            manager.get(pk=2**63 + 5)
        with pytest.raises(User.DoesNotExist):
            manager.get(pk=-(2**63) - 5)
        with pytest.raises(ValueError):
            manager.get(pk="zz")


def test_a_related_manager_and_a_migrations_model_keep_their_own_get(user, other_user):
    from django.contrib.auth.models import Group
    from django.db.migrations.executor import MigrationExecutor

    from accounts.models import User

    staff = Group.objects.create(name="support")
    staff.user_set.add(user)
    assert staff.user_set.get(pk=user.pk) == user
    with pytest.raises(User.DoesNotExist):
        staff.user_set.get(pk=other_user.pk)  # a user, but not in the group

    state = MigrationExecutor(connection).loader.project_state()
    historical = state.apps.get_model("accounts", "User")
    got = historical.objects.get(pk=user.pk)
    assert type(got) is historical and got.email == user.email


def test_job_pages_are_the_querysets_pages_for_every_shape(user, other_user):
    """The API list's pages (``CaptionJobPages``, as DRF's cursor pagination reads them)
    against the same reads through the QuerySet: filters, both directions of a cursor,
    offsets within equal times."""
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    made = [CaptionJobFactory(owner=user, status=JobStatus.DONE if i % 3 else JobStatus.FAILED)
            for i in range(9)] + [CaptionJobFactory(owner=other_user)]
    for i, job in enumerate(made):  # pairs of equal times, so offsets matter
        CaptionJob.objects.filter(pk=job.pk).update(created_at=now - timedelta(hours=i // 2))
    middle = now - timedelta(hours=2)
    shapes = [
        ({}, ("-created_at", "-id"), None, slice(0, 4)),
        ({}, ("-created_at", "-id"), ("created_at__lt", str(middle)), slice(0, 4)),
        ({}, ("-created_at", "-id"), ("created_at__lt", middle), slice(1, 5)),
        ({}, ("created_at", "id"), ("created_at__gt", str(middle)), slice(0, 3)),
        ({"status": JobStatus.FAILED}, ("-created_at", "-id"), None, slice(0, 21)),
        ({"created_after": middle}, ("-created_at", "-id"), None, slice(0, 21)),
        ({"created_before": middle, "status": JobStatus.DONE}, ("-created_at", "-id"),
         ("created_at__lt", now), slice(0, 21)),
        ({"status": ""}, ("-created_at", "-id"), None, slice(0, 2)),
    ]
    for filters, ordering, position, window in shapes:
        expected = selectors.caption_jobs_filter(owner=user, **filters).order_by(*ordering)
        pages = selectors.caption_job_pages(owner=user, **filters).order_by(*ordering)
        if position:
            expected = expected.filter(**dict([position]))
            pages = pages.filter(**dict([position]))
        for _ in range(2):  # compiled by the first, reused by the second
            got = pages[window]
            want = list(expected[window])
            assert [_state(j) for j in got] == [_state(j) for j in want], (filters, position)
            assert all(j.owner_id == user.pk for j in got)
        assert want, (filters, position, window)  # each shape has rows to compare


def test_a_job_page_refuses_what_it_does_not_read(user):
    pages = selectors.caption_job_pages(owner=user)
    with pytest.raises(ValueError):
        pages.filter(status="done")
    with pytest.raises(ValidationError):  # as the ORM: a cursor's position is a time
        pages.order_by("-created_at").filter(created_at__lt="not a time")[0:3]


def test_job_page_shapes_kept_are_the_latest_used(user):
    """Any client can ask for odd shapes (a cursor's offset, the page size): at most 64
    are kept, and the one in use stays compiled."""
    from captions.selectors import _PAGE_SHAPES_KEPT, _page_reads

    job = CaptionJobFactory(owner=user)
    pages = selectors.caption_job_pages(owner=user).order_by("-created_at", "-id")
    for size in range(2, 2 + 2 * _PAGE_SHAPES_KEPT):
        assert [j.pk for j in pages[0:size]] == [job.pk]
        assert [j.pk for j in pages[0:21]] == [job.pk]  # the common shape, in between
    assert len(_page_reads) == _PAGE_SHAPES_KEPT
    assert ((), ("-created_at", "-id"), None, 0, 21) in _page_reads
