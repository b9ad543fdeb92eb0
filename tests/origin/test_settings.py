"""Settings: defaults, MEDIACDN_* environment variables over a TOML file, secrets kept out of
reprs, bad values refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from origin.settings import Secret, load_settings


def test_settings_defaults_env_and_toml(tmp_path: Path) -> None:
    defaults = load_settings({})
    assert defaults.port == 8080
    assert defaults.segment_duration_s == 4.0
    assert defaults.resolved_database_url.startswith("sqlite:////")
    assert defaults.resolved_storage_url.startswith("file:///")
    config = tmp_path / "c.toml"
    config.write_text('port = 9000\nladder = "720:2800,360:800"\napi_keys = ["a", "b"]\n')
    settings = load_settings({"MEDIACDN_CONFIG": str(config), "MEDIACDN_PORT": "9100"})
    assert settings.port == 9100  # the environment wins over the file
    assert [r.height for r in settings.ladder_policy.rungs] == [720, 360]
    assert settings.api_keys == ("a", "b")


def test_secrets_never_show_in_reprs() -> None:
    settings = load_settings(
        {"MEDIACDN_API_KEYS": "supersecret1", "MEDIACDN_S3_SECRET_KEY": "supersecret2"}
    )
    assert "supersecret" not in repr(settings)
    assert isinstance(settings.s3_secret_key, Secret)
    assert settings.s3_secret_key == "supersecret2"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MEDIACDN_SEGMENT_DURATION_S": "11"}, "between 2 and 10"),
        ({"MEDIACDN_LADDER": "720"}, "rung"),
        ({"MEDIACDN_PORT": "abc"}, "invalid literal"),
    ],
)
def test_bad_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_settings(env)
