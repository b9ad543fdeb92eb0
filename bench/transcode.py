"""Transcode benchmark: our pipeline vs a hand-written single ffmpeg command vs four separate
encodes, on the same 1080p30 source in the same run.

Target: ours ≤ 1.10× the hand-written single command, ≤ 0.80× four separate
encodes (wall time), and 1080p30 → 4 rungs at ≥ 1.2× realtime with x264 veryfast on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Timing, machine, median, run, timed
from manifests.catalog import Catalog
from manifests.db import SqliteDatabase
from manifests.records import NewVideo
from sample_media.generate import generate_sample
from storage.local import LocalStorage
from transcoder.command import TONE_MAP
from transcoder.tools import ffmpeg_path, ffprobe_path
from transcoder.worker import TranscodeWorker, WorkerConfig

RUNGS = [(1920, 1080, 5000), (1280, 720, 2800), (854, 480, 1400), (640, 360, 800)]
SEG = 4


def x264(kbps: int) -> list[str]:
    return [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-profile:v",
        "high",
        "-b:v",
        f"{kbps}k",
        "-maxrate",
        f"{int(kbps * 1.07)}k",
        "-bufsize",
        f"{int(kbps * 1.5)}k",
        "-g",
        str(30 * SEG),
        "-keyint_min",
        str(30 * SEG),
        "-sc_threshold",
        "0",
        "-force_key_frames",
        f"expr:gte(t,n_forced*{SEG})",
    ]


def hls(out: Path, name: str) -> list[str]:
    (out / name).mkdir(parents=True, exist_ok=True)
    return [
        "-f",
        "hls",
        "-hls_time",
        str(SEG),
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "fmp4",
        "-hls_fmp4_init_filename",
        "init.mp4",
        "-hls_segment_filename",
        str(out / name / "%d.m4s"),
        str(out / name / "index.m3u8"),
    ]


def audio(lang_index: int) -> list[str]:
    return ["-map", f"0:a:{lang_index}", "-c:a", "aac", "-b:a", "128k", "-ac", "2"]


def hand_single(ffmpeg: str, src: Path, out: Path, first: str = "") -> list[str]:
    """What an engineer would write by hand: one decode, split, four encodes, two audios
    (`first`: filters before the split, e.g. tone mapping)."""
    graph = f"[0:v]{first}split=4[a][b][c][d];" + ";".join(
        f"[{label}]scale={w}:{h}[o{label}]" for label, (w, h, _) in zip("abcd", RUNGS, strict=True)
    )
    argv = [ffmpeg, "-v", "error", "-y", "-i", str(src), "-filter_complex", graph]
    for label, (_, h, kbps) in zip("abcd", RUNGS, strict=True):
        argv += ["-map", f"[o{label}]", *x264(kbps), *hls(out, f"{h}p")]
    for i in range(2):
        argv += [*audio(i), *hls(out, f"audio{i}")]
    return argv


def separate(ffmpeg: str, src: Path, out: Path, first: str = "") -> list[list[str]]:
    """Four encodes, each decoding the source again; audio rides with the first."""
    commands = []
    for i, (w, h, kbps) in enumerate(RUNGS):
        argv = [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-i",
            str(src),
            "-map",
            "0:v",
            "-vf",
            f"{first}scale={w}:{h}",
            *x264(kbps),
            *hls(out, f"{h}p"),
        ]
        if i == 0:
            for a in range(2):
                argv += [*audio(a), *hls(out, f"audio{a}")]
        commands.append(argv)
    return commands


def run_all(commands: list[list[str]]) -> None:
    for argv in commands:
        run(argv)


def prepare_ours(src: Path, work: Path) -> Callable[[], None]:
    """A queued job as an upload leaves it; the returned call is the worker's whole job:
    probe, plan, encode, package, store (sha256, fsync), publish."""
    catalog = Catalog(SqliteDatabase(work / "catalog.db"))
    catalog.create_schema()
    storage = LocalStorage(work / "objects")
    key = "uploads/bench/source"
    storage.put_file(key, src)
    catalog.create_video(NewVideo("bench", key, src.stat().st_size, float(SEG)))
    worker = TranscodeWorker(
        catalog,
        storage,
        WorkerConfig(ffmpeg=ffmpeg_path(), ffprobe=ffprobe_path(), work_dir=work / "work"),
    )

    def job() -> None:
        assert worker.run_once(threading.Event())
        video = catalog.get_video("bench")
        assert video is not None
        assert video.status == "ready", video
        assert len([r for r in catalog.renditions("bench") if r.kind == "video"]) == 4

    return job


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=20.0, help="source length, seconds")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant")
    parser.add_argument(
        "--source-preset",
        default="medium",
        help="x264 preset of the generated source (default medium, CRF 18: a mezzanine-like "
        "file; ultrafast makes a source that is unusually cheap to decode)",
    )
    parser.add_argument(
        "--hdr",
        action="store_true",
        help="make the source HDR as a phone records it (10-bit HEVC, BT.2020, HLG): every "
        "variant tone-maps it to SDR, the hand-written ones with our filters",
    )
    args = parser.parse_args()
    ffmpeg = ffmpeg_path()
    root = Path(tempfile.mkdtemp(prefix="bench-transcode-"))
    try:
        sample = generate_sample(
            root / "src",
            ffmpeg=ffmpeg,
            duration_s=args.duration,
            x264_preset=args.source_preset,
            crf=18,
        )
        src, first = sample.video, ""
        if args.hdr:
            src, first = root / "src" / "hlg.mp4", TONE_MAP + ","
            run([
                ffmpeg, "-v", "error", "-y", "-i", str(sample.video), "-map", "0",
                "-vf", "format=yuv420p10le", "-c:v", "libx265", "-preset", "fast",
                "-x265-params", "log-level=error:crf=18", "-color_primaries", "bt2020",
                "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc", "-tag:v", "hvc1",
                "-c:a", "copy", str(src),
            ])  # fmt: skip
        results: dict[str, list[Timing]] = {"ours": [], "hand": [], "four": []}
        for i in range(args.repeat):
            for name in results:
                work = root / f"{name}-{i}"
                work.mkdir()
                if name == "ours":
                    t = timed(prepare_ours(src, work))
                elif name == "hand":
                    t = timed(partial(run, hand_single(ffmpeg, src, work, first)))
                else:
                    t = timed(partial(run_all, separate(ffmpeg, src, work, first)))
                results[name].append(t)
                shutil.rmtree(work)
                print(
                    f"run {i + 1} {name:5s} wall {t.wall_s:6.2f} s  cpu {t.cpu_s:6.2f} s",
                    flush=True,
                )
        wall = {k: median([t.wall_s for t in v]) for k, v in results.items()}
        cpu = {k: median([t.cpu_s for t in v]) for k, v in results.items()}
        realtime = args.duration / wall["ours"]
        print()
        print(f"machine: {machine()}; ffmpeg: {ffmpeg}")
        print(
            f"source: {args.duration:g} s 1080p30 (x264 {args.source_preset} CRF 18"
            f"{'; then 10-bit HEVC HLG, x265 fast CRF 18' if args.hdr else ''}), "
            f"2 audio languages; medians of "
            f"{args.repeat} runs; x264 veryfast; 4 rungs + 2 audio"
        )
        for name in results:
            print(f"  {name:5s} wall {wall[name]:6.2f} s  cpu {cpu[name]:6.2f} s")
        rows = [
            (
                "ours / hand-written single",
                wall["ours"] / wall["hand"],
                cpu["ours"] / cpu["hand"],
                "<= 1.10",
            ),
            (
                "ours / four separate",
                wall["ours"] / wall["four"],
                cpu["ours"] / cpu["four"],
                "<= 0.80",
            ),
        ]
        for label, w, c, goal in rows:
            ok = w <= float(goal.split()[-1])
            print(
                f"  {label:28s} wall {w:5.2f}x  cpu {c:5.2f}x  goal {goal}: "
                f"{'met' if ok else 'NOT met'}"
            )
        print(
            f"  realtime factor (ours): {realtime:.2f}x  goal >= 1.2: "
            f"{'met' if realtime >= 1.2 else 'NOT met'}"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
