"""The names players show for tracks in a multivariant playlist: a language's own name, and
distinct names within a group."""

from __future__ import annotations

NAMES = {
    "eng": "English",
    "spa": "Español",
    "fra": "Français",
    "fre": "Français",
    "deu": "Deutsch",
    "ger": "Deutsch",
    "ita": "Italiano",
    "por": "Português",
    "jpn": "日本語",
    "zho": "中文",
    "chi": "中文",
    "rus": "Русский",
    "ara": "العربية",
    "hin": "हिन्दी",
    "und": "Unknown",
}


def display_name(language: str | None) -> str:
    code = language or "und"
    return NAMES.get(code, code)


def track_names(languages: list[str | None]) -> list[str]:
    """Each track's NAME in the master playlist, for tracks of these languages: its language's
    name, numbered from the second track of the same language on ("English", "English 2"),
    since a group's members must have distinct names (RFC 8216 §4.3.4.1.1): two English
    audio tracks, a film's and its commentary, are common."""
    names: list[str] = []
    for language in languages:
        base = display_name(language)
        name, n = base, 2
        while name in names:
            name, n = f"{base} {n}", n + 1
        names.append(name)
    return names
