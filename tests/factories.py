from datetime import timedelta

import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import User
from captions.models import CaptionJob, CaptionVariant, MediaAsset, Transcript


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class MediaAssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MediaAsset

    owner = factory.SubFactory(UserFactory)
    file = factory.LazyFunction(lambda: ContentFile(b"\0" * 16, name="fixture.wav"))
    original_name = "fixture.wav"
    content_type = "audio/x-wav"
    kind = "audio"
    size_bytes = 16
    sha256 = "0" * 64


class CaptionJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaptionJob
        skip_postgeneration_save = True  # the admission hook writes its own row

    owner = factory.SubFactory(UserFactory)
    asset = factory.SubFactory(MediaAssetFactory, owner=factory.SelfAttribute("..owner"))

    @factory.post_generation
    def admission(obj, create, extracted, **kwargs):  # noqa: N805
        """The quota ledger's row a submitted job has (``admission=False`` for none)."""
        if not create or extracted is False:
            return
        from billing.models import AdmissionStatus, JobAdmission

        live = obj.status in ("queued", "processing")
        JobAdmission.objects.create(
            user=obj.owner, job_id=obj.pk, admitted_at=obj.created_at,
            held_seconds=round(obj.asset.duration_seconds or 0),
            status=AdmissionStatus.HELD if live else (
                AdmissionStatus.SETTLED if obj.status == "done" else AdmissionStatus.RELEASED),
        )


class TranscriptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transcript

    job = factory.SubFactory(CaptionJobFactory, status="done", stage="finished", progress=100)
    language = "en"
    text = "And so my fellow Americans, ask not."
    segments = factory.LazyFunction(
        lambda: [
            {"start": 0.0, "end": 2.5, "text": "And so my fellow Americans,"},
            {"start": 2.5, "end": 4.04, "text": "ask not."},
        ]
    )
    duration_seconds = 4.04


class CaptionVariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaptionVariant

    job = factory.SubFactory(CaptionJobFactory, status="done")
    position = factory.Sequence(lambda n: n)
    text = "Ask not what your country can do for you."
    writer = "local"


class SubscriptionFactory(factory.django.DjangoModelFactory):
    """An active Stripe subscription as the webhooks would have recorded it."""

    class Meta:
        model = "billing.Subscription"

    user = factory.SubFactory(UserFactory)
    stripe_subscription_id = factory.Sequence(lambda n: f"sub_test{n}")
    stripe_customer_id = factory.Sequence(lambda n: f"cus_test{n}")
    plan_code = "creator"
    stripe_price_id = "price_creator_monthly"
    status = "active"
    stripe_created = factory.LazyFunction(timezone.now)
    state_as_of = factory.LazyFunction(timezone.now)
    current_period_start = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    current_period_end = factory.LazyFunction(lambda: timezone.now() + timedelta(days=29))
