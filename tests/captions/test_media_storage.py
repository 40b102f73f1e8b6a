"""The media storage backend (``captions.storage.MediaS3Storage``) against the moto server:
an existing object is never replaced, and a one-part save is one request."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from storages.backends.s3 import S3Storage

from captions.storage import MediaS3Storage
from tests.conftest import s3_client

pytestmark = pytest.mark.skipif(
    not settings.AWS_STORAGE_BUCKET_NAME, reason="media is not kept in S3 in these settings")


@pytest.fixture
def requests_sent():
    """Every S3 operation the default storage's client sends, by name, in order."""
    sent: list[str] = []
    events = default_storage.connection.meta.client.meta.events

    def record(model, **_kwargs):
        sent.append(model.name)

    events.register("before-call.s3", record)
    yield sent
    events.unregister("before-call.s3", record)


def _body(key: str) -> bytes:
    return s3_client().get_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)["Body"].read()


def test_the_media_storage_is_the_conditional_put_backend():
    assert isinstance(default_storage, MediaS3Storage)
    assert default_storage.file_overwrite is False


def test_a_new_small_file_is_stored_with_one_put_and_no_existence_check(requests_sent):
    key = default_storage.save("media/test/one-put.wav", ContentFile(b"RIFF" + b"\0" * 1000))

    assert key == "media/test/one-put.wav"
    assert requests_sent == ["PutObject"]
    assert _body(key) == b"RIFF" + b"\0" * 1000


def test_a_taken_name_is_never_replaced_and_the_new_file_gets_a_free_name(requests_sent):
    first = default_storage.save("media/test/taken.wav", ContentFile(b"first"))
    second = default_storage.save("media/test/taken.wav", ContentFile(b"second"))

    assert first == "media/test/taken.wav"
    assert second != first and second.startswith("media/test/taken_")
    assert _body(first) == b"first"
    assert _body(second) == b"second"
    # The second save: the refused conditional PUT, the base class's search, the PUT.
    assert requests_sent[1] == "PutObject" and "HeadObject" in requests_sent[2:]


def test_a_file_over_one_part_takes_the_multipart_path_and_is_not_replaced_either():
    storage = MediaS3Storage(**settings.STORAGES["default"]["OPTIONS"])
    storage.transfer_config.multipart_threshold = 5 * 1024 * 1024
    storage.transfer_config.multipart_chunksize = 5 * 1024 * 1024
    big = b"x" * (storage.transfer_config.multipart_threshold + 1)
    storage.save("media/test/big.bin", ContentFile(b"small"))

    key = storage.save("media/test/big.bin", ContentFile(big))

    assert key != "media/test/big.bin"
    assert _body("media/test/big.bin") == b"small"
    assert _body(key) == big


def test_the_base_class_behaviour_stays_where_overwriting_is_asked_for():
    options = {**settings.STORAGES["default"]["OPTIONS"], "file_overwrite": True}
    storage = MediaS3Storage(**options)
    storage.save("media/test/replace.txt", ContentFile(b"old"))

    key = storage.save("media/test/replace.txt", ContentFile(b"new"))

    assert key == "media/test/replace.txt"
    assert _body(key) == b"new"
    assert issubclass(MediaS3Storage, S3Storage)


def test_a_put_stored_but_unanswered_and_retried_is_the_same_file_not_a_copy(monkeypatch):
    """botocore sends a PUT again when its answer is lost; S3 had stored the first one, so
    the second meets it (412). That object is this save's: the name stays, no copy."""
    client = default_storage.connection.meta.client
    put = client.put_object
    lost = []

    def stored_then_answer_lost(**kwargs):
        if not lost:  # the first PUT: S3 stores it, its answer is lost, it is sent again
            lost.append(put(**kwargs))
        return put(**kwargs)

    monkeypatch.setattr(client, "put_object", stored_then_answer_lost)
    body = b"RIFF" + b"retried" * 100

    key = default_storage.save("media/test/retried.wav", ContentFile(body))

    assert key == "media/test/retried.wav"
    assert _body(key) == body
    listed = s3_client().list_objects_v2(Bucket=settings.AWS_STORAGE_BUCKET_NAME,
                                         Prefix="media/test/retried")
    assert [o["Key"] for o in listed["Contents"]] == [key]


def test_the_same_bytes_saved_twice_under_one_name_are_two_files():
    """Two saves are two files even when their bytes are equal: deleting one (retention,
    a deleted job) must not take the other's away."""
    first = default_storage.save("media/test/twin.wav", ContentFile(b"same bytes"))
    second = default_storage.save("media/test/twin.wav", ContentFile(b"same bytes"))

    assert first != second
    default_storage.delete(first)
    assert _body(second) == b"same bytes"


def test_a_free_name_found_after_a_refused_put_keeps_the_fields_length_limit():
    name = "media/test/" + "n" * 85 + ".wav"  # 100 characters
    assert len(name) == 100
    default_storage.save(name, ContentFile(b"first"), max_length=100)

    second = default_storage.save(name, ContentFile(b"second"), max_length=100)

    assert second != name and len(second) <= 100
    assert _body(second) == b"second"


class _OneWayStream:
    """A body that can be read once and not rewound (a request stream, a pipe)."""

    closed = False

    def __init__(self, data: bytes):
        self._data = data

    def read(self, *_args):
        data, self._data = self._data, b""
        return data

    def seekable(self):
        return False


def test_a_body_that_cannot_be_rewound_is_stored_whole_under_the_free_name():
    from django.core.files import File

    default_storage.save("media/test/stream.wav", ContentFile(b"first"))
    content = File(_OneWayStream(b"second, streamed"), name="stream.wav")
    content.size = len(b"second, streamed")

    key = default_storage.save("media/test/stream.wav", content)

    assert key != "media/test/stream.wav"
    assert _body(key) == b"second, streamed"


def test_a_store_that_refuses_every_name_is_a_storage_failure_not_a_loop(monkeypatch):
    from botocore.exceptions import ClientError

    from captions import storage

    client = default_storage.connection.meta.client
    refused = ClientError({"Error": {"Code": "PreconditionFailed"},
                           "ResponseMetadata": {"HTTPStatusCode": 412}}, "PutObject")
    missing = ClientError({"Error": {"Code": "404"},
                           "ResponseMetadata": {"HTTPStatusCode": 404}}, "HeadObject")

    def fail(error):
        def call(**_kwargs):
            raise error
        return call

    # Every name looks free to a HEAD, and every PUT is refused.
    monkeypatch.setattr(client, "put_object", fail(refused))
    monkeypatch.setattr(client, "head_object", fail(missing))

    with pytest.raises(storage.StorageUnavailable):
        storage.file_save("media/test/never.wav", ContentFile(b"bytes"))
