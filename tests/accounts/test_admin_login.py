"""The admin's login door is held like the customers': wrong passwords are rate limited."""

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

RIGHT = "correct horse battery staple"
REFUSAL = "Too many failed login attempts"


@pytest.fixture
def staff():
    return UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)


def admin_login(client, email, password):
    return client.post("/admin/login/?next=/admin/",
                       {"username": email, "password": password, "next": "/admin/"})


def test_staff_log_in_to_the_admin_with_the_right_password(client, staff):
    response = admin_login(client, staff.email, RIGHT)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_admin_login_is_rate_limited_like_the_customer_login(client, staff):
    for number in range(25):
        response = admin_login(client, staff.email, f"guess {number}")
        assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert REFUSAL in response.content.decode()

    # Even the right password is refused while the limit holds: guessing stops paying off.
    response = admin_login(client, staff.email, RIGHT)
    assert response.status_code == 200
    assert REFUSAL in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302

    # A rate, not a lock-out: once the window has passed, the staff member gets in.
    cache.clear()  # stands for the 5-minute window passing
    response = admin_login(client, staff.email, RIGHT)
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_wrong_passwords_at_the_customer_login_count_at_the_admin_login_too(client, staff):
    EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
    for _ in range(5):
        client.post("/accounts/login/", {"login": staff.email, "password": "wrong"})
    response = admin_login(client, staff.email, RIGHT)
    assert REFUSAL in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_wrong_passwords_at_the_admin_login_count_at_the_customer_login_too(client, staff):
    EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
    for _ in range(5):
        admin_login(client, staff.email, "wrong")
    response = client.post("/accounts/login/", {"login": staff.email, "password": RIGHT})
    assert REFUSAL in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_one_address_trying_many_staff_emails_is_slowed_down(client, staff):
    for number in range(10):
        admin_login(client, f"someone{number}@example.com", "Summer2025!")
    response = admin_login(client, staff.email, RIGHT)
    assert REFUSAL in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_staff_members_good_logins_do_not_use_up_their_allowance(client, staff):
    for _ in range(8):
        assert admin_login(client, staff.email, RIGHT).status_code == 302
        client.logout()
    for _ in range(4):
        admin_login(client, staff.email, "wrong")
    assert admin_login(client, staff.email, RIGHT).status_code == 302


def test_a_customer_with_the_right_password_still_cannot_enter_the_admin(client):
    customer = UserFactory(email="customer@example.com")
    response = admin_login(client, customer.email, RIGHT)
    assert response.status_code == 200
    assert "staff account" in response.content.decode()
    assert client.get("/admin/").status_code == 302
