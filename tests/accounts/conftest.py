import pytest


@pytest.fixture(autouse=True)
def _customers_pay_for_api_access(api_plan):
    """These tests are about the API itself: their customers are on the plan that has it
    (plan gating is tested in tests/billing/test_plan_features.py)."""
