"""API keys for a single-machine install: generated once, kept in the data directory."""

from __future__ import annotations

import secrets
from pathlib import Path

from origin.settings import Secret, Settings


def ensure_api_key(settings: Settings) -> tuple[Settings, str | None]:
    """Settings with at least one API key; the key is returned when it was generated here."""
    if settings.api_keys:
        return settings, None
    path = settings.data_dir / "api-key"
    if path.exists():
        key = path.read_text().strip()
        created = None
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        key = "mcdn_" + secrets.token_urlsafe(24)
        path.write_text(key + "\n")
        path.chmod(0o600)
        created = key
    return settings.with_overrides(api_keys=(Secret(key),)), created or key


def read_api_key(data_dir: Path) -> str | None:
    path = data_dir / "api-key"
    return path.read_text().strip() if path.exists() else None
