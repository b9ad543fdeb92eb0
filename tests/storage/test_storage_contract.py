"""Storage contract: the local directory and a real S3 server (SeaweedFS) behave alike."""

from __future__ import annotations

import hashlib
import io
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import ObjectNotFound, Storage, StorageError, open_storage
from storage.errors import InvalidKey
from tests.support.servers import SeaweedS3


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "local":
        yield open_storage((tmp_path / "objects").as_uri())
        return
    s3: SeaweedS3 = request.getfixturevalue("seaweed")
    yield open_storage(
        s3.storage_url(f"contract-{uuid.uuid4().hex[:10]}"),
        access_key=s3.access_key,
        secret_key=s3.secret_key,
    )


def test_put_get_roundtrip_with_checksum(storage: Storage, tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    info = storage.put_file("videos/a/360p/0.m4s", src)
    assert info.size_bytes == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert storage.get_bytes("videos/a/360p/0.m4s") == data
    stat = storage.stat("videos/a/360p/0.m4s")
    assert stat is not None
    assert stat.size_bytes == len(data)


def test_stream_upload_larger_than_one_part(storage: Storage) -> None:
    data = b"x" * (20 << 20) + b"tail"
    info = storage.put_stream("uploads/big/source", io.BytesIO(data), -1)
    assert info.size_bytes == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert storage.read_range("uploads/big/source", len(data) - 4, 4) == b"tail"


def test_ranges(storage: Storage) -> None:
    storage.put_bytes("r/obj", b"0123456789")
    assert storage.read_range("r/obj", 2, 3) == b"234"
    assert b"".join(storage.iter_range("r/obj", 5, 5, chunk_bytes=2)) == b"56789"


def test_missing_objects(storage: Storage, tmp_path: Path) -> None:
    assert storage.stat("nope/x") is None
    with pytest.raises(ObjectNotFound):
        storage.get_bytes("nope/x")
    with pytest.raises(ObjectNotFound):
        storage.download("nope/x", tmp_path / "out")


def test_overwrite_is_atomic_and_whole(storage: Storage) -> None:
    storage.put_bytes("o/k", b"first version")
    storage.put_bytes("o/k", b"second")
    assert storage.get_bytes("o/k") == b"second"


def test_list_and_delete_prefix(storage: Storage) -> None:
    for name in ("a", "b", "c"):
        storage.put_bytes(f"videos/v1/360p/{name}", b"1")
    storage.put_bytes("videos/v2/360p/a", b"1")
    assert storage.list_keys("videos/v1/") == [f"videos/v1/360p/{n}" for n in "abc"]
    assert storage.delete_prefix("videos/v1/") == 3
    assert storage.list_keys("videos/v1/") == []
    assert storage.list_keys("videos/v2/") == ["videos/v2/360p/a"]


def test_download(storage: Storage, tmp_path: Path) -> None:
    storage.put_bytes("d/src", b"abc" * 1000)
    dest = tmp_path / "copy"
    storage.download("d/src", dest)
    assert dest.read_bytes() == b"abc" * 1000


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("../etc/passwd", id="dotdot"),
        pytest.param("/abs/path", id="absolute"),
        pytest.param("a//b", id="empty-part"),
        pytest.param("a/./b", id="dot"),
        pytest.param("a/b\x00", id="nul"),
        pytest.param("", id="empty"),
    ],
)
def test_invalid_keys_never_touch_storage(storage: Storage, key: str) -> None:
    with pytest.raises(InvalidKey):
        storage.put_bytes(key, b"x")
    with pytest.raises(InvalidKey):
        storage.get_bytes(key)


def test_s3_rejects_wrong_secret(seaweed: SeaweedS3) -> None:
    with pytest.raises(StorageError, match="Signature"):
        open_storage(
            seaweed.storage_url("wrong-secret"),
            access_key=seaweed.access_key,
            secret_key="not-the-secret",
        )


def test_local_writes_leave_no_temp_files(tmp_path: Path) -> None:
    storage = open_storage((tmp_path / "objects").as_uri())
    storage.put_bytes("a/b", b"data")
    assert list((tmp_path / "objects" / ".tmp").iterdir()) == []


def test_s3_bucket_creation_races_are_harmless(seaweed: SeaweedS3) -> None:
    url = seaweed.storage_url(f"race-{uuid.uuid4().hex[:10]}")
    errors: list[Exception] = []

    def open_one() -> None:
        try:
            open_storage(url, access_key=seaweed.access_key, secret_key=seaweed.secret_key)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
