"""Probing, ladder planning, ffmpeg command building and running, jobs and publishing."""
