"""The layout of object keys, in one place: what an upload stores and what a transcode
publishes, per video."""

from __future__ import annotations


def upload_prefix(video_id: str) -> str:
    """Everything uploaded for a video: its source and side files."""
    return f"uploads/{video_id}/"


def source_key(video_id: str) -> str:
    return f"{upload_prefix(video_id)}source"


def side_key(video_id: str, kind: str, language: str) -> str:
    """An attached audio or subtitle file (`kind` is `audio` or `subtitles`)."""
    return f"{upload_prefix(video_id)}{kind}-{language}"


def video_prefix(video_id: str) -> str:
    """Everything a transcode of the video stored."""
    return f"videos/{video_id}/"


def object_key(video_id: str, rendition: str, name: str) -> str:
    """Deterministic keys: a retried job overwrites its own earlier, never-published output."""
    return f"{video_prefix(video_id)}{rendition}/{name}"


def live_prefix(stream_id: str) -> str:
    """Everything a live stream stored: its parts, segments and init segments (its recording
    is a video with the stream's id whose objects stay here)."""
    return f"live/{stream_id}/"


def live_key(stream_id: str, rendition: str, name: str) -> str:
    return f"{live_prefix(stream_id)}{rendition}/{name}"


def video_prefixes(video_id: str) -> tuple[str, str, str]:
    """Every prefix a video's objects live under (for deleting it)."""
    return video_prefix(video_id), upload_prefix(video_id), live_prefix(video_id)
