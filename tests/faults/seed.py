"""Seeds a fault test's own database through the app itself, printing what it made as JSON.

A customer on the Studio plan (pages and the API) with a verified address, an API key and
a signed-in browser session; with ``--image-job``, a submitted image job too, whose task
goes to the broker once it is committed, as a real submission's does.

Run as ``python -m tests.faults.seed`` with DATABASE_URL, REDIS_URL and
AWS_S3_ENDPOINT_URL pointing at the test's servers.
"""

import json
import sys

import django


def main(argv: list[str]) -> None:
    django.setup()
    from allauth.account.models import EmailAddress
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from accounts import services as account_services
    from captions import services
    from tests.factories import SubscriptionFactory, UserFactory
    from tests.helpers import png_bytes

    user = UserFactory()
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    SubscriptionFactory(user=user, plan_code="studio")
    _, secret = account_services.api_key_create(user=user, name="faults",
                                                scopes=["read", "write"])
    browser = Client()
    browser.force_login(user)
    seeded = {"email": user.email, "api_key": secret,
              "session": browser.cookies[settings.SESSION_COOKIE_NAME].value}
    if "--image-job" in argv:
        upload = SimpleUploadedFile("photo.png", png_bytes(), content_type="image/png")
        job = services.caption_job_submit(owner=user, upload=upload,
                                          options={"variant_count": 1})
        seeded["job"] = str(job.pk)
    print(json.dumps(seeded))


if __name__ == "__main__":
    main(sys.argv[1:])
