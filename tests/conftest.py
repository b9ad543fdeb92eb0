"""Shared fixtures: real ffmpeg, sample media, PostgreSQL schemas, SeaweedFS, origin servers."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from manifests.catalog import Catalog
from manifests.db import PostgresDatabase, SqliteDatabase
from sample_media.generate import SampleMedia, generate_sample
from tests.support.clock import FakeClock
from tests.support.servers import OriginServer, SeaweedS3, origin_server, seaweedfs
from transcoder.tools import ffmpeg_path, ffprobe_path

POSTGRES_URL = "postgresql://root@127.0.0.1:5432/test"


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to test a mypyc-compiled module older than its source (`make` rebuilds it)."""
    edge_dir = Path(__file__).resolve().parent.parent / "edge"
    for compiled in edge_dir.rglob("*.so"):
        source = compiled.parent / (compiled.name.split(".", 1)[0] + ".py")
        if source.exists() and compiled.stat().st_mtime < source.stat().st_mtime:
            pytest.exit(f"{compiled} is older than {source}: run `make pytest` to rebuild it")


TEST_LADDER = "360:700,240:300"
MAX_UPLOAD_BYTES = 30 << 20


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    return ffmpeg_path()


@pytest.fixture(scope="session")
def ffprobe() -> str:
    return ffprobe_path()


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> SampleMedia:
    """9 s of 640x360 with English and Spanish audio, and subtitles in both."""
    return generate_sample(
        tmp_path_factory.mktemp("sample"), ffmpeg=ffmpeg, duration_s=9, width=640, height=360
    )


@pytest.fixture(scope="session")
def french_audio(tmp_path_factory: pytest.TempPathFactory, ffmpeg: str) -> Path:
    path = tmp_path_factory.mktemp("audio") / "fra.wav"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=660:duration=9",
            "-ac",
            "2",
            str(path),
        ],
        check=True,
    )
    return path


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the real PostgreSQL on 127.0.0.1:5432, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = f"{POSTGRES_URL}?schema={schema}"
    yield url
    db = PostgresDatabase(url)
    db.drop_schema()
    db.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Catalog]:
    db: SqliteDatabase | PostgresDatabase
    if request.param == "sqlite":
        db = SqliteDatabase(tmp_path / "catalog.db")
    else:
        db = PostgresDatabase(f"{POSTGRES_URL}?schema=t_{uuid.uuid4().hex[:12]}")
    cat = Catalog(db, clock=clock)
    cat.create_schema()
    yield cat
    if isinstance(db, PostgresDatabase):
        db.drop_schema()
    db.close()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    with seaweedfs(tmp_path_factory.mktemp("seaweed")) as s3:
        yield s3


@pytest.fixture(scope="session")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OriginServer]:
    """`mediacdn serve` on 127.0.0.1 (SQLite + local directory), two in-process workers."""
    env = {
        "MEDIACDN_LADDER": TEST_LADDER,
        "MEDIACDN_WORKERS": "2",
        "MEDIACDN_JOB_RETRY_BASE_S": "0.2",
        "MEDIACDN_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        "MEDIACDN_X264_PRESET": "ultrafast",
    }
    with origin_server(tmp_path_factory.mktemp("origin"), env) as server:
        yield server


@pytest.fixture(scope="session")
def http(origin: OriginServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=origin.url, timeout=60) as client:
        yield client
