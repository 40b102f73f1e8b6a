"""Hourly API cost caps hold under concurrency, across window boundaries and redeliveries."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from hypothesis import HealthCheck
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from billing import cost_ledger
from billing.models import CostCapOverride, CostReservation, CostWindow, ReservationStatus
from billing.selectors import cost_usage_for_window
from tests.factories import UserFactory

DOLLAR = 1_000_000


def cap(user, dollars: float) -> None:
    CostCapOverride.objects.update_or_create(
        user=user, defaults={"hourly_cap_micros": int(dollars * DOLLAR)}
    )


@pytest.mark.django_db(transaction=True)
def test_200_parallel_reservations_of_ten_cents_under_a_one_dollar_cap_admit_exactly_ten():
    user = UserFactory()
    cap(user, 1.00)
    now = datetime.now(UTC)

    def attempt(i):
        try:
            cost_ledger.cost_reservation_create(user=user, key=f"job-{i}:1:0",
                                             amount_micros=DOLLAR // 10, kind="llm", now=now)
            return "admitted"
        except cost_ledger.CostCapExceeded as exc:
            assert exc.status == 429 and int(exc.headers["Retry-After"]) > 0
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(attempt, range(200)))

    assert outcomes.count("admitted") == 10
    assert outcomes.count("refused") == 190
    for key in CostReservation.objects.values_list("key", flat=True):
        cost_ledger.cost_reservation_settle(key=key, actual_micros=DOLLAR // 10)
    window = CostWindow.objects.get(user=user)
    assert window.settled_micros == DOLLAR
    assert window.reserved_micros == 0


@pytest.mark.django_db(transaction=True)
def test_one_call_redelivered_in_parallel_holds_its_cost_once():
    """Eight deliveries of the same call reserve at once: one hold, charged to the window
    once; the others get that hold back (the window's charge they made is returned)."""
    user = UserFactory()
    cap(user, 1.00)
    now = datetime.now(UTC)

    def attempt(_i):
        try:
            return cost_ledger.cost_reservation_create(
                user=user, key="job-x:1:0", amount_micros=DOLLAR // 10, kind="llm",
                now=now).pk
        finally:
            connection.close()

    for _round in range(5):
        with ThreadPoolExecutor(max_workers=8) as pool:
            held = set(pool.map(attempt, range(8)))
        assert len(held) == 1
        assert CostReservation.objects.get().status == ReservationStatus.RESERVED
        assert CostWindow.objects.get(user=user).reserved_micros == DOLLAR // 10
        cost_ledger.cost_reservation_release(key="job-x:1:0")
        assert CostWindow.objects.get(user=user).reserved_micros == 0


@pytest.mark.django_db
def test_calls_on_each_side_of_the_hour_land_in_their_own_window_and_the_cap_resets_once():
    user = UserFactory()
    cap(user, 0.30)
    before = datetime(2026, 11, 25, 10, 59, 59, 999_999, tzinfo=UTC)
    after = datetime(2026, 11, 25, 11, 0, 0, tzinfo=UTC)
    for i in range(3):
        cost_ledger.cost_reservation_create(user=user, key=f"a{i}", amount_micros=DOLLAR // 10,
                                         kind="llm", now=before)
    with pytest.raises(cost_ledger.CostCapExceeded) as exc:
        cost_ledger.cost_reservation_create(user=user, key="a3", amount_micros=1, kind="llm",
                                         now=before)
    assert exc.value.headers["Retry-After"] == "1"
    assert "resets at 11:00 UTC" in exc.value.message
    cost_ledger.cost_reservation_create(user=user, key="b0", amount_micros=DOLLAR // 10,
                                     kind="llm", now=after)
    windows = dict(CostWindow.objects.values_list("window_start", "reserved_micros"))
    assert windows == {before.replace(minute=0, second=0, microsecond=0): 3 * DOLLAR // 10,
                       after: DOLLAR // 10}
    # Settling the 10:xx call after 11:00 still counts in the 10:00 window.
    cost_ledger.cost_reservation_settle(key="a0", actual_micros=50_000)
    assert CostWindow.objects.get(window_start=after).settled_micros == 0


@pytest.mark.django_db
def test_failed_call_releases_its_reservation_and_a_retried_settle_charges_once():
    user = UserFactory()
    cap(user, 1.00)
    cost_ledger.cost_reservation_create(user=user, key="job:1:0", amount_micros=400_000, kind="llm")
    cost_ledger.cost_reservation_release(key="job:1:0")
    cost_ledger.cost_reservation_create(user=user, key="job:2:0", amount_micros=400_000, kind="llm")
    cost_ledger.cost_reservation_settle(key="job:2:0", actual_micros=123_456)
    cost_ledger.cost_reservation_settle(key="job:2:0", actual_micros=123_456)  # redelivered task
    cost_ledger.cost_reservation_release(key="job:2:0")  # a late failure handler changes nothing
    usage = cost_usage_for_window(user=user, moment=datetime.now(UTC))
    assert (usage["settled_micros"], usage["reserved_micros"]) == (123_456, 0)
    # A redelivered reserve for a call already made gets the same row, not a new charge.
    again = cost_ledger.cost_reservation_create(user=user, key="job:2:0", amount_micros=400_000,
                                             kind="llm")
    assert again.status == ReservationStatus.SETTLED
    assert CostReservation.objects.count() == 2


@pytest.mark.django_db
def test_sweeper_releases_reservations_of_dead_workers(settings):
    settings.BILLING_RESERVATION_TIMEOUT_SECONDS = 60
    user = UserFactory()
    now = datetime.now(UTC)
    cost_ledger.cost_reservation_create(user=user, key="dead", amount_micros=500_000, kind="llm",
                                     now=now)
    assert cost_ledger.cost_reservations_sweep(now=now + timedelta(seconds=30)) == 0
    assert cost_ledger.cost_reservations_sweep(now=now + timedelta(seconds=61)) == 1
    assert CostReservation.objects.get(key="dead").status == ReservationStatus.RELEASED
    assert CostWindow.objects.get(user=user).reserved_micros == 0


@pytest.mark.django_db
def test_settlement_above_the_reservation_never_passes_the_cap():
    user = UserFactory()
    cap(user, 0.10)
    cost_ledger.cost_reservation_create(user=user, key="k", amount_micros=DOLLAR // 10, kind="llm")
    cost_ledger.cost_reservation_settle(key="k", actual_micros=DOLLAR)
    assert CostWindow.objects.get(user=user).settled_micros == DOLLAR // 10


@pytest.mark.django_db
def test_settling_in_its_known_window_clamps_to_the_reservation_and_charges_once():
    user = UserFactory()
    cap(user, 0.10)
    held = cost_ledger.cost_reservation_create(user=user, key="k", amount_micros=DOLLAR // 10,
                                               kind="stt")
    for _ in range(2):  # the second is a redelivered task: no second charge
        cost_ledger.cost_reservation_settle(key="k", actual_micros=DOLLAR,
                                            window_id=held.window_id)
    window = CostWindow.objects.get(user=user)
    assert (window.settled_micros, window.reserved_micros) == (DOLLAR // 10, 0)
    assert CostReservation.objects.get(key="k").settled_micros == DOLLAR // 10
    cost_ledger.cost_reservation_release(key="k", window_id=held.window_id)  # too late
    assert CostWindow.objects.get(user=user).settled_micros == DOLLAR // 10


@pytest.mark.django_db
def test_a_released_call_reserved_again_moves_to_the_new_hour_and_is_held_once():
    user = UserFactory()
    cap(user, 1.00)
    hour = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    cost_ledger.cost_reservation_create(user=user, key="k", amount_micros=300_000, kind="llm",
                                        now=hour)
    cost_ledger.cost_reservation_release(key="k")
    again = cost_ledger.cost_reservation_create(user=user, key="k", amount_micros=300_000,
                                                kind="llm", now=hour + timedelta(hours=1))
    twice = cost_ledger.cost_reservation_create(user=user, key="k", amount_micros=300_000,
                                                kind="llm", now=hour + timedelta(hours=1))
    assert again.pk == twice.pk == CostReservation.objects.get(key="k").pk
    windows = dict(CostWindow.objects.filter(user=user).values_list("window_start",
                                                                     "reserved_micros"))
    assert windows == {hour.replace(minute=0): 0,
                       hour.replace(minute=0) + timedelta(hours=1): 300_000}


class CostLedgerMachine(RuleBasedStateMachine):
    """Random sequences of reserve, settle, release, redeliver, sweep and restart."""

    def __init__(self):
        super().__init__()
        self.clock = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
        self.users = [UserFactory() for _ in range(2)]
        for user, dollars in zip(self.users, (0.5, 1.0), strict=True):
            cap(user, dollars)
        self.keys: list[str] = []
        self.counter = 0

    @rule(user_index=st.integers(0, 1), amount=st.integers(0, 400_000))
    def reserve(self, user_index, amount):
        self.counter += 1
        key = f"call-{self.counter}"
        try:
            cost_ledger.cost_reservation_create(user=self.users[user_index], key=key,
                                             amount_micros=amount, kind="llm", now=self.clock)
            self.keys.append(key)
        except cost_ledger.CostCapExceeded:
            pass

    @rule(data=st.data(), fraction=st.floats(0, 1.5))
    def settle(self, data, fraction):
        if self.keys:
            key = data.draw(st.sampled_from(self.keys))
            reserved = CostReservation.objects.get(key=key).reserved_micros
            cost_ledger.cost_reservation_settle(key=key, actual_micros=int(reserved * fraction))

    @rule(data=st.data())
    def release(self, data):
        if self.keys:
            cost_ledger.cost_reservation_release(key=data.draw(st.sampled_from(self.keys)))

    @rule(data=st.data())
    def redeliver(self, data):
        if self.keys:
            key = data.draw(st.sampled_from(self.keys))
            row = CostReservation.objects.get(key=key)
            try:
                cost_ledger.cost_reservation_create(user=row.user, key=key,
                                                 amount_micros=row.reserved_micros,
                                                 kind="llm", now=self.clock)
            except cost_ledger.CostCapExceeded:
                return  # a released call made again must fit again

            if row.status == ReservationStatus.SETTLED:
                cost_ledger.cost_reservation_settle(key=key, actual_micros=row.settled_micros)

    @rule(minutes=st.integers(1, 50))
    def advance(self, minutes):
        self.clock += timedelta(minutes=minutes)

    @rule()
    def sweep(self):
        cost_ledger.cost_reservations_sweep(now=self.clock)

    @rule()
    def restart_redis(self):
        # The ledger keeps no counter outside PostgreSQL: losing the cache loses nothing.
        from django.core.cache import cache

        cache.clear()

    @invariant()
    def never_over_cap_and_counters_match_the_rows(self):
        for user in self.users:
            cap_micros = user.cost_cap_override.hourly_cap_micros
            for window in CostWindow.objects.filter(user=user):
                assert 0 <= window.settled_micros + window.reserved_micros <= cap_micros
                rows = CostReservation.objects.filter(window=window)
                assert window.reserved_micros == sum(
                    r.reserved_micros for r in rows if r.status == ReservationStatus.RESERVED)
                assert window.settled_micros == sum(
                    r.settled_micros for r in rows if r.status == ReservationStatus.SETTLED)


@pytest.mark.django_db
def test_ledger_invariant_holds_for_any_sequence_of_operations():
    run_state_machine_as_test(
        CostLedgerMachine,
        settings=hyp_settings(max_examples=25, stateful_step_count=25, deadline=None,
                              suppress_health_check=list(HealthCheck)),
    )


@pytest.mark.django_db
def test_upload_when_the_hourly_budget_is_spent_gets_429_with_retry_after(user_client, user,
                                                                           shared_media):
    from captions.models import CaptionJob
    from tests.conftest import s3_keys

    cap(user, 0.10)
    cost_ledger.cost_reservation_create(user=user, key="earlier", amount_micros=DOLLAR // 10,
                                     kind="llm")
    before = s3_keys()
    with open(shared_media / "jfk.flac", "rb") as fh:
        response = user_client.post("/jobs/new/", {"file": fh, "tone": "casual",
                                                   "length": "short", "platform": "x",
                                                   "variant_count": 1})
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    body = response.content.decode()
    assert "Hourly API cost cap reached" in body and "$0.10" in body
    assert s3_keys() == before
    assert not CaptionJob.objects.exists()


@pytest.mark.django_db
def test_sweeper_task_is_scheduled_and_releases(settings):
    from billing.tasks import cost_reservations_sweep

    assert settings.CELERY_BEAT_SCHEDULE["cost-reservations-sweep"]["task"] == (
        cost_reservations_sweep.name
    )
    user = UserFactory()
    cost_ledger.cost_reservation_create(user=user, key="old", amount_micros=10, kind="llm",
                                     now=datetime.now(UTC) - timedelta(hours=2))
    assert cost_reservations_sweep() == 1


@pytest.mark.django_db
def test_billing_page_shows_spend_this_hour_against_the_staff_overridden_cap(user_client, user):
    cap(user, 2.50)
    cost_ledger.cost_reservation_create(user=user, key="a", amount_micros=300_000, kind="llm")
    cost_ledger.cost_reservation_settle(key="a", actual_micros=250_000)
    page = user_client.get("/billing/").content.decode()
    assert "$0.25 of $2.50" in page
    assert "resets at" in page


@pytest.mark.django_db
def test_call_made_again_after_its_reservation_was_released_must_fit_under_the_cap_again():
    user = UserFactory()
    cap(user, 0.10)
    cost_ledger.cost_reservation_create(user=user, key="job:1:0", amount_micros=DOLLAR // 10,
                                     kind="stt")
    cost_ledger.cost_reservation_release(key="job:1:0")  # the step failed
    cost_ledger.cost_reservation_create(user=user, key="other", amount_micros=DOLLAR // 10,
                                     kind="llm")
    with pytest.raises(cost_ledger.CostCapExceeded):
        cost_ledger.cost_reservation_create(user=user, key="job:1:0", amount_micros=DOLLAR // 10,
                                         kind="stt")
    cost_ledger.cost_reservation_release(key="other")
    again = cost_ledger.cost_reservation_create(user=user, key="job:1:0",
                                             amount_micros=DOLLAR // 10, kind="stt")
    assert again.status == ReservationStatus.RESERVED
    cost_ledger.cost_reservation_settle(key="job:1:0", actual_micros=DOLLAR // 10)
    assert CostWindow.objects.get(user=user).settled_micros == DOLLAR // 10


@pytest.mark.django_db
def test_running_jobs_reservations_are_not_swept_while_its_lease_is_renewed(settings):
    import uuid

    settings.BILLING_RESERVATION_TIMEOUT_SECONDS = 60
    user = UserFactory()
    job_id = uuid.uuid4()
    start = datetime.now(UTC)
    cost_ledger.cost_reservation_create(user=user, key="stt:long", amount_micros=10, kind="stt",
                                     job_id=job_id, now=start)
    # A long transcription: the heartbeat extends the hold before it would expire.
    extended = cost_ledger.cost_reservations_extend(job_id=job_id,
                                                    now=start + timedelta(seconds=50))
    assert extended == 1
    assert cost_ledger.cost_reservations_sweep(now=start + timedelta(seconds=100)) == 0
    assert cost_ledger.cost_reservations_sweep(now=start + timedelta(seconds=111)) == 1
