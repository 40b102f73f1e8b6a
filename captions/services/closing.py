"""Closing an account: the customer deletes it, with everything it holds.

It lives in captions because it is the app that sees them all: jobs with their results
and media (through ``caption_job_delete``), direct-upload objects, and, by the user's
cascade, API keys, webhook endpoints and billing rows. The audit trail keeps its rows
(their user becomes empty); the log names the account that was closed.
"""

from __future__ import annotations

import logging

from django.db import transaction

from billing import selectors as billing_selectors
from config.errors import ApplicationError

from .. import storage
from ..models import CaptionJob, DirectUpload, MediaAsset
from .jobs import caption_job_delete

logger = logging.getLogger(__name__)


def account_delete(*, user, password: str) -> None:
    """Delete ``user`` and all their data; their stored files go once it is committed.

    Raises ApplicationError: 400 for a wrong password (``details["password"]``); 409
    while a Stripe subscription still renews, since deleting the account here would not
    stop Stripe charging the card (it is cancelled under Manage billing first).
    """
    if not user.check_password(password or ""):
        raise ApplicationError("Your password was not right, so nothing was deleted.",
                               code="wrong_password",
                               details={"password": "Enter your current password."})
    paying = billing_selectors.subscription_granting(user=user)
    if paying is not None and not paying.is_grant and not paying.cancel_at_period_end:
        raise ApplicationError(
            f"Your {paying.get_plan_code_display()} subscription still renews. Cancel it "
            "under Manage billing on the Billing page first, so you are not charged again; "
            "then delete your account.", code="subscription_active", status=409)
    # Each job goes the way a single deletion goes: a running one is cancelled first.
    for job in CaptionJob.objects.filter(owner=user).select_related("asset"):
        caption_job_delete(job=job, actor=user)
    with transaction.atomic():
        keys = [key for a in MediaAsset.objects.filter(owner=user) for key in a.stored_keys]
        keys += list(DirectUpload.objects.filter(owner=user).values_list("key", flat=True))
        user_id = user.pk
        user.delete()
        transaction.on_commit(lambda: _files_delete(keys))
    logger.info("account %s closed by its owner", user_id)


def _files_delete(keys: list[str]) -> None:
    for key in keys:
        try:
            storage.file_delete(key)
        except storage.STORAGE_ERRORS as exc:
            # The account is gone either way; an object left behind is found in the log.
            logger.error("could not delete %s of a closed account: %s", key, exc)
