"""Each request reads a user's plan and cost cap override from the cache at most once."""

from .selectors import billing_read_once


class BillingReadOnceMiddleware:
    """An API upload asks for the owner's plan at the API's plan check, the size and
    quota checks, the quota admission and the cost cap: six reads of one Redis entry
    (and two of the override) before this; one each within ``billing_read_once``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with billing_read_once():
            return self.get_response(request)
