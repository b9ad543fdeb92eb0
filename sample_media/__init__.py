"""Test media: a generator for sources with several audio languages and subtitles."""
