import factory
from django.core.files.base import ContentFile

from accounts.models import User
from captions.models import CaptionJob, MediaAsset


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

    owner = factory.SubFactory(UserFactory)
    asset = factory.SubFactory(MediaAssetFactory, owner=factory.SelfAttribute("..owner"))
